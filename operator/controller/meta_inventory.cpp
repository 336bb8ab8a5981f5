#include "controller/meta_inventory.h"

#include <algorithm>

#include "api/json.h"
#include "common/logging.h"
#include "kube/client.h"

namespace waop::controller {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

core::MetaState StateOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return core::MetaState::kSynced;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return core::MetaState::kUnavailable;
    case StatusCode::kResourceExhausted:
      return core::MetaState::kRateLimited;
    case StatusCode::kUnauthenticated:
      return core::MetaState::kTokenRejected;
    default:
      return core::MetaState::kError;
  }
}

core::PhoneInfo InfoOf(const meta::GraphPhoneNumber& n, WallTime now) {
  return core::PhoneInfo{n.display_phone_number, n.verified_name, n.quality_rating,
                         n.messaging_limit_tier, std::chrono::floor<std::chrono::seconds>(now)};
}

bool SameInfo(const core::PhoneInfo& a, const core::PhoneInfo& b) {
  return a.display_phone_number == b.display_phone_number && a.verified_name == b.verified_name &&
         core::NormalizeQuality(a.quality_rating) == core::NormalizeQuality(b.quality_rating) &&
         a.messaging_limit_tier == b.messaging_limit_tier;
}

}  // namespace

core::PhoneNumberPresence MetaSnapshot::Presence(std::string_view id) const {
  if (!listed) return core::PhoneNumberPresence::kUnknown;
  return numbers.find(id) != numbers.end() ? core::PhoneNumberPresence::kPresent
                                           : core::PhoneNumberPresence::kAbsent;
}

const core::PhoneInfo* MetaSnapshot::Find(std::string_view id) const {
  auto it = numbers.find(id);
  return it == numbers.end() ? nullptr : &it->second;
}

MetaInventory::MetaInventory() : snapshot_(std::make_shared<const MetaSnapshot>()) {}

std::shared_ptr<const MetaSnapshot> MetaInventory::Get() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void MetaInventory::Set(std::shared_ptr<const MetaSnapshot> snapshot) {
  std::lock_guard lock(mu_);
  snapshot_ = std::move(snapshot);
}

std::vector<Request> RequestsForSnapshotChange(const MetaSnapshot& before,
                                               const MetaSnapshot& after, const ClusterView& view,
                                               const std::vector<std::string>& all_assignments,
                                               const std::vector<std::string>& all_phone_numbers) {
  std::vector<Request> out;
  std::set<std::string> seen;
  auto add = [&](Request r) {
    if (seen.insert(r.Key()).second) out.push_back(std::move(r));
  };
  const bool global = before.health != after.health || before.listed != after.listed ||
                      before.templates != after.templates ||
                      before.required_template != after.required_template;
  if (global) {
    for (const std::string& key : all_assignments) {
      if (auto r = Request::Parse(key)) add(*r);
    }
    for (const std::string& id : all_phone_numbers) add(Request::PhoneNumber(id));
    for (const auto& [id, info] : after.numbers) add(Request::PhoneNumber(id));
    return out;
  }
  auto changed = [&](const std::string& id) {
    add(Request::PhoneNumber(id));
    for (const ObjectPtr& a : view.AssignmentsByPhone(id)) {
      add(Request::Assignment(kube::ObjectNamespace(*a), kube::ObjectName(*a)));
    }
  };
  for (const auto& [id, info] : after.numbers) {
    const core::PhoneInfo* old = before.Find(id);
    if (old == nullptr || !SameInfo(*old, info)) changed(id);
  }
  for (const auto& [id, info] : before.numbers) {
    if (after.Find(id) == nullptr) changed(id);
  }
  return out;
}

InventoryRefresher::InventoryRefresher(MetaInventory& inventory, meta::GraphClient& graph,
                                       const meta::CredentialsSource& credentials,
                                       const ClusterView& view, const Clock& clock,
                                       RefresherOptions options)
    : inventory_(inventory),
      graph_(graph),
      credentials_(credentials),
      view_(view),
      clock_(clock),
      options_(std::move(options)) {
  // The template the snapshot checks is known before the first refresh.
  auto first = std::make_shared<MetaSnapshot>(*inventory_.Get());
  first->required_template = options_.required_template;
  inventory_.Set(std::move(first));
}

