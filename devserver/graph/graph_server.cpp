#include "graph_server.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <regex>
#include <thread>
#include <vector>

namespace graphdev {

using devserver::HttpRequest;
using devserver::HttpResponse;
using nlohmann::json;

namespace {

constexpr int kMetaMaxLimit = 100;
constexpr int kMetaDefaultLimit = 25;

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse ControlError(int status, const std::string& message) {
  return JsonResponse(status, json{{"error", message}});
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Opaque cursors like Meta's: base64 of "c:" + the item's key. nullopt when it is not ours.
std::string EncodeCursor(const std::string& key) { return Base64("c:" + key); }
std::optional<std::string> DecodeCursor(const std::string& cursor) {
  if (cursor.empty() || cursor.size() % 4 != 0 || cursor.size() > 200) return std::nullopt;
  std::string out(cursor.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(cursor.data()),
                          static_cast<int>(cursor.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  size_t pad = 0;
  while (pad < 2 && pad < cursor.size() && cursor[cursor.size() - 1 - pad] == '=') ++pad;
  len -= pad;
  out.resize(len);
  if (out.rfind("c:", 0) != 0) return std::nullopt;
  return out.substr(2);
}

std::string PercentEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ',') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string DigitsOf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

json NumberToControlJson(const PhoneNumber& n) {
  return json{{"id", n.id},
              {"displayPhoneNumber", n.display_phone_number},
              {"verifiedName", n.verified_name},
              {"qualityRating", n.quality_rating},
              {"messagingLimitTier", n.messaging_limit_tier}};
}

// Meta's usual HTTP status and message for a Graph error code (WhatsApp error-code reference).
std::pair<int, std::string> MetaErrorDefaults(int code) {
  switch (code) {
    case 4:
      return {429, "(#4) Application request limit reached"};
    case 17:
      return {400, "(#17) User request limit reached"};
    case 80007:
      return {429,
              "(#80007) There have been too many calls to this WhatsApp Business account. Wait a "
              "bit and try again."};
    case 80008:
      return {429,
              "(#80008) There have been too many calls to this WhatsApp Business account. Wait a "
              "bit and try again."};
    case 130429:
      return {429, "(#130429) Rate limit hit"};
    case 1:
      return {500, "An unknown error has occurred."};
    case 2:
      return {503, "An unexpected error has occurred. Please retry your request later."};
    default:
      return {400, "(#" + std::to_string(code) + ") Injected error"};
  }
}

// A string field of a control body, if present; false (with *error set) when not a string.
bool OptString(const json& body, const char* key, std::optional<std::string>* out,
               std::string* error) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = std::string(key) + ": expected a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool OptInt(const json& body, const char* key, std::optional<int64_t>* out, std::string* error) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_number_integer()) {
    *error = std::string(key) + ": expected an integer";
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

GraphServer::GraphServer(GraphData data, WebhookSender sender)
    : data_(std::move(data)), sender_(std::move(sender)) {}

void GraphServer::SetDefaultBaseUrl(std::string url) {
  std::lock_guard lock(mu_);
  default_base_url_ = std::move(url);
}

HttpResponse GraphServer::Handle(const HttpRequest& req) {
  try {
    if (req.path == "/_control" || req.path.rfind("/_control/", 0) == 0) return HandleControl(req);
    return HandleGraph(req);
  } catch (const std::exception& e) {
    return ControlError(500, std::string("graph-devserver internal error: ") + e.what());
  }
}

HttpResponse GraphServer::GraphError(int http_status, int code, const std::string& type,
                                     const std::string& message, int subcode) {
  // fbtrace_id: Meta's is an opaque base64-ish string; ours counts.
  std::string trace = "A" + Base64(std::to_string(++trace_) + "graphdev").substr(0, 22);
  json err{{"message", message}, {"type", type}, {"code", code}};
  if (subcode != 0) err["error_subcode"] = subcode;
  if (code == 4 || code == 17 || code == 80007 || code == 80008 || code == 130429 || code == 1 ||
      code == 2) {
    err["is_transient"] = true;
  }
  if (code == 130429) {
    err["error_data"] = {{"messaging_product", "whatsapp"},
                         {"details", "Cloud API message throughput has been reached."}};
  }
  err["fbtrace_id"] = trace;
  HttpResponse r = JsonResponse(http_status, json{{"error", err}});
  if (code == 190) {
    r.headers["WWW-Authenticate"] =
        "OAuth \"Facebook Platform\" \"invalid_token\" \"" + message + "\"";
  }
  return r;
}

HttpResponse GraphServer::Finish(HttpResponse r) {
  if (!app_usage_.empty()) r.headers["X-App-Usage"] = app_usage_;
  if (!buc_usage_.empty()) r.headers["X-Business-Use-Case-Usage"] = buc_usage_;
  return r;
}

GraphServer::FaultDecision GraphServer::TakeFaults(const std::string& path) {
  FaultDecision d;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = faults_.begin(); it != faults_.end();) {
    Fault& f = *it;
    if (f.until && now >= *f.until) {
      it = faults_.erase(it);
      continue;
    }
    if (!f.path_contains.empty() && path.find(f.path_contains) == std::string::npos) {
      ++it;
      continue;
    }
    if (f.skip > 0) {
      --f.skip;
      ++it;
      continue;
    }
    bool fired = false;
    if (f.kind == Fault::Kind::kDelay) {
      d.delay += f.delay;
      fired = true;
    } else if (!d.response) {
      if (f.kind == Fault::Kind::kGraphError) {
        auto [status, message] = MetaErrorDefaults(f.graph_code);
        d.response = GraphError(f.http_status ? f.http_status : status, f.graph_code,
                                "OAuthException", message);
      } else if (f.kind == Fault::Kind::kBody) {
        HttpResponse r;
        r.status = f.http_status;
        r.body = f.body;
        d.response = r;
      } else {
        HttpResponse r;
        r.status = f.http_status;
        r.content_type = "text/html; charset=utf-8";
        r.body = "<html><body>" + std::to_string(f.http_status) + " injected</body></html>";
        d.response = r;
      }
      fired = true;
    }
    if (fired && f.count > 0 && --f.count == 0) {
      it = faults_.erase(it);
      continue;
    }
    ++it;
  }
  return d;
}

std::string GraphServer::NextBase(const HttpRequest& req) const {
  if (!next_base_url_.empty()) return next_base_url_;
  // The Host header says how the client reached us (e.g. through a port-forward); one without
  // a port is taken as incomplete and the listening URL is used instead.
  std::string host = req.Header("host");
  if (host.find(':') != std::string::npos) return "http://" + host;
  return default_base_url_;
}

PhoneNumber* GraphServer::FindNumber(const std::string& id, std::string* waba_id) {
  for (auto& [wid, waba] : data_.wabas) {
    auto it = waba.numbers.find(id);
    if (it != waba.numbers.end()) {
      if (waba_id) *waba_id = wid;
      return &it->second;
    }
  }
  return nullptr;
}

namespace {

const std::vector<std::string> kNumberFields = {"id",
                                                "display_phone_number",
                                                "verified_name",
                                                "quality_rating",
                                                "messaging_limit_tier",
                                                "code_verification_status",
                                                "name_status",
                                                "platform_type",
                                                "throughput"};
const std::vector<std::string> kDefaultNumberFields = {"verified_name", "display_phone_number",
                                                       "quality_rating", "id"};
const std::vector<std::string> kTemplateFields = {"id", "name", "language", "status", "category"};
const std::vector<std::string> kDefaultTemplateFields = {"name", "language", "status", "category",
                                                         "id"};

json NumberFieldValue(const PhoneNumber& n, const std::string& f) {
  if (f == "id") return n.id;
  if (f == "display_phone_number") return n.display_phone_number;
  if (f == "verified_name") return n.verified_name;
  if (f == "quality_rating") return n.quality_rating;
  if (f == "messaging_limit_tier") return n.messaging_limit_tier;
  if (f == "code_verification_status") return "VERIFIED";
  if (f == "name_status") return "APPROVED";
  if (f == "platform_type") return "CLOUD_API";
  if (f == "throughput") return json{{"level", "STANDARD"}};
  return nullptr;
}

json TemplateFieldValue(const Template& t, const std::string& f) {
  if (f == "id") return t.id;
  if (f == "name") return t.name;
  if (f == "language") return t.language;
  if (f == "status") return t.status;
  if (f == "category") return t.category;
  return nullptr;
}

// The requested fields (id always), or the unknown one in *unknown.
std::vector<std::string> Fields(const HttpRequest& req, const std::vector<std::string>& known,
                                const std::vector<std::string>& defaults, std::string* unknown) {
  if (!req.HasQuery("fields") || Trim(req.Query("fields")).empty()) return defaults;
  std::vector<std::string> out;
  for (std::string f : Split(req.Query("fields"), ',')) {
    f = Trim(f);
    if (f.empty()) continue;
    if (std::find(known.begin(), known.end(), f) == known.end()) {
      *unknown = f;
      return {};
    }
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  if (std::find(out.begin(), out.end(), "id") == out.end()) out.push_back("id");
  return out;
}

}  // namespace

HttpResponse GraphServer::HandleGraph(const HttpRequest& req) {
  FaultDecision faults;
  {
    std::lock_guard lock(mu_);
    ++total_;
    ++counts_[req.path];
    faults = TakeFaults(req.path);
  }
  if (faults.delay.count() > 0) std::this_thread::sleep_for(faults.delay);
  std::lock_guard lock(mu_);
  if (faults.response) return Finish(*faults.response);

  // The token: Authorization: Bearer <token>, or ?access_token=<token>.
  std::string token;
  std::string authz = req.Header("authorization");
  if (authz.size() > 7 && (authz.rfind("Bearer ", 0) == 0 || authz.rfind("bearer ", 0) == 0 ||
                           authz.rfind("OAuth ", 0) == 0)) {
    token = Trim(authz.substr(authz.find(' ') + 1));
  } else if (req.HasQuery("access_token")) {
    token = req.Query("access_token");
  }
  if (token.empty() || token != data_.token) {
    return Finish(GraphError(401, 190, "OAuthException", "Invalid OAuth access token."));
  }

  std::vector<std::string> parts = Split(req.path, '/');
  static const std::regex kVersion("v[0-9]+\\.[0-9]+");
  if (parts.size() < 2 || parts.size() > 3 || !std::regex_match(parts[0], kVersion)) {
    return Finish(GraphError(400, 2500, "OAuthException", "Unknown path components: " + req.path));
  }
  const std::string& id = parts[1];
  auto no_such = [&](const std::string& verb) {
    return Finish(GraphError(
        400, 100, "GraphMethodException",
        "Unsupported " + verb + " request. Object with ID '" + id +
            "' does not exist, cannot be loaded due to missing permissions, or does not support "
            "this operation. Please read the Graph API documentation at "
            "https://developers.facebook.com/docs/graph-api",
        33));
  };
  std::string verb = req.method;
  std::transform(verb.begin(), verb.end(), verb.begin(), ::tolower);
  if (req.method != "GET") return no_such(verb);

  auto waba_it = data_.wabas.find(id);
  if (parts.size() == 2) {
    if (waba_it != data_.wabas.end()) {
      return Finish(JsonResponse(200, json{{"id", id}, {"name", "WABA " + id}}));
    }
    PhoneNumber* n = FindNumber(id);
    if (!n) return no_such("get");
    std::string unknown;
    auto fields = Fields(req, kNumberFields, kDefaultNumberFields, &unknown);
    if (!unknown.empty()) {
      return Finish(GraphError(400, 100, "OAuthException",
                               "(#100) Tried accessing nonexisting field (" + unknown +
                                   ") on node type (WhatsAppBusinessPhoneNumber)"));
    }
    json out = json::object();
    for (const auto& f : fields) out[f] = NumberFieldValue(*n, f);
    return Finish(JsonResponse(200, out));
  }

  const std::string& edge = parts[2];
  if (edge != "phone_numbers" && edge != "message_templates") {
    return Finish(GraphError(400, 2500, "OAuthException", "Unknown path components: /" + edge));
  }
  if (waba_it == data_.wabas.end()) return no_such("get");
  const Waba& waba = waba_it->second;

  // The page size: Meta's default 25, at most 100, and the configured cap.
  int limit = kMetaDefaultLimit;
  if (req.HasQuery("limit")) {
    const std::string l = req.Query("limit");
    static const std::regex kInt("[0-9]{1,9}");
    if (!std::regex_match(l, kInt) || std::stoi(l) <= 0) {
      return Finish(
          GraphError(400, 100, "OAuthException", "(#100) Param limit must be a positive integer"));
    }
    limit = std::stoi(l);
  }
  limit = std::min(limit, kMetaMaxLimit);
  if (data_.max_page_size > 0) limit = std::min(limit, data_.max_page_size);

  std::optional<std::string> after;
  if (req.HasQuery("after")) {
    after = DecodeCursor(req.Query("after"));
    if (!after) {
      return Finish(GraphError(400, 100, "OAuthException",
                               "(#100) The after cursor is not valid: " + req.Query("after")));
    }
  }

  // The items in key order (numbers by numeric id; templates by id).
  std::vector<std::pair<std::string, json>> items;
  std::string unknown;
  if (edge == "phone_numbers") {
    auto fields = Fields(req, kNumberFields, kDefaultNumberFields, &unknown);
    if (!unknown.empty()) {
      return Finish(GraphError(400, 100, "OAuthException",
                               "(#100) Tried accessing nonexisting field (" + unknown +
                                   ") on node type (WhatsAppBusinessPhoneNumber)"));
    }
    for (const auto& [key, n] : waba.numbers) {
      if (after && !IdLess()(*after, key)) continue;
      json o = json::object();
      for (const auto& f : fields) o[f] = NumberFieldValue(n, f);
      items.emplace_back(key, std::move(o));
      if (static_cast<int>(items.size()) > limit) break;
    }
  } else {
    auto fields = Fields(req, kTemplateFields, kDefaultTemplateFields, &unknown);
    if (!unknown.empty()) {
      return Finish(GraphError(400, 100, "OAuthException",
                               "(#100) Tried accessing nonexisting field (" + unknown +
                                   ") on node type (WhatsAppBusinessHSM)"));
    }
    std::vector<const Template*> sorted;
    const std::string name = req.Query("name");
    for (const auto& t : waba.templates) {
      if (!name.empty() && t.name.find(name) == std::string::npos) continue;
      sorted.push_back(&t);
    }
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Template* a, const Template* b) { return IdLess()(a->id, b->id); });
    for (const Template* t : sorted) {
      if (after && !IdLess()(*after, t->id)) continue;
      json o = json::object();
      for (const auto& f : fields) o[f] = TemplateFieldValue(*t, f);
      items.emplace_back(t->id, std::move(o));
      if (static_cast<int>(items.size()) > limit) break;
    }
  }
  // One item past the page tells whether there is a next page.
  const bool more = static_cast<int>(items.size()) > limit;
  if (more) items.pop_back();

  json data = json::array();
  for (auto& [key, o] : items) data.push_back(std::move(o));
  json out{{"data", std::move(data)}};
  if (!items.empty()) {
    json paging{{"cursors",
                 {{"before", EncodeCursor(items.front().first)},
                  {"after", EncodeCursor(items.back().first)}}}};
    if (more) {
      std::string query;
      for (const auto& [k, v] : req.query) {
        if (k == "after" || k == "before") continue;
        query += (query.empty() ? "" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
      }
      query += (query.empty() ? "" : "&") + std::string("after=") +
               PercentEncode(EncodeCursor(items.back().first));
      paging["next"] = NextBase(req) + req.path + "?" + query;
    }
    out["paging"] = std::move(paging);
  }
  return Finish(JsonResponse(200, out));
}

HttpResponse GraphServer::SendWebhook(const json& body) {
  std::string err;
  std::optional<std::string> url, number_id, display, event, current_limit, old_limit, waba_id,
      secret;
  std::optional<int64_t> time;
  if (!OptString(body, "url", &url, &err) || !OptString(body, "phoneNumberId", &number_id, &err) ||
      !OptString(body, "displayPhoneNumber", &display, &err) ||
      !OptString(body, "event", &event, &err) ||
      !OptString(body, "currentLimit", &current_limit, &err) ||
      !OptString(body, "oldLimit", &old_limit, &err) ||
      !OptString(body, "wabaId", &waba_id, &err) || !OptString(body, "appSecret", &secret, &err) ||
      !OptInt(body, "time", &time, &err)) {
    return ControlError(400, "webhook: " + err);
  }
  if (!url || url->empty()) return ControlError(400, "webhook: url: required");
  std::string display_number, waba;
  std::string key;
  {
    std::lock_guard lock(mu_);
    if (number_id) {
      PhoneNumber* n = FindNumber(*number_id, &waba);
      if (!n) return ControlError(404, "webhook: phoneNumberId: no phone number " + *number_id);
      display_number = n->display_phone_number;
      if (!current_limit) current_limit = n->messaging_limit_tier;
    } else if (display) {
      display_number = *display;
    } else {
      return ControlError(400, "webhook: phoneNumberId or displayPhoneNumber: one is required");
    }
    if (waba_id) waba = *waba_id;
    if (waba.empty() && !data_.wabas.empty()) waba = data_.wabas.begin()->first;
    key = secret ? *secret : data_.app_secret;
  }
  nlohmann::ordered_json value;
  value["display_phone_number"] = DigitsOf(display_number);
  value["event"] = event.value_or("DOWNGRADE");
  if (old_limit) value["old_limit"] = *old_limit;
  value["current_limit"] = current_limit.value_or("TIER_1K").empty()
                               ? std::string("TIER_1K")
                               : current_limit.value_or("TIER_1K");
  nlohmann::ordered_json payload;
  payload["object"] = "whatsapp_business_account";
  nlohmann::ordered_json entry;
  entry["id"] = waba;
  entry["time"] = time.value_or(static_cast<int64_t>(std::time(nullptr)));
  nlohmann::ordered_json change;
  change["value"] = value;
  change["field"] = "phone_number_quality_update";
  entry["changes"] = nlohmann::ordered_json::array({change});
  payload["entry"] = nlohmann::ordered_json::array({entry});
  const std::string raw = payload.dump();
  const std::string signature = "sha256=" + HmacSha256Hex(key, raw);
  std::map<std::string, std::string> headers{{"Content-Type", "application/json"},
                                             {"X-Hub-Signature-256", signature},
                                             {"User-Agent", "facebookexternalua"}};
  auto delivered = sender_(*url, raw, headers);
  if (!delivered.ok()) {
    return ControlError(502, "webhook: POST " + *url + ": " + delivered.status().message());
  }
  return JsonResponse(200, json{{"status", delivered->status},
                                {"body", delivered->body},
                                {"signature", signature},
                                {"payload", json::parse(raw)}});
}

HttpResponse GraphServer::HandleControl(const HttpRequest& req) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  json body = json::object();
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ControlError(400, p + ": the body must be a JSON object");
    }
  }
  std::string err;

