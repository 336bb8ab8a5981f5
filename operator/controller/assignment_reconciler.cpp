#include "controller/assignment_reconciler.h"

#include <algorithm>
#include <set>

#include "api/json.h"
#include "common/json.h"
#include "common/logging.h"
#include "core/settings.h"
#include "core/status.h"
#include "core/tenant.h"
#include "core/validation.h"

namespace waop::controller {
namespace {

// The claims of `objects`; invalid ones hold nothing and are left out.
std::vector<core::AssignmentSummary> Summaries(const std::vector<ObjectPtr>& objects) {
  std::vector<core::AssignmentSummary> out;
  out.reserve(objects.size());
  for (const auto& obj : objects) {
    if (auto claim = core::ClaimOf(*obj)) out.push_back(std::move(*claim));
  }
  return out;
}

// Whether a change of the Ready condition from `before` to `after` is worth an Event (SPEC
// section 3): a refusal, a failure, a promotion from waiting, a number or tenant change. A first,
// uncontested bind records none (the condition says it), nor does progress (Unknown).
bool WorthAnEvent(const api::Condition* before, const api::Condition* after) {
  if (after == nullptr || after->status == api::ConditionStatus::kUnknown) return false;
  if (before != nullptr && before->status == after->status && before->reason == after->reason) {
    // Still bound, to another number or tenant: a new generation with a new sentence.
    return after->status == api::ConditionStatus::kTrue &&
           before->observed_generation != after->observed_generation &&
           before->message != after->message;
  }
  const bool first_bind = after->status == api::ConditionStatus::kTrue &&
                          (before == nullptr || before->status == api::ConditionStatus::kUnknown);
  return !first_bind;
}

std::optional<core::PhoneInfo> PhoneInfoFrom(const ObjectPtr& phone_number) {
  if (!phone_number) return std::nullopt;
  auto parsed = api::ParsePhoneNumber(*phone_number);
  if (!parsed.ok()) return std::nullopt;
  return core::PhoneInfoFromStatus(parsed->status);
}

std::string Key(const api::ObjectMeta& meta) { return meta.ns + "/" + meta.name; }

// The own-writes key of ConfigMap `ns`/`config_map_name`.
std::string ConfigMapKey(std::string_view ns, std::string_view config_map_name) {
  return "configmap:" + std::string(ns) + "/" + std::string(config_map_name);
}

// The own-writes key of the settings ConfigMap of assignment `ns`/`name`.
std::string ConfigMapWriteKey(std::string_view ns, std::string_view assignment_name) {
  return ConfigMapKey(ns, core::SettingsConfigMapName(assignment_name));
}

// The body of a PUT to /status: identity, the resourceVersion read, and the status. The API
// server keeps everything else from the stored object.
nlohmann::json StatusBody(std::string_view kind, const api::ObjectMeta& meta,
                          nlohmann::json status) {
  nlohmann::json metadata = {{"name", meta.name}, {"resourceVersion", meta.resource_version}};
  if (!meta.ns.empty()) metadata["namespace"] = meta.ns;
  return {{"apiVersion", api::kApiVersion},
          {"kind", kind},
          {"metadata", std::move(metadata)},
          {"status", std::move(status)}};
}

// True when `a` and `b` differ at most in status and metadata.resourceVersion, as our own
// status writes' watch events do. A claim is read from everything else, so such a pair has one
// claim, known without parsing either (core::ClaimOf parses the whole object, status too).
bool SameButStatusAndVersion(const nlohmann::json& a, const nlohmann::json& b) {
  if (!a.is_object() || !b.is_object()) return false;
  std::size_t compared = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "status") continue;
    auto other = b.find(it.key());
    if (other == b.end()) return false;
    ++compared;
    if (it.key() != "metadata" || !it->is_object() || !other->is_object()) {
      if (*it != *other) return false;
      continue;
    }
    std::size_t fields = 0;
    for (auto f = it->begin(); f != it->end(); ++f) {
      if (f.key() == "resourceVersion") continue;
      auto g = other->find(f.key());
      if (g == other->end() || *f != *g) return false;
      ++fields;
    }
    if (fields != other->size() - (other->contains("resourceVersion") ? 1 : 0)) return false;
  }
  return compared == b.size() - (b.contains("status") ? 1 : 0);
}

