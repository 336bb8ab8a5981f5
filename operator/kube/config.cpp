#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace waop::kube {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kServiceAccountDir = "var/run/secrets/kubernetes.io/serviceaccount";

Result<std::string> ReadFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path.string() + ": cannot be read");
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path.string() + ": read failed");
  return out.str();
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  const auto begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(ws);
  return s.substr(begin, end - begin + 1);
}

// Reads a kubeconfig document; every error names the file and the YAML path of the field.
class KubeconfigParser {
 public:
  KubeconfigParser(fs::path path, const Clock& clock, bool read_files = true)
      : path_(std::move(path)), clock_(clock), read_files_(read_files) {}

  Result<ClusterConfig> Parse(std::string_view context_override) {
    auto text = ReadFile(path_);
    if (!text.ok()) return text.status();
    return ParseText(*text, context_override);
  }

  // yaml-cpp throws (bad syntax, too deep, a conversion or subscript on a node of another
  // kind); nothing of that leaves here.
  Result<ClusterConfig> ParseText(std::string_view text, std::string_view context_override) {
    try {
      return ParseDocument(text, context_override);
    } catch (const YAML::Exception& e) {
      // yaml-cpp messages carry line and column but not the document text.
      return Error("", std::string("not valid YAML: ") + e.what());
    } catch (const std::exception& e) {
      return Error("", std::string("cannot be read: ") + e.what());
    }
  }

 private:
  Result<ClusterConfig> ParseDocument(std::string_view text, std::string_view context_override) {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return Error("", "expected a mapping at the top level");

    std::string context_name(context_override);
    if (context_name.empty()) {
      auto current = OptionalString(root, "current-context", "current-context");
      if (!current.ok()) return current.status();
      if (current->empty()) return Error("current-context", "not set and no context was given");
      context_name = *current;
    }

    auto context = FindNamed(root, "contexts", "context", context_name);
    if (!context.ok()) {
      return Error(context_override.empty() ? "current-context" : "contexts",
                   "context \"" + context_name + "\" not found");
    }
    const std::string ctx_path = context->path + ".context";
    auto cluster_name = RequiredString(context->node, "cluster", ctx_path + ".cluster");
    if (!cluster_name.ok()) return cluster_name.status();
    auto user_name = OptionalString(context->node, "user", ctx_path + ".user");
    if (!user_name.ok()) return user_name.status();
    auto ns = OptionalString(context->node, "namespace", ctx_path + ".namespace");
    if (!ns.ok()) return ns.status();

    ClusterConfig config;
    config.default_namespace = ns->empty() ? "default" : *ns;
    config.source = "kubeconfig " + path_.string() + " (context " + context_name + ")";

    auto cluster = FindNamed(root, "clusters", "cluster", *cluster_name);
    if (!cluster.ok()) {
      return Error(ctx_path + ".cluster", "cluster \"" + *cluster_name + "\" not found");
    }
    WAOP_RETURN_IF_ERROR(ParseCluster(cluster->node, cluster->path + ".cluster", config));

    if (!user_name->empty()) {
      auto user = FindNamed(root, "users", "user", *user_name);
      if (!user.ok()) return Error(ctx_path + ".user", "user \"" + *user_name + "\" not found");
      WAOP_RETURN_IF_ERROR(ParseUser(user->node, user->path + ".user", config));
    }
    return config;
  }

  struct Found {
    YAML::Node node;   // the inner "cluster"/"user"/"context" mapping
    std::string path;  // e.g. "clusters[1]"
  };

  Status Error(const std::string& field, const std::string& what) const {
    if (field.empty()) return Status::InvalidArgument(path_.string() + ": " + what);
    return Status::InvalidArgument(path_.string() + ": " + field + ": " + what);
  }

