#include "kube/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>

#include "support/fake_clock.h"

namespace waop::kube {
namespace {

namespace fs = std::filesystem;

// Takes the value out of a temporary Result (dereferencing one dangles).
template <typename T>
T Value(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : T();
}

constexpr char kSecretToken[] = "s3cr3t-token-value-never-print";
// "hello-ca" and "hello-cert" / "hello-key" in base64.
constexpr char kCaB64[] = "aGVsbG8tY2E=";
constexpr char kCertB64[] = "aGVsbG8tY2VydA==";
constexpr char kKeyB64[] = "aGVsbG8ta2V5";

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("kube-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path Write(const std::string& name, const std::string& contents) const {
    const fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << contents;
    return p;
  }

 private:
  fs::path path_;
};

std::string Kubeconfig(const std::string& cluster_body, const std::string& user_body,
                       const std::string& context_cluster = "c1") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
         "clusters:\n- name: other\n  cluster:\n    server: https://10.0.0.1\n"
         "- name: c1\n  cluster:\n" +
         cluster_body + "contexts:\n- name: ctx\n  context:\n    cluster: " + context_cluster +
         "\n    user: u1\n    namespace: team-a\n"
         "users:\n- name: u1\n  user:\n" +
         user_body;
}

TEST(KubeconfigTest, InlineDataAndToken) {
  TempDir dir;
  auto path = dir.Write("kc", Kubeconfig(std::string("    server: https://127.0.0.1:6443/\n"
                                                     "    certificate-authority-data: ") +
                                             kCaB64 + "\n    tls-server-name: api.internal\n",
                                         std::string("    token: ") + kSecretToken + "\n"));
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, "hello-ca");
  EXPECT_EQ(config->tls_server_name, "api.internal");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->default_namespace, "team-a");
  ASSERT_NE(config->token_source, nullptr);
  auto token = config->token_source->Token();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, kSecretToken);
  EXPECT_EQ(config->source.find(kSecretToken), std::string::npos);
}

TEST(KubeconfigTest, FilesRelativeToKubeconfigDirectory) {
  TempDir dir;
  dir.Write("certs/ca.crt", "ca-from-file");
  dir.Write("certs/client.crt", "cert-from-file");
  dir.Write("certs/client.key", "key-from-file");
  dir.Write("token", "file-token\n");
  auto path = dir.Write("kc", Kubeconfig("    server: https://127.0.0.1:6443\n"
                                         "    certificate-authority: certs/ca.crt\n",
                                         "    client-certificate: certs/client.crt\n"
                                         "    client-key: " +
                                             (dir.path() / "certs/client.key").string() +
                                             "\n    tokenFile: token\n"));
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_pem, "ca-from-file");
  EXPECT_EQ(config->client_cert_pem, "cert-from-file");
  EXPECT_EQ(config->client_key_pem, "key-from-file");
  ASSERT_NE(config->token_source, nullptr);
  EXPECT_EQ(Value(config->token_source->Token()), "file-token");
}

TEST(KubeconfigTest, ClientCertDataAndInsecure) {
  TempDir dir;
  auto path = dir.Write(
      "kc", Kubeconfig("    server: http://127.0.0.1:8080\n    insecure-skip-tls-verify: true\n",
                       std::string("    client-certificate-data: ") + kCertB64 +
                           "\n    client-key-data: " + kKeyB64 + "\n"));
  auto config = LoadKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, "hello-cert");
  EXPECT_EQ(config->client_key_pem, "hello-key");
  EXPECT_EQ(config->token_source, nullptr);
  EXPECT_EQ(config->default_namespace, "team-a");
}

TEST(KubeconfigTest, ContextOverride) {
  TempDir dir;
  std::string text = Kubeconfig("    server: https://127.0.0.1:1\n", "    token: t\n");
  text += "- name: u2\n  user:\n    token: t2\n";
  text.replace(text.find("contexts:\n"), 10,
               "contexts:\n- name: second\n  context:\n    cluster: other\n    user: u2\n");
  auto path = dir.Write("kc", text);
  auto config = LoadKubeconfig(path, "second");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1");
  EXPECT_EQ(config->default_namespace, "default");
  EXPECT_EQ(Value(config->token_source->Token()), "t2");
}

