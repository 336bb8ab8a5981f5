#include "meta/graph_parse.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json.h"

namespace waop::meta {

using nlohmann::json;

namespace {

// Parses without exceptions, refusing oversized or too deeply nested input first.
Result<json> ParseJson(std::string_view body, std::string_view what) {
  if (body.size() > kMaxAnswerBytes) {
    return Status::Internal(std::string(what) + ": the answer is larger than " +
                            std::to_string(kMaxAnswerBytes) + " bytes");
  }
  if (!JsonDepthWithin(body, kMaxJsonDepth)) {
    return Status::Internal(std::string(what) + ": the answer nests deeper than " +
                            std::to_string(kMaxJsonDepth) + " levels");
  }
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Internal(std::string(what) + ": the answer is not JSON");
  return j;
}

// obj[key] as a string into *out; absent or null leaves *out alone. Internal when it has
// another type.
Status OptString(const json& obj, const char* key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return Status::Internal(path + "." + key + ": expected a string, got " + it->type_name());
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Result<GraphPhoneNumber> NumberFrom(const json& o, const std::string& path) {
  if (!o.is_object()) return Status::Internal(path + ": expected an object");
  GraphPhoneNumber n;
  WAOP_RETURN_IF_ERROR(OptString(o, "id", path, &n.id));
  if (n.id.empty()) return Status::Internal(path + ".id: missing");
  WAOP_RETURN_IF_ERROR(OptString(o, "display_phone_number", path, &n.display_phone_number));
  WAOP_RETURN_IF_ERROR(OptString(o, "verified_name", path, &n.verified_name));
  WAOP_RETURN_IF_ERROR(OptString(o, "quality_rating", path, &n.quality_rating));
  WAOP_RETURN_IF_ERROR(OptString(o, "messaging_limit_tier", path, &n.messaging_limit_tier));
  return n;
}

Result<MessageTemplate> TemplateFrom(const json& o, const std::string& path) {
  if (!o.is_object()) return Status::Internal(path + ": expected an object");
  MessageTemplate t;
  WAOP_RETURN_IF_ERROR(OptString(o, "name", path, &t.name));
  if (t.name.empty()) return Status::Internal(path + ".name: missing");
  WAOP_RETURN_IF_ERROR(OptString(o, "language", path, &t.language));
  WAOP_RETURN_IF_ERROR(OptString(o, "status", path, &t.status));
  return t;
}

template <typename T, typename F>
Result<GraphPage<T>> ParsePage(std::string_view body, F item) {
  auto j = ParseJson(body, "list answer");
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status::Internal("list answer: expected a JSON object");
  auto data = j->find("data");
  if (data == j->end() || !data->is_array()) {
    return Status::Internal("list answer: \"data\": missing or not an array");
  }
  GraphPage<T> page;
  page.items.reserve(data->size());
  for (size_t i = 0; i < data->size(); ++i) {
    auto v = item((*data)[i], "list answer: data[" + std::to_string(i) + "]");
    if (!v.ok()) return v.status();
    page.items.push_back(std::move(*v));
  }
  auto paging = j->find("paging");
  if (paging != j->end() && !paging->is_null()) {
    if (!paging->is_object()) return Status::Internal("list answer: paging: expected an object");
    WAOP_RETURN_IF_ERROR(OptString(*paging, "next", "list answer: paging", &page.next));
    auto cursors = paging->find("cursors");
    if (cursors != paging->end() && !cursors->is_null()) {
      if (!cursors->is_object()) {
        return Status::Internal("list answer: paging.cursors: expected an object");
      }
      WAOP_RETURN_IF_ERROR(
          OptString(*cursors, "after", "list answer: paging.cursors", &page.after));
    }
  }
  return page;
}

int IntOf(const json& o, const char* key, int fallback) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) return fallback;
  auto v = it->get<int64_t>();
  return static_cast<int>(std::clamp<int64_t>(v, -1, 1'000'000'000));
}

std::string StringOf(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Status ByHttpStatus(int http_status, const std::string& message) {
  if (http_status == 401) return Status::Unauthenticated(message);
  if (http_status == 429) return Status::ResourceExhausted(message);
  if (http_status == 404) return Status::NotFound(message);
  if (http_status == 403) return Status::PermissionDenied(message);
  if (http_status >= 500) return Status::Unavailable(message);
  return Status::Internal(message);
}

// The highest usage figure in one {"call_count":..,"total_cputime":..,"total_time":..}.
std::optional<int> UsageOf(const json& o) {
  if (!o.is_object()) return std::nullopt;
  std::optional<int> best;
  for (const char* k : {"call_count", "total_cputime", "total_time"}) {
    auto it = o.find(k);
    if (it == o.end() || !it->is_number()) continue;
    double v = it->get<double>();
    int p = static_cast<int>(std::clamp(v, 0.0, 100.0));
    best = std::max(best.value_or(0), p);
  }
  return best;
}

}  // namespace

bool JsonDepthWithin(std::string_view body, int max_depth) {
  if (max_depth < 0) return false;
  const auto limit = static_cast<std::size_t>(max_depth);
  return waop::JsonNestingDepth(body, limit) <= limit;
}

std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "[REDACTED]");
    pos += 10;
  }
  return text;
}

