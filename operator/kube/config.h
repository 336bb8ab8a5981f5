// Where the operator's Kubernetes API server is and how to authenticate to it: kubeconfig
// files, the in-cluster service account, and the resolution order between them (the same as
// controller-runtime: --kubeconfig flag, in-cluster, $KUBECONFIG, ~/.kube/config).
//
// Thread-safety: ClusterConfig is a value type; its TokenSource is shared and thread-safe.
// Secrets (tokens, private keys) are held here but never put into a Status message or a log.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace waop::kube {

// Supplies the bearer token for each request. Implementations are thread-safe.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The current token. Fails (Unauthenticated) when the token cannot be read; the message
  // names the file, never the token.
  virtual Result<std::string> Token() = 0;
};

// A fixed token from a kubeconfig `token` field.
class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  Result<std::string> Token() override { return token_; }

 private:
  const std::string token_;
};

// A token read from a file and re-read when it is older than `refresh` (client-go re-reads
// bound service-account tokens, which the kubelet rotates, at most once a minute). When a
// re-read fails the last good token is kept, so a kubelet swap in progress is not an outage.
class FileTokenSource final : public TokenSource {
 public:
  FileTokenSource(std::filesystem::path path, const Clock& clock,
                  std::chrono::seconds refresh = std::chrono::seconds(60));
  Result<std::string> Token() override;

 private:
  const std::filesystem::path path_;
  const Clock& clock_;
  const std::chrono::seconds refresh_;
  std::mutex mu_;
  std::string token_;                // guarded by mu_
  std::optional<MonoTime> read_at_;  // guarded by mu_
};

struct ClusterConfig {
  std::string server;  // "https://host:port", no trailing slash
  std::string ca_pem;  // trusted CA bundle (PEM); empty = the system's roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // name to verify the server certificate against, if not host
  std::string client_cert_pem;
  std::string client_key_pem;                 // secret
  std::shared_ptr<TokenSource> token_source;  // null = no bearer token
  std::string default_namespace;              // the context's namespace, or "default"
  std::string source;  // where this came from, for logs: "kubeconfig /x (context y)"
  // The User-Agent sent on every request; "" = UserAgent() (kube/http.h). The operator adds
  // its leader-election identity: "whatsapp-operator/<version> (<identity>)".
  std::string user_agent;
};

// Reads environment variables; tests pass a map-backed one.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment.
EnvLookup ProcessEnv();

// Parses the kubeconfig at `path` and returns the current context's cluster and user (or
// `context_override` when not empty). Relative file paths in it are resolved against the
// file's directory, as kubectl does. Fails with InvalidArgument naming the file and field,
// e.g. `/tmp/kc: contexts[0].context.cluster: cluster "foo" not found`; exec and
// auth-provider users fail as not supported; NotFound when the file does not exist.
Result<ClusterConfig> LoadKubeconfig(const std::filesystem::path& path,
                                     std::string_view context_override = "",
                                     const Clock& clock = RealClock::Get());

// The same for a kubeconfig already read: `path` names it in messages and anchors relative
// file paths. Never throws, whatever `text` holds (yaml-cpp's exceptions, including its
// nesting limit, become InvalidArgument). With `read_files` false, a field naming a file
// (certificate-authority, client-certificate, client-key, tokenFile) is InvalidArgument instead
// of being read (fuzzing).
Result<ClusterConfig> ParseKubeconfigText(std::string_view text, const std::filesystem::path& path,
                                          std::string_view context_override = "",
                                          const Clock& clock = RealClock::Get(),
                                          bool read_files = true);

// The in-cluster service account: KUBERNETES_SERVICE_HOST / _PORT from `env`, and the token,
// ca.crt and namespace under `root`/var/run/secrets/kubernetes.io/serviceaccount/. The
// token is re-read as it rotates. FailedPrecondition when not running in a cluster (no
// KUBERNETES_SERVICE_HOST); InvalidArgument / NotFound naming the file that is missing.
Result<ClusterConfig> InClusterConfig(const EnvLookup& env, const std::filesystem::path& root = "/",
                                      const Clock& clock = RealClock::Get());

// The operator's order: `flag_path` (--kubeconfig) when set, else in-cluster when
// KUBERNETES_SERVICE_HOST is set, else the first file of $KUBECONFIG, else ~/.kube/config.
// Fails with the error of the source it chose, or NotFound listing what it tried.
Result<ClusterConfig> ResolveConfig(const std::string& flag_path,
                                    const EnvLookup& env = ProcessEnv(),
                                    const std::filesystem::path& root = "/",
                                    const Clock& clock = RealClock::Get());

// Strict standard base64 (RFC 4648, padding optional, no whitespace other than newlines).
// InvalidArgument when the input is not base64.
Result<std::string> DecodeBase64(std::string_view in);

}  // namespace waop::kube