  if (p == "/_control/state" && m == "GET") {
    std::lock_guard lock(mu_);
    json wabas = json::array();
    for (const auto& [id, w] : data_.wabas) {
      json nums = json::array();
      for (const auto& [nid, n] : w.numbers) nums.push_back(NumberToControlJson(n));
      json ts = json::array();
      for (const auto& t : w.templates) {
        ts.push_back({{"id", t.id},
                      {"name", t.name},
                      {"language", t.language},
                      {"status", t.status},
                      {"category", t.category}});
      }
      wabas.push_back({{"id", id}, {"phoneNumbers", nums}, {"templates", ts}});
    }
    // The token and app secret are not shown.
    return JsonResponse(200, json{{"maxPageSize", data_.max_page_size}, {"wabas", wabas}});
  }
  if (p == "/_control/requests") {
    std::lock_guard lock(mu_);
    if (m == "DELETE") {
      counts_.clear();
      total_ = 0;
      return JsonResponse(200, json{{"total", 0}, {"byPath", json::object()}});
    }
    if (m == "GET") {
      json by = json::object();
      for (const auto& [path, n] : counts_) by[path] = n;
      return JsonResponse(200, json{{"total", total_}, {"byPath", by}});
    }
  }
  if (p == "/_control/token" && m == "PUT") {
    std::optional<std::string> token;
    if (!OptString(body, "token", &token, &err)) return ControlError(400, err);
    if (!token || token->empty()) return ControlError(400, "token: expected a non-empty string");
    std::lock_guard lock(mu_);
    data_.token = *token;
    return JsonResponse(200, json::object());
  }
  if (p == "/_control/max-page-size" && m == "PUT") {
    std::optional<int64_t> v;
    if (!OptInt(body, "maxPageSize", &v, &err)) return ControlError(400, err);
    if (!v || *v < 0 || *v > 100) return ControlError(400, "maxPageSize: expected 0..100");
    std::lock_guard lock(mu_);
    data_.max_page_size = static_cast<int>(*v);
    return JsonResponse(200, json{{"maxPageSize", *v}});
  }
  if (p == "/_control/next-base-url" && m == "PUT") {
    std::optional<std::string> url;
    if (!OptString(body, "url", &url, &err)) return ControlError(400, err);
    std::lock_guard lock(mu_);
    next_base_url_ = url.value_or("");
    return JsonResponse(200, json{{"url", next_base_url_}});
  }
  if (p == "/_control/usage") {
    std::lock_guard lock(mu_);
    if (m == "DELETE") {
      app_usage_.clear();
      buc_usage_.clear();
      return JsonResponse(200, json::object());
    }
    if (m == "PUT") {
      std::optional<std::string> raw_app, raw_buc;
      std::optional<int64_t> calls, cpu, time;
      if (!OptString(body, "appUsage", &raw_app, &err) ||
          !OptString(body, "businessUseCaseUsage", &raw_buc, &err) ||
          !OptInt(body, "callCount", &calls, &err) || !OptInt(body, "totalCputime", &cpu, &err) ||
          !OptInt(body, "totalTime", &time, &err)) {
        return ControlError(400, "usage: " + err);
      }
      if (raw_app) {
        app_usage_ = *raw_app;
      } else if (calls || cpu || time) {
        app_usage_ = json{{"call_count", calls.value_or(0)},
                          {"total_cputime", cpu.value_or(0)},
                          {"total_time", time.value_or(0)}}
                         .dump();
      }
      if (raw_buc) buc_usage_ = *raw_buc;
      return JsonResponse(
          200, json{{"X-App-Usage", app_usage_}, {"X-Business-Use-Case-Usage", buc_usage_}});
    }
  }
  if (p == "/_control/faults") {
    std::lock_guard lock(mu_);
    if (m == "DELETE") {
      faults_.clear();
      return JsonResponse(200, json::object());
    }
    if (m == "GET") return JsonResponse(200, json{{"pending", faults_.size()}});
    if (m == "POST") {
      std::optional<std::string> type, path, raw_body;
      std::optional<int64_t> code, status, delay_ms, count, skip, duration_ms;
      if (!OptString(body, "type", &type, &err) || !OptString(body, "path", &path, &err) ||
          !OptString(body, "body", &raw_body, &err) || !OptInt(body, "code", &code, &err) ||
          !OptInt(body, "httpStatus", &status, &err) || !OptInt(body, "delayMs", &delay_ms, &err) ||
          !OptInt(body, "count", &count, &err) || !OptInt(body, "skip", &skip, &err) ||
          !OptInt(body, "durationMs", &duration_ms, &err)) {
        return ControlError(400, "faults: " + err);
      }
      Fault f;
      if (type == "graphError") {
        f.kind = Fault::Kind::kGraphError;
        if (!code || *code <= 0) {
          return ControlError(400,
                              "faults: code: required for graphError (e.g. 4, 17, 80007, "
                              "130429)");
        }
        f.graph_code = static_cast<int>(*code);
        if (status && (*status < 400 || *status > 599)) {
          return ControlError(400, "faults: httpStatus: expected 400..599");
        }
        f.http_status = static_cast<int>(status.value_or(0));
      } else if (type == "httpStatus") {
        f.kind = Fault::Kind::kHttpStatus;
        if (!status || *status < 400 || *status > 599) {
          return ControlError(400, "faults: httpStatus: required for httpStatus, 400..599");
        }
        f.http_status = static_cast<int>(*status);
      } else if (type == "delay") {
        f.kind = Fault::Kind::kDelay;
        if (!delay_ms || *delay_ms < 0 || *delay_ms > 600000) {
          return ControlError(400, "faults: delayMs: required for delay, 0..600000");
        }
        f.delay = std::chrono::milliseconds(*delay_ms);
      } else if (type == "body") {
        f.kind = Fault::Kind::kBody;
        if (!raw_body) return ControlError(400, "faults: body: required for body (a string)");
        if (status && (*status < 200 || *status > 599)) {
          return ControlError(400, "faults: httpStatus: expected 200..599");
        }
        f.body = *raw_body;
        f.http_status = static_cast<int>(status.value_or(200));
      } else {
        return ControlError(400, "faults: type: expected graphError, httpStatus, delay or body");
      }
      f.path_contains = path.value_or("");
      f.skip = static_cast<int>(std::max<int64_t>(0, skip.value_or(0)));
      if (duration_ms) {
        if (*duration_ms <= 0) return ControlError(400, "faults: durationMs: expected > 0");
        f.until = std::chrono::steady_clock::now() + std::chrono::milliseconds(*duration_ms);
        f.count = static_cast<int>(count.value_or(-1));
      } else {
        f.count = static_cast<int>(count.value_or(1));
      }
      if (f.count == 0) return ControlError(400, "faults: count: expected > 0 (or < 0: no limit)");
      faults_.push_back(f);
      return JsonResponse(201, json{{"pending", faults_.size()}});
    }
  }
  if (p == "/_control/webhook" && m == "POST") return SendWebhook(body);