bool IsRetryableWriteConflict(const Status& s) {
  return s.code() == StatusCode::kConflict || s.code() == StatusCode::kAlreadyExists;
}

}  // namespace

AssignmentReconciler::AssignmentReconciler(const ClusterView& view, kube::Client& client,
                                           EventRecorder& events, const Clock& clock,
                                           ReconcilerOptions options)
    : view_(view),
      client_(client),
      events_(events),
      clock_(clock),
      options_(options),
      own_writes_(clock) {}

ReconcileResult AssignmentReconciler::Reconcile(const Request& request) {
  if (request.kind == Request::Kind::kPhoneNumber) return ReconcilePhoneNumber(request.name);
  const std::string key = request.Key();
  ObjectPtr obj = view_.GetAssignment(key);
  if (!obj) {
    own_writes_.Forget(key);
    own_writes_.Forget(ConfigMapWriteKey(request.ns, request.name));
    return ReconcileResult::Ok();  // gone; its ConfigMap goes by garbage collection
  }
  // Our status write is not in the cache yet: its watch event brings us back (the server holds
  // a newer version, so an event for this key is certain to come).
  if (PendingWrite(key, obj, /*await=*/true)) return ReconcileResult::Ok();
  ReconcileResult result = ReconcileAssignment(*obj);
  if (!TakeWake(key)) return result;
  // A change by someone else arrived while our write was in flight, and its event was held:
  // look again now (an error keeps its backoff; a terminal one is retried once).
  switch (result.kind) {
    case ReconcileResult::Kind::kOk:
    case ReconcileResult::Kind::kRequeueAfter:
      return ReconcileResult::RequeueAfter(Duration::zero());
    case ReconcileResult::Kind::kTerminal:
      return ReconcileResult::Error(result.error);
    case ReconcileResult::Kind::kError:
      break;
  }
  return result;
}

AssignmentReconciler::InFlightWrite::InFlightWrite(AssignmentReconciler& r, std::string key,
                                                   std::string wake,
                                                   std::string replaced_resource_version)
    : r_(r), key_(std::move(key)), wake_(std::move(wake)) {
  r_.own_writes_.Begin(key_, std::move(replaced_resource_version));
}

AssignmentReconciler::InFlightWrite::~InFlightWrite() {
  if (!finished_) Finish("", 0);
}

void AssignmentReconciler::InFlightWrite::Done(const nlohmann::json& written, std::size_t content) {
  Finish(kube::ObjectResourceVersion(written), content);
}

void AssignmentReconciler::InFlightWrite::Finish(std::string written_resource_version,
                                                 std::size_t content) {
  finished_ = true;
  if (r_.own_writes_.Finish(key_, std::move(written_resource_version), content)) {
    std::lock_guard lock(r_.wake_mu_);
    r_.wake_.insert(wake_);
  }
}

bool AssignmentReconciler::TakeWake(const std::string& key) {
  std::lock_guard lock(wake_mu_);
  return wake_.erase(key) > 0;
}

std::vector<core::AssignmentSummary> AssignmentReconciler::Component(
    const core::AssignmentSummary& seed) const {
  return core::ConnectedComponent(
      seed, [&](std::string_view id) { return Summaries(view_.AssignmentsByPhone(id)); },
      [&](std::string_view id) { return Summaries(view_.AssignmentsByTenant(id)); });
}

