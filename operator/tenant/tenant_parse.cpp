#include "tenant/tenant_parse.h"

#include <nlohmann/json.hpp>

#include "common/json.h"

namespace waop::tenant {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

Status Bad(const std::string& field, std::string_view expected, const json& got) {
  return Status::Internal("tenant service answer: " + field + ": expected " +
                          std::string(expected) + ", got " + TypeName(got));
}

// A string member or null/absent ("").
Status OptionalString(const json& row, const char* key, const std::string& where,
                      std::string* out) {
  auto it = row.find(key);
  if (it == row.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Bad(where + "." + key, "a string or null", *it);
  *out = it->get<std::string>();
  return Status::Ok();
}

Result<core::TenantRow> ParseRow(const json& row, const std::string& where) {
  if (!row.is_object()) return Bad(where, "an object", row);
  core::TenantRow r;
  auto id = row.find("tenant_id");
  if (id == row.end()) {
    return Status::Internal("tenant service answer: " + where + ".tenant_id: missing");
  }
  if (id->is_string()) {
    r.tenant_id = id->get<std::string>();
  } else if (id->is_number_integer()) {
    r.tenant_id = id->dump();
  } else {
    return Bad(where + ".tenant_id", "a string", *id);
  }
  if (r.tenant_id.empty()) {
    return Status::Internal("tenant service answer: " + where + ".tenant_id: empty");
  }
  WAOP_RETURN_IF_ERROR(OptionalString(row, "tenant_name", where, &r.tenant_name));
  WAOP_RETURN_IF_ERROR(OptionalString(row, "display_phone_number", where, &r.display_phone_number));
  if (auto p = row.find("phone_number_id"); p != row.end() && !p->is_null()) {
    if (p->is_string()) {
      r.phone_number_id = p->get<std::string>();
    } else if (p->is_number_unsigned() || (p->is_number_integer() && p->get<int64_t>() >= 0)) {
      r.phone_number_id = p->dump();
    } else {
      return Bad(where + ".phone_number_id", "a string of digits", *p);
    }
    if (r.phone_number_id.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Internal("tenant service answer: " + where +
                              ".phone_number_id: expected digits");
    }
  }
  if (auto e = row.find("whatsapp_enabled"); e != row.end() && !e->is_null()) {
    if (!e->is_boolean()) return Bad(where + ".whatsapp_enabled", "a boolean or null", *e);
    r.whatsapp_enabled = e->get<bool>();
  }
  for (std::string_view key : core::kLegacyTenantKeys) {
    auto it = row.find(std::string(key));
    if (it == row.end() || it->is_null()) continue;
    if (it->is_string() && it->get_ref<const std::string&>().empty()) continue;
    r.legacy_keys.emplace_back(key);  // the name only: the value is a per-tenant secret
  }
  return r;
}

}  // namespace

Result<std::vector<core::TenantRow>> ParseTenantList(std::string_view body) {
  if (body.size() > kMaxTenantAnswerBytes) {
    return Status::Internal("tenant service answer: larger than " +
                            std::to_string(kMaxTenantAnswerBytes) + " bytes");
  }
  auto parsed = ParseJsonBounded(body, kMaxDepth);
  if (!parsed.ok()) {
    // The parser's own message quotes the bytes it stopped at, which may be a legacy key's
    // value: only the nesting limit is worth repeating.
    const std::string why = parsed.status().message();
    return Status::Internal(why.starts_with("JSON nested deeper")
                                ? "tenant service answer: " + why
                                : "tenant service answer: not valid JSON");
  }
  const json* list = &*parsed;
  std::string where = "tenants";
  if (parsed->is_object()) {
    list = nullptr;
    for (const char* key : {"tenants", "items", "data"}) {
      if (auto it = parsed->find(key); it != parsed->end()) {
        list = &*it;
        where = key;
        break;
      }
    }
    if (list == nullptr) {
      return Status::Internal(
          "tenant service answer: expected a list of tenants, or an object with \"tenants\", "
          "\"items\" or \"data\"");
    }
  }
  if (!list->is_array()) return Bad(where, "an array", *list);
  std::vector<core::TenantRow> rows;
  rows.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    auto row = ParseRow((*list)[i], where + "[" + std::to_string(i) + "]");
    if (!row.ok()) return row.status();
    rows.push_back(std::move(*row));
  }
  return rows;
}

std::string TenantServiceMessage(std::string_view body) {
  if (body.empty()) return "";
  auto parsed = ParseJsonBounded(body.substr(0, 1 << 20), kMaxDepth);
  if (parsed.ok() && parsed->is_object()) {
    if (auto d = parsed->find("detail"); d != parsed->end()) {
      if (d->is_string()) return d->get<std::string>().substr(0, 500);
      if (d->is_array() && !d->empty() && (*d)[0].is_object()) {
        if (std::string m = JsonString((*d)[0], "msg"); !m.empty()) return m.substr(0, 500);
      }
    }
    for (const char* key : {"message", "error"}) {
      if (std::string m = JsonString(*parsed, key); !m.empty()) return m.substr(0, 500);
      if (auto e = parsed->find(key); e != parsed->end() && e->is_object()) {
        if (std::string m = JsonString(*e, "message"); !m.empty()) return m.substr(0, 500);
      }
    }
  }
  std::string out;
  for (char c : body.substr(0, 200)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  return out;
}

Status TenantErrorStatus(int http_status, std::string_view body, std::string_view what) {
  std::string message = std::string(what) + ": HTTP " + std::to_string(http_status);
  if (std::string m = TenantServiceMessage(body); !m.empty()) message += ": " + m;
  if (http_status >= 500 || http_status == 429 || http_status == 408) {
    return Status::Unavailable(message);
  }
  switch (http_status) {
    case 401:
      return Status::Unauthenticated(message);
    case 403:
      return Status::PermissionDenied(message);
    case 404:
      return Status::NotFound(message);
    case 409:
      return Status::AlreadyExists(message);
    default:
      if (http_status >= 400) return Status::FailedPrecondition(message);
      return Status::Internal(message + " (unexpected status)");
  }
}

}  // namespace waop::tenant
