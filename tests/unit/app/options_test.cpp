#include "app/options.h"

#include <gtest/gtest.h>

namespace waop::app {
namespace {

TEST(OptionsTest, DefaultsMatchTheSpec) {
  auto o = ParseOptions({});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->metrics_bind_address.ToString(), "0.0.0.0:8080");
  EXPECT_EQ(o->health_probe_bind_address.ToString(), "0.0.0.0:8081");
  EXPECT_EQ(o->logging.format, logging::LogFormat::kJson);
  EXPECT_EQ(o->watch_namespace, "");
  EXPECT_FALSE(o->leader_elect);
  EXPECT_EQ(o->leader_election_id, "whatsapp-operator-leader");
}

TEST(OptionsTest, AcceptsBothFlagForms) {
  auto o =
      ParseOptions({"--kubeconfig", "/tmp/kc", "--namespace=bakery-ia", "--leader-elect",
                    "--max-concurrent-reconciles=8", "--sync-period", "1h30m", "--log-format=text",
                    "--health-probe-bind-address=127.0.0.1:9000", "--metrics-bind-address", "0"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kubeconfig, "/tmp/kc");
  EXPECT_EQ(o->watch_namespace, "bakery-ia");
  EXPECT_TRUE(o->leader_elect);
  EXPECT_EQ(o->max_concurrent_reconciles, 8);
  EXPECT_EQ(o->sync_period, std::chrono::seconds(5400));
  EXPECT_EQ(o->logging.format, logging::LogFormat::kText);
  EXPECT_EQ(o->health_probe_bind_address.ToString(), "127.0.0.1:9000");
  EXPECT_FALSE(o->metrics_bind_address.enabled());
  auto off = ParseOptions({"--leader-elect=false"});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->leader_elect);
}

TEST(OptionsTest, LeaderElectionTimingFlags) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->leader_elect_lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(d->leader_elect_renew_deadline, std::chrono::seconds(10));
  EXPECT_EQ(d->leader_elect_retry_period, std::chrono::seconds(2));
  auto o = ParseOptions({"--leader-elect-lease-duration=2s", "--leader-elect-renew-deadline",
                         "1500ms", "--leader-elect-retry-period=300ms"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->leader_elect_lease_duration, std::chrono::seconds(2));
  EXPECT_EQ(o->leader_elect_renew_deadline, std::chrono::milliseconds(1500));
  EXPECT_EQ(o->leader_elect_retry_period, std::chrono::milliseconds(300));
  EXPECT_EQ(ParseOptions({"--leader-elect-lease-duration=1500ms"}).status().message(),
            "--leader-elect-lease-duration: expected a whole number of seconds from 1s to 1h "
            "such as 15s, got \"1500ms\"");
  EXPECT_FALSE(ParseOptions({"--leader-elect-renew-deadline=soon"}).ok());
  EXPECT_FALSE(ParseOptions({"--leader-elect-retry-period=1ms"}).ok());
}

TEST(OptionsTest, WebhookFlags) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->webhook_port, 9443);
  EXPECT_EQ(d->webhook_bind_host, "0.0.0.0");
  EXPECT_EQ(ParseOptions({"--webhook-bind-host=127.0.0.1"})->webhook_bind_host, "127.0.0.1");
  EXPECT_EQ(ParseOptions({"--webhook-bind-host="}).status().message(),
            "--webhook-bind-host: expected an IP address or host name to listen on, such as "
            "127.0.0.1, got \"\"");
  EXPECT_EQ(d->webhook_cert_dir, "");
  EXPECT_EQ(d->webhook_service_name, "whatsapp-operator-webhook");
  EXPECT_EQ(d->webhook_configuration_name, "whatsapp-operator");
  EXPECT_EQ(d->webhook_secret_name, "whatsapp-operator-webhook-tls");
  EXPECT_EQ(d->webhook_secret_namespace, "");
  EXPECT_EQ(d->webhook_cert_check_interval, std::chrono::seconds(60));

  auto o = ParseOptions({"--webhook-port=9444", "--webhook-host", "127.0.0.1,webhook.local",
                         "--webhook-host=::1", "--webhook-cert-dir=/certs",
                         "--webhook-configuration-name=vwc", "--webhook-secret-name=s",
                         "--webhook-secret-namespace=ops", "--webhook-service-name=svc",
                         "--webhook-cert-check-interval=5s"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->webhook_port, 9444);
  EXPECT_EQ(o->webhook_hosts, (std::vector<std::string>{"127.0.0.1", "webhook.local", "::1"}));
  EXPECT_EQ(o->webhook_cert_dir, "/certs");
  EXPECT_EQ(o->webhook_configuration_name, "vwc");
  EXPECT_EQ(o->webhook_secret_name, "s");
  EXPECT_EQ(o->webhook_secret_namespace, "ops");
  EXPECT_EQ(o->webhook_service_name, "svc");
  EXPECT_EQ(o->webhook_cert_check_interval, std::chrono::seconds(5));
  EXPECT_EQ(ParseOptions({"--webhook-port=0"})->webhook_port, 0);

  EXPECT_EQ(ParseOptions({"--webhook-port=70000"}).status().message(),
            "--webhook-port: expected a port from 1 to 65535, or 0 to disable the webhook, got "
            "\"70000\"");
  EXPECT_EQ(ParseOptions({"--webhook-port=8080"}).status().message(),
            "--webhook-port: port 8080 is already used by --metrics-bind-address");
  EXPECT_EQ(ParseOptions({"--webhook-host=a b"}).status().message(),
            "--webhook-host: expected a DNS name or IP address (comma-separated for several), got "
            "\"a b\"");
  EXPECT_EQ(ParseOptions({"--webhook-secret-name="}).status().message(),
            "--webhook-secret-name: expected a non-empty name, got \"\"");
  EXPECT_NE(ParseOptions({"--webhook-cert-check-interval=0s"})
                .status()
                .message()
                .find("--webhook-cert-check-interval"),
            std::string::npos);
}