ReconcileResult AssignmentReconciler::ReconcileAssignment(const nlohmann::json& object) {
  api::Assignment a;
  // Parse errors of metadata or spec, or broken rules the schema did not catch (schema off,
  // webhook down): such an assignment holds nothing and waits for a person to fix it.
  api::FieldErrors invalid = core::ClaimErrors(object, &a);
  if (a.metadata.name.empty() || a.metadata.resource_version.empty()) {
    return ReconcileResult::Terminal(
        Status::InvalidArgument("unreadable metadata: " + invalid.ToString()));
  }
  if (a.metadata.deleting()) return Finalize(object, a);

  const bool has_finalizer = std::find(a.metadata.finalizers.begin(), a.metadata.finalizers.end(),
                                       api::kFinalizer) != a.metadata.finalizers.end();
  if (has_finalizer != options_.use_finalizer) {
    auto finalizers = a.metadata.finalizers;
    if (options_.use_finalizer) {
      finalizers.emplace_back(api::kFinalizer);
    } else {
      std::erase(finalizers, std::string(api::kFinalizer));
    }
    Status s = SetFinalizers(a, std::move(finalizers));
    // The write changes the resourceVersion: the watch event brings us back.
    return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
  }

  if (!invalid.empty()) {
    Status deleted = DeleteLoserConfigMap(a);
    if (Status released = ReleaseUnbound(a); deleted.ok()) deleted = released;
    Status written =
        WriteStatus(object, a, core::InvalidSpecStatus(a, invalid.ToString(), clock_.Now()));
    if (!written.ok()) return ReconcileResult::Error(written);
    if (!deleted.ok()) return ReconcileResult::Error(deleted);
    // Retrying cannot fix the spec; an edit of the object wakes us again.
    return ReconcileResult::Terminal(Status::InvalidArgument(invalid.ToString()));
  }

  core::AssignmentSummary self = core::Summarize(a);
  std::vector<core::AssignmentSummary> component = Component(self);
  std::vector<core::BindingOutcome> outcomes = core::ResolveBindings(component);
  const core::BindingOutcome& outcome = outcomes.front();  // the seed comes first

  std::shared_ptr<const MetaSnapshot> snapshot = options_.meta ? options_.meta->Get() : nullptr;
  std::optional<core::PhoneInfo> phone = PhoneInfoFor(a, snapshot.get());
  std::optional<std::string> meta_display;
  if (phone && !phone->display_phone_number.empty()) meta_display = phone->display_phone_number;
  const core::PhoneNumberPresence presence =
      snapshot ? snapshot->Presence(a.spec.phone_number_id) : core::PhoneNumberPresence::kUnknown;
  std::vector<core::ConditionSpec> observations;
  if (snapshot && outcome.state == core::BindingState::kBound) {
    observations.push_back(core::QualitySyncedCondition(
        snapshot->health, core::NormalizeQuality(phone ? phone->quality_rating : "")));
    if (!snapshot->required_template.empty()) {
      observations.push_back(core::TemplateCondition(snapshot->required_template,
                                                     a.spec.default_language, snapshot->templates));
    }
  }

  core::SyncOutcome sync = core::SyncOutcome::Pending();
  Status write_error;
  if (outcome.state == core::BindingState::kBound &&
      presence == core::PhoneNumberPresence::kAbsent) {
    // The WABA has no such number: no settings may point at it.
    write_error = DeleteLoserConfigMap(a);
    if (Status released = ReleaseUnbound(a); write_error.ok()) write_error = released;
  } else if (outcome.state == core::BindingState::kBound) {
    write_error = SyncConfigMap(a, meta_display);
    if (write_error.ok()) {
      sync = core::SyncOutcome::Written();
      // The second sink, once the first holds: a tenant-service outage never holds back the
      // settings ConfigMap.
      if (options_.tenant != nullptr) {
        Status t = options_.tenant->Ensure(TenantTargetOf(a, meta_display));
        if (!t.ok()) {
          sync = core::SyncOutcome::TenantServiceFailed(t.message());
          write_error = t;
        }
      }
    } else if (!IsRetryableWriteConflict(write_error)) {
      sync = core::SyncOutcome::SettingsFailed(write_error.message());
    }
  } else {
    write_error = DeleteLoserConfigMap(a);
    if (Status released = ReleaseUnbound(a); write_error.ok()) write_error = released;
  }

  Status written = WriteStatus(
      object, a,
      core::DesiredStatus(a, outcome, sync, phone, clock_.Now(), presence, observations));
  // The settings failure first: it is what the status (if written) reports.
  if (!write_error.ok()) return ReconcileResult::Error(write_error);
  if (!written.ok()) return ReconcileResult::Error(written);
  return ReconcileResult::Ok();
}

