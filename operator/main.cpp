// whatsapp-operator: flags in, exit code out. Everything else is in app/.
#include <cstdio>
#include <string>
#include <vector>

#include "app/export.h"
#include "app/options.h"
#include "app/rbac.h"
#include "app/run.h"
#include "common/logging.h"
#include "server/signals.h"
#include "tls/cpprest_pool.h"

#ifndef WAOP_VERSION
#define WAOP_VERSION "dev"
#endif

#ifdef __SANITIZE_ADDRESS__
// Sanitizer builds only. cpprestsdk's shared I/O threads are never joined (the pool lives in
// static storage until the process ends), so the per-thread OpenSSL error state they allocate
// during TLS handshakes is still held when LeakSanitizer runs at exit. Allocations made inside
// libcrypto are not leak-checked in this binary (an OpenSSL object we forgot to free would go
// unnoticed too; ours are all held by RAII wrappers); every other leak still fails.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libcrypto.so\n";
}
// Keeps stderr all JSON log lines: no table of used suppressions at exit.
extern "C" const char* __lsan_default_options() {  // NOLINT(bugprone-reserved-identifier)
  return "print_suppressions=0";
}
#endif

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // The subcommand (tenant service rows to assignment YAML; app/export.h).
  if (!args.empty() && args.front() == "export") {
    waop::tls::SetCpprestThreads(2);
    return waop::app::RunExport({args.begin() + 1, args.end()});
  }
  auto options = waop::app::ParseOptions(args);
  if (!options.ok()) {
    std::fprintf(stderr, "whatsapp-operator: %s\n", options.status().message().c_str());
    return 2;
  }
  if (options->show_help) {
    std::fputs(waop::app::Usage().c_str(), stdout);
    return 0;
  }
  if (options->print_rbac) {
    std::fputs(waop::app::RbacYaml(*options).c_str(), stdout);
    return 0;
  }
  if (options->show_version) {
    std::printf("whatsapp-operator %s\n", WAOP_VERSION);
    return 0;
  }
  // Before anything uses cpprest (the Graph and tenant-service clients, our listeners): its
  // default pool of 40 threads spent most of the operator's CPU waking threads.
  waop::tls::SetCpprestThreads(waop::tls::DefaultCpprestThreads());
  waop::logging::SetUpLogging(options->logging);
  waop::logging::InstallTerminateHandler();
  auto signals = waop::server::SignalHandler::Install();
  if (!signals.ok()) {
    std::fprintf(stderr, "whatsapp-operator: %s\n", signals.status().message().c_str());
    return 1;
  }
  return waop::app::Run(*options, **signals);
}