Result<GraphPage<GraphPhoneNumber>> ParsePhoneNumberPage(std::string_view body) {
  return ParsePage<GraphPhoneNumber>(body, NumberFrom);
}

Result<GraphPage<MessageTemplate>> ParseTemplatePage(std::string_view body) {
  return ParsePage<MessageTemplate>(body, TemplateFrom);
}

Result<GraphPhoneNumber> ParsePhoneNumber(std::string_view body) {
  auto j = ParseJson(body, "phone number answer");
  if (!j.ok()) return j.status();
  return NumberFrom(*j, "phone number answer");
}

Status GraphErrorStatus(int http_status, std::string_view body, std::string_view what) {
  const std::string http = "HTTP " + std::to_string(http_status);
  json j;
  if (body.size() <= kMaxAnswerBytes && JsonDepthWithin(body, kMaxJsonDepth)) {
    j = json::parse(body.begin(), body.end(), nullptr, false);
  }
  const json* err = nullptr;
  if (!j.is_discarded() && j.is_object()) {
    auto it = j.find("error");
    if (it != j.end() && it->is_object()) err = &*it;
  }
  if (err == nullptr || IntOf(*err, "code", -1) < 0) {
    return ByHttpStatus(http_status,
                        std::string(what) + ": " + http + " without a Graph error in the answer");
  }
  const int code = IntOf(*err, "code", -1);
  const int subcode = IntOf(*err, "error_subcode", 0);
  const std::string message = StringOf(*err, "message");
  const std::string type = StringOf(*err, "type");
  const std::string trace = StringOf(*err, "fbtrace_id");
  std::string text = std::string(what) + ": Graph error " + std::to_string(code);
  if (subcode != 0) text += "/" + std::to_string(subcode);
  if (!type.empty()) text += " (" + type + ")";
  text += ": " + (message.empty() ? std::string("(no message)") : message);
  text += " (";
  if (!trace.empty()) text += "fbtrace_id " + trace + "; ";
  text += http + ")";

  auto transient = err->find("is_transient");
  const bool is_transient =
      transient != err->end() && transient->is_boolean() && transient->get<bool>();
  if (code == 190) return Status::Unauthenticated(text);
  if (code == 4 || code == 17 || code == 32 || code == 613 || code == 80007 || code == 80008 ||
      code == 130429) {
    return Status::ResourceExhausted(text);
  }
  if (code == 100 && (subcode == 33 || http_status == 404 ||
                      message.find("does not exist") != std::string::npos)) {
    return Status::NotFound(text);
  }
  if (code == 1 || code == 2 || is_transient) return Status::Unavailable(text);
  if (code == 10 || (code >= 200 && code <= 299)) return Status::PermissionDenied(text);
  if (http_status == 401) return Status::Unauthenticated(text);
  if (http_status == 429) return Status::ResourceExhausted(text);
  if (http_status >= 500) return Status::Unavailable(text);
  return Status::InvalidArgument(text);
}

std::optional<int> ParseUsageHeader(std::string_view value) {
  if (value.size() > 64 * 1024 || !JsonDepthWithin(value, 8)) return std::nullopt;
  json j = json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  if (auto direct = UsageOf(j)) return direct;
  // X-Business-Use-Case-Usage: {"<business id>": [{"type":..,"call_count":..,...}, ...]}
  std::optional<int> best;
  for (const auto& [id, list] : j.items()) {
    if (!list.is_array()) continue;
    for (const auto& entry : list) {
      if (auto u = UsageOf(entry)) best = std::max(best.value_or(0), *u);
    }
  }
  return best;
}

}  // namespace waop::meta
