// tenant-devserver: a stand-in for the platform's tenant service admin API (the operator's
// second sink) for tests and the demo. Flags only; the API lives in TenantServer, the
// transport in TenantHttpServer. docs/devservers.md describes it.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

// After <utility>: boost/asio (pulled in by threadpool.h) uses std::exchange.
#include <pplx/threadpool.h>

#include "tenant_http.h"
#include "tenant_server.h"

namespace {

constexpr const char* kUsage =
    R"(tenant-devserver: a stand-in for the platform's tenant service, for tests and the demo.

  --data FILE          the tenant rows (YAML; required; see docs/devservers.md)
  --listen HOST:PORT   where to listen (default 127.0.0.1:0; port 0 = pick a free one)
  --port-file FILE     write the chosen port to FILE once listening
  --token TOKEN        the bearer token required on API requests (default: the data file's
                       token:, else none)
  --help               this text

Serves GET /api/v1/admin/whatsapp/tenants, POST .../tenants/{id}/assign-phone and
DELETE .../tenants/{id}/unassign-phone, and a control API under /_control/.
)";

int Fail(const std::string& message) {
  std::cerr << "tenant-devserver: " << message << "\n";
  return 2;
}

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

}  // namespace

int main(int argc, char** argv) {
  std::string data_file, port_file, token, host = "127.0.0.1";
  bool token_set = false;
  int port = 0;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    size_t eq = a.find('=');
    bool has_inline = a.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_inline) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto next = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return !out->empty();
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return !out->empty();
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--data") {
      if (!next(&data_file)) return Fail("--data: expected a file name");
    } else if (a == "--port-file") {
      if (!next(&port_file)) return Fail("--port-file: expected a file name");
    } else if (a == "--token") {
      if (!next(&token)) return Fail("--token: expected a token");
      token_set = true;
    } else if (a == "--listen") {
      std::string v;
      if (!next(&v)) return Fail("--listen: expected HOST:PORT, e.g. 127.0.0.1:0");
      size_t colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        return Fail("--listen: expected HOST:PORT, e.g. 127.0.0.1:0, got \"" + v + "\"");
      }
      host = v.substr(0, colon);
      const std::string p = v.substr(colon + 1);
      if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(p) > 65535) {
        return Fail("--listen: the port must be 0..65535, got \"" + p + "\"");
      }
      port = std::stoi(p);
    } else {
      return Fail("unknown flag " + a + " (see --help)");
    }
  }
  if (data_file.empty()) return Fail("--data FILE is required (see --help)");
  auto data = tenantdev::LoadTenantData(data_file);
  if (!data.ok()) return Fail(data.status().message());
  if (token_set) data->token = token;

  // Must happen before anything touches cpprest's shared thread pool.
  crossplat::threadpool::initialize_with_threads(4);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  tenantdev::TenantServer api(std::move(*data));
  auto server = tenantdev::TenantHttpServer::Start(&api, host, port);
  if (!server.ok()) return Fail(server.status().message());
  if (!port_file.empty() &&
      !WriteFileAtomically(port_file, std::to_string((*server)->port()) + "\n")) {
    return Fail("cannot write --port-file " + port_file);
  }
  std::cout << "tenant-devserver listening on " << (*server)->url() << " (port "
            << (*server)->port() << ")" << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "tenant-devserver: signal " << sig << ", shutting down" << std::endl;
  (*server)->Stop();
  return 0;
}