InventoryRefresher::~InventoryRefresher() { Stop(); }

Status InventoryRefresher::Start() {
  std::lock_guard lock(mu_);
  if (running_) return Status::FailedPrecondition("inventory refresher already running");
  if (options_.interval <= std::chrono::milliseconds::zero()) {
    return Status::InvalidArgument("--quality-refresh-interval: expected a positive duration");
  }
  running_ = true;
  stop_ = false;
  refresh_requested_ = true;  // a first refresh at once
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void InventoryRefresher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

bool InventoryRefresher::running() const {
  std::lock_guard lock(mu_);
  return running_ && !stop_;
}

void InventoryRefresher::RefreshNow() {
  {
    std::lock_guard lock(mu_);
    refresh_requested_ = true;
  }
  cv_.notify_all();
}

bool InventoryRefresher::RefreshNumber(std::string display_phone_number) {
  std::string digits = core::PhoneDigits(display_phone_number);
  {
    std::lock_guard lock(mu_);
    if (!running_ || stop_) return false;
    if (digits.empty()) {
      refresh_requested_ = true;
    } else if (queued_numbers_.size() < 1000) {
      queued_numbers_.insert(std::move(digits));
    } else {
      refresh_requested_ = true;  // a flood: one full listing answers all of them
    }
  }
  cv_.notify_all();
  return true;
}

RefresherStats InventoryRefresher::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void InventoryRefresher::Publish(std::shared_ptr<const MetaSnapshot> next, const Status& cause) {
  std::shared_ptr<const MetaSnapshot> before = inventory_.Get();
  inventory_.Set(next);
  if (before->health != next->health && options_.on_health_change) {
    options_.on_health_change(before->health, next->health, cause);
  }
  if (options_.enqueue) {
    std::vector<std::string> assignments =
        options_.all_assignments ? options_.all_assignments() : std::vector<std::string>{};
    std::vector<std::string> numbers =
        options_.all_phone_numbers ? options_.all_phone_numbers() : std::vector<std::string>{};
    std::vector<Request> requests =
        RequestsForSnapshotChange(*before, *next, view_, assignments, numbers);
    if (!requests.empty()) options_.enqueue(requests);
  }
}

Status InventoryRefresher::RefreshOnce() {
  std::shared_ptr<const meta::MasterCredentials> creds = credentials_.Current();
  auto next = std::make_shared<MetaSnapshot>(*inventory_.Get());
  next->required_template = options_.required_template;
  if (!creds->Configured()) {
    next->health = core::MetaHealth{core::MetaState::kNotConfigured, creds->MissingForGraph()};
    next->templates.reset();
    Publish(std::move(next), Status::Ok());
    FinishAttempt();
    return Status::Ok();
  }
  const meta::GraphAuth auth{creds->ApiVersion(), creds->Get(meta::kAccessTokenKey)};
  const std::string waba = creds->Get(meta::kBusinessAccountIdKey);
  Result<meta::PhoneNumberListing> listing = graph_.ListPhoneNumbers(auth, waba);
  int calls = listing.ok() ? listing->calls : 1;
  Status result = listing.status();
  if (listing.ok()) {
    const WallTime now = clock_.Now();
    std::map<std::string, core::PhoneInfo, std::less<>> numbers;
    for (const meta::GraphPhoneNumber& n : listing->numbers) {
      if (n.id.empty()) continue;
      numbers[n.id] = InfoOf(n, now);
    }
    next->numbers = std::move(numbers);
    next->listed = true;
    if (!options_.required_template.empty()) {
      auto templates = graph_.ListTemplates(auth, waba, options_.required_template);
      ++calls;
      if (templates.ok()) {
        std::vector<core::TemplateInfo> infos;
        for (const auto& t : *templates) infos.push_back({t.name, t.language, t.status});
        std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) {
          return std::tie(a.name, a.language) < std::tie(b.name, b.language);
        });
        next->templates = std::move(infos);
      } else {
        result = templates.status();  // numbers are current; the template state is kept
      }
    }
  }
  next->health = core::MetaHealth{StateOf(result), {}};
  {
    std::lock_guard lock(mu_);
    ++stats_.refreshes;
    if (!result.ok()) ++stats_.failures;
    stats_.graph_calls += calls;
    stats_.last_refresh_calls = calls;
  }
  Publish(std::move(next), result);
  FinishAttempt();
  return result;
}

