// Test support for graph-devserver: starts the binary with a data file on a free port (read
// back from --port-file), calls its Graph and control APIs, and receives the webhooks it sends
// with a small blocking HTTP receiver on 127.0.0.1.
//
// Thread-safety: each object is used by one test thread (WebhookReceiver serves on its own
// thread and hands requests over under a lock).
// Ownership: GraphDevserver owns the child process and stops it (SIGTERM) on destruction;
// WebhookReceiver stops its thread and closes its socket on destruction.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "devserver_test_util.h"
#include "harness.h"

namespace devserver::testing {

inline constexpr const char* kGraphToken = "test-token";
inline constexpr const char* kGraphAppSecret = "app-secret";
inline constexpr const char* kGraphWaba = "102290129340398";

// A data file with one WABA (kGraphWaba) holding `numbers` phone numbers with ids
// 100000000000001, 100000000000002, ... (the first is "+34 612 345 678", GREEN, TIER_1K) and
// one template, token kGraphToken, app secret kGraphAppSecret.
std::string GraphData(int numbers = 2, int max_page_size = 0);

class GraphDevserver {
 public:
  // Starts graph-devserver with `data_yaml` as its --data file; waits (up to 30 s) until it
  // listens. ok() is false when it exited instead (see process().Stderr()).
  explicit GraphDevserver(const std::string& data_yaml = GraphData(),
                          std::vector<std::string> extra_args = {});
  ~GraphDevserver();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  waop::testing::Process& process() { return *proc_; }

  // A Graph GET with the bearer token (none when token is empty).
  HttpResult Get(const std::string& path_and_query, const std::string& token = kGraphToken);
  // A control call: method, /_control/... path, JSON body (null = none).
  HttpResult Control(const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr);
  // Adds `count` generated numbers to kGraphWaba (ids from first_id).
  void Generate(int count, long long first_id = 200000000000000);
  // Graph requests served so far (all paths).
  long long RequestTotal();

 private:
  waop::testing::TempDir dir_;
  std::unique_ptr<waop::testing::Process> proc_;
  int port_ = 0;
};

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Accepts connections on 127.0.0.1:<port()>, reads one request per connection, answers
// `status` with an empty JSON body, and queues what it got.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(int status = 200);
  ~WebhookReceiver();
  int port() const { return port_; }
  std::string url(const std::string& path = "/meta/webhook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::optional<ReceivedRequest> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void Serve();
  int fd_ = -1;
  int port_ = 0;
  int status_ = 200;
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ReceivedRequest> got_;
  std::thread thread_;
};

std::string GraphDevserverBinary();

}  // namespace devserver::testing
