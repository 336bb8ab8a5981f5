#include "meta/credentials_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <utility>

#include "common/logging.h"

namespace waop::meta {
namespace {

namespace fs = std::filesystem;
using logging::Log;
namespace lvl = spdlog::level;

constexpr char kDataLink[] = "..data";
// Secret volume files are small; anything larger is not a credential and is not read whole.
constexpr std::size_t kMaxValueBytes = 64 * 1024;

enum class ReadOutcome { kValue, kMissing, kVanished };

// Reads `path` following symlinks. kMissing for an absent, empty, unreadable or oversized file;
// kVanished when the file is absent because its directory is gone (a rotation removed it).
ReadOutcome ReadValue(const fs::path& path, std::string* value) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      std::error_code ec;
      return fs::is_directory(path.parent_path(), ec) ? ReadOutcome::kMissing
                                                      : ReadOutcome::kVanished;
    }
    return ReadOutcome::kMissing;
  }
  std::string content;
  char buf[4096];
  bool failed = false;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed = true;
      break;
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    if (content.size() > kMaxValueBytes) {
      failed = true;
      break;
    }
  }
  ::close(fd);
  if (failed) return ReadOutcome::kMissing;
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) return ReadOutcome::kMissing;
  *value = std::move(content);
  return ReadOutcome::kValue;
}

// The target `..data` names, or nullopt when it is not a symlink (or absent).
std::optional<std::string> DataTarget(const fs::path& dir) {
  std::error_code ec;
  fs::path target = fs::read_symlink(dir / kDataLink, ec);
  if (ec) return std::nullopt;
  return target.string();
}

// One attempt at a consistent read; nullopt when the version read vanished under it.
std::optional<MasterCredentials> ReadOnce(const fs::path& dir) {
  MasterCredentials out;
  const std::optional<std::string> target = DataTarget(dir);
  // kubelet's target is relative ("..2026_..."); an absolute one is honoured as well.
  const fs::path base =
      target ? (fs::path(*target).is_absolute() ? fs::path(*target) : dir / *target) : dir;
  for (std::string_view key : CredentialKeys()) {
    std::string value;
    switch (ReadValue(base / key, &value)) {
      case ReadOutcome::kValue:
        out.values.emplace(std::string(key), std::move(value));
        break;
      case ReadOutcome::kMissing:
        break;
      case ReadOutcome::kVanished:
        if (target) return std::nullopt;  // rotated away mid-read: start over
        break;                            // the directory itself does not exist
    }
  }
  // A swap between resolving `..data` and reading the files leaves the old version complete
  // (kubelet removes it only after the swap) unless it was removed meanwhile, caught above; a
  // changed link means a newer version exists, so read that one for freshness.
  if (target && DataTarget(dir) != target) return std::nullopt;
  return out;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ",";
    out += n;
  }
  return out;
}

}  // namespace

const std::vector<std::string_view>& CredentialKeys() {
  static const std::vector<std::string_view> kKeys = {
      kAccessTokenKey,        kBusinessAccountIdKey, kPhoneNumberIdKey,     kApiVersionKey,
      kWebhookVerifyTokenKey, kAppSecretKey,         kTenantServiceTokenKey};
  return kKeys;
}

MasterCredentials ReadCredentialsDir(const fs::path& dir) {
  // A rotation takes kubelet microseconds; a few attempts always land between two.
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (auto read = ReadOnce(dir)) return std::move(*read);
  }
  // Rotating non-stop: a last attempt without the freshness check is still one version.
  MasterCredentials last;
  if (auto target = DataTarget(dir)) {
    const fs::path base = dir / *target;
    for (std::string_view key : CredentialKeys()) {
      std::string value;
      if (ReadValue(base / key, &value) == ReadOutcome::kValue) {
        last.values.emplace(std::string(key), std::move(value));
      }
    }
  }
  return last;
}

DirCredentialsSource::DirCredentialsSource(fs::path dir)
    : dir_(std::move(dir)), current_(std::make_shared<const MasterCredentials>()) {}

std::shared_ptr<const MasterCredentials> DirCredentialsSource::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool DirCredentialsSource::Configured() const { return Current()->Configured(); }

bool DirCredentialsSource::Reload() {
  std::lock_guard reload_lock(reload_mu_);
  MasterCredentials read = ReadCredentialsDir(dir_);
  // Registered before anything else can see (and perhaps log) them.
  for (std::string_view key :
       {kAccessTokenKey, kAppSecretKey, kWebhookVerifyTokenKey, kTenantServiceTokenKey}) {
    if (std::string v = read.Get(key); !v.empty()) logging::RegisterSecret(std::move(v));
  }
  std::shared_ptr<const MasterCredentials> previous = Current();
  const bool changed = *previous != read;
  std::vector<std::string> changed_keys;
  if (changed) {
    for (std::string_view key : CredentialKeys()) {
      if (previous->Get(key) != read.Get(key)) changed_keys.emplace_back(key);
    }
  }
  const std::vector<std::string> missing = read.MissingForGraph();
  const bool configured = missing.empty();
  auto next = std::make_shared<const MasterCredentials>(std::move(read));
  {
    std::lock_guard lock(mu_);
    current_ = next;
  }

  const bool first = !loaded_once_;
  loaded_once_ = true;
  if (first || configured != logged_configured_ || missing != logged_missing_) {
    if (configured) {
      Log(lvl::info, "WhatsApp master account configured",
          {{"credentialsDir", dir_.string()},
           {"publishedHash", next->PublishedHash().substr(0, 12)}});
    } else {
      Log(lvl::warn, "WhatsApp master account not configured",
          {{"credentialsDir", dir_.string()},
           {"missing", Join(missing)},
           {"hint",
            "mount the credentials Secret at --credentials-dir; assignments still bind, "
            "quality stays UNKNOWN"}});
    }
    logged_configured_ = configured;
    logged_missing_ = missing;
  } else if (changed) {
    Log(lvl::info, "WhatsApp master credentials changed",
        {{"credentialsDir", dir_.string()},
         {"keys", Join(changed_keys)},
         {"publishedHash", next->PublishedHash().substr(0, 12)}});
  }
  return changed;
}

}  // namespace waop::meta