  if (p == "/_control/templates" && m == "POST") {
    std::optional<std::string> waba_id, name, language, status, category;
    if (!OptString(body, "wabaId", &waba_id, &err) || !OptString(body, "name", &name, &err) ||
        !OptString(body, "language", &language, &err) ||
        !OptString(body, "status", &status, &err) ||
        !OptString(body, "category", &category, &err)) {
      return ControlError(400, "templates: " + err);
    }
    if (!name || !language) return ControlError(400, "templates: name and language: required");
    std::lock_guard lock(mu_);
    auto w = waba_id ? data_.wabas.find(*waba_id) : data_.wabas.begin();
    if (w == data_.wabas.end()) return ControlError(404, "templates: wabaId: no such WABA");
    for (auto& t : w->second.templates) {
      if (t.name == *name && t.language == *language) {
        if (status) t.status = *status;
        if (category) t.category = *category;
        return JsonResponse(200, json{{"id", t.id}});
      }
    }
    Template t;
    t.id = std::to_string(910000000000000 + w->second.templates.size());
    t.name = *name;
    t.language = *language;
    t.status = status.value_or("APPROVED");
    t.category = category.value_or("UTILITY");
    w->second.templates.push_back(t);
    return JsonResponse(201, json{{"id", t.id}});
  }