Status AssignmentReconciler::WriteStatus(const nlohmann::json& object, const api::Assignment& a,
                                         const api::AssignmentStatus& desired) {
  if (core::StatusEquals(a.status, desired)) return Status::Ok();
  const std::string key = Key(a.metadata);
  InFlightWrite write(*this, key, key, a.metadata.resource_version);
  auto written =
      client_.UpdateStatus(kube::resources::kWhatsAppAssignments,
                           StatusBody(api::kAssignmentKind, a.metadata, api::ToJson(desired)));
  if (!written.ok()) return written.status();  // logged once, by the worker loop
  ++counters_.status_writes;
  write.Done(*written);
  const api::Condition* before = api::FindCondition(a.status.conditions, api::kConditionReady);
  const api::Condition* after = api::FindCondition(desired.conditions, api::kConditionReady);
  if (after != nullptr && (before == nullptr || before->status != after->status ||
                           before->reason != after->reason || before->message != after->message)) {
    if (WorthAnEvent(before, after)) {
      events_.Record(object, after->status == api::ConditionStatus::kTrue ? "Normal" : "Warning",
                     after->reason, after->message);
    }
    logging::Log(
        spdlog::level::info, after->message,
        {{"namespace", a.metadata.ns}, {"name", a.metadata.name}, {"reason", after->reason}});
  }
  return Status::Ok();
}

Status AssignmentReconciler::SyncConfigMap(const api::Assignment& a,
                                           const std::optional<std::string>& meta_display) {
  nlohmann::json desired = core::DesiredConfigMap(a, meta_display);
  // The fingerprint of what we write, computed only when a write is pending or made: the
  // common case (the cache already matches) needs no serialisation.
  std::optional<std::size_t> content_hash;
  auto content = [&] {
    if (!content_hash) content_hash = std::hash<std::string>{}(desired.dump());
    return *content_hash;
  };
  std::string name = core::SettingsConfigMapName(a.metadata.name);
  std::string write_key = ConfigMapWriteKey(a.metadata.ns, a.metadata.name);
  ObjectPtr cached = view_.GetConfigMap(a.metadata.ns, name);
  std::optional<nlohmann::json> live;
  if (auto pending = PendingWrite(write_key, cached)) {
    if (pending->content == content()) return Status::Ok();  // we wrote just this a moment ago
    // What we wrote is not in the cache yet and no longer what we want: read the live object.
    auto fresh = client_.Get(kube::resources::kConfigMaps, a.metadata.ns, name);
    if (fresh.ok()) {
      if (core::ConfigMapMatches(*fresh, desired)) return Status::Ok();
      live = std::move(*fresh);
    } else if (fresh.status().code() != StatusCode::kNotFound) {
      return fresh.status();
    }
  } else if (cached) {
    if (core::ConfigMapMatches(*cached, desired)) return Status::Ok();
    live = *cached;
  }
  const std::string wake = Key(a.metadata);
  if (!live) {
    std::optional<InFlightWrite> write(std::in_place, *this, write_key, wake, "");
    auto created = client_.Create(kube::resources::kConfigMaps, desired);
    if (created.ok()) {
      ++counters_.config_map_writes;
      write->Done(*created, content());
      return Status::Ok();
    }
    write.reset();  // failed
    if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
    // Our cache lags behind (it lost its label, or another writer made it): read it.
    auto fresh = client_.Get(kube::resources::kConfigMaps, a.metadata.ns, name);
    if (!fresh.ok()) return fresh.status();
    if (core::ConfigMapMatches(*fresh, desired)) return Status::Ok();
    live = std::move(*fresh);
  }
  // Never write a ConfigMap someone else owns, even one that happens to bear our name.
  auto foreign = [&](const nlohmann::json& object) -> Status {
    std::string why;
    if (core::ClassifyConfigMap(object, a, &why) != core::ConfigMapOwnership::kForeign) {
      return Status::Ok();
    }
    return Status::FailedPrecondition("ConfigMap " + a.metadata.ns + "/" + name +
                                      " already exists and is not this assignment's (" + why +
                                      "); rename or delete it");
  };
  if (Status s = foreign(*live); !s.ok()) return s;
  auto patch = [&](const nlohmann::json& from) {
    return client_.Patch(kube::resources::kConfigMaps, a.metadata.ns, name, kube::PatchType::kMerge,
                         core::ConfigMapPatch(from, desired));
  };
  // The cache may still show a version older than the one patched (a fresh read got ahead of
  // it); recording what the cache shows keeps the entry until it moves on.
  InFlightWrite write(*this, write_key, wake, cached ? kube::ObjectResourceVersion(*cached) : "");
  auto updated = patch(*live);
  if (updated.status().code() == StatusCode::kConflict) {
    // Someone else wrote it since our cache saw it: one fresh read and retry.
    auto fresh = client_.Get(kube::resources::kConfigMaps, a.metadata.ns, name);
    if (!fresh.ok()) return fresh.status();
    if (Status s = foreign(*fresh); !s.ok()) return s;
    if (core::ConfigMapMatches(*fresh, desired)) return Status::Ok();
    updated = patch(*fresh);
  }
  if (!updated.ok()) return updated.status();
  ++counters_.config_map_writes;
  write.Done(*updated, content());
  return Status::Ok();
}

