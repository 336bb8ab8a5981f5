#include "app/credentials_wiring.h"

#include "common/logging.h"
#include "core/settings.h"
#include "manager/runnables.h"
#include "server/meta_webhook_server.h"

namespace waop::app {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

constexpr char kPublisherName[] = "credentialspublisher";

// Meta's webhook listener as a Runnable of the manager's servers group.
class MetaWebhookRunnable final : public manager::Runnable {
 public:
  MetaWebhookRunnable(server::BindAddress address, const meta::MetaWebhookHandler& handler)
      : address_(std::move(address)), handler_(handler) {}
  std::string Name() const override { return "Meta webhook server"; }
  Status Start() override {
    auto server = server::MetaWebhookServer::Start(address_, &handler_);
    if (!server.ok()) return server.status();
    server_ = std::move(server).value();
    Log(lvl::info, "serving Meta's webhook",
        {{"address", address_.ToString()}, {"path", std::string(meta::kWebhookPath)}});
    return Status::Ok();
  }
  void Stop() override {
    if (server_) server_->Stop();
    server_.reset();
  }

 private:
  const server::BindAddress address_;
  const meta::MetaWebhookHandler& handler_;
  std::unique_ptr<server::MetaWebhookServer> server_;
};

}  // namespace

CredentialsParts::~CredentialsParts() = default;

void CredentialsParts::OnCredentialsChange(std::function<void()> callback) {
  on_change_.push_back(std::move(callback));
}

void CredentialsParts::Poll() {
  if (!source_->Reload()) return;
  for (const auto& callback : on_change_) callback();
}

void CredentialsParts::EnqueueAll() {
  if (!queue_) return;
  for (const auto& ns : view_->Namespaces()) queue_->Add(ns);
}

Result<std::unique_ptr<CredentialsParts>> CredentialsParts::SetUp(
    const Options& o, kube::Client& client, kube::Informer& assignments,
    controller::EventRecorder& events, manager::Manager& mgr, const Clock& clock,
    meta::MetaWebhookHandler::QualityUpdateCallback on_quality_update) {
  std::unique_ptr<CredentialsParts> parts(new CredentialsParts());
  CredentialsParts* p = parts.get();
  p->source_ = std::make_unique<meta::DirCredentialsSource>(o.credentials_dir);
  (void)p->source_->Reload();  // logs whether the master account is configured
  mgr.AddServer(std::make_unique<manager::PeriodicRunnable>(
      "credentials poller", o.credentials_poll_interval, [p] { p->Poll(); }));

  p->webhook_ =
      std::make_unique<meta::MetaWebhookHandler>(*p->source_, std::move(on_quality_update));
  if (o.meta_webhook_bind_address.enabled()) {
    mgr.AddServer(std::make_unique<MetaWebhookRunnable>(o.meta_webhook_bind_address, *p->webhook_));
  }

  if (!o.publish_credentials) {
    Log(lvl::info,
        "not publishing the master credentials (--publish-credentials=false); existing "
        "whatsapp-master-credentials Secrets are left as they are");
    return parts;
  }
  kube::InformerOptions io;
  io.type = kube::resources::kSecrets;
  io.namespace_name = o.watch_namespace;
  io.label_selector = std::string(core::kManagedByLabel) + "=" + std::string(core::kOperatorName);
  io.field_selector = "metadata.name=" + std::string(meta::kPublishedSecretName);
  io.on_error = [](const Status& s) {
    Log(lvl::warn, "watch interrupted, will resume",
        {{"resource", "secrets"}, {"error", s.message()}});
  };
  p->secrets_ = std::make_unique<kube::Informer>(client, std::move(io));
  p->view_ = std::make_unique<controller::InformerPublishView>(assignments, *p->secrets_);
  p->publisher_ =
      std::make_unique<controller::CredentialsPublisher>(*p->view_, *p->source_, client, events);
  p->queue_ = std::make_unique<controller::WorkQueue>(clock, nullptr);
  p->controller_ = std::make_unique<controller::Controller>(kPublisherName, *p->queue_, clock);

  auto namespace_of = [p](const kube::ObjectPtr& obj) {
    p->queue_->Add(kube::ObjectNamespace(*obj));
  };
  // An update never moves an assignment to another namespace: only add and delete matter.
  assignments.AddEventHandler({namespace_of, nullptr, namespace_of});
  p->secrets_->AddEventHandler(
      {namespace_of,
       [namespace_of](const kube::ObjectPtr&, const kube::ObjectPtr& obj) { namespace_of(obj); },
       namespace_of});
  p->OnCredentialsChange([p] { p->EnqueueAll(); });

  mgr.AddCache(std::make_unique<manager::InformerCache>("secrets", *p->secrets_));
  mgr.AddLeaderOnly(std::make_unique<manager::ControllerRunnable>(
      *p->controller_, 1, [p](const std::string& ns) { return p->publisher_->Reconcile(ns); }));
  // Drift the watches cannot see (a foreign Secret that went away) is also retried by the
  // publisher itself; the resync covers the rest.
  // Also at once when a later term starts: the step-down dropped the queue.
  mgr.AddLeaderOnly(std::make_unique<manager::PeriodicRunnable>(
      "credentials resync", o.sync_period, [p] { p->EnqueueAll(); },
      /*tick_when_restarted=*/true));
  return parts;
}

}  // namespace waop::app
