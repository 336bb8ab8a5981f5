#include "controller/credentials_publisher.h"

#include <chrono>

#include "common/logging.h"
#include "core/settings.h"

namespace waop::controller {
namespace {

using json = nlohmann::json;
using logging::Log;
namespace lvl = spdlog::level;

constexpr auto kForeignRecheck = std::chrono::minutes(10);

std::string EncodeBase64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

const json* Find(const json& obj, std::string_view a, std::string_view b = {}) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(a);
  if (it == obj.end()) return nullptr;
  if (b.empty()) return &*it;
  if (!it->is_object()) return nullptr;
  auto jt = it->find(b);
  return jt == it->end() ? nullptr : &*jt;
}

std::string HashOf(const json& secret) {
  const json* annotations = Find(secret, "metadata", "annotations");
  if (annotations == nullptr || !annotations->is_object()) return "";
  auto it = annotations->find(meta::kContentHashAnnotation);
  return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Short(const std::string& hash) { return hash.substr(0, 12); }

}  // namespace

bool InformerPublishView::HasAssignments(std::string_view ns) const {
  return assignments_.store().AnyInNamespace(ns);
}

std::vector<std::string> InformerPublishView::Namespaces() const {
  std::set<std::string> out;
  for (const auto& key : assignments_.store().Keys()) {
    if (auto slash = key.find('/'); slash != std::string::npos) out.insert(key.substr(0, slash));
  }
  for (const auto& key : secrets_.store().Keys()) {
    auto slash = key.find('/');
    if (slash != std::string::npos && key.substr(slash + 1) == meta::kPublishedSecretName) {
      out.insert(key.substr(0, slash));
    }
  }
  return {out.begin(), out.end()};
}

ObjectPtr InformerPublishView::GetPublishedSecret(std::string_view ns) const {
  return secrets_.store().Get(ns, meta::kPublishedSecretName);
}

CredentialsPublisher::CredentialsPublisher(const PublishView& view,
                                           const meta::CredentialsSource& credentials,
                                           kube::Client& client, EventRecorder& events)
    : view_(view), credentials_(credentials), client_(client), events_(events) {}

json CredentialsPublisher::DesiredSecret(std::string_view ns, const meta::MasterCredentials& c) {
  json data = json::object();
  for (const auto& [k, v] : c.Published()) data[k] = EncodeBase64(v);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "Opaque"},
          {"metadata",
           {{"name", meta::kPublishedSecretName},
            {"namespace", ns},
            {"labels", {{core::kManagedByLabel, core::kOperatorName}}},
            {"annotations", {{meta::kContentHashAnnotation, c.PublishedHash()}}}}},
          {"data", std::move(data)}};
}

bool CredentialsPublisher::IsOurs(const json& secret) {
  const json* labels = Find(secret, "metadata", "labels");
  if (labels == nullptr || !labels->is_object()) return false;
  auto it = labels->find(core::kManagedByLabel);
  return it != labels->end() && it->is_string() && *it == core::kOperatorName;
}

bool CredentialsPublisher::Matches(const json& live, const json& desired) {
  if (!IsOurs(live) || HashOf(live) != HashOf(desired)) return false;
  const json* data = Find(live, "data");
  const json empty = json::object();
  return (data != nullptr && data->is_object() ? *data : empty) == desired.at("data");
}

ReconcileResult CredentialsPublisher::Reconcile(const std::string& ns) {
  const ObjectPtr cached = view_.GetPublishedSecret(ns);
  if (!view_.HasAssignments(ns)) {
    Status s = Remove(ns, cached);
    return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
  }
  std::shared_ptr<const meta::MasterCredentials> creds = credentials_.Current();
  if (creds->Published().empty()) return ReconcileResult::Ok();  // see the header
  const json desired = DesiredSecret(ns, *creds);
  const std::string hash = creds->PublishedHash();
  Status s = Publish(ns, cached, desired, hash);
  if (s.code() == StatusCode::kFailedPrecondition) {
    return ReconcileResult::RequeueAfter(kForeignRecheck);  // a foreign Secret, reported
  }
  if (!s.ok()) return ReconcileResult::Error(s);
  {
    std::lock_guard lock(mu_);
    if (foreign_reported_.erase(ns) > 0) {
      Log(lvl::info, "published master credentials after the foreign Secret went away",
          {{"namespace", ns}, {"contentHash", Short(hash)}});
    }
  }
  return ReconcileResult::Ok();
}

