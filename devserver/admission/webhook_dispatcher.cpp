#include "admission/webhook_dispatcher.h"

#include <cpprest/http_client.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "tls/ssl_context.h"

namespace devserver {

using nlohmann::json;

namespace {

constexpr int kDefaultTimeoutSeconds = 10;
constexpr int kMaxTimeoutSeconds = 30;

bool ListHas(const json& list, const std::string& value) {
  if (!list.is_array()) return false;
  for (const auto& item : list) {
    if (item.is_string() && (item == "*" || item == value)) return true;
  }
  return false;
}

// A rule's resources entry: "pods", "pods/status", "*", "*/status", "pods/*", "*/*".
bool ResourceMatches(const json& resources, const std::string& resource,
                     const std::string& subresource) {
  if (!resources.is_array()) return false;
  for (const auto& item : resources) {
    if (!item.is_string()) continue;
    std::string entry = item.get<std::string>();
    std::string res = entry;
    std::string sub;
    if (auto slash = entry.find('/'); slash != std::string::npos) {
      res = entry.substr(0, slash);
      sub = entry.substr(slash + 1);
    }
    if ((res == "*" || res == resource) && (sub == "*" || sub == subresource)) return true;
  }
  return false;
}

bool RuleMatches(const json& rule, const AdmissionAttributes& a) {
  if (!ListHas(rule.value("operations", json::array()), a.operation)) return false;
  if (!ListHas(rule.value("apiGroups", json::array()), a.group)) return false;
  if (!ListHas(rule.value("apiVersions", json::array()), a.version)) return false;
  if (!ResourceMatches(rule.value("resources", json::array()), a.resource, a.subresource)) {
    return false;
  }
  std::string scope = rule.value("scope", "*");
  if (scope == "Cluster" && !a.ns.empty()) return false;
  if (scope == "Namespaced" && a.ns.empty()) return false;
  return true;
}

// metav1.LabelSelector against a labels object. Returns nullopt with *error set when the
// selector itself is malformed (an unknown operator, values with Exists, ...).
std::optional<bool> SelectorMatches(const json& selector, const json& labels, std::string* error) {
  if (selector.is_null() || (selector.is_object() && selector.empty())) return true;
  auto label = [&](const std::string& key) -> const json* {
    if (!labels.is_object()) return nullptr;
    auto it = labels.find(key);
    return it == labels.end() ? nullptr : &*it;
  };
  const json match_labels = selector.value("matchLabels", json::object());
  if (!match_labels.is_object()) {
    *error = "matchLabels must be an object";
    return std::nullopt;
  }
  for (const auto& [key, value] : match_labels.items()) {
    const json* have = label(key);
    if (have == nullptr || *have != value) return false;
  }
  const json expressions = selector.value("matchExpressions", json::array());
  for (const auto& expr : expressions) {
    std::string key = expr.value("key", "");
    std::string op = expr.value("operator", "");
    json values = expr.value("values", json::array());
    const json* have = label(key);
    if (op == "In" || op == "NotIn") {
      if (!values.is_array() || values.empty()) {
        *error = "matchExpressions[" + key + "]: values must be non-empty for " + op;
        return std::nullopt;
      }
      bool in = have != nullptr && std::find(values.begin(), values.end(), *have) != values.end();
      if (op == "In" ? !in : in) return false;
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (values.is_array() && !values.empty()) {
        *error = "matchExpressions[" + key + "]: values must be empty for " + op;
        return std::nullopt;
      }
      if ((have != nullptr) != (op == "Exists")) return false;
    } else {
      *error =
          "matchExpressions[" + key + "]: \"" + op + "\" is not a valid label selector operator";
      return std::nullopt;
    }
  }
  return true;
}

json Labels(const json& object) {
  if (!object.is_object()) return json::object();
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return json::object();
  return meta->value("labels", json::object());
}

std::string NewUid() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  uint64_t a = 0;
  uint64_t b = 0;
  {
    std::lock_guard lock(mu);
    a = rng();
    b = rng();
  }
  // RFC 4122 version 4 layout.
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
           static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
           static_cast<unsigned>(b >> 48),
           static_cast<unsigned long long>(b & 0xffffffffffffULL));  // NOLINT(google-runtime-int)
  return buf;
}

