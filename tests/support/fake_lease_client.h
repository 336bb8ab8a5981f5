// An in-memory LeaseClient for tests of leader election and of code that uses it: one shared
// store of Leases (so several electors can compete), resourceVersion and Conflict like the API
// server, and fault injection.
//
// Thread-safety: fully synchronised. Ownership: a value; share it by reference.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "controller/leader_election.h"

namespace waop::controller {

class FakeLeaseClient : public LeaseClient {
 public:
  Result<LeaseRecord> Get(const std::string& ns, const std::string& name) override {
    std::lock_guard lock(mu_);
    ++gets_;
    if (auto fault = NextFault(); !fault.ok()) return fault;
    auto it = leases_.find(Key(ns, name));
    if (it == leases_.end()) return Status::NotFound("lease " + Key(ns, name) + " not found");
    return it->second;
  }

  Result<LeaseRecord> Create(const std::string& ns, const std::string& name,
                             const LeaseRecord& record) override {
    std::lock_guard lock(mu_);
    if (auto fault = NextFault(); !fault.ok()) return fault;
    if (leases_.count(Key(ns, name))) {
      return Status::AlreadyExists("lease " + Key(ns, name) + " already exists");
    }
    LeaseRecord stored = record;
    stored.resource_version = std::to_string(++version_);
    leases_[Key(ns, name)] = stored;
    return stored;
  }

  Result<LeaseRecord> Update(const std::string& ns, const std::string& name,
                             const LeaseRecord& record) override {
    std::lock_guard lock(mu_);
    ++updates_;
    if (auto fault = NextFault(); !fault.ok()) return fault;
    auto it = leases_.find(Key(ns, name));
    if (it == leases_.end()) return Status::NotFound("lease " + Key(ns, name) + " not found");
    if (record.resource_version != it->second.resource_version) {
      ++conflicts_;
      return Status::Conflict("lease " + Key(ns, name) + ": resourceVersion " +
                              record.resource_version + " is stale (current " +
                              it->second.resource_version + ")");
    }
    LeaseRecord stored = record;
    stored.resource_version = std::to_string(++version_);
    it->second = stored;
    return stored;
  }

  // The next `count` calls (any method) fail with `status`.
  void FailNext(int count, Status status) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < count; ++i) faults_.push_back(status);
  }
  // Every call fails with `status` until cleared with an OK status.
  void FailAll(Status status) {
    std::lock_guard lock(mu_);
    fail_all_ = std::move(status);
  }
  // Writes a record directly, as another actor would (bumps the resourceVersion).
  void Put(const std::string& ns, const std::string& name, LeaseRecord record) {
    std::lock_guard lock(mu_);
    record.resource_version = std::to_string(++version_);
    leases_[Key(ns, name)] = std::move(record);
  }
  // The stored record, or NotFound.
  Result<LeaseRecord> Peek(const std::string& ns, const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = leases_.find(Key(ns, name));
    if (it == leases_.end()) return Status::NotFound("lease " + Key(ns, name) + " not found");
    return it->second;
  }
  int conflicts() const {
    std::lock_guard lock(mu_);
    return conflicts_;
  }
  int updates() const {
    std::lock_guard lock(mu_);
    return updates_;
  }

 private:
  static std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }
  Status NextFault() {
    if (!fail_all_.ok()) return fail_all_;
    if (faults_.empty()) return Status::Ok();
    Status s = faults_.front();
    faults_.pop_front();
    return s;
  }

  mutable std::mutex mu_;
  std::map<std::string, LeaseRecord> leases_;
  std::deque<Status> faults_;
  Status fail_all_;
  long version_ = 0;
  int gets_ = 0;
  int updates_ = 0;
  int conflicts_ = 0;
};

}  // namespace waop::controller
