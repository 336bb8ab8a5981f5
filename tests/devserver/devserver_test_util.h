// Test support for kube-devserver tests: starts the binary as a child process on a free port
// (read back from --port-file), a minimal blocking HTTP/1.1 client over POSIX sockets, and a
// watch stream reader that returns one JSON line at a time with a timeout.
//
// Thread-safety: each object is used by one test thread.
// Ownership: Devserver owns the child process and stops it (SIGTERM) on destruction.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace devserver::testing {

struct HttpResult {
  int status = 0;                              // 0 when the connection failed
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request on a fresh connection to 127.0.0.1:port.
HttpResult Http(int port, const std::string& method, const std::string& path,
                const std::string& body = "",
                const std::map<std::string, std::string>& headers = {});

class Devserver {
 public:
  // Starts kube-devserver with `extra_args`; waits (up to 30 s) until it listens.
  explicit Devserver(std::vector<std::string> extra_args = {});
  ~Devserver();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string kubeconfig() const { return dir_.File("kubeconfig"); }
  std::string dir() const { return dir_.path().string(); }
  waop::testing::Process& process() { return *proc_; }

  HttpResult Get(const std::string& path, const std::map<std::string, std::string>& h = {});
  HttpResult Post(const std::string& path, const nlohmann::json& body);
  HttpResult Put(const std::string& path, const nlohmann::json& body);
  HttpResult Delete(const std::string& path, const nlohmann::json& options = nullptr);
  HttpResult Patch(const std::string& path, const std::string& content_type,
                   const nlohmann::json& patch);

 private:
  waop::testing::TempDir dir_;
  std::unique_ptr<waop::testing::Process> proc_;
  int port_ = 0;
};

// A streamed GET (watch). NextLine returns the next complete line, or nullopt when the stream
// ended or nothing arrived within `timeout`.
class WatchStream {
 public:
  WatchStream(int port, const std::string& path,
              const std::map<std::string, std::string>& headers = {});
  ~WatchStream();
  int status() const { return status_; }
  std::optional<nlohmann::json> Next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool Ended() const { return ended_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  int status_ = 0;
  bool ended_ = false;
  bool chunked_ = false;
  std::string raw_;    // undecoded bytes after the headers
  std::string lines_;  // decoded body bytes not yet returned
};

// The path of the built binary and of the repository.
std::string DevserverBinary();
std::string RepoDir();

}  // namespace devserver::testing
