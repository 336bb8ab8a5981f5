#include "bench_util.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "devserver_test_util.h"
#include "kube/config.h"

namespace waop::testing {

using nlohmann::json;

namespace {

// Continue tokens are opaque and may hold '=', '+' or '/'.
std::string UrlEncode(const std::string& in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

TlsDevserver::TlsDevserver(std::vector<std::string> extra_args,
                           std::chrono::milliseconds start_timeout) {
  const std::string crds = SourceDir() + "/crds/";
  std::vector<std::string> argv = {devserver::testing::DevserverBinary(),
                                   "--tls",
                                   "--port",
                                   "0",
                                   "--port-file",
                                   dir_.File("port"),
                                   "--kubeconfig-out",
                                   dir_.File("kubeconfig"),
                                   "--crd",
                                   crds + "whatsapp.bakery-ia.io_whatsappassignments.yaml",
                                   "--crd",
                                   crds + "whatsapp.bakery-ia.io_whatsappphonenumbers.yaml"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<Process>("kube-devserver", argv, dir_.path());
  const std::string port_file = dir_.File("port");
  WaitFor(
      [&] {
        std::string text = ReadFile(port_file);
        // The port file ends with a newline once written whole.
        if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
        return port_ > 0 || !proc_->Running();
      },
      start_timeout, std::chrono::milliseconds(20));
}

Result<std::unique_ptr<KubeApi>> KubeApi::FromKubeconfig(const std::string& path,
                                                         const std::string& user_agent) {
  auto config = kube::LoadKubeconfig(path);
  if (!config.ok()) return config.status();
  config->user_agent = user_agent;
  auto transport = kube::NewSocketTransport(*config);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<KubeApi>(new KubeApi(std::move(*transport)));
}

Result<kube::StreamResponse> KubeApi::Stream(const std::string& path) {
  kube::HttpRequest request;
  request.method = "GET";
  request.path = path;
  request.headers.emplace_back("Accept", "application/json");
  request.headers.emplace_back("User-Agent", "waop-test-client/1");
  request.timeout = std::chrono::seconds(60);
  return transport_->Stream(request);
}

Result<kube::HttpResponse> KubeApi::Send(const std::string& method, const std::string& path,
                                         const std::string& body, const std::string& content_type) {
  kube::HttpRequest request;
  request.method = method;
  request.path = path;
  request.headers.emplace_back("Accept", "application/json");
  // Not the operator's agent: the devserver counts requests per client.
  request.headers.emplace_back("User-Agent", "waop-test-client/1");
  if (!body.empty()) request.headers.emplace_back("Content-Type", content_type);
  request.body = body;
  request.timeout = std::chrono::seconds(60);
  return transport_->Send(request);
}

Result<json> KubeApi::GetJson(const std::string& path) {
  auto r = Send("GET", path);
  if (!r.ok()) return r.status().WithPrefix("GET " + path);
  if (r->status != 200) {
    return Status::Unavailable("GET " + path + ": HTTP " + std::to_string(r->status) + ": " +
                               r->body.substr(0, 300));
  }
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) return Status::InvalidArgument("GET " + path + ": body is not JSON");
  return body;
}

long RequestCounts::Writes() const {
  long n = 0;
  for (const char* verb : {"create", "update", "patch", "delete"}) {
    auto it = totals.find(verb);
    if (it != totals.end()) n += it->second;
  }
  return n;
}

std::string RequestCounts::WriteBreakdown() const {
  std::string out;
  for (const auto& [key, n] : by) {
    const std::string verb = key.substr(0, key.find(' '));
    if (verb != "create" && verb != "update" && verb != "patch" && verb != "delete") continue;
    if (!out.empty()) out += ", ";
    out += key + " " + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

long RequestCounts::Count(const std::string& verb, const std::string& resource) const {
  auto it = by.find(verb + " " + resource);
  return it == by.end() ? 0 : it->second;
}

Result<RequestCounts> GetRequestCounts(KubeApi& api) {
  auto body = api.GetJson("/debug/requests");
  if (!body.ok()) return body.status();
  RequestCounts counts;
  auto by = body->find("by");
  if (by == body->end() || !by->is_array()) {
    return Status::InvalidArgument("/debug/requests: expected an array \"by\"");
  }
  for (const auto& e : *by) {
    auto count = e.find("count");
    if (!e.is_object() || count == e.end() || !count->is_number_integer()) {
      return Status::InvalidArgument("/debug/requests: by[]: expected {verb, resource, count}");
    }
    const std::string verb = e.value("verb", "");
    std::string key = verb + " " + e.value("resource", "");
    if (!e.value("subresource", "").empty()) key += "/" + e.value("subresource", "");
    counts.by[key] += count->get<long>();
    counts.totals[verb] += count->get<long>();
  }
  return counts;
}

Status ResetRequestCounts(KubeApi& api) {
  auto r = api.Send("POST", "/debug/requests/reset", "{}");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return Status::Unavailable("POST /debug/requests/reset: HTTP " + std::to_string(r->status));
  }
  return Status::Ok();
}

Result<std::vector<json>> ListAll(KubeApi& api, const std::string& path) {
  std::vector<json> items;
  std::string next;
  do {
    std::string page_path = path + "?limit=500";
    if (!next.empty()) page_path += "&continue=" + UrlEncode(next);
    auto page = api.GetJson(page_path);
    if (!page.ok()) return page.status();
    auto it = page->find("items");
    if (it != page->end() && it->is_array()) {
      for (auto& item : *it) items.push_back(std::move(item));
    }
    next = page->value("metadata", json::object()).value("continue", "");
  } while (!next.empty());
  return items;
}

Result<AssignmentCensus> CountAssignments(KubeApi& api) {
  auto items = ListAll(api, "/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappassignments");
  if (!items.ok()) return items.status();
  AssignmentCensus census;
  for (const auto& item : *items) {
    ++census.total;
    const long generation = item.value("metadata", json::object()).value("generation", 0L);
    const json status = item.value("status", json::object());
    if (status.value("observedGeneration", -1L) != generation) continue;
    for (const auto& c : status.value("conditions", json::array())) {
      if (c.value("type", "") != "Ready" || c.value("observedGeneration", -1L) != generation) {
        continue;
      }
      ++census.converged;
      if (c.value("status", "") == "True") ++census.ready_true;
      ++census.reasons[c.value("reason", "")];
    }
  }
  return census;
}

OperatorProcess::OperatorProcess(const std::string& name, const std::string& kubeconfig,
                                 std::vector<std::string> extra_args,
                                 const std::filesystem::path& log_dir) {
  metrics_port_ = FreePort();
  probe_port_ = FreePort();
  while (probe_port_ == metrics_port_) probe_port_ = FreePort();
  std::vector<std::string> argv = {
      OperatorBinary(), "--kubeconfig", kubeconfig, "--metrics-bind-address",
      "127.0.0.1:" + std::to_string(metrics_port_), "--health-probe-bind-address",
      "127.0.0.1:" + std::to_string(probe_port_),
      // Off: the default :8082 would clash between replicas.
      "--meta-webhook-bind-address", "0"};
  // Without a ValidatingWebhookConfiguration the webhook would keep the replica unready; tests
  // of the webhook pass their own --webhook-port (a free one).
  bool webhook_port_given = false;
  for (const std::string& a : extra_args) webhook_port_given |= a.rfind("--webhook-port", 0) == 0;
  if (!webhook_port_given) argv.push_back("--webhook-port=0");
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<Process>(name, argv, log_dir);
}

std::optional<double> OperatorProcess::MetricSum(const std::string& metric,
                                                 const std::string& label_filter) {
  auto r = devserver::testing::Http(metrics_port_, "GET", "/metrics");
  if (r.status != 200) return std::nullopt;
  return SumMetric(r.body, metric, label_filter);
}

std::optional<double> OperatorProcess::ReconcileTotal() {
  return MetricSum("controller_runtime_reconcile_total", "controller=\"whatsappassignment\"");
}

bool OperatorProcess::Ready() {
  return devserver::testing::Http(probe_port_, "GET", "/readyz").status == 200;
}

std::optional<json> OperatorProcess::FindLog(const std::string& message) const {
  std::istringstream in(proc_->Stderr());
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(message) == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == message) return j;
  }
  return std::nullopt;
}

std::string OperatorBinary() { return BinaryDir() + "/operator/whatsapp-operator"; }

std::string KubectlBinary() {
  const char* env = std::getenv("KUBECTL");
  return env != nullptr && *env != '\0' ? env : "kubectl";
}

double SumMetric(const std::string& metrics_text, const std::string& metric,
                 const std::string& label_filter) {
  double sum = 0;
  std::istringstream in(metrics_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(metric, 0) != 0) continue;
    const char after = line.size() > metric.size() ? line[metric.size()] : '\0';
    if (after != '{' && after != ' ') continue;  // a longer metric name with this prefix
    if (!label_filter.empty() && line.find(label_filter) == std::string::npos) continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    sum += std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace waop::testing
