#include "controller/leader_election.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "common/logging.h"

namespace waop::controller {
namespace {

// client-go's JitterFactor, used in its check that a leader has time to renew.
constexpr double kJitterFactor = 1.2;
// Longest real sleep of the elector thread between checks of the (possibly fake) clock.
constexpr auto kMaxSleep = std::chrono::seconds(1);

using Events = std::vector<std::function<void()>>;

void Run(const Events& events) {
  for (const auto& event : events) event();
}

}  // namespace

nlohmann::json LeaseToJson(const std::string& ns, const std::string& name,
                           const LeaseRecord& record) {
  nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                          {"kind", "Lease"},
                          {"metadata", {{"name", name}, {"namespace", ns}}}};
  if (!record.resource_version.empty()) {
    lease["metadata"]["resourceVersion"] = record.resource_version;
  }
  nlohmann::json spec = {{"holderIdentity", record.holder_identity},
                         {"leaseDurationSeconds", record.lease_duration_seconds},
                         {"leaseTransitions", record.lease_transitions}};
  if (record.acquire_time) spec["acquireTime"] = FormatRfc3339Micro(*record.acquire_time);
  if (record.renew_time) spec["renewTime"] = FormatRfc3339Micro(*record.renew_time);
  lease["spec"] = std::move(spec);
  return lease;
}

Result<LeaseRecord> LeaseFromJson(const nlohmann::json& lease) {
  LeaseRecord record;
  if (!lease.is_object()) return Status::InvalidArgument("Lease: expected a JSON object");
  if (auto meta = lease.find("metadata"); meta != lease.end() && meta->is_object()) {
    if (auto rv = meta->find("resourceVersion"); rv != meta->end()) {
      if (!rv->is_string()) {
        return Status::InvalidArgument("Lease metadata.resourceVersion: expected a string");
      }
      record.resource_version = rv->get<std::string>();
    }
  }
  auto spec_it = lease.find("spec");
  if (spec_it == lease.end() || spec_it->is_null()) return record;
  const auto& spec = *spec_it;
  if (!spec.is_object()) return Status::InvalidArgument("Lease spec: expected an object");
  if (auto f = spec.find("holderIdentity"); f != spec.end() && !f->is_null()) {
    if (!f->is_string()) {
      return Status::InvalidArgument("Lease spec.holderIdentity: expected a string");
    }
    record.holder_identity = f->get<std::string>();
  }
  for (auto [key, target] : {std::pair{"leaseDurationSeconds", &record.lease_duration_seconds},
                             std::pair{"leaseTransitions", &record.lease_transitions}}) {
    if (auto f = spec.find(key); f != spec.end() && !f->is_null()) {
      // int32 in the API; anything else would wrap in the conversion.
      const bool in_range =
          f->is_number_unsigned()
              ? f->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())
              : f->is_number_integer() &&
                    f->get<int64_t>() >= std::numeric_limits<int32_t>::min() &&
                    f->get<int64_t>() <= std::numeric_limits<int32_t>::max();
      if (!in_range) {
        return Status::InvalidArgument(std::string("Lease spec.") + key +
                                       ": expected an integer that fits in 32 bits");
      }
      *target = static_cast<int>(f->get<int64_t>());
    }
  }
  for (auto [key, target] : {std::pair{"acquireTime", &record.acquire_time},
                             std::pair{"renewTime", &record.renew_time}}) {
    if (auto f = spec.find(key); f != spec.end() && !f->is_null()) {
      if (!f->is_string()) {
        return Status::InvalidArgument(std::string("Lease spec.") + key +
                                       ": expected an RFC 3339 string");
      }
      auto t = ParseRfc3339(f->get<std::string>());
      if (!t.ok()) return t.status().WithPrefix(std::string("Lease spec.") + key);
      *target = *t;
    }
  }
  return record;
}

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(LeaseClient& client,
                                                             LeaderElectionConfig config,
                                                             const Clock& clock,
                                                             LeaderCallbacks callbacks) {
  auto invalid = [](const std::string& what) {
    return Status::InvalidArgument("leader election: " + what);
  };
  if (config.lease_namespace.empty()) return invalid("lease namespace must not be empty");
  if (config.lease_name.empty()) return invalid("lease name (--leader-election-id) is empty");
  if (config.identity.empty()) return invalid("identity must not be empty");
  if (config.retry_period <= std::chrono::milliseconds::zero()) {
    return invalid("retry period must be positive");
  }
  if (config.lease_duration <= config.renew_deadline) {
    return invalid("lease duration (" + std::to_string(config.lease_duration.count()) +
                   " ms) must be greater than renew deadline (" +
                   std::to_string(config.renew_deadline.count()) + " ms)");
  }
  if (config.renew_deadline.count() <= kJitterFactor * config.retry_period.count()) {
    return invalid("renew deadline (" + std::to_string(config.renew_deadline.count()) +
                   " ms) must be greater than 1.2 x retry period (" +
                   std::to_string(config.retry_period.count()) + " ms)");
  }
  if (!(config.jitter_factor >= 0.0 && config.jitter_factor <= 10.0)) {
    return invalid("jitter factor must be between 0 and 10, got " +
                   std::to_string(config.jitter_factor));
  }
  if (config.lease_duration.count() % 1000 != 0) {
    return invalid("lease duration must be whole seconds (Lease.spec.leaseDurationSeconds)");
  }
  return std::unique_ptr<LeaderElector>(
      new LeaderElector(client, std::move(config), clock, std::move(callbacks)));
}