Status AssignmentReconciler::DeleteLoserConfigMap(const api::Assignment& a) {
  ObjectPtr cached =
      view_.GetConfigMap(a.metadata.ns, core::SettingsConfigMapName(a.metadata.name));
  // A write of ours the cache does not show yet (a create, or a patch that made a predecessor's
  // ConfigMap ours): its watch event must wake us to delete it, rather than pass as a quiet
  // echo.
  if (PendingWrite(ConfigMapWriteKey(a.metadata.ns, a.metadata.name), cached, /*await=*/true)) {
    return Status::Ok();
  }
  // Not pending: its echo may have arrived (and passed quietly, nobody awaiting it yet) between
  // the read above and that check, so read again before concluding there is nothing to delete.
  if (!cached)
    cached = view_.GetConfigMap(a.metadata.ns, core::SettingsConfigMapName(a.metadata.name));
  if (!cached) return Status::Ok();
  // Only a ConfigMap this assignment controls: never touch one someone else made.
  bool ours = false;
  const nlohmann::json* meta = JsonObject(*cached, "metadata");
  if (meta == nullptr) return Status::Ok();
  if (auto refs = meta->find("ownerReferences"); refs != meta->end() && refs->is_array()) {
    for (const auto& ref : *refs) {
      if (JsonString(ref, "uid") == a.metadata.uid && JsonBool(ref, "controller")) ours = true;
    }
  }
  if (!ours) return Status::Ok();
  kube::DeleteOptions options;
  options.precondition_uid = JsonString(*meta, "uid");
  Status s = client_.Delete(kube::resources::kConfigMaps, a.metadata.ns,
                            core::SettingsConfigMapName(a.metadata.name), options);
  if (s.ok() || s.code() == StatusCode::kNotFound) {
    // Gone: our create of it must not pass for in place ("absent" is what a create replaced).
    own_writes_.Forget(ConfigMapWriteKey(a.metadata.ns, a.metadata.name));
  }
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  if (s.ok()) {
    ++counters_.config_map_writes;
    logging::Log(spdlog::level::info, "lost its binding; removed its settings ConfigMap",
                 {{"namespace", a.metadata.ns}, {"name", a.metadata.name}});
  }
  return s;
}

bool AssignmentReconciler::TenantHeldByOther(std::string_view tenant_id,
                                             const api::ObjectMeta& self) const {
  std::vector<core::AssignmentSummary> users = Summaries(view_.AssignmentsByTenant(tenant_id));
  std::erase_if(users, [&](const core::AssignmentSummary& s) {
    return s.ns == self.ns && s.name == self.name;
  });
  if (users.empty()) return false;
  std::vector<core::AssignmentSummary> component = Component(users.front());
  std::erase_if(component, [&](const core::AssignmentSummary& s) {
    return s.ns == self.ns && s.name == self.name;
  });
  std::vector<core::BindingOutcome> outcomes = core::ResolveBindings(component);
  for (size_t i = 0; i < component.size(); ++i) {
    if (component[i].tenant_id == tenant_id && outcomes[i].state == core::BindingState::kBound) {
      return true;
    }
  }
  return false;
}

Status AssignmentReconciler::ReleaseUnbound(const api::Assignment& a) {
  if (options_.tenant == nullptr || a.spec.tenant_id.empty() || a.spec.phone_number_id.empty()) {
    return Status::Ok();
  }
  if (TenantHeldByOther(a.spec.tenant_id, a.metadata)) return Status::Ok();
  return options_.tenant->Release(a.spec.tenant_id, a.spec.phone_number_id,
                                  /*only_if_given=*/true);
}

