#include "app/export.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/proxy.h"
#include "core/tenant.h"
#include "meta/credentials.h"
#include "meta/credentials_dir.h"
#include "tenant/tenant_client.h"

namespace waop::app {
namespace {

namespace fs = std::filesystem;

int Usage(const std::string& error) {
  std::fprintf(stderr, "whatsapp-operator export: %s (see export --help)\n", error.c_str());
  return 2;
}

bool WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

std::string ExportUsage() {
  return R"(whatsapp-operator export: the tenant service's rows as WhatsAppAssignment YAML.

Usage: whatsapp-operator export --tenant-service-url URL [flags]

  --tenant-service-url URL   the platform's tenant service (required)
  --credentials-dir DIR      read its bearer token from DIR/TENANT_SERVICE_TOKEN when present
                             (default /etc/whatsapp-operator/credentials)
  --namespace NS             namespace of the assignments (default: none, kubectl's)
  --output FILE              write one YAML stream to FILE (default: standard output)
  --output-dir DIR           write one <name>.yaml per assignment into DIR
  --help                     print this help and exit

One assignment per row that holds a phone number, named from the tenant name (a DNS-1123
label, made unique), tenantName kept as it is. Rows sharing a number or a tenant are all
exported, sorted so that the first of each group wins when applied; the others say so in a
comment. Apply the result with kubectl apply -f, then check that the operator changes
nothing (docs/migrating.md).
)";
}

int RunExport(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags = {
      {"tenant-service-url", ""},
      {"credentials-dir", "/etc/whatsapp-operator/credentials"},
      {"namespace", ""},
      {"output", ""},
      {"output-dir", ""}};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(ExportUsage().c_str(), stdout);
      return 0;
    }
    if (!arg.starts_with("--")) return Usage("unexpected argument \"" + arg + "\"");
    arg = arg.substr(2);
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage("--" + arg + ": missing value");
    }
    auto it = flags.find(arg);
    if (it == flags.end()) return Usage("unknown flag --" + arg);
    it->second = value;
  }
  const std::string& url = flags["tenant-service-url"];
  if (url.empty()) return Usage("--tenant-service-url is required");
  const std::string& ns = flags["namespace"];
  const bool dns_label =
      ns.size() <= 63 && std::isalnum(static_cast<unsigned char>(ns.front())) != 0 &&
      std::isalnum(static_cast<unsigned char>(ns.back())) != 0 &&
      ns.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
  if (!ns.empty() && !dns_label) {
    return Usage("--namespace: expected a namespace name (a DNS-1123 label), got \"" + ns + "\"");
  }
  if (!flags["output"].empty() && !flags["output-dir"].empty()) {
    return Usage("--output and --output-dir: give one of them");
  }
  std::string token;
  if (std::error_code ec; fs::is_directory(flags["credentials-dir"], ec)) {
    token = meta::ReadCredentialsDir(flags["credentials-dir"]).Get(meta::kTenantServiceTokenKey);
  }
  tenant::TenantClientOptions to;
  to.base_url = url;
  to.token = [token] { return token; };
  to.user_agent = "whatsapp-operator-export";
  auto proxy = ProxyFor(ProxySettings::FromEnvironment(), url);
  if (!proxy.ok()) return Usage("tenant service: " + proxy.status().message());
  to.proxy = std::move(*proxy);
  auto client = tenant::NewTenantServiceClient(std::move(to));
  if (!client.ok()) return Usage(client.status().message());
  auto rows = (*client)->ListTenants();
  if (!rows.ok()) {
    std::fprintf(stderr, "whatsapp-operator export: cannot read the tenant service: %s\n",
                 rows.status().message().c_str());
    return 1;
  }
  const core::ExportResult result = core::ExportAssignments(*rows, ns);
  for (const std::string& s : result.skipped) {
    std::fprintf(stderr, "whatsapp-operator export: skipped %s\n", s.c_str());
  }
  if (!flags["output-dir"].empty()) {
    const fs::path dir = flags["output-dir"];
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "whatsapp-operator export: cannot create %s: %s\n", dir.string().c_str(),
                   ec.message().c_str());
      return 1;
    }
    // Numbered, so that `kubectl apply -f DIR` (which reads a directory in name order) creates
    // them in the order the binding rule was resolved in.
    int n = 0;
    for (const core::ExportedAssignment& a : result.assignments) {
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "%04d-", ++n);
      const fs::path file = dir / (prefix + a.name + ".yaml");
      if (!WriteFile(file, a.yaml)) {
        std::fprintf(stderr, "whatsapp-operator export: cannot write %s\n", file.string().c_str());
        return 1;
      }
    }
  } else {
    const std::string stream = core::ExportYamlStream(result, url);
    if (!flags["output"].empty()) {
      if (!WriteFile(flags["output"], stream)) {
        std::fprintf(stderr, "whatsapp-operator export: cannot write %s\n",
                     flags["output"].c_str());
        return 1;
      }
    } else {
      std::fputs(stream.c_str(), stdout);
    }
  }
  std::fprintf(stderr, "whatsapp-operator export: %zu assignment(s) from %zu row(s)\n",
               result.assignments.size(), rows->size());
  return 0;
}

}  // namespace waop::app
