// The operator's command line (SPEC section 6), parsed into Options with errors that name the
// flag and what was expected. controller-runtime's flag names where one exists.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "server/http_server.h"

namespace waop::app {

struct Options {
  std::string kubeconfig;       // "" = in-cluster, else $KUBECONFIG, else ~/.kube/config
  std::string watch_namespace;  // --namespace; "" = all namespaces
  bool leader_elect = false;
  std::string leader_election_namespace;  // "" = the pod's namespace, else "default"
  std::string leader_election_id = "whatsapp-operator-leader";
  // Lease timing (client-go's defaults); checked together when the election starts.
  std::chrono::milliseconds leader_elect_lease_duration{15'000};
  std::chrono::milliseconds leader_elect_renew_deadline{10'000};
  std::chrono::milliseconds leader_elect_retry_period{2'000};
  server::BindAddress metrics_bind_address{"0.0.0.0", 8080};       // "0" disables
  server::BindAddress health_probe_bind_address{"0.0.0.0", 8081};  // "0" disables
  int max_concurrent_reconciles = 4;
  // The master credentials Secret, mounted as a volume (SPEC section 4).
  std::string credentials_dir = "/etc/whatsapp-operator/credentials";
  // How often --credentials-dir is read again (a rotation shows within this; 100ms..60s).
  std::chrono::milliseconds credentials_poll_interval{10'000};
  // Publish Secret whatsapp-master-credentials into namespaces with assignments.
  bool publish_credentials = true;
  server::BindAddress meta_webhook_bind_address{"0.0.0.0", 8082};  // "0" disables
  // The Meta Graph API (SPEC section 5): base URL, how often the inventory is listed, the
  // message template whose approval TemplateApproved reports ("" = no check), and a PEM CA
  // bundle trusted for an https base URL instead of the system roots ("" = system roots).
  std::string graph_api_url = "https://graph.facebook.com";
  std::chrono::milliseconds quality_refresh_interval{5 * 60'000};
  std::string required_template = "po_notification";
  std::string graph_ca_file;
  std::chrono::seconds sync_period{10 * 3600};  // full resync of every assignment
  // ---- The tenant-service sink (SPEC section 4; app/tenant_wiring.h). ----
  std::string tenant_service_url;  // "" = off
  std::chrono::milliseconds tenant_sync_interval{5 * 60'000};
  bool tenant_prune = false;  // unassign rows holding a number no assignment gives
  // ---- end of the tenant-service sink ----
  logging::LoggingOptions logging;  // --log-format json|text, --log-level
  // The admission webhook (SPEC sections 3 and 7).
  int webhook_port = 9443;                    // 0 disables the webhook
  std::string webhook_bind_host = "0.0.0.0";  // the interface it listens on
  std::string webhook_cert_dir;               // "" = make and keep certificates
  std::vector<std::string> webhook_hosts;     // extra SANs (repeatable, comma lists)
  std::string webhook_service_name = "whatsapp-operator-webhook";
  std::string webhook_configuration_name = "whatsapp-operator";
  std::string webhook_secret_name = "whatsapp-operator-webhook-tls";
  std::string webhook_secret_namespace;  // "" = the operator's namespace
  std::chrono::seconds webhook_cert_check_interval{60};
  // ---- --print-rbac (issue 13): print RequiredRbac (app/rbac.h) for these flags and exit.
  bool print_rbac = false;
  // ---- end --print-rbac
  bool show_version = false;
  bool show_help = false;
};

// Accepts "--flag=value", "--flag value" and, for booleans, "--flag" / "--flag=false".
// InvalidArgument names the flag and the expectation, e.g.
// `--max-concurrent-reconciles: expected an integer from 1 to 1000, got "x"`.
Result<Options> ParseOptions(const std::vector<std::string>& args);

// The --help text.
std::string Usage();

// "1h30m", "90s", "500ms", "2m" (Go duration syntax, the subset operators use).
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace waop::app