Status CredentialsPublisher::Publish(const std::string& ns, const ObjectPtr& cached,
                                     const json& desired, const std::string& hash) {
  if (cached && IsOurs(*cached)) {
    if (Matches(*cached, desired)) return Status::Ok();
    return Patch(ns, *cached, desired);
  }
  auto created = client_.Create(kube::resources::kSecrets, desired);
  if (created.ok()) {
    ++counters_.secret_writes;
    Log(lvl::info, "published master credentials",
        {{"namespace", ns},
         {"secret", std::string(meta::kPublishedSecretName)},
         {"contentHash", Short(hash)}});
    return Status::Ok();
  }
  if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  // Our cache lags behind, or the Secret is not ours: read it.
  auto live = client_.Get(kube::resources::kSecrets, ns, meta::kPublishedSecretName);
  if (!live.ok()) return live.status();
  if (!IsOurs(*live)) {
    ReportForeign(ns, *live);
    return Status::FailedPrecondition("Secret " + ns + "/" +
                                      std::string(meta::kPublishedSecretName) +
                                      " exists and is not managed by whatsapp-operator");
  }
  if (Matches(*live, desired)) return Status::Ok();
  return Patch(ns, *live, desired);
}

Status CredentialsPublisher::Patch(const std::string& ns, const json& live, const json& desired) {
  auto patch_from = [&](const json& from) {
    json data = desired.at("data");
    if (const json* old = Find(from, "data"); old != nullptr && old->is_object()) {
      for (const auto& [k, v] : old->items()) {
        if (!data.contains(k)) data[k] = nullptr;  // a key no longer published
      }
    }
    json patch = {{"metadata",
                   {{"resourceVersion", kube::ObjectResourceVersion(from)},
                    {"labels", desired.at("metadata").at("labels")},
                    {"annotations", desired.at("metadata").at("annotations")}}},
                  {"data", std::move(data)}};
    return client_.Patch(kube::resources::kSecrets, ns, meta::kPublishedSecretName,
                         kube::PatchType::kMerge, patch);
  };
  auto patched = patch_from(live);
  if (patched.status().code() == StatusCode::kConflict) {
    // Changed since our cache saw it: one fresh read and retry.
    auto fresh = client_.Get(kube::resources::kSecrets, ns, meta::kPublishedSecretName);
    if (!fresh.ok()) return fresh.status();
    if (!IsOurs(*fresh)) {
      ReportForeign(ns, *fresh);
      return Status::FailedPrecondition("Secret " + ns + "/" +
                                        std::string(meta::kPublishedSecretName) +
                                        " is no longer managed by whatsapp-operator");
    }
    if (Matches(*fresh, desired)) return Status::Ok();
    patched = patch_from(*fresh);
  }
  if (!patched.ok()) return patched.status();
  ++counters_.secret_writes;
  Log(lvl::info, "updated published master credentials",
      {{"namespace", ns},
       {"secret", std::string(meta::kPublishedSecretName)},
       {"contentHash", Short(HashOf(desired))}});
  return Status::Ok();
}

Status CredentialsPublisher::Remove(const std::string& ns, const ObjectPtr& cached) {
  // Only ours, as the cache holds only labelled Secrets; checked again all the same.
  if (!cached || !IsOurs(*cached)) return Status::Ok();
  kube::DeleteOptions options;
  if (const json* uid = Find(*cached, "metadata", "uid"); uid != nullptr && uid->is_string()) {
    options.precondition_uid = uid->get<std::string>();
  }
  options.precondition_resource_version = kube::ObjectResourceVersion(*cached);
  Status s = client_.Delete(kube::resources::kSecrets, ns, meta::kPublishedSecretName, options);
  if (s.code() == StatusCode::kNotFound) return Status::Ok();
  if (!s.ok()) return s;  // a Conflict: its watch event brings the newer version, and us back
  ++counters_.secret_writes;
  Log(lvl::info, "removed published master credentials: no assignment left in the namespace",
      {{"namespace", ns}, {"secret", std::string(meta::kPublishedSecretName)}});
  return Status::Ok();
}

void CredentialsPublisher::ReportForeign(const std::string& ns, const json& secret) {
  const std::string message =
      "Secret " + ns + "/" + std::string(meta::kPublishedSecretName) +
      " exists without the label " + std::string(core::kManagedByLabel) + "=" +
      std::string(core::kOperatorName) +
      ", so whatsapp-operator does not overwrite it and the master credentials are not "
      "published here; delete or rename it to let the operator publish them";
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = foreign_reported_.insert(ns).second;
  }
  if (first) Log(lvl::warn, message, {{"namespace", ns}});
  // The Event's involved object is the Secret, by identity only: never its data.
  json involved = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata",
                    {{"name", meta::kPublishedSecretName},
                     {"namespace", ns},
                     {"uid", secret.contains("metadata") && secret["metadata"].is_object()
                                 ? secret["metadata"].value("uid", "")
                                 : ""}}}};
  events_.Record(involved, "Warning", "CredentialsNotPublished", message);
}

}  // namespace waop::controller
