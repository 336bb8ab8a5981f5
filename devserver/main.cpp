// kube-devserver: an in-memory Kubernetes API server for tests, benchmarks and the demo.
// Flags only; the API lives in ApiServer, the transport in HttpServer.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

// After <utility>: boost/asio (pulled in by threadpool.h) uses std::exchange.
#include <pplx/threadpool.h>

#include "api_server.h"
#include "base64.h"
#include "http_adapter.h"
#include "tls/certs.h"
#include "yaml_docs.h"

namespace {

constexpr const char* kUsage = R"(kube-devserver: an in-memory Kubernetes API server for tests.

  --port N                  listen port on 127.0.0.1 (0 = pick a free one; default 0)
  --port-file FILE          write the chosen port to FILE once listening
  --kubeconfig-out FILE     write a kubeconfig for kubectl and the operator
  --tls                     serve HTTPS with a generated CA and demand a bearer token
  --token TOKEN             the bearer token (default: generated; written to the kubeconfig)
  --crd FILE                preload CustomResourceDefinitions from a YAML file (repeatable)
  --load FILE               preload objects from a YAML file (repeatable; creates namespaces)
  --data-file FILE          keep the store in FILE (as etcd does): loaded at start when it
                            exists (then --crd/--load add only what it lacks), rewritten
                            atomically on every change; the write log goes to FILE.writes
  --watch-history N         change events kept for watch resumption (default 10000)
  --bookmark-interval-ms N  period of BOOKMARK events (default 5000)
  --max-body-bytes N        request body limit (default 3145728)
  --latency-ms N            fault: delay every response
  --drop-watches-every S    fault: close every watch each S seconds
  --write-error-rate F      fault: fail this fraction of writes
  --write-error-code C      fault: with 409, 500 or 503 (default 500)
  --write-error-verb V      fault: only this verb (create, update, patch, delete)
  --write-error-resource R  fault: only this resource (e.g. configmaps)
  --threads N               cpprest worker threads (default 8; fewer switches on small
                            machines, enough for webhook calls made while serving)
  --help                    this text
)";

bool WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << content;
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string GenerateToken() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 32; ++i) t += kHex[rd() % 16];
  return t;
}