LeaderElector::LeaderElector(LeaseClient& client, LeaderElectionConfig config, const Clock& clock,
                             LeaderCallbacks callbacks)
    : client_(client),
      config_(std::move(config)),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      random_(MakeRandomSource(config_.jitter_seed)),
      next_step_(clock.Mono()) {}

LeaderElector::~LeaderElector() { Stop(); }

Status LeaderElector::Start() {
  std::lock_guard lock(thread_mu_);
  if (started_) return Status::FailedPrecondition("leader elector already started or stopped");
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void LeaderElector::Loop() {
  bool poked = false;
  while (true) {
    // The top of the elector's thread: a throw (from a callback, or a bug) is logged and the
    // elector carries on at its next retry; leadership still ends at the renew deadline when
    // renewals keep failing, as IsLeader() checks it.
    MonoTime next;
    try {
      next = Step(poked);
    } catch (const std::exception& e) {
      logging::Log(spdlog::level::err, "leader election step threw; retrying",
                   {{"lease", config_.lease_name}, {"error", e.what()}});
      next = clock_.Mono() + config_.retry_period;
    } catch (...) {
      logging::Log(spdlog::level::err, "leader election step threw; retrying",
                   {{"lease", config_.lease_name}, {"error", "a non-standard exception"}});
      next = clock_.Mono() + config_.retry_period;
    }
    std::unique_lock lock(thread_mu_);
    if (stop_) return;
    const auto wait =
        std::clamp<MonoTime::duration>(next - clock_.Mono(), MonoTime::duration::zero(), kMaxSleep);
    stop_cv_.wait_for(lock, wait, [this] { return stop_ || poked_; });
    if (stop_) return;
    poked = std::exchange(poked_, false);
  }
}

void LeaderElector::Poke() {
  {
    std::lock_guard lock(thread_mu_);
    poked_ = true;
  }
  stop_cv_.notify_all();
}

void LeaderElector::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(thread_mu_);
    started_ = true;
    stop_ = true;
    thread.swap(thread_);
  }
  stop_cv_.notify_all();
  if (thread.joinable()) thread.join();
  bool was_leading = false;
  {
    std::lock_guard op(op_mu_);
    std::lock_guard state(state_mu_);
    was_leading = std::exchange(leading_, false);
  }
  if (was_leading && callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

Status LeaderElector::Release() {
  Stop();
  std::lock_guard op(op_mu_);
  if (!observed_ || observed_->holder_identity != config_.identity) return Status::Ok();
  const WallTime now = clock_.Now();
  LeaseRecord released;
  released.holder_identity = "";
  released.lease_duration_seconds = 1;
  released.acquire_time = now;
  released.renew_time = now;
  released.lease_transitions = observed_->lease_transitions;
  released.resource_version = observed_->resource_version;
  auto updated = client_.Update(config_.lease_namespace, config_.lease_name, released);
  if (!updated.ok()) return updated.status().WithPrefix("releasing lease");
  observed_ = *updated;
  observed_time_ = clock_.Mono();
  std::lock_guard state(state_mu_);
  current_leader_.clear();
  return Status::Ok();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard lock(state_mu_);
  return leading_ && clock_.Mono() - last_renew_ < config_.renew_deadline;
}

std::string LeaderElector::CurrentLeader() const {
  std::lock_guard lock(state_mu_);
  return current_leader_;
}

MonoTime::duration LeaderElector::Jittered(std::chrono::milliseconds period) {
  const double extra = static_cast<double>(period.count()) * config_.jitter_factor * random_();
  return std::chrono::duration_cast<MonoTime::duration>(
      period + std::chrono::duration<double, std::milli>(extra));
}

MonoTime LeaderElector::TickForTesting() { return Step(false); }

MonoTime LeaderElector::Step(bool candidate_now) {
  Events events;
  MonoTime next;
  {
    std::lock_guard op(op_mu_);
    const MonoTime start = clock_.Mono();
    if (start < next_step_ && !(candidate_now && !IsLeader())) return next_step_;
    const std::string before = CurrentLeader();
    const Status attempt = TryAcquireOrRenew();
    const bool holding = attempt.ok();
    const bool held_by_other = attempt.code() == StatusCode::kFailedPrecondition;
    if (!holding && !held_by_other && callbacks_.on_error) {
      events.push_back([this, attempt] { callbacks_.on_error(attempt); });
    }
    const MonoTime now = clock_.Mono();
    {
      std::lock_guard state(state_mu_);
      if (observed_) current_leader_ = observed_->holder_identity;
      if (current_leader_ != before && callbacks_.on_new_leader) {
        events.push_back([this, who = current_leader_] { callbacks_.on_new_leader(who); });
      }
      if (holding && leading_ && now >= last_renew_ + config_.renew_deadline) {
        // Renewed, but only after the renew deadline had passed (a call that hung): writers
        // were fenced off at the deadline, so this term is over. The next step takes the
        // Lease, still ours, again, and a new term begins.
        leading_ = false;
        if (callbacks_.on_stopped_leading) events.push_back(callbacks_.on_stopped_leading);
        next_step_ = now;
      } else if (holding) {
        // The renew time written is from before the call, so count from then.
        last_renew_ = start;
        if (!leading_) {
          leading_ = true;
          if (callbacks_.on_started_leading) events.push_back(callbacks_.on_started_leading);
        }
        next_step_ = now + config_.retry_period;
      } else if (leading_) {
        const MonoTime deadline = last_renew_ + config_.renew_deadline;
        // Someone else holding the lease (we were partitioned, or an admin edited it) ends our
        // leadership at once; errors only once the renew deadline has passed.
        if (held_by_other || now >= deadline) {
          leading_ = false;
          if (callbacks_.on_stopped_leading) events.push_back(callbacks_.on_stopped_leading);
          next_step_ = now + Jittered(config_.retry_period);
        } else {
          // Retry, and be awake at the deadline to give up on time.
          next_step_ = std::min<MonoTime>(now + config_.retry_period, deadline);
        }
      } else {
        next_step_ = now + Jittered(config_.retry_period);
      }
      next = next_step_;
    }
  }
  Run(events);
  return next;
}

void LeaderElector::Observe(const LeaseRecord& record, MonoTime now) {
  observed_ = record;
  observed_time_ = now;
}

Status LeaderElector::TryAcquireOrRenew() {
  const WallTime now_wall = clock_.Now();
  const std::string& ns = config_.lease_namespace;
  const std::string& name = config_.lease_name;
  const int duration_seconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());

  auto got = client_.Get(ns, name);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status().WithPrefix("get lease");
    LeaseRecord fresh;
    fresh.holder_identity = config_.identity;
    fresh.lease_duration_seconds = duration_seconds;
    fresh.acquire_time = now_wall;
    fresh.renew_time = now_wall;
    auto created = client_.Create(ns, name, fresh);
    if (!created.ok()) return created.status().WithPrefix("create lease");
    Observe(*created, clock_.Mono());
    return Status::Ok();
  }
  const LeaseRecord& old = *got;
  if (!observed_ || !(*observed_ == old)) Observe(old, clock_.Mono());

  const bool ours = old.holder_identity == config_.identity;
  if (!old.holder_identity.empty() && !ours &&
      observed_time_ + std::chrono::seconds(old.lease_duration_seconds) > clock_.Mono()) {
    // Held by someone else and not expired as we see it: the normal standby state.
    return Status::FailedPrecondition("lease held by " + old.holder_identity);
  }

  LeaseRecord next;
  next.holder_identity = config_.identity;
  next.lease_duration_seconds = duration_seconds;
  next.renew_time = now_wall;
  if (ours) {
    next.acquire_time = old.acquire_time ? old.acquire_time : now_wall;
    next.lease_transitions = old.lease_transitions;
  } else {
    next.acquire_time = now_wall;
    next.lease_transitions = old.lease_transitions + 1;
  }
  next.resource_version = old.resource_version;
  auto updated = client_.Update(ns, name, next);
  // Conflict: someone wrote first (we retry with a fresh Get); others: transient.
  if (!updated.ok()) return updated.status().WithPrefix("update lease");
  Observe(*updated, clock_.Mono());
  return Status::Ok();
}

}  // namespace waop::controller
