#include "tenant_server.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace tenantdev {
namespace {

using devserver::HttpRequest;
using devserver::HttpResponse;
using nlohmann::json;
using waop::Result;
using waop::Status;

constexpr std::string_view kPrefix = "/api/v1/admin/whatsapp/tenants";

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse Detail(int status, const std::string& detail) {
  return Json(status, {{"detail", detail}});
}

Result<json> Scalar(const YAML::Node& n, const std::string& key, const std::string& where) {
  if (n.IsNull()) return json(nullptr);
  if (!n.IsScalar()) {
    return Status::InvalidArgument(where + "." + key + ": expected a scalar");
  }
  const std::string v = n.Scalar();
  if (key == "whatsapp_enabled") {
    if (v == "true") return json(true);
    if (v == "false") return json(false);
    return Status::InvalidArgument(where + "." + key + ": expected true or false, got \"" + v +
                                   "\"");
  }
  return json(v);
}

}  // namespace

Result<TenantData> ParseTenantData(const std::string& yaml_text, const std::string& source) {
  TenantData data;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": not YAML: " + e.what());
  }
  if (!root || root.IsNull()) return data;
  if (!root.IsMap()) return Status::InvalidArgument(source + ": expected a map at the top");
  try {
    if (root["token"]) data.token = root["token"].as<std::string>();
    const YAML::Node tenants = root["tenants"];
    if (tenants && !tenants.IsNull()) {
      if (!tenants.IsSequence()) {
        return Status::InvalidArgument(source + ": tenants: expected a list");
      }
      for (size_t i = 0; i < tenants.size(); ++i) {
        const std::string where = source + ": tenants[" + std::to_string(i) + "]";
        const YAML::Node t = tenants[i];
        if (!t.IsMap()) return Status::InvalidArgument(where + ": expected a map");
        json row = json::object();
        for (const auto& kv : t) {
          const std::string key = kv.first.as<std::string>();
          auto v = Scalar(kv.second, key, where);
          if (!v.ok()) return v.status();
          row[key] = *v;
        }
        if (!row.contains("tenant_id") || !row["tenant_id"].is_string() ||
            row["tenant_id"].get<std::string>().empty()) {
          return Status::InvalidArgument(where + ".tenant_id: expected a non-empty string");
        }
        for (const char* k : {"tenant_name", "phone_number_id", "display_phone_number"}) {
          if (!row.contains(k)) row[k] = nullptr;
        }
        if (!row.contains("whatsapp_enabled")) {
          row["whatsapp_enabled"] = row["phone_number_id"].is_string();
        }
        data.rows.push_back(std::move(row));
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  return data;
}

Result<TenantData> LoadTenantData(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read data file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseTenantData(ss.str(), path);
}

TenantServer::TenantServer(TenantData data) : data_(std::move(data)) {}

json* TenantServer::FindRow(const std::string& tenant_id) {
  for (json& r : data_.rows) {
    if (r.value("tenant_id", "") == tenant_id) return &r;
  }
  return nullptr;
}

HttpResponse TenantServer::Handle(const HttpRequest& req) {
  if (req.path.rfind("/_control/", 0) == 0) return HandleControl(req);
  std::chrono::milliseconds delay{0};
  std::optional<HttpResponse> injected;
  {
    std::lock_guard lock(mu_);
    ++total_;
    std::string kind = "other";
    if (req.method == "GET" && req.path == kPrefix) kind = "list";
    if (req.method == "POST" && req.path.ends_with("/assign-phone")) kind = "assign";
    if (req.method == "DELETE" && req.path.ends_with("/unassign-phone")) kind = "unassign";
    ++counts_[kind];
    for (auto it = faults_.begin(); it != faults_.end();) {
      Fault& f = *it;
      if ((!f.method.empty() && f.method != req.method) ||
          req.path.find(f.path_contains) == std::string::npos) {
        ++it;
        continue;
      }
      if (f.skip > 0) {
        --f.skip;
        ++it;
        continue;
      }
      delay += f.delay;
      if (f.status != 0 && !injected) {
        HttpResponse r;
        r.status = f.status;
        r.body = f.body.empty() ? json{{"detail", "injected fault"}}.dump() : f.body;
        injected = r;
      }
      if (f.count > 0 && --f.count == 0) {
        it = faults_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  if (injected) return *injected;
  return HandleApi(req);
}

HttpResponse TenantServer::HandleApi(const HttpRequest& req) {
  std::lock_guard lock(mu_);
  if (!data_.token.empty() && req.Header("authorization") != "Bearer " + data_.token) {
    return Detail(401, "Not authenticated");
  }
  if (req.path == kPrefix) {
    if (req.method != "GET") return Detail(405, "Method not allowed");
    return Json(200, json(data_.rows));
  }
  if (req.path.rfind(std::string(kPrefix) + "/", 0) != 0) return Detail(404, "Not found");
  const std::string rest = req.path.substr(kPrefix.size() + 1);
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) return Detail(404, "Not found");
  const std::string id = rest.substr(0, slash);
  const std::string action = rest.substr(slash + 1);
  json* row = FindRow(id);
  if (action == "assign-phone" && req.method == "POST") {
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("phone_number_id") ||
        !body["phone_number_id"].is_string() ||
        body["phone_number_id"].get<std::string>().empty()) {
      return Detail(422, "phone_number_id: field required");
    }
    if (row == nullptr) return Detail(404, "Tenant " + id + " not found");
    const std::string phone = body["phone_number_id"];
    const std::string display =
        body.contains("display_phone_number") && body["display_phone_number"].is_string()
            ? body["display_phone_number"].get<std::string>()
            : "";
    for (const json& other : data_.rows) {
      if (&other != row && other.value("phone_number_id", json()).is_string() &&
          other["phone_number_id"] == phone) {
        return Detail(409, "Phone number " + phone + " is already assigned to tenant " +
                               other.value("tenant_id", ""));
      }
    }
    const json& current = (*row)["phone_number_id"];
    if (current.is_string() && !current.get<std::string>().empty()) {
      if (current == phone && (*row)["display_phone_number"] == display) {
        return Detail(409, "Phone number " + phone + " is already assigned to this tenant");
      }
      return Detail(409, "Tenant " + id + " already has phone number " +
                             current.get<std::string>() + "; unassign it first");
    }
    (*row)["phone_number_id"] = phone;
    (*row)["display_phone_number"] = display;
    (*row)["whatsapp_enabled"] = true;
    return Json(200, *row);
  }
  if (action == "unassign-phone" && req.method == "DELETE") {
    if (row == nullptr) return Detail(404, "Tenant " + id + " not found");
    const json& current = (*row)["phone_number_id"];
    if (!current.is_string() || current.get<std::string>().empty()) {
      return Detail(409, "Tenant " + id + " has no phone number assigned");
    }
    (*row)["phone_number_id"] = nullptr;
    (*row)["display_phone_number"] = nullptr;
    (*row)["whatsapp_enabled"] = false;
    return Json(200, *row);
  }
  return Detail(404, "Not found");
}

HttpResponse TenantServer::HandleControl(const HttpRequest& req) {
  std::lock_guard lock(mu_);
  const std::string& p = req.path;
  if (p == "/_control/health") return Json(200, {{"ok", true}});
  if (p == "/_control/requests") {
    if (req.method == "DELETE") {
      counts_.clear();
      total_ = 0;
      return Json(200, {{"ok", true}});
    }
    json out = {{"total", total_}};
    for (const char* k : {"list", "assign", "unassign", "other"}) {
      auto it = counts_.find(k);
      out[k] = it == counts_.end() ? 0 : it->second;
    }
    return Json(200, out);
  }
  if (p == "/_control/faults") {
    if (req.method == "DELETE") {
      faults_.clear();
      return Json(200, {{"ok", true}});
    }
    if (req.method != "POST") return Detail(405, "POST or DELETE");
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_object()) return Detail(400, "expected a JSON object");
    Fault f;
    try {
      f.status = b.value("status", 0);
      f.body = b.value("body", "");
      f.delay = std::chrono::milliseconds(b.value("delayMs", 0));
      f.method = b.value("method", "");
      f.path_contains = b.value("pathContains", "");
      f.skip = b.value("skip", 0);
      f.count = b.value("count", 1);
    } catch (const std::exception& e) {
      return Detail(400, std::string("bad fault: ") + e.what());
    }
    if (f.status != 0 && (f.status < 100 || f.status > 599)) {
      return Detail(400, "status: expected 100..599 (or 0 for a delay only)");
    }
    faults_.push_back(std::move(f));
    return Json(200, {{"ok", true}, {"faults", faults_.size()}});
  }
  if (p == "/_control/tenants" && req.method == "GET") return Json(200, json(data_.rows));
  if (p.rfind("/_control/tenants/", 0) == 0) {
    const std::string id = p.substr(std::string("/_control/tenants/").size());
    if (id.empty() || id.find('/') != std::string::npos) return Detail(404, "Not found");
    json* row = FindRow(id);
    if (req.method == "GET") return row ? Json(200, *row) : Detail(404, "no tenant " + id);
    if (req.method == "DELETE") {
      std::erase_if(data_.rows, [&](const json& r) { return r.value("tenant_id", "") == id; });
      return Json(200, {{"ok", true}});
    }
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_object()) return Detail(400, "expected a JSON object");
    if (req.method == "PUT" || (req.method == "PATCH" && row == nullptr)) {
      b["tenant_id"] = id;
      for (const char* k : {"tenant_name", "phone_number_id", "display_phone_number"}) {
        if (!b.contains(k)) b[k] = nullptr;
      }
      if (!b.contains("whatsapp_enabled")) b["whatsapp_enabled"] = b["phone_number_id"].is_string();
      if (row != nullptr) {
        *row = b;
      } else {
        data_.rows.push_back(b);
      }
      return Json(200, b);
    }
    if (req.method == "PATCH") {
      row->merge_patch(b);
      (*row)["tenant_id"] = id;
      return Json(200, *row);
    }
    return Detail(405, "GET, PUT, PATCH or DELETE");
  }
  return Detail(404, "Not found");
}

}  // namespace tenantdev