TEST(OptionsTest, BadInputNamesTheFlagAndTheExpectation) {
  EXPECT_EQ(ParseOptions({"--max-concurrent-reconciles=x"}).status().message(),
            "--max-concurrent-reconciles: expected an integer from 1 to 1000, got \"x\"");
  EXPECT_EQ(ParseOptions({"--max-concurrent-reconciles=0"}).status().message(),
            "--max-concurrent-reconciles: expected an integer from 1 to 1000, got \"0\"");
  EXPECT_NE(ParseOptions({"--log-format=xml"}).status().message().find("--log-format"),
            std::string::npos);
  EXPECT_NE(ParseOptions({"--log-level=loud"}).status().message().find("--log-level"),
            std::string::npos);
  EXPECT_EQ(ParseOptions({"--leader-elect=maybe"}).status().message(),
            "--leader-elect: expected true or false, got \"maybe\"");
  EXPECT_NE(ParseOptions({"--metrics-bind-address=localhost"})
                .status()
                .message()
                .find("--metrics-bind-address"),
            std::string::npos);
  EXPECT_EQ(ParseOptions({"--frobnicate"}).status().message(),
            "unknown flag --frobnicate; see --help");
  EXPECT_EQ(ParseOptions({"--kubeconfig"}).status().message(), "--kubeconfig: missing value");
  EXPECT_EQ(ParseOptions({"extra"}).status().message(),
            "unexpected argument \"extra\": flags start with --; see --help");
  EXPECT_EQ(ParseOptions({"--sync-period=10x"}).status().message(),
            "--sync-period: expected a duration of at least 1s such as 10h or 30m, got \"10x\"");
}

