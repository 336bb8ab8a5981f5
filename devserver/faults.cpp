#include "faults.h"

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

void Faults::Set(const FaultConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
}

FaultConfig Faults::Get() const {
  std::lock_guard lock(mu_);
  return config_;
}

std::optional<int> Faults::WriteFailure(const std::string& verb, const std::string& resource,
                                        const std::string& user_agent) {
  std::lock_guard lock(mu_);
  const WriteFault& w = config_.write;
  if (w.fraction <= 0) return std::nullopt;
  if (!w.verb.empty() && w.verb != verb) return std::nullopt;
  if (!w.resource.empty() && w.resource != resource) return std::nullopt;
  if (!w.client.empty() && user_agent.find(w.client) == std::string::npos) return std::nullopt;
  std::uniform_real_distribution<double> d(0, 1);
  if (d(rng_) < w.fraction) return w.code;
  return std::nullopt;
}

std::chrono::milliseconds Faults::Latency() const {
  std::lock_guard lock(mu_);
  return config_.latency;
}

Result<FaultConfig> Faults::Parse(const json& body, const FaultConfig& base, bool* drop_now,
                                  bool* expire_now) {
  if (!body.is_object()) return Status::InvalidArgument("body: expected a JSON object");
  FaultConfig c = base;
  *drop_now = false;
  *expire_now = false;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    const json& v = *it;
    if (k == "writeErrors") {
      if (v.is_null()) {
        c.write = WriteFault{};
        continue;
      }
      if (!v.is_object()) return Status::InvalidArgument("writeErrors: expected an object");
      WriteFault w;
      if (v.contains("fraction")) {
        if (!v["fraction"].is_number() || v["fraction"].get<double>() < 0 ||
            v["fraction"].get<double>() > 1) {
          return Status::InvalidArgument("writeErrors.fraction: expected a number in [0, 1]");
        }
        w.fraction = v["fraction"].get<double>();
      }
      if (v.contains("code")) {
        if (!v["code"].is_number_integer()) {
          return Status::InvalidArgument("writeErrors.code: expected 409, 500 or 503");
        }
        w.code = v["code"].get<int>();
        if (w.code != 409 && w.code != 500 && w.code != 503 && w.code != 410 && w.code != 429) {
          return Status::InvalidArgument("writeErrors.code: expected 409, 410, 429, 500 or 503");
        }
      }
      if (v.contains("verb")) {
        if (!v["verb"].is_string()) return Status::InvalidArgument("writeErrors.verb: string");
        w.verb = v["verb"].get<std::string>();
      }
      if (v.contains("resource")) {
        if (!v["resource"].is_string()) {
          return Status::InvalidArgument("writeErrors.resource: expected a string");
        }
        w.resource = v["resource"].get<std::string>();
      }
      if (v.contains("client")) {
        if (!v["client"].is_string()) {
          return Status::InvalidArgument("writeErrors.client: expected a string");
        }
        w.client = v["client"].get<std::string>();
      }
      c.write = w;
    } else if (k == "latencyMs") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) {
        return Status::InvalidArgument("latencyMs: expected a non-negative integer");
      }
      c.latency = std::chrono::milliseconds(v.get<int64_t>());
    } else if (k == "dropWatchesEverySeconds") {
      if (!v.is_number() || v.get<double>() < 0) {
        return Status::InvalidArgument("dropWatchesEverySeconds: expected a non-negative number");
      }
      c.drop_watches_every =
          std::chrono::milliseconds(static_cast<int64_t>(v.get<double>() * 1000));
    } else if (k == "dropWatches") {
      if (!v.is_boolean()) return Status::InvalidArgument("dropWatches: expected a boolean");
      *drop_now = v.get<bool>();
    } else if (k == "expireHistory") {
      if (!v.is_boolean()) return Status::InvalidArgument("expireHistory: expected a boolean");
      *expire_now = v.get<bool>();
    } else if (k == "reset") {
      if (v == true) c = FaultConfig{};
    } else {
      return Status::InvalidArgument("unknown field \"" + k +
                                     "\" (expected writeErrors, latencyMs, "
                                     "dropWatchesEverySeconds, dropWatches, expireHistory, reset)");
    }
  }
  return c;
}

json Faults::ToJson(const FaultConfig& c) {
  return {{"writeErrors",
           {{"fraction", c.write.fraction},
            {"code", c.write.code},
            {"verb", c.write.verb},
            {"resource", c.write.resource},
            {"client", c.write.client}}},
          {"latencyMs", c.latency.count()},
          {"dropWatchesEverySeconds", c.drop_watches_every.count() / 1000.0}};
}

std::string RequestCounter::ClientOf(const std::string& user_agent) {
  return user_agent.substr(0, user_agent.find_first_of("/ "));
}

void RequestCounter::Count(const std::string& verb, const std::string& resource,
                           const std::string& subresource, const std::string& user_agent) {
  std::string client = ClientOf(user_agent);
  std::lock_guard lock(mu_);
  ++counts_[{verb, resource, subresource, std::move(client)}];
}

json RequestCounter::ToJson(const std::string& client) const {
  std::lock_guard lock(mu_);
  json total = json::object();
  json by = json::array();
  int64_t all = 0;
  for (const auto& [k, n] : counts_) {
    const auto& [verb, resource, sub, who] = k;
    if (!client.empty() && who != client) continue;
    total[verb] = total.value(verb, 0) + n;
    all += n;
    by.push_back({{"verb", verb},
                  {"resource", resource},
                  {"subresource", sub},
                  {"client", who},
                  {"count", n}});
  }
  return {{"total", total}, {"all", all}, {"by", by}};
}

void RequestCounter::Reset() {
  std::lock_guard lock(mu_);
  counts_.clear();
}

}  // namespace devserver
