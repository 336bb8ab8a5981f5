// The master credentials read from a directory: the Secret mounted as a volume
// (--credentials-dir, SPEC section 4). kubelet lays a Secret volume out as
//
//   dir/..2026_11_27_10_00_00.123/WHATSAPP_ACCESS_TOKEN   the files of one version
//   dir/..data -> ..2026_11_27_10_00_00.123              the current version
//   dir/WHATSAPP_ACCESS_TOKEN -> ..data/WHATSAPP_ACCESS_TOKEN
//
// and rotates it by writing a new timestamped directory, pointing a new `..data_tmp` symlink at
// it, renaming that over `..data` (atomic), then removing the old directory. A read resolves
// `..data` once and reads every key from the directory it names, so a snapshot never mixes two
// versions; when the old directory disappears under a read (the rotation finished meanwhile),
// the read starts over. Without `..data` (a plain directory, e.g. in tests or a hostPath), the
// files are read directly.
//
// Each of the six keys is one file; its content minus one trailing newline ("\n" or "\r\n") is
// the value; an empty or unreadable file counts as missing; other files are ignored.
//
// Reload() reads the directory again and says whether anything changed. This class has no
// thread of its own: the owner polls it (app/ wires a manager::PeriodicRunnable that calls
// Reload() every --credentials-poll-interval, 10 s by default, on every replica, and tells the
// credentials publisher when it returns true).
//
// Logging: one line per change of state, never per poll: a warning "WhatsApp master account not
// configured" naming the missing keys (and the directory) when the Graph API keys are missing,
// "WhatsApp master account configured" when they are there again (or at the first read), and
// "WhatsApp master credentials changed" naming the keys whose value changed on a rotation.
// Values are never logged; the token, the app secret and the webhook verify token are
// registered with logging::RegisterSecret as soon as they are read, so a stray line redacts
// them.
//
// Thread-safety: Current() and Configured() are thread-safe and never block on a read of the
// directory for long (a mutex guards only the pointer swap). Reload() may be called from any
// thread; concurrent calls are serialised.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "meta/credentials.h"

namespace waop::meta {

// The six key names, in the order of SPEC section 4.
const std::vector<std::string_view>& CredentialKeys();

// Reads the credentials in `dir` once (see above). A directory that does not exist, or holds none
// of the keys, gives empty values. Never fails: unreadable keys count as missing.
MasterCredentials ReadCredentialsDir(const std::filesystem::path& dir);

class DirCredentialsSource final : public CredentialsSource {
 public:
  // Reads nothing yet: call Reload() once before use (Current() is empty until then).
  explicit DirCredentialsSource(std::filesystem::path dir);
  DirCredentialsSource(const DirCredentialsSource&) = delete;
  DirCredentialsSource& operator=(const DirCredentialsSource&) = delete;

  std::shared_ptr<const MasterCredentials> Current() const override;
  // Current()->Configured().
  bool Configured() const;
  // Reads the directory again; true when the snapshot differs from the previous one (the first
  // call returns true when anything was read). Logs on a change of state (see above).
  bool Reload();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  const std::filesystem::path dir_;
  mutable std::mutex mu_;
  std::shared_ptr<const MasterCredentials> current_;  // guarded by mu_
  std::mutex reload_mu_;                              // serialises Reload()
  bool loaded_once_ = false;                          // guarded by reload_mu_
  // The last logged state: configured or not, and which keys were missing.
  bool logged_configured_ = false;           // guarded by reload_mu_
  std::vector<std::string> logged_missing_;  // guarded by reload_mu_
};

}  // namespace waop::meta