// Standard base64 (caBundle is a []byte in JSON). nullopt when it is not valid base64.
std::optional<std::string> DecodeBase64(const std::string& in) {
  std::string clean;
  for (char c : in) {
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

json OptionsFor(const std::string& operation) {
  std::string kind = operation == "CREATE"   ? "CreateOptions"
                     : operation == "UPDATE" ? "UpdateOptions"
                     : operation == "DELETE" ? "DeleteOptions"
                                             : "";
  if (kind.empty()) return nullptr;
  return {{"kind", kind}, {"apiVersion", "meta.k8s.io/v1"}};
}

json BuildReview(const AdmissionAttributes& a, const std::string& uid) {
  json kind = {{"group", a.group}, {"version", a.version}, {"kind", a.kind}};
  json resource = {{"group", a.group}, {"version", a.version}, {"resource", a.resource}};
  json request = {{"uid", uid},
                  {"kind", kind},
                  {"resource", resource},
                  {"requestKind", kind},
                  {"requestResource", resource},
                  {"operation", a.operation},
                  {"userInfo", {{"username", a.user}}},
                  {"object", a.object},
                  {"oldObject", a.old_object},
                  {"dryRun", a.dry_run},
                  {"options", OptionsFor(a.operation)}};
  if (!a.subresource.empty()) {
    request["subResource"] = a.subresource;
    request["requestSubResource"] = a.subresource;
  }
  if (!a.name.empty()) request["name"] = a.name;
  if (!a.ns.empty()) request["namespace"] = a.ns;
  return {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", request}};
}

// The outcome of one webhook call: a decision, or a failure to be judged by failurePolicy.
struct CallOutcome {
  bool failed = false;
  std::string failure;  // Why the call failed (no "failed calling webhook" prefix).
  bool allowed = true;
  int code = 200;
  std::string message;
  std::vector<std::string> warnings;
};

}  // namespace

struct WebhookDispatcher::Impl {
  std::mutex mu;
  // Keyed by URL, CA bundle and timeout: a cpprest client keeps its connections open, so
  // repeated admissions to the same webhook reuse them.
  std::map<std::string, std::shared_ptr<web::http::client::http_client>> clients;
  std::atomic<int> calls{0};

  // A cached client, or a reason why none can be made.
  std::shared_ptr<web::http::client::http_client> Client(const std::string& url,
                                                         const std::string& ca_pem,
                                                         int timeout_seconds, std::string* error) {
    std::string key = url + '\n' + std::to_string(timeout_seconds) + '\n' + ca_pem;
    std::lock_guard lock(mu);
    auto it = clients.find(key);
    if (it != clients.end()) return it->second;
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(timeout_seconds));
    if (!ca_pem.empty()) {
      auto callback = waop::tls::MakeClientSslCallback(ca_pem);
      if (!callback.ok()) {
        *error = "invalid caBundle: " + callback.status().message();
        return nullptr;
      }
      config.set_ssl_context_callback(*callback);
    }
    try {
      auto client = std::make_shared<web::http::client::http_client>(web::uri(url), config);
      clients.emplace(key, client);
      return client;
    } catch (const std::exception& e) {
      *error = std::string("invalid webhook URL: ") + e.what();
      return nullptr;
    }
  }

  CallOutcome Call(const json& webhook, const AdmissionAttributes& attrs) {
    CallOutcome out;
    auto fail = [&](std::string why) {
      out.failed = true;
      out.failure = std::move(why);
      return out;
    };
    const json config = webhook.value("clientConfig", json::object());
    if (!config.contains("url")) {
      if (config.contains("service")) {
        const json svc = config["service"];
        return fail("failed to call webhook: service reference " + svc.value("namespace", "") +
                    "/" + svc.value("name", "") +
                    " cannot be resolved by kube-devserver (it has no cluster network); "
                    "use clientConfig.url");
      }
      return fail("clientConfig has neither url nor service");
    }
    std::string url = config.value("url", "");
    if (url.rfind("https://", 0) != 0) {
      return fail("webhook URL \"" + url + "\" must use the https scheme");
    }
    json versions = webhook.value("admissionReviewVersions", json::array({"v1"}));
    if (!ListHas(versions, "v1")) {
      return fail("webhook does not accept v1 AdmissionReview (admissionReviewVersions: " +
                  versions.dump() + ")");
    }
    std::string ca_pem;
    if (config.contains("caBundle") && config["caBundle"].is_string() &&
        !config["caBundle"].get<std::string>().empty()) {
      auto decoded = DecodeBase64(config["caBundle"].get<std::string>());
      if (!decoded) return fail("clientConfig.caBundle is not valid base64");
      ca_pem = *decoded;
    }
    int timeout = webhook.value("timeoutSeconds", kDefaultTimeoutSeconds);
    timeout = std::clamp(timeout, 1, kMaxTimeoutSeconds);
    std::string error;
    auto client = Client(url, ca_pem, timeout, &error);
    if (!client) return fail(error);

    std::string uid = NewUid();
    json review = BuildReview(attrs, uid);
    std::string post = "Post \"" + url + "?timeout=" + std::to_string(timeout) + "s\"";
    ++calls;
    auto started = std::chrono::steady_clock::now();
    web::http::http_response response;
    std::string body;
    try {
      web::http::http_request request(web::http::methods::POST);
      request.set_request_uri(web::uri("?timeout=" + std::to_string(timeout) + "s"));
      request.set_body(review.dump(), "application/json");
      response = client->request(request).get();
      body = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      auto elapsed = std::chrono::steady_clock::now() - started;
      std::string what = e.what();
      if (elapsed >= std::chrono::seconds(timeout) || what.find("timed out") != std::string::npos) {
        return fail("failed to call webhook: " + post + ": context deadline exceeded");
      }
      if (what.find("handshake") != std::string::npos ||
          what.find("certificate") != std::string::npos) {
        return fail("failed to call webhook: " + post +
                    ": tls: failed to verify certificate: " + what);
      }
      return fail("failed to call webhook: " + post + ": " + what);
    }
    if (response.status_code() != 200) {
      return fail("received invalid webhook response: expected webhook response of 200, got " +
                  std::to_string(response.status_code()));
    }
    json parsed;
    try {
      parsed = json::parse(body);
    } catch (const json::exception& e) {
      return fail(std::string("received invalid webhook response: ") + e.what());
    }
    if (!parsed.is_object() || !parsed.contains("response") || !parsed["response"].is_object()) {
      return fail("received invalid webhook response: webhook response was absent");
    }
    const json& r = parsed["response"];
    std::string got_uid = r.value("uid", "");
    if (got_uid != uid) {
      return fail("received invalid webhook response: expected response.uid=\"" + uid +
                  "\", got \"" + got_uid + "\"");
    }
    if (!r.contains("allowed") || !r["allowed"].is_boolean()) {
      return fail("received invalid webhook response: response.allowed must be a boolean");
    }
    out.allowed = r["allowed"].get<bool>();
    if (r.contains("warnings") && r["warnings"].is_array()) {
      for (const auto& w : r["warnings"]) {
        if (w.is_string()) out.warnings.push_back(w.get<std::string>());
      }
    }
    if (!out.allowed) {
      const json status = r.value("status", json::object());
      out.message = status.is_object() ? status.value("message", "") : "";
      int code = status.is_object() ? status.value("code", 0) : 0;
      out.code = code >= 400 && code < 600 ? code : 403;
    }
    return out;
  }
};

WebhookDispatcher::WebhookDispatcher() : impl_(std::make_unique<Impl>()) {}
WebhookDispatcher::~WebhookDispatcher() = default;

int WebhookDispatcher::CallsAttempted() const { return impl_->calls.load(); }

AdmissionResult WebhookDispatcher::Validate(
    const std::vector<json>& validating_webhook_configurations, const AdmissionAttributes& attrs,
    const std::function<json(const std::string& ns)>& namespace_labels) {
  AdmissionResult result;
  for (const auto& configuration : validating_webhook_configurations) {
    for (const auto& webhook : configuration.value("webhooks", json::array())) {
      std::string name = webhook.value("name", "");
      bool rule_match = false;
      for (const auto& rule : webhook.value("rules", json::array())) {
        if (RuleMatches(rule, attrs)) {
          rule_match = true;
          break;
        }
      }
      if (!rule_match) continue;

      bool ignore_failures = webhook.value("failurePolicy", "Fail") == "Ignore";
      auto call_failed = [&](const std::string& why) -> bool {
        if (ignore_failures) {
          spdlog::warn("failed calling webhook \"{}\" (failurePolicy Ignore, allowed): {}", name,
                       why);
          return false;
        }
        result.allowed = false;
        result.code = 500;
        result.message = "failed calling webhook \"" + name + "\": " + why;
        return true;
      };

      // namespaceSelector: the namespace's labels for namespaced objects, a Namespace's own
      // labels for itself; other cluster-scoped objects always match.
      std::string error;
      json ns_selector = webhook.value("namespaceSelector", json::object());
      std::optional<bool> ns_match = true;
      if (attrs.resource == "namespaces" && attrs.group.empty() && attrs.subresource.empty()) {
        json labels = Labels(attrs.object.is_null() ? attrs.old_object : attrs.object);
        ns_match = SelectorMatches(ns_selector, labels, &error);
      } else if (!attrs.ns.empty()) {
        json labels = namespace_labels ? namespace_labels(attrs.ns) : json::object();
        ns_match = SelectorMatches(ns_selector, labels, &error);
      }
      if (!ns_match) {
        if (call_failed("invalid namespaceSelector: " + error)) return result;
        continue;
      }
      if (!*ns_match) continue;
      json obj_selector = webhook.value("objectSelector", json::object());
      auto new_match = SelectorMatches(obj_selector, Labels(attrs.object), &error);
      auto old_match = SelectorMatches(obj_selector, Labels(attrs.old_object), &error);
      if (!new_match || !old_match) {
        if (call_failed("invalid objectSelector: " + error)) return result;
        continue;
      }
      bool has_new = !attrs.object.is_null();
      bool has_old = !attrs.old_object.is_null();
      if (!((has_new && *new_match) || (has_old && *old_match) || (!has_new && !has_old))) {
        continue;
      }

      std::string side_effects = webhook.value("sideEffects", "None");
      if (attrs.dry_run && side_effects != "None" && side_effects != "NoneOnDryRun") {
        result.allowed = false;
        result.code = 400;
        result.message = "admission webhook \"" + name + "\" does not support dry run";
        return result;
      }

      CallOutcome outcome = impl_->Call(webhook, attrs);
      if (outcome.failed) {
        if (call_failed(outcome.failure)) return result;
        continue;
      }
      result.warnings.insert(result.warnings.end(), outcome.warnings.begin(),
                             outcome.warnings.end());
      if (!outcome.allowed) {
        result.allowed = false;
        result.code = outcome.code;
        result.message =
            outcome.message.empty()
                ? "admission webhook \"" + name + "\" denied the request without explanation"
                : "admission webhook \"" + name + "\" denied the request: " + outcome.message;
        return result;
      }
    }
  }
  return result;
}

}  // namespace devserver