  if (p == "/_control/phone-numbers/generate" && m == "POST") {
    std::optional<std::string> waba_id, rating;
    std::optional<int64_t> count, first;
    if (!OptString(body, "wabaId", &waba_id, &err) ||
        !OptString(body, "qualityRating", &rating, &err) || !OptInt(body, "count", &count, &err) ||
        !OptInt(body, "firstId", &first, &err)) {
      return ControlError(400, "generate: " + err);
    }
    if (!count || *count < 0 || *count > 100000) {
      return ControlError(400, "generate: count: required, 0..100000");
    }
    if (rating && !ValidRating(*rating)) {
      return ControlError(400,
                          "generate: qualityRating: expected GREEN, YELLOW, RED, NA or UNKNOWN");
    }
    std::lock_guard lock(mu_);
    auto w = waba_id ? data_.wabas.find(*waba_id) : data_.wabas.begin();
    if (w == data_.wabas.end()) return ControlError(404, "generate: wabaId: no such WABA");
    int64_t base = first.value_or(200000000000000);
    int64_t added = 0;
    for (int64_t i = 0; i < *count; ++i) {
      PhoneNumber n;
      n.id = std::to_string(base + i);
      if (FindNumber(n.id)) continue;
      char display[32];
      std::snprintf(display, sizeof display, "+1 555 %03d %04d",
                    static_cast<int>((i / 10000) % 1000), static_cast<int>(i % 10000));
      n.display_phone_number = display;
      n.verified_name = "Generated " + std::to_string(i);
      n.quality_rating = rating.value_or("GREEN");
      n.messaging_limit_tier = "TIER_1K";
      w->second.numbers[n.id] = n;
      ++added;
    }
    return JsonResponse(201, json{{"added", added}, {"total", w->second.numbers.size()}});
  }
  if (p == "/_control/phone-numbers" && m == "DELETE") {
    std::lock_guard lock(mu_);
    const std::string waba_id = req.Query("wabaId");
    int64_t removed = 0;
    for (auto& [id, w] : data_.wabas) {
      if (!waba_id.empty() && id != waba_id) continue;
      removed += static_cast<int64_t>(w.numbers.size());
      w.numbers.clear();
    }
    return JsonResponse(200, json{{"removed", removed}});
  }
  const std::string kNumbers = "/_control/phone-numbers";
  if (p == kNumbers || p.rfind(kNumbers + "/", 0) == 0) {
    std::string id = p.size() > kNumbers.size() ? p.substr(kNumbers.size() + 1) : "";
    std::optional<std::string> waba_id, body_id, display, verified, rating, tier;
    if (!OptString(body, "wabaId", &waba_id, &err) || !OptString(body, "id", &body_id, &err) ||
        !OptString(body, "displayPhoneNumber", &display, &err) ||
        !OptString(body, "verifiedName", &verified, &err) ||
        !OptString(body, "qualityRating", &rating, &err) ||
        !OptString(body, "messagingLimitTier", &tier, &err)) {
      return ControlError(400, "phone-numbers: " + err);
    }
    if (rating && !ValidRating(*rating)) {
      return ControlError(400,
                          "phone-numbers: qualityRating: expected GREEN, YELLOW, RED, NA or "
                          "UNKNOWN, got \"" +
                              *rating + "\"");
    }
    if (id.empty() && m == "POST") {  // create or replace
      if (!body_id || !ValidGraphId(*body_id)) {
        return ControlError(400, "phone-numbers: id: required, 1-32 digits");
      }
      if (!display) return ControlError(400, "phone-numbers: displayPhoneNumber: required");
      std::lock_guard lock(mu_);
      std::string owner;
      PhoneNumber* existing = FindNumber(*body_id, &owner);
      auto w = waba_id ? data_.wabas.find(*waba_id)
                       : (existing ? data_.wabas.find(owner) : data_.wabas.begin());
      if (w == data_.wabas.end()) return ControlError(404, "phone-numbers: wabaId: no such WABA");
      if (existing && owner != w->first) data_.wabas[owner].numbers.erase(*body_id);
      PhoneNumber n;
      n.id = *body_id;
      n.display_phone_number = *display;
      n.verified_name = verified.value_or("");
      n.quality_rating = rating.value_or("GREEN");
      n.messaging_limit_tier = tier.value_or("");
      w->second.numbers[n.id] = n;
      return JsonResponse(existing ? 200 : 201, NumberToControlJson(n));
    }
    if (!id.empty() && m == "DELETE") {
      std::lock_guard lock(mu_);
      std::string owner;
      if (!FindNumber(id, &owner)) return ControlError(404, "phone-numbers: no phone number " + id);
      data_.wabas[owner].numbers.erase(id);
      return JsonResponse(200, json::object());
    }
    if (!id.empty() && m == "PATCH") {
      json updated;
      {
        std::lock_guard lock(mu_);
        PhoneNumber* n = FindNumber(id);
        if (!n) return ControlError(404, "phone-numbers: no phone number " + id);
        if (display) n->display_phone_number = *display;
        if (verified) n->verified_name = *verified;
        if (rating) n->quality_rating = *rating;
        if (tier) n->messaging_limit_tier = *tier;
        updated = NumberToControlJson(*n);
      }
      // Optionally announce the change the way Meta does: a signed webhook.
      if (auto wh = body.find("webhook"); wh != body.end() && !wh->is_null()) {
        if (!wh->is_object())
          return ControlError(400, "phone-numbers: webhook: expected an object");
        json w = *wh;
        w["phoneNumberId"] = id;
        HttpResponse sent = SendWebhook(w);
        json result = json::parse(sent.body, nullptr, false);
        if (sent.status != 200) return sent;
        return JsonResponse(200, json{{"phoneNumber", updated}, {"webhook", result}});
      }
      return JsonResponse(200, json{{"phoneNumber", updated}});
    }
  }
  return ControlError(404, m + " " + p + ": no such control endpoint (see docs/devservers.md)");
}

}  // namespace graphdev
