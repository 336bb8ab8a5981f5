#include "app/tenant_wiring.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "app/proxy_wiring.h"
#include "common/logging.h"

namespace waop::app {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

constexpr auto kFirstSyncWait = std::chrono::seconds(10);

std::string OutcomeLabel(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return "unavailable";
    case StatusCode::kAlreadyExists:
      return "conflict";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return "unauthorized";
    default:
      return "error";
  }
}

// The tenant service client behind the leader's write fence: listings pass, assign and unassign
// calls are refused while the fence is closed.
class FencedTenantClient final : public tenant::TenantServiceClient {
 public:
  FencedTenantClient(std::unique_ptr<tenant::TenantServiceClient> inner,
                     const manager::WriteFence& fence)
      : inner_(std::move(inner)), fence_(fence) {}
  Result<std::vector<core::TenantRow>> ListTenants() override { return inner_->ListTenants(); }
  Status AssignPhone(std::string_view tenant_id, std::string_view phone_number_id,
                     std::string_view display_phone_number) override {
    if (!fence_.MayWrite()) return Refused("assign a phone number to", tenant_id);
    return inner_->AssignPhone(tenant_id, phone_number_id, display_phone_number);
  }
  Status UnassignPhone(std::string_view tenant_id) override {
    if (!fence_.MayWrite()) return Refused("unassign the phone number of", tenant_id);
    return inner_->UnassignPhone(tenant_id);
  }

 private:
  static Status Refused(std::string_view what, std::string_view tenant_id) {
    return Status::Unavailable("not the leader (lease not renewed in time): did not " +
                               std::string(what) + " tenant " + std::string(tenant_id));
  }
  std::unique_ptr<tenant::TenantServiceClient> inner_;
  const manager::WriteFence& fence_;
};

}  // namespace

// The drift pass on its own thread: a first pass at once, then as the header says.
class TenantParts::SyncRunnable final : public manager::Runnable {
 public:
  SyncRunnable(TenantParts& parts, std::chrono::milliseconds interval)
      : parts_(parts), interval_(interval) {}
  ~SyncRunnable() override { Stop(); }
  std::string Name() const override { return "tenant service sync"; }

  Status Start() override {
    {
      std::lock_guard lock(mu_);
      stop_ = false;
      attempts_ = 0;
    }
    thread_ = std::thread([this] { Loop(); });
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kFirstSyncWait, [&] { return attempts_ > 0; })) {
      Log(lvl::warn,
          "the tenant service has not answered the first listing yet; reconciling "
          "anyway");
    }
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    int failures = 0;
    bool was_up = true;
    for (;;) {
      auto report = parts_.syncer_->SyncOnce();
      const bool up = report.ok();
      parts_.up_->Get().Set(up ? 1 : 0);
      if (up) {
        parts_.rows_->WithLabels({"unexpected"}).Set(report->unexpected);
        parts_.rows_->WithLabels({"legacy"}).Set(report->legacy);
        if (!was_up) Log(lvl::info, "the tenant service answers again");
        failures = 0;
      } else {
        ++failures;
        if (was_up) {
          Log(lvl::warn, "cannot list the tenant service's rows; will retry",
              {{"error", report.status().message()}, {"reason", "TenantServiceError"}});
        }
      }
      was_up = up;
      std::chrono::milliseconds delay = interval_;
      if (!up) {
        delay = std::min<std::chrono::milliseconds>(
            interval_, std::chrono::milliseconds(500) * (1 << std::min(failures - 1, 6)));
        delay = std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(30));
      }
      std::unique_lock lock(mu_);
      ++attempts_;
      cv_.notify_all();
      if (cv_.wait_for(lock, delay, [&] { return stop_; })) return;
    }
  }

  TenantParts& parts_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;     // guarded by mu_
  int64_t attempts_ = 0;  // guarded by mu_
  std::thread thread_;
};

TenantParts::~TenantParts() = default;

Result<std::unique_ptr<TenantParts>> TenantParts::Create(const Options& o,
                                                         server::Registry& registry,
                                                         const manager::WriteFence* fence) {
  if (o.tenant_service_url.empty()) return std::unique_ptr<TenantParts>();
  std::unique_ptr<TenantParts> p(new TenantParts());
  p->options_ = &o;
  auto requests =
      registry.AddCounter("whatsapp_operator_tenant_service_requests_total",
                          "Tenant service requests by method and outcome.", {"method", "outcome"});
  auto up = registry.AddGauge("whatsapp_operator_tenant_service_up",
                              "1 when the last listing of the tenant service succeeded, else 0.");
  auto rows = registry.AddGauge(
      "whatsapp_operator_tenant_rows",
      "Tenant service rows at the last listing: unexpected (a number no assignment gives) and "
      "legacy (still holding per-tenant credentials keys).",
      {"state"});
  if (!requests.ok()) return requests.status();
  if (!up.ok()) return up.status();
  if (!rows.ok()) return rows.status();
  p->up_ = *up;
  p->rows_ = *rows;

  tenant::TenantClientOptions to;
  to.base_url = o.tenant_service_url;
  auto proxy = ProxyFromEnvironment("tenant service", o.tenant_service_url);
  if (!proxy.ok()) return proxy.status();
  to.proxy = std::move(*proxy);
  to.token = [raw = p.get()]() -> std::string {
    const meta::CredentialsSource* c = raw->credentials_.load();
    return c == nullptr ? std::string() : c->Current()->Get(meta::kTenantServiceTokenKey);
  };
  to.on_request = [family = *requests](std::string_view method, const Status& s) {
    family->WithLabels({std::string(method), OutcomeLabel(s)}).Inc();
  };
  auto client = tenant::NewTenantServiceClient(std::move(to));
  if (!client.ok()) return client.status();
  p->client_ = std::move(*client);
  if (fence != nullptr) {
    p->client_ = std::make_unique<FencedTenantClient>(std::move(p->client_), *fence);
  }
  p->sink_ = std::make_unique<controller::TenantSink>(*p->client_);
  Log(lvl::info, "tenant service sink on",
      {{"url", o.tenant_service_url}, {"prune", o.tenant_prune ? "true" : "false"}});
  return p;
}

void TenantParts::Start(const meta::CredentialsSource& credentials,
                        const controller::ClusterView& view, kube::Informer& assignments,
                        controller::WorkQueue& queue, controller::EventRecorder& events,
                        manager::Manager& mgr) {
  credentials_.store(&credentials);
  controller::TenantSyncOptions so;
  so.prune = options_->tenant_prune;
  so.all_assignments = [&assignments] { return assignments.store().Keys(); };
  so.enqueue = [&queue](const std::vector<controller::Request>& rs) {
    for (const auto& r : rs) queue.Add(r.Key());
  };
  syncer_ = std::make_unique<controller::TenantSyncer>(*sink_, view, &events, std::move(so));
  mgr.AddLeaderOnly(std::make_unique<SyncRunnable>(*this, options_->tenant_sync_interval));
}

}  // namespace waop::app
