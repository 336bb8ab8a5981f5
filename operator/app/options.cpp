#include "app/options.h"

#include <cctype>
#include <charconv>
#include <functional>
#include <map>
#include <optional>

namespace waop::app {
namespace {

Status Bad(std::string_view flag, std::string_view expected, std::string_view got) {
  return Status::InvalidArgument("--" + std::string(flag) + ": expected " + std::string(expected) +
                                 ", got \"" + std::string(got) + "\"");
}

Result<bool> ParseBool(std::string_view flag, std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Bad(flag, "true or false", v);
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (start == i)
      return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\"");
    double value = 0;
    auto number = text.substr(start, i - start);
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || end != number.data() + number.size()) {
      return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\"");
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    static const std::map<std::string_view, double> kUnits = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) {
      return Status::InvalidArgument("invalid duration \"" + std::string(text) +
                                     "\": unit must be ms, s, m or h");
    }
    total_ms += value * it->second;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

Result<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  using Setter = std::function<Status(std::string_view flag, std::string_view value)>;
  auto str = [](std::string* field) -> Setter {
    return [field](std::string_view, std::string_view v) {
      *field = std::string(v);
      return Status::Ok();
    };
  };
  auto boolean = [](bool* field) -> Setter {
    return [field](std::string_view flag, std::string_view v) {
      auto b = ParseBool(flag, v);
      if (!b.ok()) return b.status();
      *field = *b;
      return Status::Ok();
    };
  };
  auto address = [](server::BindAddress* field) -> Setter {
    return [field](std::string_view flag, std::string_view v) {
      auto parsed = server::ParseBindAddress(v, flag);
      if (!parsed.ok()) return parsed.status();
      *field = *parsed;
      return Status::Ok();
    };
  };
  const std::map<std::string_view, std::pair<bool /*is_bool*/, Setter>> flags = {
      {"kubeconfig", {false, str(&o.kubeconfig)}},
      {"namespace", {false, str(&o.watch_namespace)}},
      {"leader-elect", {true, boolean(&o.leader_elect)}},
      {"leader-election-namespace", {false, str(&o.leader_election_namespace)}},
      {"leader-election-id", {false, str(&o.leader_election_id)}},
      // ---- leader election timing (branch chaos) ----
      {"leader-elect-lease-duration",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::seconds(1) || *d > std::chrono::hours(1) ||
              d->count() % 1000 != 0) {
            return Bad(flag, "a whole number of seconds from 1s to 1h such as 15s", v);
          }
          o.leader_elect_lease_duration = *d;
          return Status::Ok();
        }}},
      {"leader-elect-renew-deadline",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::milliseconds(100) || *d > std::chrono::hours(1)) {
            return Bad(flag, "a duration from 100ms to 1h such as 10s", v);
          }
          o.leader_elect_renew_deadline = *d;
          return Status::Ok();
        }}},
      {"leader-elect-retry-period",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::milliseconds(10) || *d > std::chrono::hours(1)) {
            return Bad(flag, "a duration from 10ms to 1h such as 2s", v);
          }
          o.leader_elect_retry_period = *d;
          return Status::Ok();
        }}},
      // ---- end of leader election timing ----
      {"metrics-bind-address", {false, address(&o.metrics_bind_address)}},
      {"health-probe-bind-address", {false, address(&o.health_probe_bind_address)}},
      {"credentials-dir",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          if (v.empty()) return Bad(flag, "a directory path", v);
          o.credentials_dir = std::string(v);
          return Status::Ok();
        }}},
      {"credentials-poll-interval",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::milliseconds(100) || *d > std::chrono::seconds(60)) {
            return Bad(flag, "a duration from 100ms to 60s such as 10s", v);
          }
          o.credentials_poll_interval = *d;
          return Status::Ok();
        }}},
      {"publish-credentials", {true, boolean(&o.publish_credentials)}},
      {"meta-webhook-bind-address", {false, address(&o.meta_webhook_bind_address)}},
      {"graph-api-url",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          const bool http = v.starts_with("http://") || v.starts_with("https://");
          const auto host_at = v.find("://") + 3;
          if (!http || v.size() <= host_at || v.find_first_of("?# ") != std::string_view::npos) {
            return Bad(flag,
                       "an http:// or https:// URL without a query, such as "
                       "https://graph.facebook.com",
                       v);
          }
          o.graph_api_url = std::string(v);
          while (o.graph_api_url.ends_with('/')) o.graph_api_url.pop_back();
          return Status::Ok();
        }}},
      {"graph-ca-file", {false, str(&o.graph_ca_file)}},
      {"quality-refresh-interval",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::seconds(1) || *d > std::chrono::hours(24)) {
            return Bad(flag, "a duration from 1s to 24h such as 5m", v);
          }
          o.quality_refresh_interval = *d;
          return Status::Ok();
        }}},
      {"required-template",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          for (char c : v) {
            if (!(std::islower(static_cast<unsigned char>(c)) ||
                  std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
              return Bad(flag, "a template name of lower-case letters, digits and _ (or \"\")", v);
            }
          }
          if (v.size() > 512) return Bad(flag, "a template name of at most 512 characters", v);
          o.required_template = std::string(v);
          return Status::Ok();
        }}},
      {"max-concurrent-reconciles",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          int n = 0;
          auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
          if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 1000) {
            return Bad(flag, "an integer from 1 to 1000", v);
          }
          o.max_concurrent_reconciles = n;
          return Status::Ok();
        }}},
      {"sync-period",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::seconds(1)) {
            return Bad(flag, "a duration of at least 1s such as 10h or 30m", v);
          }
          o.sync_period = std::chrono::duration_cast<std::chrono::seconds>(*d);
          return Status::Ok();
        }}},
      // ---- The tenant-service sink (app/tenant_wiring.h). ----
      {"tenant-service-url",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          const bool http = v.starts_with("http://") || v.starts_with("https://");
          const auto host_at = v.find("://") + 3;
          if (!v.empty() &&
              (!http || v.size() <= host_at || v.find_first_of("?# ") != std::string_view::npos)) {
            return Bad(flag,
                       "an http:// or https:// URL without a query, such as "
                       "http://tenant-service.bakery-ia:8000 (or \"\" for off)",
                       v);
          }
          o.tenant_service_url = std::string(v);
          while (o.tenant_service_url.ends_with('/')) o.tenant_service_url.pop_back();
          return Status::Ok();
        }}},
      {"tenant-sync-interval",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::milliseconds(100) || *d > std::chrono::hours(24)) {
            return Bad(flag, "a duration from 100ms to 24h such as 5m", v);
          }
          o.tenant_sync_interval = *d;
          return Status::Ok();
        }}},
      {"tenant-prune", {true, boolean(&o.tenant_prune)}},
      // ---- end of the tenant-service sink ----
      {"webhook-port",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          int n = -1;
          auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
          if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n > 65535) {
            return Bad(flag, "a port from 1 to 65535, or 0 to disable the webhook", v);
          }
          o.webhook_port = n;
          return Status::Ok();
        }}},
      {"webhook-bind-host",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          if (v.empty() || v.find_first_of(" /[]") != std::string_view::npos) {
            return Bad(flag, "an IP address or host name to listen on, such as 127.0.0.1", v);
          }
          o.webhook_bind_host = std::string(v);
          return Status::Ok();
        }}},
      {"webhook-cert-dir", {false, str(&o.webhook_cert_dir)}},
      {"webhook-host",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          while (!v.empty()) {
            const size_t comma = v.find(',');
            std::string_view host = v.substr(0, comma);
            v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
            if (host.empty() || host.find_first_of(" /") != std::string_view::npos) {
              return Bad(flag, "a DNS name or IP address (comma-separated for several)", host);
            }
            o.webhook_hosts.emplace_back(host);
          }
          return Status::Ok();
        }}},
      {"webhook-service-name", {false, str(&o.webhook_service_name)}},
      {"webhook-configuration-name", {false, str(&o.webhook_configuration_name)}},
      {"webhook-secret-name", {false, str(&o.webhook_secret_name)}},
      {"webhook-secret-namespace", {false, str(&o.webhook_secret_namespace)}},
      {"webhook-cert-check-interval",
       {false,
        [&o](std::string_view flag, std::string_view v) {
          auto d = ParseDuration(v);
          if (!d.ok() || *d < std::chrono::seconds(1)) {
            return Bad(flag, "a duration of at least 1s such as 1m or 30s", v);
          }
          o.webhook_cert_check_interval = std::chrono::duration_cast<std::chrono::seconds>(*d);
          return Status::Ok();
        }}},
      {"log-format",
       {false,
        [&o](std::string_view, std::string_view v) {
          auto format = logging::ParseLogFormat(v);
          if (!format.ok()) return format.status();
          o.logging.format = *format;
          return Status::Ok();
        }}},
      {"log-level",
       {false,
        [&o](std::string_view, std::string_view v) {
          auto level = logging::ParseLogLevel(v);
          if (!level.ok()) return level.status();
          o.logging.level = *level;
          return Status::Ok();
        }}},
      // ---- --print-rbac (issue 13)
      {"print-rbac", {true, boolean(&o.print_rbac)}},
      // ---- end --print-rbac
      {"version", {true, boolean(&o.show_version)}},
      {"help", {true, boolean(&o.show_help)}},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    if (arg.rfind("--", 0) != 0) {
      return Status::InvalidArgument("unexpected argument \"" + std::string(arg) +
                                     "\": flags start with --; see --help");
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto it = flags.find(name);
    if (it == flags.end()) {
      return Status::InvalidArgument("unknown flag --" + std::string(name) + "; see --help");
    }
    const auto& [is_bool, setter] = it->second;
    if (!value) {
      if (is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Status::InvalidArgument("--" + std::string(name) + ": missing value");
      }
    }
    WAOP_RETURN_IF_ERROR(setter(name, *value));
  }
  // One process cannot serve two listeners on one port (cpprest shares the acceptor).
  if (o.meta_webhook_bind_address.enabled()) {
    for (auto [flag, other] :
         {std::pair{"metrics-bind-address", &o.metrics_bind_address},
          std::pair{"health-probe-bind-address", &o.health_probe_bind_address}}) {
      if (other->enabled() && other->port == o.meta_webhook_bind_address.port) {
        return Status::InvalidArgument("--meta-webhook-bind-address: port " +
                                       std::to_string(o.meta_webhook_bind_address.port) +
                                       " is already used by --" + flag + "; choose another port");
      }
    }
  }
  for (const auto& [flag, address] :
       {std::pair{"--metrics-bind-address", o.metrics_bind_address},
        std::pair{"--health-probe-bind-address", o.health_probe_bind_address}}) {
    if (o.webhook_port != 0 && address.port == o.webhook_port) {
      return Status::InvalidArgument("--webhook-port: port " + std::to_string(o.webhook_port) +
                                     " is already used by " + flag);
    }
  }
  for (const auto& [flag, value] :
       {std::pair{"--webhook-service-name", &o.webhook_service_name},
        std::pair{"--webhook-configuration-name", &o.webhook_configuration_name},
        std::pair{"--webhook-secret-name", &o.webhook_secret_name}}) {
    if (value->empty()) return Bad(flag + 2, "a non-empty name", *value);
  }
  return o;
}

