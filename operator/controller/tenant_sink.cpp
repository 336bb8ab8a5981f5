#include "controller/tenant_sink.h"

#include <algorithm>

#include "api/json.h"
#include "common/logging.h"
#include "core/binding.h"
#include "core/settings.h"
#include "kube/client.h"

namespace waop::controller {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

const core::TenantRow* TenantSnapshot::Find(std::string_view tenant_id) const {
  auto it = rows.find(tenant_id);
  return it == rows.end() ? nullptr : &it->second;
}

core::TenantTarget TenantTargetOf(const api::Assignment& a,
                                  const std::optional<std::string>& meta_display) {
  return {a.spec.tenant_id, a.spec.phone_number_id,
          core::EffectiveDisplayPhoneNumber(a.spec, meta_display)};
}

TenantSink::TenantSink(tenant::TenantServiceClient& client)
    : client_(client), snapshot_(std::make_shared<const TenantSnapshot>()) {}

std::shared_ptr<const TenantSnapshot> TenantSink::Rows() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

TenantSinkStats TenantSink::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status TenantSink::ListLocked() {
  auto rows = client_.ListTenants();
  std::lock_guard lock(mu_);
  ++stats_.lists;
  if (!rows.ok()) {
    ++stats_.failures;
    return rows.status();
  }
  auto next = std::make_shared<TenantSnapshot>();
  next->listed = true;
  for (auto& r : *rows) {
    std::string id = r.tenant_id;
    next->rows.insert_or_assign(std::move(id), std::move(r));
  }
  snapshot_ = std::move(next);
  return Status::Ok();
}

Result<std::shared_ptr<const TenantSnapshot>> TenantSink::List() {
  std::lock_guard calls(calls_mu_);
  WAOP_RETURN_IF_ERROR(ListLocked());
  return Rows();
}

void TenantSink::Update(std::string_view tenant_id,
                        const std::function<void(core::TenantRow&)>& change) {
  std::lock_guard lock(mu_);
  auto next = std::make_shared<TenantSnapshot>(*snapshot_);
  auto it = next->rows.find(tenant_id);
  if (it == next->rows.end()) {
    core::TenantRow r;
    r.tenant_id = std::string(tenant_id);
    it = next->rows.emplace(r.tenant_id, std::move(r)).first;
  }
  change(it->second);
  snapshot_ = std::move(next);
}

Status TenantSink::AssignLocked(const core::TenantCall& call) {
  Status s = client_.AssignPhone(call.tenant_id, call.phone_number_id, call.display_phone_number);
  {
    std::lock_guard lock(mu_);
    ++stats_.assigns;
    if (!s.ok()) ++stats_.failures;
  }
  if (s.code() == StatusCode::kAlreadyExists) {
    // "Already so", or someone else's number: one fresh listing tells.
    if (ListLocked().ok()) {
      const core::TenantRow* row = Rows()->Find(call.tenant_id);
      if (row != nullptr &&
          core::RowShows(*row, {call.tenant_id, call.phone_number_id, call.display_phone_number})) {
        return Status::Ok();
      }
    }
    return s;
  }
  if (!s.ok()) return s;
  Update(call.tenant_id, [&](core::TenantRow& r) {
    r.phone_number_id = call.phone_number_id;
    r.display_phone_number = call.display_phone_number;
    r.whatsapp_enabled = true;
  });
  Log(lvl::info, "tenant service: phone number assigned",
      {{"tenantId", call.tenant_id}, {"phoneNumberId", call.phone_number_id}});
  return Status::Ok();
}

Status TenantSink::UnassignLocked(std::string_view tenant_id) {
  Status s = client_.UnassignPhone(tenant_id);
  {
    std::lock_guard lock(mu_);
    ++stats_.unassigns;
    if (!s.ok()) ++stats_.failures;
  }
  if (s.code() == StatusCode::kAlreadyExists) {
    if (ListLocked().ok()) {
      const core::TenantRow* row = Rows()->Find(tenant_id);
      if (row == nullptr || row->phone_number_id.empty()) return Status::Ok();
    }
    return s;
  }
  // No such tenant: it holds nothing, which is what was asked.
  if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  Update(tenant_id, [](core::TenantRow& r) {
    r.phone_number_id.clear();
    r.display_phone_number.clear();
    r.whatsapp_enabled = false;
  });
  Log(lvl::info, "tenant service: phone number unassigned", {{"tenantId", std::string(tenant_id)}});
  return Status::Ok();
}

Status TenantSink::Ensure(const core::TenantTarget& target) {
  // The common case (the row already shows it) neither waits for a call in flight nor makes one.
  if (std::shared_ptr<const TenantSnapshot> seen = Rows(); seen->listed) {
    const core::TenantRow* row = seen->Find(target.tenant_id);
    if (row != nullptr && core::RowShows(*row, target)) {
      std::lock_guard lock(mu_);
      given_[target.tenant_id] = target.phone_number_id;
      return Status::Ok();
    }
  }
  std::lock_guard calls(calls_mu_);
  if (!Rows()->listed) WAOP_RETURN_IF_ERROR(ListLocked());
  std::shared_ptr<const TenantSnapshot> rows = Rows();
  const core::TenantRow* row = rows->Find(target.tenant_id);
  for (const core::TenantCall& call :
       core::CallsToShow(row ? std::optional<core::TenantRow>(*row) : std::nullopt, target)) {
    Status s = call.kind == core::TenantCallKind::kAssign ? AssignLocked(call)
                                                          : UnassignLocked(call.tenant_id);
    if (!s.ok()) return s;
  }
  std::lock_guard lock(mu_);
  given_[target.tenant_id] = target.phone_number_id;
  return Status::Ok();
}

Status TenantSink::Release(std::string_view tenant_id, std::string_view phone_number_id,
                           bool only_if_given) {
  std::lock_guard calls(calls_mu_);
  if (only_if_given) {
    std::lock_guard lock(mu_);
    auto it = given_.find(tenant_id);
    if (it == given_.end() || it->second != phone_number_id) return Status::Ok();
  }
  if (!Rows()->listed) WAOP_RETURN_IF_ERROR(ListLocked());
  const core::TenantRow* row = Rows()->Find(tenant_id);
  if (row != nullptr && row->phone_number_id == phone_number_id) {
    WAOP_RETURN_IF_ERROR(UnassignLocked(tenant_id));
  }
  std::lock_guard lock(mu_);
  if (auto it = given_.find(tenant_id); it != given_.end() && it->second == phone_number_id) {
    given_.erase(it);
  }
  return Status::Ok();
}

TenantSyncer::TenantSyncer(TenantSink& sink, const ClusterView& view, EventRecorder* events,
                           TenantSyncOptions options)
    : sink_(sink), view_(view), events_(events), options_(std::move(options)) {}

Result<TenantSyncReport> TenantSyncer::SyncOnce() {
  auto listed = sink_.List();
  if (!listed.ok()) return listed.status();
  const TenantSnapshot& rows = **listed;

  // Every binding, resolved as the reconciler does (the whole cluster at once here: a pass runs
  // every few minutes and costs O(n log n)).
  std::vector<ObjectPtr> objects;
  std::vector<core::AssignmentSummary> claims;
  std::set<std::string, std::less<>> releasing;
  std::vector<Request> deleting;
  for (const std::string& key :
       options_.all_assignments ? options_.all_assignments() : std::vector<std::string>{}) {
    ObjectPtr obj = view_.GetAssignment(key);
    if (!obj) continue;
    auto claim = core::ClaimOf(*obj);
    if (!claim) continue;
    if (claim->deleting) {
      // Its finalizer waits for the unassign: a pass after an outage retries it at once.
      releasing.insert(claim->tenant_id);
      deleting.push_back(Request::Assignment(claim->ns, claim->name));
      continue;
    }
    objects.push_back(obj);
    claims.push_back(std::move(*claim));
  }
  const std::vector<core::BindingOutcome> outcomes = core::ResolveBindings(claims);
  std::vector<core::TenantTarget> targets;
  std::map<std::string, Request, std::less<>> by_tenant;  // the bound assignment of each tenant
  for (size_t i = 0; i < claims.size(); ++i) {
    if (outcomes[i].state != core::BindingState::kBound) continue;
    auto parsed = api::ParseAssignment(*objects[i]);
    if (!parsed.ok()) continue;
    std::optional<std::string> shown;
    if (!parsed->status.display_phone_number.empty()) shown = parsed->status.display_phone_number;
    targets.push_back(TenantTargetOf(*parsed, shown));
    by_tenant.emplace(claims[i].tenant_id, Request::Assignment(claims[i].ns, claims[i].name));
  }
  std::vector<core::TenantRow> row_list;
  for (const auto& [id, r] : rows.rows) row_list.push_back(r);
  core::TenantDrift drift = core::DiffTenants(targets, row_list, releasing);

  TenantSyncReport report;
  std::vector<Request> wake;
  for (const std::string& tenant : drift.differing) {
    if (auto it = by_tenant.find(tenant); it != by_tenant.end()) wake.push_back(it->second);
  }
  report.differing = static_cast<int>(wake.size());
  wake.insert(wake.end(), deleting.begin(), deleting.end());
  if (!wake.empty() && options_.enqueue) options_.enqueue(wake);

  // An assignment of the tenant (a loser, an invalid one) to hang an Event on, if any.
  auto assignment_of = [&](const std::string& tenant) -> ObjectPtr {
    auto list = view_.AssignmentsByTenant(tenant);
    return list.empty() ? nullptr : list.front();
  };
  report.unexpected = static_cast<int>(drift.unexpected.size());
  for (const core::TenantRow& r : drift.unexpected) {
    const std::string tenant =
        r.tenant_name.empty() ? r.tenant_id : "'" + r.tenant_name + "' (" + r.tenant_id + ")";
    if (options_.prune) {
      Status s = sink_.Release(r.tenant_id, r.phone_number_id, /*only_if_given=*/false);
      if (s.ok()) {
        ++report.pruned;
        Log(lvl::info, "tenant service: unassigned a number no assignment gives (--tenant-prune)",
            {{"tenantId", r.tenant_id}, {"phoneNumberId", r.phone_number_id}});
      } else {
        Log(lvl::warn, "tenant service: could not unassign a number no assignment gives",
            {{"tenantId", r.tenant_id}, {"error", s.message()}});
      }
      continue;
    }
    auto [seen, first] =
        reported_unexpected_.try_emplace(r.tenant_id + "/" + r.phone_number_id, false);
    if (seen->second) continue;  // logged and recorded already
    const std::string message =
        "The tenant service gives tenant " + tenant + " phone number " +
        (r.display_phone_number.empty() ? r.phone_number_id : r.display_phone_number) +
        ", which no bound WhatsAppAssignment gives it; left as it is "
        "(create an assignment for it, or run with --tenant-prune)";
    if (first) {
      Log(lvl::warn, message, {{"tenantId", r.tenant_id}, {"phoneNumberId", r.phone_number_id}});
    }
    if (events_ != nullptr) {
      if (ObjectPtr a = assignment_of(r.tenant_id)) {
        events_->Record(*a, "Warning", "UnexpectedTenantPhoneNumber", message);
        seen->second = true;
      }
    }
  }
  report.legacy = static_cast<int>(drift.legacy.size());
  for (const core::TenantRow& r : drift.legacy) {
    auto [seen, first] = reported_legacy_.try_emplace(r.tenant_id, false);
    if (seen->second) continue;  // logged and recorded already
    const std::string message =
        "The tenant service row of tenant " + r.tenant_id +
        " still holds legacy per-tenant keys (" + JoinNames(r.legacy_keys) +
        "); the shared master account replaces them: remove them from the tenant's settings";
    if (first) {
      Log(lvl::warn, message, {{"tenantId", r.tenant_id}, {"reason", "LegacyTenantCredentials"}});
    }
    if (events_ != nullptr) {
      if (ObjectPtr a = assignment_of(r.tenant_id)) {
        events_->Record(*a, "Warning", "LegacyTenantCredentials", message);
        seen->second = true;
      }
    }
  }
  return report;
}

}  // namespace waop::controller