void InventoryRefresher::FinishAttempt() {
  {
    std::lock_guard lock(mu_);
    ++attempts_;
  }
  cv_.notify_all();
}

bool InventoryRefresher::WaitForFirstRefresh(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return attempts_ > 0; });
}

void InventoryRefresher::RefreshQueuedNumbers() {
  std::set<std::string> digits;
  {
    std::lock_guard lock(mu_);
    digits.swap(queued_numbers_);
  }
  if (digits.empty()) return;
  std::shared_ptr<const meta::MasterCredentials> creds = credentials_.Current();
  std::shared_ptr<const MetaSnapshot> current = inventory_.Get();
  if (!creds->Configured()) return;  // nothing to ask; the full refresh reports why
  const meta::GraphAuth auth{creds->ApiVersion(), creds->Get(meta::kAccessTokenKey)};
  auto next = std::make_shared<MetaSnapshot>(*current);
  bool need_full = false;
  for (const std::string& d : digits) {
    std::string id;
    for (const auto& [nid, info] : current->numbers) {
      if (core::PhoneDigits(info.display_phone_number) == d) id = nid;
    }
    if (id.empty()) {
      need_full = true;  // a number we have not listed yet
      continue;
    }
    Result<meta::GraphPhoneNumber> got = graph_.GetPhoneNumber(auth, id);
    {
      std::lock_guard lock(mu_);
      ++stats_.number_refreshes;
      ++stats_.graph_calls;
    }
    if (!got.ok()) {
      Log(lvl::warn,
          "could not refresh a phone number after Meta's webhook; the next full "
          "refresh will",
          {{"phoneNumberId", id}, {"error", got.status().message()}});
      need_full = got.status().code() != StatusCode::kResourceExhausted &&
                  got.status().code() != StatusCode::kUnauthenticated;
      continue;
    }
    next->numbers[id] = InfoOf(*got, clock_.Now());
  }
  Publish(std::move(next), Status::Ok());
  if (need_full) RefreshNow();
}

void InventoryRefresher::Loop() {
  auto delay = std::chrono::milliseconds::zero();
  MonoTime next_full = clock_.Mono();
  for (;;) {
    bool full = false;
    bool numbers = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::chrono::steady_clock::now() + (next_full - clock_.Mono()), [&] {
        return stop_ || refresh_requested_ || !queued_numbers_.empty() ||
               clock_.Mono() >= next_full;
      });
      if (stop_) return;
      full = refresh_requested_ || clock_.Mono() >= next_full;
      refresh_requested_ = false;
      numbers = !queued_numbers_.empty();
    }
    if (numbers && failures_ == 0) {
      RefreshQueuedNumbers();
    } else if (numbers) {
      // Backing off from Meta: the scheduled full refresh answers these too.
      std::lock_guard lock(mu_);
      queued_numbers_.clear();
    }
    if (!full) continue;
    Status s;
    try {
      s = RefreshOnce();
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("inventory refresh failed: ") + e.what());
      Log(lvl::err, "inventory refresh failed", {{"error", s.message()}});
    }
    failures_ = s.ok() ? 0 : failures_ + 1;
    if (options_.next_delay) {
      delay = options_.next_delay(s, failures_, graph_.LastUsage());
    } else {
      delay = s.ok() ? options_.interval : std::chrono::milliseconds(std::chrono::seconds(30));
    }
    next_full = clock_.Mono() + delay;
  }
}

}  // namespace waop::controller
