#include "app/meta_wiring.h"

#include <cstdlib>
#include <random>

#include "app/proxy_wiring.h"
#include "common/logging.h"
#include "meta/graph_backoff.h"
#include "meta/graph_client.h"

namespace waop::app {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

constexpr auto kFirstRefreshWait = std::chrono::seconds(10);

// Starts the refresher and waits a while for its first refresh; stops it on step-down.
class RefresherRunnable final : public manager::Runnable {
 public:
  explicit RefresherRunnable(controller::InventoryRefresher& r) : refresher_(r) {}
  std::string Name() const override { return "inventory refresher"; }
  Status Start() override {
    if (Status s = refresher_.Start(); !s.ok()) return s;
    if (!refresher_.WaitForFirstRefresh(kFirstRefreshWait)) {
      Log(lvl::warn, "Meta has not answered the first inventory refresh yet; reconciling anyway");
    }
    return Status::Ok();
  }
  void Stop() override { refresher_.Stop(); }

 private:
  controller::InventoryRefresher& refresher_;
};

std::string OutcomeLabel(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return "unavailable";
    case StatusCode::kResourceExhausted:
      return "rate_limited";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kNotFound:
      return "not_found";
    default:
      return "error";
  }
}

double QualityValue(std::string_view rating) {
  if (rating == api::kQualityGreen) return 3;
  if (rating == api::kQualityYellow) return 2;
  if (rating == api::kQualityRed) return 1;
  return 0;
}

// The operator's own Pod as an Event's involved object, when the downward API names it.
std::optional<nlohmann::json> OwnPod() {
  const char* name = std::getenv("POD_NAME");
  const char* ns = std::getenv("POD_NAMESPACE");
  if (name == nullptr || ns == nullptr || *name == '\0' || *ns == '\0') return std::nullopt;
  return nlohmann::json{
      {"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", ns}}}};
}

}  // namespace

MetaParts::~MetaParts() {
  if (refresher_) refresher_->Stop();
}

Result<std::unique_ptr<MetaParts>> MetaParts::SetUp(
    const Options& o, const meta::CredentialsSource& credentials,
    controller::MetaInventory& inventory, const controller::ClusterView& view,
    kube::Informer& assignments, kube::Informer& phone_numbers, controller::WorkQueue& queue,
    controller::EventRecorder& events, server::Registry& registry, manager::Manager& mgr,
    const Clock& clock) {
  std::unique_ptr<MetaParts> p(new MetaParts());
  auto requests = registry.AddCounter("whatsapp_operator_graph_requests_total",
                                      "Meta Graph API requests by outcome.", {"outcome"});
  auto quality = registry.AddGauge(
      "whatsapp_phone_quality",
      "Meta quality rating per phone number: 3 GREEN, 2 YELLOW, 1 RED, 0 UNKNOWN.",
      {"phone_number_id", "display_phone_number"});
  auto sync_state = registry.AddGauge(
      "whatsapp_operator_quality_sync_state",
      "1 for the current state of the quality refresh (the QualitySynced reason), else 0.",
      {"reason"});
  if (!requests.ok()) return requests.status();
  if (!quality.ok()) return quality.status();
  if (!sync_state.ok()) return sync_state.status();

  meta::GraphClientOptions go;
  go.base_url = o.graph_api_url;
  go.ca_file = o.graph_ca_file;
  auto proxy = ProxyFromEnvironment("Graph API", o.graph_api_url);
  if (!proxy.ok()) return proxy.status();
  go.proxy = std::move(*proxy);
  go.on_request = [family = *requests](const Status& s) {
    family->WithLabels({OutcomeLabel(s)}).Inc();
  };
  auto graph = meta::NewGraphClient(std::move(go));
  if (!graph.ok()) return graph.status();
  p->graph_ = std::move(*graph);

  controller::RefresherOptions ro;
  ro.interval = o.quality_refresh_interval;
  ro.required_template = o.required_template;
  meta::RefreshBackoffPolicy policy;
  policy.interval = o.quality_refresh_interval;
  ro.next_delay = [policy, rng = std::make_shared<std::mt19937>(std::random_device{}())](
                      const Status& s, int failures, const meta::AppUsage& usage) {
    const double fraction = std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
    return meta::NextRefreshDelay(policy, meta::OutcomeOf(s.code()), failures, usage, fraction);
  };
  ro.enqueue = [&queue](const std::vector<controller::Request>& rs) {
    for (const auto& r : rs) queue.Add(r.Key());
  };
  ro.all_assignments = [&assignments] { return assignments.store().Keys(); };
  ro.all_phone_numbers = [&phone_numbers] { return phone_numbers.store().Keys(); };
  ro.on_health_change = [&events](const core::MetaHealth&, const core::MetaHealth& after,
                                  const Status& cause) {
    const core::ConditionSpec c = core::QualitySyncedCondition(after, "");
    const bool bad =
        after.state != core::MetaState::kSynced && after.state != core::MetaState::kPending;
    logging::LogFields fields = {{"reason", std::string(c.reason)}};
    if (!cause.ok()) fields.push_back({"error", cause.message()});
    Log(bad ? lvl::warn : lvl::info, c.message, fields);
    if (auto pod = OwnPod()) events.Record(*pod, bad ? "Warning" : "Normal", c.reason, c.message);
  };
  p->refresher_ = std::make_unique<controller::InventoryRefresher>(
      inventory, *p->graph_, credentials, view, clock, std::move(ro));

  registry.AddCollectHook([&inventory, quality = *quality, sync_state = *sync_state] {
    auto snapshot = inventory.Get();
    std::set<std::vector<std::string>> keep;
    for (const auto& [id, info] : snapshot->numbers) {
      std::vector<std::string> labels = {id, info.display_phone_number};
      quality->WithLabels(labels).Set(QualityValue(core::NormalizeQuality(info.quality_rating)));
      keep.insert(std::move(labels));
    }
    quality->RetainOnly(keep);
    for (auto state :
         {core::MetaState::kNotConfigured, core::MetaState::kPending, core::MetaState::kSynced,
          core::MetaState::kUnavailable, core::MetaState::kRateLimited,
          core::MetaState::kTokenRejected, core::MetaState::kError}) {
      sync_state->WithLabels({std::string(core::MetaStateReason(state))})
          .Set(snapshot->health.state == state ? 1 : 0);
    }
  });
  mgr.AddLeaderOnly(std::make_unique<RefresherRunnable>(*p->refresher_));
  return p;
}

bool MetaParts::OnQualityUpdate(const meta::QualityUpdate& update) {
  Log(lvl::info, "Meta reported a phone number quality update",
      {{"displayPhoneNumber", update.display_phone_number},
       {"event", update.event},
       {"wabaId", update.waba_id}});
  return refresher_->RefreshNumber(update.display_phone_number);
}

void MetaParts::OnCredentialsChange() { refresher_->RefreshNow(); }

}  // namespace waop::app