  Result<std::string> OptionalString(const YAML::Node& map, const char* key,
                                     const std::string& field) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) return std::string();
    if (!node.IsScalar()) return Error(field, "expected a string");
    return node.Scalar();
  }

  Result<std::string> RequiredString(const YAML::Node& map, const char* key,
                                     const std::string& field) const {
    auto value = OptionalString(map, key, field);
    if (value.ok() && value->empty()) return Error(field, "required");
    return value;
  }

  Result<bool> OptionalBool(const YAML::Node& map, const char* key,
                            const std::string& field) const {
    const YAML::Node node = map[key];
    if (!node || node.IsNull()) return false;
    if (node.IsScalar()) {
      const std::string& v = node.Scalar();
      if (v == "true" || v == "True" || v == "TRUE") return true;
      if (v == "false" || v == "False" || v == "FALSE") return false;
    }
    return Error(field, "expected true or false");
  }

  // Finds the entry of `list_key` whose name is `name`; its body is under `body_key`.
  Result<Found> FindNamed(const YAML::Node& root, const char* list_key, const char* body_key,
                          const std::string& name) const {
    const YAML::Node list = root[list_key];
    if (!list || list.IsNull()) return Status::NotFound(list_key);
    if (!list.IsSequence()) return Error(list_key, "expected a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node entry = list[i];
      const std::string entry_path = std::string(list_key) + "[" + std::to_string(i) + "]";
      if (!entry.IsMap()) return Error(entry_path, "expected a mapping");
      auto entry_name = OptionalString(entry, "name", entry_path + ".name");
      if (!entry_name.ok()) return entry_name.status();
      if (*entry_name != name) continue;
      const YAML::Node body = entry[body_key];
      if (!body || !body.IsMap()) {
        return Error(entry_path + "." + body_key, "expected a mapping");
      }
      return Found{body, entry_path};
    }
    return Status::NotFound(name);
  }

  fs::path Resolve(const std::string& file) const {
    fs::path p(file);
    if (p.is_relative()) p = path_.parent_path() / p;
    return p;
  }

  // Reads `<key>-data` (base64) or `<key>` (a file path); at most one may be set.
  Result<std::string> DataOrFile(const YAML::Node& map, const std::string& key,
                                 const std::string& base) const {
    const std::string data_key = key + "-data";
    auto data = OptionalString(map, data_key.c_str(), base + "." + data_key);
    if (!data.ok()) return data.status();
    auto file = OptionalString(map, key.c_str(), base + "." + key);
    if (!file.ok()) return file.status();
    if (!data->empty() && !file->empty()) {
      return Error(base, key + " and " + data_key + " are both set; set one");
    }
    if (!data->empty()) {
      auto decoded = DecodeBase64(*data);
      if (!decoded.ok()) return Error(base + "." + data_key, "invalid base64");
      return decoded;
    }
    if (!file->empty()) {
      if (!read_files_) return Error(base + "." + key, "file references are not allowed here");
      auto contents = ReadFile(Resolve(*file));
      if (!contents.ok()) return Error(base + "." + key, contents.status().message());
      return contents;
    }
    return std::string();
  }

  Status ParseCluster(const YAML::Node& cluster, const std::string& base, ClusterConfig& config) {
    auto server = RequiredString(cluster, "server", base + ".server");
    if (!server.ok()) return server.status();
    std::string s = *server;
    if (s.rfind("https://", 0) != 0 && s.rfind("http://", 0) != 0) {
      return Error(base + ".server", "expected an http:// or https:// URL, got \"" + s + "\"");
    }
    while (!s.empty() && s.back() == '/') s.pop_back();
    config.server = s;
    auto ca = DataOrFile(cluster, "certificate-authority", base);
    if (!ca.ok()) return ca.status();
    config.ca_pem = *ca;
    auto insecure =
        OptionalBool(cluster, "insecure-skip-tls-verify", base + ".insecure-skip-tls-verify");
    if (!insecure.ok()) return insecure.status();
    config.insecure_skip_tls_verify = *insecure;
    if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
      // kubectl refuses this combination too: it is almost always a mistake.
      return Error(base + ".insecure-skip-tls-verify",
                   "cannot be true when a certificate authority is set");
    }
    auto server_name = OptionalString(cluster, "tls-server-name", base + ".tls-server-name");
    if (!server_name.ok()) return server_name.status();
    config.tls_server_name = *server_name;
    return Status::Ok();
  }

  Status ParseUser(const YAML::Node& user, const std::string& base, ClusterConfig& config) {
    if (user["exec"] && !user["exec"].IsNull()) {
      return Error(base + ".exec",
                   "exec credential plugins are not supported; use a token, tokenFile or "
                   "client certificate");
    }
    if (user["auth-provider"] && !user["auth-provider"].IsNull()) {
      return Error(base + ".auth-provider",
                   "auth-provider is not supported; use a token, tokenFile or client "
                   "certificate");
    }
    if (user["username"] || user["password"]) {
      return Error(base + ".username", "basic authentication is not supported");
    }
    auto cert = DataOrFile(user, "client-certificate", base);
    if (!cert.ok()) return cert.status();
    auto key = DataOrFile(user, "client-key", base);
    if (!key.ok()) return key.status();
    if (cert->empty() != key->empty()) {
      return Error(base, cert->empty() ? "client-key is set without client-certificate"
                                       : "client-certificate is set without client-key");
    }
    config.client_cert_pem = std::move(*cert);
    config.client_key_pem = std::move(*key);

    auto token = OptionalString(user, "token", base + ".token");
    if (!token.ok()) return token.status();
    auto token_file = OptionalString(user, "tokenFile", base + ".tokenFile");
    if (!token_file.ok()) return token_file.status();
    if (!token->empty()) {
      config.token_source = std::make_shared<StaticTokenSource>(Trim(*token));
    } else if (!token_file->empty()) {
      if (!read_files_) return Error(base + ".tokenFile", "file references are not allowed here");
      const fs::path p = Resolve(*token_file);
      std::error_code ec;
      if (!fs::exists(p, ec)) return Error(base + ".tokenFile", p.string() + ": no such file");
      config.token_source = std::make_shared<FileTokenSource>(p, clock_);
    }
    return Status::Ok();
  }

  const fs::path path_;
  const Clock& clock_;
  const bool read_files_;
};

}  // namespace

