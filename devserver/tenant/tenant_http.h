// The cpprestsdk side of tenant-devserver: an http_listener that turns each request into a
// devserver::HttpRequest for TenantServer (the same adapter as graph-devserver's).
// cpprest exceptions stop here and become Status values or 500s.
//
// Thread-safety: Start/Stop from one thread; requests are served on cpprest's thread pool.
// Ownership: does not own the TenantServer, which must outlive Stop().
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "tenant_server.h"

namespace tenantdev {

class TenantHttpServer {
 public:
  // Listens on host:port (0 = pick a free port) and serves `server`.
  static waop::Result<std::unique_ptr<TenantHttpServer>> Start(TenantServer* server,
                                                               const std::string& host, int port);
  ~TenantHttpServer();
  TenantHttpServer(const TenantHttpServer&) = delete;
  TenantHttpServer& operator=(const TenantHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return url_; }  // "http://127.0.0.1:1234"
  void Stop();

 private:
  struct Impl;
  TenantHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string url_;
};

}  // namespace tenantdev