struct BrokenCase {
  std::string name;
  std::string text;
  std::string expected_suffix;  // after "<path>: "
};

TEST(KubeconfigTest, BrokenFilesNameFileAndField) {
  const std::string token_line = std::string("    token: ") + kSecretToken + "\n";
  const std::vector<BrokenCase> cases = {
      {"missing cluster", Kubeconfig("    server: https://a\n", token_line, "foo"),
       "contexts[0].context.cluster: cluster \"foo\" not found"},
      {"bad cert base64",
       Kubeconfig("    server: https://a\n",
                  "    client-certificate-data: '!!notbase64'\n"
                  "    client-key-data: aGk=\n" +
                      token_line),
       "users[0].user.client-certificate-data: invalid base64"},
      {"bad ca base64",
       Kubeconfig("    server: https://a\n    certificate-authority-data: a$b\n", token_line),
       "clusters[1].cluster.certificate-authority-data: invalid base64"},
      {"no server", Kubeconfig("    insecure-skip-tls-verify: true\n", token_line),
       "clusters[1].cluster.server: required"},
      {"bad scheme", Kubeconfig("    server: ftp://a\n", token_line),
       "clusters[1].cluster.server: expected an http:// or https:// URL, got \"ftp://a\""},
      {"bad bool",
       Kubeconfig("    server: https://a\n    insecure-skip-tls-verify: maybe\n", token_line),
       "clusters[1].cluster.insecure-skip-tls-verify: expected true or false"},
      {"exec",
       Kubeconfig("    server: https://a\n", "    exec:\n      command: aws\n" + token_line),
       "users[0].user.exec: exec credential plugins are not supported; use a token, tokenFile "
       "or client certificate"},
      {"auth-provider",
       Kubeconfig("    server: https://a\n", "    auth-provider:\n      name: gcp\n" + token_line),
       "users[0].user.auth-provider: auth-provider is not supported; use a token, tokenFile or "
       "client certificate"},
      {"missing ca file",
       Kubeconfig("    server: https://a\n    certificate-authority: /nonexistent/ca.crt\n",
                  token_line),
       "clusters[1].cluster.certificate-authority: /nonexistent/ca.crt: no such file"},
      {"key without cert", Kubeconfig("    server: https://a\n", "    client-key-data: aGk=\n"),
       "users[0].user: client-key is set without client-certificate"},
      {"unknown current context", "current-context: nope\nclusters: []\ncontexts: []\nusers: []\n",
       "current-context: context \"nope\" not found"},
      {"no current context", "clusters: []\n", "current-context: not set and no context was given"},
      {"not yaml", "clusters: [\n", ""},
  };
  TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto path = dir.Write("kc-" + std::to_string(&c - cases.data()), c.text);
    auto config = LoadKubeconfig(path);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    const std::string m = config.status().message();
    if (c.expected_suffix.empty()) {
      EXPECT_EQ(m.rfind(path.string() + ": not valid YAML", 0), 0u) << m;
    } else {
      EXPECT_EQ(m, path.string() + ": " + c.expected_suffix);
    }
    EXPECT_EQ(m.find(kSecretToken), std::string::npos) << m;
  }
}

TEST(KubeconfigTest, MissingFileIsNotFound) {
  auto config = LoadKubeconfig("/nonexistent/kubeconfig");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_NE(config.status().message().find("/nonexistent/kubeconfig"), std::string::npos);
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(InClusterConfigTest, ReadsServiceAccountAndRotatesToken) {
  TempDir root;
  const std::string sa = "var/run/secrets/kubernetes.io/serviceaccount/";
  root.Write(sa + "ca.crt", "cluster-ca");
  root.Write(sa + "token", "token-1\n");
  root.Write(sa + "namespace", "ops\n");
  FakeClock clock;
  auto config = InClusterConfig(
      MapEnv({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      root.path(), clock);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_pem, "cluster-ca");
  EXPECT_EQ(config->default_namespace, "ops");
  EXPECT_EQ(Value(config->token_source->Token()), "token-1");

  // The kubelet rotates the token; it is picked up once the minute has passed, not before.
  root.Write(sa + "token", "token-2\n");
  clock.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Value(config->token_source->Token()), "token-1");
  clock.Advance(std::chrono::seconds(31));
  EXPECT_EQ(Value(config->token_source->Token()), "token-2");

  // A rotation in progress (file briefly missing) keeps the last good token.
  fs::remove(root.path() / sa / "token");
  clock.Advance(std::chrono::seconds(61));
  auto token = config->token_source->Token();
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "token-2");
}