FileTokenSource::FileTokenSource(std::filesystem::path path, const Clock& clock,
                                 std::chrono::seconds refresh)
    : path_(std::move(path)), clock_(clock), refresh_(refresh) {}

Result<std::string> FileTokenSource::Token() {
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.Mono();
  if (read_at_ && now - *read_at_ < refresh_ && !token_.empty()) return token_;
  auto contents = ReadFile(path_);
  if (contents.ok() && !Trim(*contents).empty()) {
    token_ = Trim(*contents);
    read_at_ = now;
    return token_;
  }
  if (!token_.empty()) return token_;  // keep the last good token during a rotation
  if (!contents.ok()) {
    return Status::Unauthenticated("token file " + contents.status().message());
  }
  return Status::Unauthenticated("token file " + path_.string() + " is empty");
}

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<ClusterConfig> LoadKubeconfig(const std::filesystem::path& path,
                                     std::string_view context_override, const Clock& clock) {
  return KubeconfigParser(path, clock).Parse(context_override);
}

Result<ClusterConfig> ParseKubeconfigText(std::string_view text, const std::filesystem::path& path,
                                          std::string_view context_override, const Clock& clock,
                                          bool read_files) {
  return KubeconfigParser(path, clock, read_files).ParseText(text, context_override);
}

Result<ClusterConfig> InClusterConfig(const EnvLookup& env, const std::filesystem::path& root,
                                      const Clock& clock) {
  const auto host = env("KUBERNETES_SERVICE_HOST");
  const auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty()) {
    return Status::FailedPrecondition("not running in a cluster: KUBERNETES_SERVICE_HOST is unset");
  }
  if (!port || port->empty()) {
    return Status::FailedPrecondition("not running in a cluster: KUBERNETES_SERVICE_PORT is unset");
  }
  const fs::path dir = root / kServiceAccountDir;
  ClusterConfig config;
  // An IPv6 service host needs brackets in a URL.
  const std::string h = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
  config.server = "https://" + h + ":" + *port;
  auto ca = ReadFile(dir / "ca.crt");
  if (!ca.ok()) return ca.status().WithPrefix("in-cluster config");
  config.ca_pem = std::move(*ca);
  auto token_source = std::make_shared<FileTokenSource>(dir / "token", clock);
  auto token = token_source->Token();
  if (!token.ok()) return token.status().WithPrefix("in-cluster config");
  config.token_source = std::move(token_source);
  auto ns = ReadFile(dir / "namespace");
  config.default_namespace = ns.ok() && !Trim(*ns).empty() ? Trim(*ns) : "default";
  config.source = "in-cluster service account";
  return config;
}

Result<ClusterConfig> ResolveConfig(const std::string& flag_path, const EnvLookup& env,
                                    const std::filesystem::path& root, const Clock& clock) {
  if (!flag_path.empty()) return LoadKubeconfig(flag_path, "", clock);
  if (auto host = env("KUBERNETES_SERVICE_HOST"); host && !host->empty()) {
    return InClusterConfig(env, root, clock);
  }
  std::string tried = "no --kubeconfig, not in a cluster";
  if (auto kubeconfig = env("KUBECONFIG"); kubeconfig && !kubeconfig->empty()) {
    // kubectl merges every file of the list; we take the first one that exists, which is
    // where the current context lives in the usual single-file case.
    std::stringstream list(*kubeconfig);
    std::string item;
    while (std::getline(list, item, ':')) {
      std::error_code ec;
      if (!item.empty() && fs::exists(item, ec)) return LoadKubeconfig(item, "", clock);
    }
    tried += ", no file of $KUBECONFIG (" + *kubeconfig + ") exists";
  }
  if (auto home = env("HOME"); home && !home->empty()) {
    const fs::path p = fs::path(*home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(p, ec)) return LoadKubeconfig(p, "", clock);
    tried += ", no " + p.string();
  }
  return Status::NotFound("no Kubernetes configuration found: " + tried);
}

Result<std::string> DecodeBase64(std::string_view in) {
  static constexpr std::array<int8_t, 256> kTable = [] {
    std::array<int8_t, 256> t{};
    for (auto& v : t) v = -1;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  std::size_t symbols = 0;
  std::size_t padding = 0;
  for (char c : in) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return Status::InvalidArgument("base64: data after padding");
    const int v = kTable[static_cast<unsigned char>(c)];
    if (v < 0) return Status::InvalidArgument("base64: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (symbols % 4 == 1) return Status::InvalidArgument("base64: truncated input");
  if (padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    return Status::InvalidArgument("base64: bad padding");
  }
  return out;
}

}  // namespace waop::kube