TEST(OptionsTest, GraphApiFlags) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->graph_api_url, "https://graph.facebook.com");
  EXPECT_EQ(d->quality_refresh_interval, std::chrono::minutes(5));
  EXPECT_EQ(d->required_template, "po_notification");
  EXPECT_EQ(d->graph_ca_file, "");

  auto o = ParseOptions({"--graph-api-url=http://127.0.0.1:1234/", "--quality-refresh-interval",
                         "30s", "--required-template=", "--graph-ca-file=/ca.pem"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->graph_api_url, "http://127.0.0.1:1234") << "trailing slash dropped";
  EXPECT_EQ(o->quality_refresh_interval, std::chrono::seconds(30));
  EXPECT_EQ(o->required_template, "");
  EXPECT_EQ(o->graph_ca_file, "/ca.pem");

  EXPECT_EQ(ParseOptions({"--graph-api-url=graph.facebook.com"}).status().message(),
            "--graph-api-url: expected an http:// or https:// URL without a query, such as "
            "https://graph.facebook.com, got \"graph.facebook.com\"");
  EXPECT_EQ(ParseOptions({"--graph-api-url=https://x?a=1"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ParseOptions({"--quality-refresh-interval=0s"}).status().message(),
      "--quality-refresh-interval: expected a duration from 1s to 24h such as 5m, got \"0s\"");
  EXPECT_EQ(ParseOptions({"--required-template=PO Notification"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(OptionsTest, CredentialsAndMetaWebhookFlags) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->credentials_dir, "/etc/whatsapp-operator/credentials");
  EXPECT_EQ(d->credentials_poll_interval, std::chrono::seconds(10));
  EXPECT_TRUE(d->publish_credentials);
  EXPECT_EQ(d->meta_webhook_bind_address.ToString(), "0.0.0.0:8082");

  auto o = ParseOptions({"--credentials-dir", "/run/creds", "--credentials-poll-interval=500ms",
                         "--publish-credentials=false", "--meta-webhook-bind-address=0"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->credentials_dir, "/run/creds");
  EXPECT_EQ(o->credentials_poll_interval, std::chrono::milliseconds(500));
  EXPECT_FALSE(o->publish_credentials);
  EXPECT_FALSE(o->meta_webhook_bind_address.enabled());
  auto local = ParseOptions({"--meta-webhook-bind-address", "127.0.0.1:9999"});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->meta_webhook_bind_address.ToString(), "127.0.0.1:9999");

  EXPECT_EQ(ParseOptions({"--credentials-poll-interval=2m"}).status().message(),
            "--credentials-poll-interval: expected a duration from 100ms to 60s such as 10s, "
            "got \"2m\"");
  EXPECT_EQ(ParseOptions({"--credentials-poll-interval=10ms"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseOptions({"--credentials-dir="}).status().message(),
            "--credentials-dir: expected a directory path, got \"\"");
  EXPECT_EQ(ParseOptions({"--publish-credentials=nope"}).status().message(),
            "--publish-credentials: expected true or false, got \"nope\"");
  EXPECT_NE(ParseOptions({"--meta-webhook-bind-address=8082"})
                .status()
                .message()
                .find("--meta-webhook-bind-address"),
            std::string::npos);
  EXPECT_EQ(ParseOptions({"--meta-webhook-bind-address=:8080"}).status().message(),
            "--meta-webhook-bind-address: port 8080 is already used by --metrics-bind-address; "
            "choose another port");
  EXPECT_TRUE(ParseOptions({"--meta-webhook-bind-address=:8080", "--metrics-bind-address=0"}).ok());
}

TEST(OptionsTest, ParsesGoDurations) {
  EXPECT_EQ(*ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("m").ok());
  EXPECT_FALSE(ParseDuration("5d").ok());
  EXPECT_FALSE(ParseDuration(".s").ok());
  EXPECT_FALSE(ParseDuration("1..5s").ok());
}

TEST(OptionsTest, TenantServiceFlags) {
  auto d = ParseOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tenant_service_url, "");  // off
  EXPECT_EQ(d->tenant_sync_interval, std::chrono::minutes(5));
  EXPECT_FALSE(d->tenant_prune);
  auto o = ParseOptions({"--tenant-service-url", "http://tenants.bakery-ia:8000/", "--tenant-prune",
                         "--tenant-sync-interval=30s"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->tenant_service_url, "http://tenants.bakery-ia:8000");
  EXPECT_EQ(o->tenant_sync_interval, std::chrono::seconds(30));
  EXPECT_TRUE(o->tenant_prune);
  EXPECT_TRUE(ParseOptions({"--tenant-service-url="}).ok());
  auto bad_url = ParseOptions({"--tenant-service-url", "tenants:8000"});
  ASSERT_FALSE(bad_url.ok());
  EXPECT_NE(
      bad_url.status().message().find("--tenant-service-url: expected an http:// or https://"),
      std::string::npos)
      << bad_url.status().message();
  EXPECT_FALSE(ParseOptions({"--tenant-service-url", "http://x/?a=1"}).ok());
  auto bad_interval = ParseOptions({"--tenant-sync-interval", "0s"});
  ASSERT_FALSE(bad_interval.ok());
  EXPECT_NE(bad_interval.status().message().find("from 100ms to 24h"), std::string::npos);
}

}  // namespace
}  // namespace waop::app