ReconcileResult AssignmentReconciler::Finalize(const nlohmann::json& object,
                                               const api::Assignment& a) {
  auto it = std::find(a.metadata.finalizers.begin(), a.metadata.finalizers.end(), api::kFinalizer);
  if (it == a.metadata.finalizers.end()) return ReconcileResult::Ok();
  // The ConfigMap sink needs no clean-up (garbage collection removes it). The tenant service is
  // told first: its row must not keep the number once the assignment is gone. Without the sink
  // (turned off) the finalizer simply goes, so nothing hangs on a sink that is no longer there.
  if (options_.tenant != nullptr && !a.spec.tenant_id.empty() && !a.spec.phone_number_id.empty() &&
      !TenantHeldByOther(a.spec.tenant_id, a.metadata)) {
    Status released =
        options_.tenant->Release(a.spec.tenant_id, a.spec.phone_number_id, /*only_if_given=*/false);
    if (!released.ok()) {
      Status written =
          WriteStatus(object, a, core::ReleasingStatus(a, released.message(), clock_.Now()));
      (void)written;  // the release error is what counts; both are retried
      return ReconcileResult::Error(released);
    }
  }
  auto finalizers = a.metadata.finalizers;
  std::erase(finalizers, std::string(api::kFinalizer));
  Status s = SetFinalizers(a, std::move(finalizers));
  if (s.code() == StatusCode::kNotFound) return ReconcileResult::Ok();
  return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
}

Status AssignmentReconciler::SetFinalizers(const api::Assignment& a,
                                           std::vector<std::string> finalizers) {
  // A merge patch replaces the list; the resourceVersion makes it conditional, so a finalizer
  // another controller added meanwhile is never dropped (409, then a fresh look).
  nlohmann::json patch = {{"metadata",
                           {{"resourceVersion", a.metadata.resource_version},
                            {"finalizers", finalizers.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(finalizers)}}}};
  auto r = client_.Patch(kube::resources::kWhatsAppAssignments, a.metadata.ns, a.metadata.name,
                         kube::PatchType::kMerge, patch);
  if (r.ok()) ++counters_.finalizer_writes;
  return r.status();
}

std::optional<core::PhoneInfo> AssignmentReconciler::PhoneInfoFor(
    const api::Assignment& a, const MetaSnapshot* snapshot) const {
  const core::PhoneInfo* fresh = snapshot ? snapshot->Find(a.spec.phone_number_id) : nullptr;
  if (fresh == nullptr) return PhoneInfoFrom(view_.GetPhoneNumber(a.spec.phone_number_id));
  // What the status shows now, to keep qualityCheckedAt steady while nothing changes.
  core::PhoneInfo shown{a.status.display_phone_number, a.status.verified_name,
                        a.status.quality_rating, fresh->messaging_limit_tier, std::nullopt};
  return core::SteadyPhoneInfo(*fresh, shown, a.status.quality_checked_at,
                               options_.quality_heartbeat);
}

Result<nlohmann::json> AssignmentReconciler::CreatePhoneNumber(std::string_view id) {
  nlohmann::json body = {
      {"apiVersion", api::kApiVersion},
      {"kind", api::kPhoneNumberKind},
      {"metadata",
       {{"name", id},
        {"labels", {{std::string(core::kManagedByLabel), std::string(core::kOperatorName)}}}}},
      {"spec", nlohmann::json::object()}};
  // AlreadyExists: the cache lags behind; the error requeues and the cache will show it.
  auto created = client_.Create(kube::resources::kWhatsAppPhoneNumbers, body);
  if (created.ok()) {
    logging::Log(spdlog::level::info, "phone number added to the inventory",
                 {{"name", std::string(id)}});
  }
  return created;
}

