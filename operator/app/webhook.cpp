#include "app/webhook.h"

#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "common/logging.h"
#include "webhook/admission_handler.h"
#include "webhook/cert_manager.h"
#include "webhook/webhook_server.h"

namespace waop::app {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

// The HTTPS server; owns the handler it serves.
class WebhookServerRunnable final : public manager::Runnable {
 public:
  WebhookServerRunnable(const Options& o, const controller::ClusterView& view, const Clock& clock,
                        std::function<bool()> caches_synced,
                        std::shared_ptr<tls::ReloadableServerCert> cert)
      : handler_(view, clock, std::move(caches_synced)),
        server_(o.webhook_bind_host, static_cast<std::uint16_t>(o.webhook_port), handler_,
                std::move(cert)),
        port_(o.webhook_port) {}
  std::string Name() const override { return "admission webhook server"; }
  Status Start() override {
    WAOP_RETURN_IF_ERROR(server_.Start());
    Log(lvl::info, "admission webhook listening",
        {{"port", std::to_string(port_)}, {"path", std::string(webhook::kValidatePath)}});
    return Status::Ok();
  }
  void Stop() override { server_.Stop(); }
  bool listening() const { return server_.listening(); }

 private:
  webhook::AdmissionHandler handler_;
  webhook::WebhookServer server_;
  const int port_;
};

// Calls `sync` at once, then every `interval` (after a failure sooner, backing off from 1 s),
// on its own thread, so that a slow or absent API server never delays the start.
class CertSyncRunnable final : public manager::Runnable {
 public:
  CertSyncRunnable(std::chrono::seconds interval, std::function<Status()> sync)
      : interval_(interval), sync_(std::move(sync)) {}
  ~CertSyncRunnable() override { Stop(); }
  CertSyncRunnable(const CertSyncRunnable&) = delete;
  CertSyncRunnable& operator=(const CertSyncRunnable&) = delete;
  std::string Name() const override { return "admission webhook certificates"; }
  Status Start() override {
    thread_ = std::thread([this] { Loop(); });
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
    std::chrono::milliseconds backoff(1000);
    std::string last_error;
    while (true) {
      Status s = sync_();
      std::chrono::milliseconds wait = interval_;
      if (s.ok()) {
        backoff = std::chrono::milliseconds(1000);
        last_error.clear();
      } else {
        if (s.message() != last_error) {
          Log(lvl::warn, "webhook certificate sync failed; will retry", {{"error", s.message()}});
          last_error = s.message();
        }
        wait = std::min<std::chrono::milliseconds>(backoff, interval_);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, interval_);
      }
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [this] { return stop_; })) return;
    }
  }

  const std::chrono::milliseconds interval_;
  const std::function<Status()> sync_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace

Status AddWebhook(manager::Manager& mgr, const Options& o, const std::string& kubeconfig_namespace,
                  kube::Client& client, const controller::ClusterView& view,
                  std::function<bool()> caches_synced, const Clock& clock) {
  if (o.webhook_port == 0) {
    Log(lvl::info, "admission webhook disabled (--webhook-port=0)");
    return Status::Ok();
  }
  auto cert = std::make_shared<tls::ReloadableServerCert>();
  auto server = std::make_unique<WebhookServerRunnable>(o, view, clock, caches_synced, cert);
  const WebhookServerRunnable* server_ptr = server.get();
  mgr.AddServer(std::move(server));

  std::shared_ptr<webhook::CertReadiness> readiness;
  std::function<Status()> sync;
  if (!o.webhook_cert_dir.empty()) {
    auto source = std::make_shared<webhook::DirCertSource>(o.webhook_cert_dir, cert);
    sync = [source] { return source->Sync(); };
    readiness = source;
  } else {
    webhook::CertManagerOptions co;
    co.secret_namespace = o.webhook_secret_namespace;
    if (co.secret_namespace.empty()) {
      std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
      if (!in || !std::getline(in, co.secret_namespace)) co.secret_namespace.clear();
    }
    if (co.secret_namespace.empty()) co.secret_namespace = kubeconfig_namespace;
    if (co.secret_namespace.empty()) co.secret_namespace = "default";
    co.secret_name = o.webhook_secret_name;
    co.configuration_name = o.webhook_configuration_name;
    webhook::AddServiceNames(&co, o.webhook_service_name, co.secret_namespace, o.webhook_hosts);
    auto manager = std::make_shared<webhook::CertManager>(client, clock, co, cert);
    sync = [manager] { return manager->Sync(); };
    readiness = manager;
  }
  mgr.AddServer(std::make_unique<CertSyncRunnable>(o.webhook_cert_check_interval, sync));
  // Ready once the listener serves a certificate the API server trusts (with the Secret: the
  // CA bundle in the ValidatingWebhookConfiguration verifies it).
  mgr.AddReadyzCheck("webhook", [readiness, server_ptr]() -> Status {
    if (!server_ptr->listening()) return Status::Unavailable("the webhook is not listening");
    if (!readiness->Ready()) return Status::Unavailable(readiness->NotReadyReason());
    return Status::Ok();
  });
  return Status::Ok();
}

}  // namespace waop::app
