// Test harness for end-to-end tests: child processes (kube-devserver, the operator), commands
// (the real kubectl) with captured output and timeouts, temporary directories, free ports and
// polling waits. Everything a test starts is stopped by the destructor of what started it.
//
// Thread-safety: each object is used by one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace waop::testing {

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A child process whose stdout and stderr go to files. The destructor sends SIGTERM, waits up
// to 5 s, then SIGKILLs: a test never leaves a server running.
class Process {
 public:
  Process(std::string name, std::vector<std::string> argv, const std::filesystem::path& log_dir,
          std::map<std::string, std::string> extra_env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `sig`; with SIGTERM/SIGINT, waits up to `timeout` for exit. Returns the exit code,
  // 128+signal when killed by a signal, or nullopt if still running.
  std::optional<int> Signal(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;
  const std::string& name() const { return name_; }
  // Peak resident set size (VmHWM) in KiB while running, 0 if unknown.
  long PeakRssKib() const;
  // User + system CPU seconds used so far (0 when it cannot be read).
  double CpuSeconds() const;

 private:
  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path out_, err_;
};

struct CommandResult {
  int exit_code = -1;  // 128+signal if killed; -1 if it could not start
  std::string out;
  std::string err;
  bool timed_out = false;
  std::string Both() const { return out + err; }
};

// Runs argv to completion (killed after `timeout`), with optional stdin text.
CommandResult Run(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls `pred` every `interval` until it returns true or `timeout` passes. Returns pred's last
// value.
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(30),
             std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read, close).
int FreePort();

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// Locations baked in at build time (see CMakeLists.txt).
std::string SourceDir();
std::string BinaryDir();

}  // namespace waop::testing
