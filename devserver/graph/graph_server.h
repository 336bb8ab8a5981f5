// graph-devserver's API logic, free of any HTTP library: a stand-in for the Meta Graph API
// (the phone numbers and message templates of WhatsApp Business Accounts, paged like Meta,
// with Meta's error bodies) and a JSON control API under /_control/ for tests and the demo
// (change ratings, numbers, the token and the page cap; inject faults; read request counts;
// send signed phone_number_quality_update webhooks). docs/devservers.md describes both.
//
// Thread-safety: Handle() may be called from many threads at once; all state is under mu_.
// Ownership: owns its data; the webhook sender is called without the lock held.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "graph_data.h"
#include "http_types.h"

namespace graphdev {

// Sends one POST; returns the receiver's HTTP status and body, or an error when it could not
// be reached.
struct WebhookDelivery {
  int status = 0;
  std::string body;
};
using WebhookSender =
    std::function<waop::Result<WebhookDelivery>(const std::string& url, const std::string& body,
                                                const std::map<std::string, std::string>& headers)>;

// One injected fault. It applies to Graph API requests (never to /_control/) whose path
// contains `path_contains`; it skips the first `skip` matching requests, then fires on the
// next `count` of them (count < 0: no limit) until `until` (when set).
struct Fault {
  enum class Kind { kGraphError, kHttpStatus, kDelay, kBody };
  Kind kind = Kind::kGraphError;
  int graph_code = 0;   // kGraphError: 4, 17, 80007, 80008, 130429, ...
  int http_status = 0;  // kGraphError: 0 = Meta's usual status; kHttpStatus: the status
  std::chrono::milliseconds delay{0};  // kDelay
  std::string body;                    // kBody: this exact answer body (with http_status)
  std::string path_contains;
  int skip = 0;
  int count = 1;
  std::optional<std::chrono::steady_clock::time_point> until;
};

// HMAC-SHA256(key, data) as lower-case hex (OpenSSL).
std::string HmacSha256Hex(const std::string& key, const std::string& data);

class GraphServer {
 public:
  GraphServer(GraphData data, WebhookSender sender);
  GraphServer(const GraphServer&) = delete;
  GraphServer& operator=(const GraphServer&) = delete;

  devserver::HttpResponse Handle(const devserver::HttpRequest& req);

  // The base of the URLs in paging.next when the request has no Host header and none was
  // set with /_control/next-base-url (e.g. "http://127.0.0.1:1234").
  void SetDefaultBaseUrl(std::string url);

 private:
  devserver::HttpResponse HandleGraph(const devserver::HttpRequest& req);
  devserver::HttpResponse HandleControl(const devserver::HttpRequest& req);
  devserver::HttpResponse SendWebhook(const nlohmann::json& body);

  // What the faults decide for one Graph request (under mu_).
  struct FaultDecision {
    std::chrono::milliseconds delay{0};
    std::optional<devserver::HttpResponse> response;
  };
  FaultDecision TakeFaults(const std::string& path);
  devserver::HttpResponse GraphError(int http_status, int code, const std::string& type,
                                     const std::string& message, int subcode = 0);
  devserver::HttpResponse Finish(devserver::HttpResponse r);  // adds usage headers
  std::string NextBase(const devserver::HttpRequest& req) const;
  PhoneNumber* FindNumber(const std::string& id, std::string* waba_id = nullptr);

  std::mutex mu_;
  GraphData data_;
  std::deque<Fault> faults_;
  std::string app_usage_;      // X-App-Usage value; "" = not sent
  std::string buc_usage_;      // X-Business-Use-Case-Usage value; "" = not sent
  std::string next_base_url_;  // overrides the Host header in paging.next
  std::string default_base_url_;
  std::map<std::string, int64_t> counts_;  // Graph requests by path
  int64_t total_ = 0;
  uint64_t trace_ = 0;
  WebhookSender sender_;
};

}  // namespace graphdev