int Fail(const std::string& message) {
  std::cerr << "kube-devserver: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  devserver::ServerOptions options;
  devserver::ListenOptions listen;
  devserver::FaultConfig faults;
  std::string port_file, kubeconfig_out, data_file;
  std::vector<std::string> crd_files, load_files;
  bool tls = false;
  std::string token;
  size_t threads = 8;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    size_t eq = a.find('=');
    bool has_inline = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_inline) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto next = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    auto number = [&](double* out) {
      std::string v;
      if (!next(&v)) return false;
      try {
        size_t used = 0;
        *out = std::stod(v, &used);
        return used == v.size();
      } catch (const std::exception&) {
        return false;
      }
    };
    double num = 0;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--threads") {
      if (!number(&num) || num < 2 || num > 256) return Fail("--threads: expected 2..256");
      threads = static_cast<size_t>(num);
    } else if (a == "--tls") {
      tls = true;
    } else if (a == "--port") {
      if (!number(&num) || num < 0 || num > 65535) return Fail("--port: expected 0..65535");
      listen.port = static_cast<int>(num);
    } else if (a == "--port-file") {
      if (!next(&port_file)) return Fail("--port-file: expected a file name");
    } else if (a == "--kubeconfig-out") {
      if (!next(&kubeconfig_out)) return Fail("--kubeconfig-out: expected a file name");
    } else if (a == "--token") {
      if (!next(&token) || token.empty()) return Fail("--token: expected a non-empty token");
    } else if (a == "--crd") {
      std::string f;
      if (!next(&f)) return Fail("--crd: expected a file name");
      crd_files.push_back(f);
    } else if (a == "--load") {
      std::string f;
      if (!next(&f)) return Fail("--load: expected a file name");
      load_files.push_back(f);
    } else if (a == "--data-file") {
      if (!next(&data_file) || data_file.empty()) return Fail("--data-file: expected a file name");
    } else if (a == "--watch-history") {
      if (!number(&num) || num < 1) return Fail("--watch-history: expected a positive integer");
      options.watch_history = static_cast<size_t>(num);
    } else if (a == "--bookmark-interval-ms") {
      if (!number(&num) || num < 10) return Fail("--bookmark-interval-ms: expected >= 10");
      options.bookmark_interval = std::chrono::milliseconds(static_cast<int64_t>(num));
    } else if (a == "--max-body-bytes") {
      if (!number(&num) || num < 1) return Fail("--max-body-bytes: expected a positive integer");
      options.max_body_bytes = static_cast<size_t>(num);
    } else if (a == "--latency-ms") {
      if (!number(&num) || num < 0) return Fail("--latency-ms: expected >= 0");
      faults.latency = std::chrono::milliseconds(static_cast<int64_t>(num));
    } else if (a == "--drop-watches-every") {
      if (!number(&num) || num < 0) return Fail("--drop-watches-every: expected seconds >= 0");
      faults.drop_watches_every = std::chrono::milliseconds(static_cast<int64_t>(num * 1000));
    } else if (a == "--write-error-rate") {
      if (!number(&num) || num < 0 || num > 1) return Fail("--write-error-rate: expected 0..1");
      faults.write.fraction = num;
    } else if (a == "--write-error-code") {
      if (!number(&num) || (num != 409 && num != 500 && num != 503)) {
        return Fail("--write-error-code: expected 409, 500 or 503");
      }
      faults.write.code = static_cast<int>(num);
    } else if (a == "--write-error-verb") {
      if (!next(&faults.write.verb)) return Fail("--write-error-verb: expected a verb");
    } else if (a == "--write-error-resource") {
      if (!next(&faults.write.resource)) return Fail("--write-error-resource: expected a name");
    } else {
      return Fail("unknown flag " + a + " (see --help)");
    }
  }
  listen.max_body_bytes = options.max_body_bytes;
  // Must happen before anything touches cpprest's shared thread pool.
  crossplat::threadpool::initialize_with_threads(threads);

  std::string ca_pem;
  if (tls) {
    if (token.empty()) token = GenerateToken();
    auto ca = waop::tls::GenerateCa("kube-devserver-ca", std::chrono::hours(24 * 365));
    if (!ca.ok()) return Fail("generating CA: " + ca.status().message());
    auto serving = waop::tls::IssueServingCert(*ca, "kube-devserver", {"localhost"}, {"127.0.0.1"},
                                               std::chrono::hours(24 * 365));
    if (!serving.ok()) return Fail("issuing serving certificate: " + serving.status().message());
    ca_pem = ca->cert_pem;
    listen.cert_pem = serving->cert_pem;
    listen.key_pem = serving->key_pem;
  }
  options.token = tls ? token : "";

  // Signals are taken synchronously by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  devserver::ApiServer api(options);
  api.faults().Set(faults);
  api.hub().SetDropEvery(faults.drop_watches_every);
  bool loaded = false;
  if (!data_file.empty()) {
    if (waop::Status s = api.UseDataFile(data_file, &loaded); !s.ok()) return Fail(s.message());
    if (loaded) std::cout << "kube-devserver: loaded " << data_file << std::endl;
  }
  // After a load, the files add only what the data file lacks.
  auto preload = [&](const nlohmann::json& obj) {
    waop::Status s = api.Preload(obj);
    if (loaded && s.code() == waop::StatusCode::kAlreadyExists) return waop::Status::Ok();
    return s;
  };
  for (const auto& files : {crd_files, load_files}) {
    for (const std::string& f : files) {
      auto docs = devserver::LoadYamlDocuments(f);
      if (!docs.ok()) return Fail(docs.status().message());
      for (const auto& doc : *docs) {
        if (doc.value("kind", "") == "List" && doc.contains("items")) {
          for (const auto& item : doc["items"]) {
            waop::Status s = preload(item);
            if (!s.ok()) return Fail(f + ": " + s.message());
          }
          continue;
        }
        waop::Status s = preload(doc);
        if (!s.ok()) return Fail(f + ": " + s.message());
      }
    }
  }

  auto server = devserver::HttpServer::Start(&api, listen);
  if (!server.ok()) return Fail(server.status().message());
  std::string url = (*server)->url();

  if (!kubeconfig_out.empty()) {
    std::string kc =
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-devserver\n  cluster:\n"
        "    server: " +
        url + "\n";
    if (tls) kc += "    certificate-authority-data: " + devserver::Base64Encode(ca_pem) + "\n";
    kc +=
        "contexts:\n- name: kube-devserver\n  context:\n    cluster: kube-devserver\n"
        "    user: kube-devserver\n    namespace: default\n"
        "current-context: kube-devserver\nusers:\n- name: kube-devserver\n  user:";
    kc += tls ? "\n    token: " + token + "\n" : " {}\n";
    if (!WriteFileAtomically(kubeconfig_out, kc)) {
      return Fail("cannot write --kubeconfig-out " + kubeconfig_out);
    }
  }
  if (!port_file.empty() &&
      !WriteFileAtomically(port_file, std::to_string((*server)->port()) + "\n")) {
    return Fail("cannot write --port-file " + port_file);
  }
  std::cout << "kube-devserver listening on " << url << " (port " << (*server)->port() << ")"
            << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "kube-devserver: signal " << sig << ", shutting down" << std::endl;
  api.Shutdown();
  (*server)->Stop();
  return 0;
}