std::string Usage() {
  return R"(whatsapp-operator: binds WhatsApp phone numbers of a shared WABA to tenants.

Usage: whatsapp-operator [flags]
       whatsapp-operator export --tenant-service-url URL [flags]   (see export --help)

  --kubeconfig PATH                  kubeconfig file (default: in-cluster, else $KUBECONFIG,
                                     else ~/.kube/config)
  --namespace NS                     watch only this namespace (default: all)
  --leader-elect                     elect a leader with a coordination.k8s.io Lease
  --leader-election-namespace NS     namespace of the Lease (default: the pod's, else default)
  --leader-election-id NAME          name of the Lease (default whatsapp-operator-leader)
  --leader-elect-lease-duration D    how long a standby waits before taking over a Lease that
                                     is not renewed (whole seconds; default 15s)
  --leader-elect-renew-deadline D    a leader that has not renewed for this long stops writing
                                     and steps down to standby (default 10s; < lease duration)
  --leader-elect-retry-period D      how often the Lease is renewed or tried (default 2s;
                                     renew deadline > 1.2 x retry period)
  --metrics-bind-address ADDR        Prometheus /metrics (default :8080; 0 disables)
  --health-probe-bind-address ADDR   /healthz and /readyz (default :8081; 0 disables)
  --credentials-dir DIR              the master credentials Secret, mounted as a volume
                                     (default /etc/whatsapp-operator/credentials)
  --credentials-poll-interval DUR    how often DIR is read again to pick up a rotation
                                     (default 10s; 100ms to 60s)
  --publish-credentials              publish Secret whatsapp-master-credentials into every
                                     namespace with assignments (default true; false leaves
                                     existing copies alone and stops managing them)
  --meta-webhook-bind-address ADDR   Meta's webhook, /meta/webhook (default :8082; 0 disables)
  --graph-api-url URL                the Meta Graph API (default https://graph.facebook.com)
  --graph-ca-file PATH               PEM CA bundle trusted for an https Graph API URL instead
                                     of the system roots (default: system roots)
  --quality-refresh-interval DUR     how often the phone numbers and quality ratings are
                                     listed (default 5m; 1s to 24h)
  --required-template NAME           the message template TemplateApproved checks in each
                                     tenant's language (default po_notification; "" = none)
  --max-concurrent-reconciles N      parallel reconciles (default 4)
  --sync-period DURATION             full resync of every assignment (default 10h)
  --tenant-service-url URL           the platform's tenant service, a second sink: numbers are
                                     assigned and unassigned through its admin API, and a
                                     finalizer holds a deleted assignment until it is unassigned
                                     (default: off; token TENANT_SERVICE_TOKEN in
                                     --credentials-dir, optional)
  --tenant-sync-interval DUR         how often the tenant service's rows are listed to correct
                                     drift (default 5m; 100ms to 24h)
  --tenant-prune                     unassign tenant rows holding a number no assignment gives
                                     (default false: they are reported and left alone)
  --webhook-port PORT                HTTPS port of the admission webhook (default 9443;
                                     0 disables it)
  --webhook-bind-host HOST           interface the webhook listens on (default 0.0.0.0, all;
                                     127.0.0.1 for a local run)
  --webhook-cert-dir DIR             serve tls.crt and tls.key from DIR (cert-manager, a mounted
                                     Secret; reloaded when they change) and inject nothing;
                                     default: make a CA and certificate and keep them in a Secret
  --webhook-host HOST                extra DNS name or IP address in the serving certificate
                                     (repeatable or comma-separated; 127.0.0.1 for a local run)
  --webhook-service-name NAME        Service in front of the webhook; its DNS names go into the
                                     certificate (default whatsapp-operator-webhook)
  --webhook-configuration-name NAME  ValidatingWebhookConfiguration whose caBundle the operator
                                     fills (default whatsapp-operator)
  --webhook-secret-name NAME         Secret holding the webhook's CA and certificate
                                     (default whatsapp-operator-webhook-tls)
  --webhook-secret-namespace NS      namespace of that Secret and of the Service (default: the
                                     pod's, else the kubeconfig's, else default)
  --webhook-cert-check-interval D    how often the Secret, the caBundle and --webhook-cert-dir are
                                     checked and renewed (default 1m)
  --log-format json|text             log line format (default json)
  --log-level LEVEL                  debug, info, warn or error (default info)
  --print-rbac                       print the RBAC rules (a ClusterRole and a Role, YAML) the
                                     operator needs with the other flags given, and exit
  --version                          print the version and exit
  --help                             print this help and exit
)";
}

}  // namespace waop::app