TEST(InClusterConfigTest, Ipv6HostAndErrors) {
  TempDir root;
  const std::string sa = "var/run/secrets/kubernetes.io/serviceaccount/";
  auto env = MapEnv({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}});
  auto missing_ca = InClusterConfig(env, root.path());
  ASSERT_FALSE(missing_ca.ok());
  EXPECT_NE(missing_ca.status().message().find("ca.crt"), std::string::npos);

  root.Write(sa + "ca.crt", "ca");
  auto missing_token = InClusterConfig(env, root.path());
  ASSERT_FALSE(missing_token.ok());
  EXPECT_EQ(missing_token.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(missing_token.status().message().find("token"), std::string::npos);

  root.Write(sa + "token", "t");
  auto ok = InClusterConfig(env, root.path());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->server, "https://[fd00::1]:6443");
  EXPECT_EQ(ok->default_namespace, "default");

  auto outside = InClusterConfig(MapEnv({}), root.path());
  EXPECT_EQ(outside.status().code(), StatusCode::kFailedPrecondition);
}

TEST(ResolveConfigTest, Order) {
  TempDir dir;
  const std::string sa = "var/run/secrets/kubernetes.io/serviceaccount/";
  dir.Write(sa + "ca.crt", "ca");
  dir.Write(sa + "token", "t");
  auto flag =
      dir.Write("flag-kc", Kubeconfig("    server: https://127.0.0.1:1\n", "    token: a\n"));
  auto env_kc =
      dir.Write("env-kc", Kubeconfig("    server: https://127.0.0.1:2\n", "    token: b\n"));
  dir.Write("home/.kube/config", Kubeconfig("    server: https://127.0.0.1:3\n", "    token: c\n"));
  const std::string home = (dir.path() / "home").string();
  std::map<std::string, std::string> vars = {{"KUBERNETES_SERVICE_HOST", "10.0.0.9"},
                                             {"KUBERNETES_SERVICE_PORT", "443"},
                                             {"KUBECONFIG", "/nonexistent:" + env_kc.string()},
                                             {"HOME", home}};

  auto r = ResolveConfig(flag.string(), MapEnv(vars), dir.path());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->server, "https://127.0.0.1:1");

  r = ResolveConfig("", MapEnv(vars), dir.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://10.0.0.9:443");

  vars.erase("KUBERNETES_SERVICE_HOST");
  r = ResolveConfig("", MapEnv(vars), dir.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://127.0.0.1:2");

  vars.erase("KUBECONFIG");
  r = ResolveConfig("", MapEnv(vars), dir.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->server, "https://127.0.0.1:3");

  vars["HOME"] = (dir.path() / "nohome").string();
  r = ResolveConfig("", MapEnv(vars), dir.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Base64Test, DecodesAndRejects) {
  EXPECT_EQ(Value(DecodeBase64("aGVsbG8=")), "hello");
  EXPECT_EQ(Value(DecodeBase64("aGVsbG8")), "hello");
  EXPECT_EQ(Value(DecodeBase64("aGVs\nbG8=")), "hello");
  EXPECT_EQ(Value(DecodeBase64("")), "");
  EXPECT_FALSE(DecodeBase64("aGVsbG8=x").ok());
  EXPECT_FALSE(DecodeBase64("a").ok());
  EXPECT_FALSE(DecodeBase64("a$==").ok());
  EXPECT_FALSE(DecodeBase64("aGVsbG8===").ok());
}

}  // namespace
}  // namespace waop::kube
