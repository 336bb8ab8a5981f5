// Fault injection and request accounting for reliability tests: a fraction of writes answered
// with 409 / 500 / 503 (optionally only for one verb or resource), added latency, dropped
// watches, compacted history; and counts of requests by verb / resource / subresource, served
// at /debug/requests.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include "common/status.h"

namespace devserver {

struct WriteFault {
  double fraction = 0;   // 0..1
  int code = 500;        // 409, 500 or 503
  std::string verb;      // "" = every write verb (create update patch delete)
  std::string resource;  // "" = every resource
  std::string client;    // "" = every client; else only requests whose User-Agent contains it
};

struct FaultConfig {
  WriteFault write;
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds drop_watches_every{0};
};

class Faults {
 public:
  Faults() : rng_(std::random_device{}()) {}
  void Set(const FaultConfig& config);
  FaultConfig Get() const;
  // The HTTP code to fail this write with, if the dice say so.
  std::optional<int> WriteFailure(const std::string& verb, const std::string& resource,
                                  const std::string& user_agent = "");
  std::chrono::milliseconds Latency() const;

  // Parses a /debug/faults body: {"writeErrors":{"fraction":0.5,"code":503,"verb":"update",
  // "resource":"configmaps","client":"replica-1"},"latencyMs":100,"dropWatchesEverySeconds":5,
  // "dropWatches":true,"expireHistory":true}. The last two are one-shot actions reported
  // through the out-parameters. InvalidArgument names the bad field.
  static waop::Result<FaultConfig> Parse(const nlohmann::json& body, const FaultConfig& base,
                                         bool* drop_now, bool* expire_now);
  static nlohmann::json ToJson(const FaultConfig& config);

 private:
  mutable std::mutex mu_;
  FaultConfig config_;
  std::mt19937_64 rng_;
};

// API requests counted by verb, resource, subresource and client: the User-Agent's product
// token ("kubectl" for "kubectl/v1.32.0 (linux/amd64) ...", "whatsapp-operator"), so a test can
// see exactly what one program asked for.
class RequestCounter {
 public:
  void Count(const std::string& verb, const std::string& resource, const std::string& subresource,
             const std::string& user_agent);
  // {"total": {verb: n}, "all": n, "by": [{verb, resource, subresource, client, count}]}, of
  // every client's requests, or only of `client`'s when it is not empty.
  nlohmann::json ToJson(const std::string& client = "") const;
  void Reset();

  // The product token of a User-Agent: up to the first '/' or space; "" when there is none.
  static std::string ClientOf(const std::string& user_agent);

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, int64_t> counts_;
};

}  // namespace devserver
