#include "e2e_util.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace waop::e2e {

using nlohmann::json;
using waop::testing::CommandResult;

namespace {

constexpr const char* kWriteVerbs[] = {"create", "update", "patch", "delete", "deletecollection"};

// The `token:` line the devserver writes into its kubeconfig.
std::string TokenFromKubeconfig(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto pos = line.find("token:");
    if (pos == std::string::npos) continue;
    std::string v = line.substr(pos + 6);
    while (!v.empty() && (v.front() == ' ' || v.front() == '"')) v.erase(0, 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '"' || v.back() == '\r')) v.pop_back();
    return v;
  }
  return "";
}

}  // namespace

std::string KubectlBinary() {
  return std::filesystem::exists("/usr/bin/kubectl") ? "/usr/bin/kubectl" : "kubectl";
}

std::string OperatorBinary() { return waop::testing::BinaryDir() + "/operator/whatsapp-operator"; }

E2eCluster::E2eCluster(std::vector<std::string> extra_args) {
  std::vector<std::string> args = {"--tls"};
  for (const char* crd : {"whatsapp.bakery-ia.io_whatsappassignments.yaml",
                          "whatsapp.bakery-ia.io_whatsappphonenumbers.yaml"}) {
    args.push_back("--crd");
    args.push_back(waop::testing::SourceDir() + "/crds/" + crd);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  ds_ = std::make_unique<devserver::testing::Devserver>(std::move(args));
  if (!ds_->ok()) return;
  kubeconfig_ = ds_->kubeconfig();
  // The port file is written after the kubeconfig, so the token is there by now.
  token_ = TokenFromKubeconfig(waop::testing::ReadFile(kubeconfig_));
}

CommandResult E2eCluster::Kubectl(const std::vector<std::string>& args,
                                  const std::string& stdin_text,
                                  std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {KubectlBinary(), "--kubeconfig", kubeconfig_, "--cache-dir",
                                   ds_->dir() + "/kcache"};
  argv.insert(argv.end(), args.begin(), args.end());
  return waop::testing::Run(argv, stdin_text, timeout);
}

CommandResult E2eCluster::ApplyRetrying(const std::string& yaml, int attempts) {
  CommandResult r;
  for (int i = 0; i < attempts; ++i) {
    r = Kubectl({"apply", "-f", "-"}, yaml);
    if (r.exit_code == 0) return r;
  }
  return r;
}

std::optional<json> E2eCluster::GetJson(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"get"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("-o");
  argv.push_back("json");
  auto r = Kubectl(argv);
  if (r.exit_code != 0) return std::nullopt;
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::optional<json> E2eCluster::Requests(const std::string& client) {
  auto r =
      Kubectl({"get", "--raw", "/debug/requests" + (client.empty() ? "" : "?client=" + client)});
  if (r.exit_code != 0) return std::nullopt;
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool E2eCluster::ResetRequests() {
  auto r = Kubectl({"create", "--raw", "/debug/requests/reset", "-f", "-"}, "{}");
  return r.exit_code == 0;
}

bool E2eCluster::SetFaults(const json& body) {
  auto r = Kubectl({"create", "--raw", "/debug/faults", "-f", "-"}, body.dump());
  return r.exit_code == 0;
}

int64_t WriteCount(const json& requests) {
  int64_t n = 0;
  const json& total = requests.contains("total") ? requests["total"] : json::object();
  for (const char* verb : kWriteVerbs) n += total.value(verb, int64_t{0});
  return n;
}

namespace {
// "verb resource[/subresource]" of one row of a /debug/requests answer.
std::string RequestKind(const json& row) {
  std::string key = row.value("verb", "") + " " + row.value("resource", "");
  if (!row.value("subresource", "").empty()) key += "/" + row.value("subresource", "");
  return key;
}
}  // namespace

std::string DescribeWrites(const json& requests) {
  std::string out;
  if (!requests.contains("by")) return out;
  for (const auto& row : requests["by"]) {
    std::string verb = row.value("verb", "");
    bool write = false;
    for (const char* w : kWriteVerbs) write = write || verb == w;
    if (!write) continue;
    // Rows are per client, so say whose they are.
    out += RequestKind(row) + "=" + std::to_string(row.value("count", 0)) + " (" +
           row.value("client", "") + ")\n";
  }
  return out;
}

std::set<std::string> RequestedPermissions(const json& requests) {
  std::set<std::string> out;
  if (!requests.contains("by") || !requests["by"].is_array()) return out;
  for (const auto& row : requests["by"]) out.insert(RequestKind(row));
  return out;
}

std::set<std::string> Ungranted(const std::set<std::string>& documented, const json& requests) {
  std::set<std::string> out;
  for (const auto& r : RequestedPermissions(requests)) {
    if (documented.count(r) == 0) out.insert(r);
  }
  return out;
}

std::set<std::string> DocumentedPermissions() {
  std::ifstream in(waop::testing::SourceDir() + "/docs/operating.md");
  std::set<std::string> out;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_section = line == "## Permissions";
      continue;
    }
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    // | `resource` (note) | verb, verb | what for |
    const size_t open = line.find('`');
    const size_t close = line.find('`', open + 1);
    const size_t cell = line.find('|', close);
    const size_t cell_end = line.find('|', cell + 1);
    if (close == std::string::npos || cell == std::string::npos || cell_end == std::string::npos) {
      continue;
    }
    const std::string resource = line.substr(open + 1, close - open - 1);
    std::stringstream verbs(line.substr(cell + 1, cell_end - cell - 1));
    std::string verb;
    while (std::getline(verbs, verb, ',')) {
      verb.erase(0, verb.find_first_not_of(' '));
      verb.erase(verb.find_last_not_of(' ') + 1);
      if (!verb.empty()) out.insert(verb + " " + resource);
    }
  }
  return out;
}

OperatorProcess::OperatorProcess(const E2eCluster& cluster, std::vector<std::string> extra_args,
                                 std::map<std::string, std::string> env)
    : cluster_(cluster), extra_args_(std::move(extra_args)), env_(std::move(env)) {
  Launch();
}

OperatorProcess::~OperatorProcess() = default;

void OperatorProcess::Launch() {
  ++launches_;
  metrics_port_ = waop::testing::FreePort();
  probe_port_ = waop::testing::FreePort();
  while (probe_port_ == metrics_port_) probe_port_ = waop::testing::FreePort();
  std::vector<std::string> argv = {
      OperatorBinary(),
      "--kubeconfig",
      cluster_.kubeconfig_path(),
      "--metrics-bind-address",
      "127.0.0.1:" + std::to_string(metrics_port_),
      "--health-probe-bind-address",
      "127.0.0.1:" + std::to_string(probe_port_),
      // Off unless a test asks for it: the default :8082 would clash between parallel tests.
      "--meta-webhook-bind-address",
      "0",
  };
  // Without a ValidatingWebhookConfiguration the webhook would keep the replica unready; tests
  // of the webhook pass their own --webhook-port (a free one).
  bool webhook_port_given = false;
  for (const std::string& a : extra_args_) webhook_port_given |= a.rfind("--webhook-port", 0) == 0;
  if (!webhook_port_given) argv.push_back("--webhook-port=0");
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  proc_.reset();  // the previous attempt, if any, is stopped first
  std::filesystem::path log_dir = dir_.path() / ("run" + std::to_string(launches_));
  std::filesystem::create_directories(log_dir);
  proc_ = std::make_unique<waop::testing::Process>("whatsapp-operator", argv, log_dir, env_);
  if (proc_->pid() <= 0) proc_.reset();
}

bool OperatorProcess::WaitReady(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (proc_ != nullptr) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    bool ready =
        waop::testing::WaitFor([&] { return !proc_->Running() || Probe("/readyz").status == 200; },
                               left, std::chrono::milliseconds(100));
    if (ready && proc_->Running()) return true;
    if (!ready) return false;
    // Exited: another process may have taken a port between FreePort() and the bind.
    if (launches_ >= 3 || proc_->Stderr().find("cannot serve probes") == std::string::npos) {
      return false;
    }
    Launch();
  }
  return false;
}