ReconcileResult AssignmentReconciler::ReconcilePhoneNumber(std::string_view id) {
  const std::string key = Request::PhoneNumber(std::string(id)).Key();
  std::shared_ptr<const MetaSnapshot> snapshot = options_.meta ? options_.meta->Get() : nullptr;
  const core::PhoneInfo* fresh = snapshot ? snapshot->Find(id) : nullptr;
  ObjectPtr obj = view_.GetPhoneNumber(id);
  if (!obj && PendingWrite(key, obj, /*await=*/true)) {
    return ReconcileResult::Ok();  // created a moment ago; its watch event brings us back
  }
  if (!obj && fresh == nullptr) {
    own_writes_.Forget(key);
    return ReconcileResult::Ok();
  }
  if (!obj) {
    // Meta lists it and the cache has none: create it, then write its status at once.
    auto created = CreatePhoneNumber(id);
    if (!created.ok()) return ReconcileResult::Error(created.status());
    ++counters_.inventory_writes;
    RememberWrite(key, "", *created);
    obj = std::make_shared<const nlohmann::json>(std::move(*created));
  } else if (PendingWrite(key, obj, /*await=*/true)) {
    return ReconcileResult::Ok();  // its watch event brings us back
  }
  if (snapshot && snapshot->Presence(id) == core::PhoneNumberPresence::kAbsent) {
    // A complete listing of the WABA no longer has it.
    Status s = client_.Delete(kube::resources::kWhatsAppPhoneNumbers, "", id);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
    ++counters_.inventory_writes;
    own_writes_.Forget(key);
    logging::Log(spdlog::level::info,
                 "phone number removed from the inventory: the WhatsApp Business Account no "
                 "longer lists it",
                 {{"name", std::string(id)}});
    return ReconcileResult::Ok();
  }
  auto parsed = api::ParsePhoneNumber(*obj);
  if (!parsed.ok()) return ReconcileResult::Terminal(parsed.status());
  std::optional<api::PhoneAssignmentRef> holder;
  std::vector<core::AssignmentSummary> users = Summaries(view_.AssignmentsByPhone(id));
  if (!users.empty()) {
    // Everyone using the number is in one component: resolving from any of them will do.
    std::vector<core::AssignmentSummary> component = Component(users.front());
    std::vector<core::BindingOutcome> outcomes = core::ResolveBindings(component);
    holder = core::PhoneHolder(id, component, outcomes);
  }
  std::optional<core::PhoneInfo> info;
  std::optional<core::ConditionSpec> synced;
  const api::PhoneNumberStatus& live = parsed->status;
  if (fresh != nullptr) {
    core::PhoneInfo shown{live.display_phone_number, live.verified_name, live.quality_rating,
                          live.messaging_limit_tier, std::nullopt};
    info = core::SteadyPhoneInfo(*fresh, shown, live.last_sync_time, options_.quality_heartbeat);
  }
  if (snapshot) {
    synced = core::QualitySyncedCondition(
        snapshot->health,
        core::NormalizeQuality(info ? info->quality_rating : live.quality_rating));
  }
  api::PhoneNumberStatus desired =
      core::DesiredPhoneNumberStatus(live, info, holder, synced, clock_.Now());
  if (core::StatusEquals(live, desired)) return ReconcileResult::Ok();
  auto written = client_.UpdateStatus(
      kube::resources::kWhatsAppPhoneNumbers,
      StatusBody(api::kPhoneNumberKind, parsed->metadata, api::ToJson(desired)));
  if (!written.ok()) return ReconcileResult::Error(written.status());
  ++counters_.status_writes;
  RememberWrite(key, parsed->metadata.resource_version, *written);
  const std::string number =
      desired.display_phone_number.empty() ? std::string(id) : desired.display_phone_number;
  if (auto event = core::QualityChangeEvent(core::NormalizeQuality(live.quality_rating),
                                            desired.quality_rating, number)) {
    events_.Record(*obj, event->type, event->reason, event->message);
    if (holder) {
      if (ObjectPtr assignment = view_.GetAssignment(holder->ns + "/" + holder->name)) {
        events_.Record(*assignment, event->type, event->reason, event->message);
      }
    }
    logging::Log(event->type == "Warning" ? spdlog::level::warn : spdlog::level::info,
                 event->message,
                 {{"name", std::string(id)}, {"reason", std::string(event->reason)}});
  }
  return ReconcileResult::Ok();
}

std::optional<OwnWrites::Write> AssignmentReconciler::PendingWrite(const std::string& key,
                                                                   const ObjectPtr& cached,
                                                                   bool await) {
  return own_writes_.Pending(key, cached ? kube::ObjectResourceVersion(*cached) : "", await);
}

void AssignmentReconciler::RememberWrite(const std::string& key,
                                         std::string replaced_resource_version,
                                         const nlohmann::json& written, std::size_t content) {
  own_writes_.Remember(key, std::move(replaced_resource_version),
                       kube::ObjectResourceVersion(written), content);
}

std::vector<Request> AssignmentReconciler::RequestsForAssignmentChange(
    const nlohmann::json* old_obj, const nlohmann::json* new_obj) {
  std::optional<core::AssignmentSummary> before, after;
  const nlohmann::json* any = new_obj != nullptr ? new_obj : old_obj;
  if (any == nullptr) return {};
  const Request self = Request::Assignment(kube::ObjectNamespace(*any), kube::ObjectName(*any));
  // A status-only change (most often our own write's echo) keeps the claim: no parsing needed.
  const bool status_only =
      old_obj != nullptr && new_obj != nullptr && SameButStatusAndVersion(*old_obj, *new_obj);
  if (!status_only) {
    if (old_obj != nullptr) before = core::ClaimOf(*old_obj);
    if (new_obj != nullptr) after = core::ClaimOf(*new_obj);
  }
  const bool same_claim =
      status_only || (old_obj != nullptr && new_obj != nullptr && before == after);
  if (same_claim && own_writes_.IsQuietEcho(self.Key(), kube::ObjectResourceVersion(*new_obj))) {
    return {};
  }
  std::vector<Request> out = {self};
  if (same_claim) return out;
  // The claim changed (or appeared, or went): every assignment whose outcome can change is
  // resolved again, transitively, and so is every inventory object whose holder can change.
  std::set<std::string> seen = {self.Key()};
  auto lookup = [this](bool phone) {
    return [this, phone](std::string_view id) {
      return Summaries(phone ? view_.AssignmentsByPhone(id) : view_.AssignmentsByTenant(id));
    };
  };
  auto add = [&](Request r) {
    if (seen.insert(r.Key()).second) out.push_back(std::move(r));
  };
  // The old number's inventory too: the changed assignment appears once in the components (its
  // new version), but the number it left may change holder.
  if (before) add(Request::PhoneNumber(before->phone_number_id));
  for (const core::AssignmentSummary& m : core::AffectedAssignments(
           before ? &*before : nullptr, after ? &*after : nullptr, lookup(true), lookup(false))) {
    add(Request::Assignment(m.ns, m.name));
    add(Request::PhoneNumber(m.phone_number_id));
  }
  return out;
}

std::vector<Request> AssignmentReconciler::RequestsForListedAssignment(const nlohmann::json& obj) {
  std::vector<Request> out = {
      Request::Assignment(kube::ObjectNamespace(obj), kube::ObjectName(obj))};
  if (auto claim = core::ClaimOf(obj)) out.push_back(Request::PhoneNumber(claim->phone_number_id));
  return out;
}

std::optional<Request> AssignmentReconciler::OwnerOfConfigMap(const nlohmann::json& config_map) {
  const nlohmann::json* meta = JsonObject(config_map, "metadata");
  if (meta == nullptr) return std::nullopt;
  auto refs = meta->find("ownerReferences");
  if (refs == meta->end() || !refs->is_array()) return std::nullopt;
  for (const auto& ref : *refs) {
    if (JsonString(ref, "kind") == api::kAssignmentKind && JsonBool(ref, "controller") &&
        JsonString(ref, "apiVersion").rfind(std::string(api::kGroup) + "/", 0) == 0) {
      return Request::Assignment(JsonString(*meta, "namespace"), JsonString(ref, "name"));
    }
  }
  return std::nullopt;
}

std::optional<Request> AssignmentReconciler::OwnerOfDeletedConfigMap(
    const nlohmann::json& config_map) {
  own_writes_.Forget(ConfigMapKey(kube::ObjectNamespace(config_map), kube::ObjectName(config_map)));
  return OwnerOfConfigMap(config_map);
}

std::vector<Request> AssignmentReconciler::RequestsForConfigMap(const nlohmann::json& config_map) {
  std::optional<Request> owner = OwnerOfConfigMap(config_map);
  if (!owner) return {};
  const std::string write_key =
      ConfigMapKey(kube::ObjectNamespace(config_map), kube::ObjectName(config_map));
  if (own_writes_.IsQuietEcho(write_key, kube::ObjectResourceVersion(config_map))) return {};
  return {*owner};
}

std::vector<Request> AssignmentReconciler::RequestsForPhoneNumber(
    const nlohmann::json& phone_number) {
  const Request self = Request::PhoneNumber(kube::ObjectName(phone_number));
  if (own_writes_.IsQuietEcho(self.Key(), kube::ObjectResourceVersion(phone_number))) return {};
  std::vector<Request> out = {self};
  for (const auto& a : view_.AssignmentsByPhone(self.name)) {
    out.push_back(Request::Assignment(kube::ObjectNamespace(*a), kube::ObjectName(*a)));
  }
  return out;
}

}  // namespace waop::controller