devserver::testing::HttpResult OperatorProcess::Probe(const std::string& path) const {
  return devserver::testing::Http(probe_port_, "GET", path);
}

devserver::testing::HttpResult OperatorProcess::Metrics() const {
  return devserver::testing::Http(metrics_port_, "GET", "/metrics");
}

std::optional<int> OperatorProcess::Stop(std::chrono::milliseconds timeout) {
  if (proc_ == nullptr) return std::nullopt;
  return proc_->Signal(SIGTERM, timeout);
}

std::string OperatorProcess::Logs() const {
  if (proc_ == nullptr) return "";
  return proc_->Stdout() + proc_->Stderr();
}

std::optional<json> Condition(const json& obj, const std::string& type) {
  if (!obj.contains("status") || !obj["status"].contains("conditions")) return std::nullopt;
  for (const auto& c : obj["status"]["conditions"]) {
    if (c.value("type", "") == type) return c;
  }
  return std::nullopt;
}

std::string ExpectedSettings(bool enabled, const std::string& phone_number_id,
                             const std::string& display_phone_number, const std::string& language) {
  nlohmann::ordered_json j;
  j["whatsapp_enabled"] = enabled;
  j["whatsapp_phone_number_id"] = phone_number_id;
  j["whatsapp_display_phone_number"] = display_phone_number;
  j["whatsapp_default_language"] = language;
  return j.dump();
}

}  // namespace waop::e2e
