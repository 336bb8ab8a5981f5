// The cpprestsdk side of graph-devserver: an http_listener on 127.0.0.1 that turns each request
// into a devserver::HttpRequest for GraphServer, and an http_client that delivers webhooks.
// cpprest exceptions stop here and become Status values or 500s.
//
// Thread-safety: Start/Stop from one thread; requests are served on cpprest's thread pool.
// Ownership: does not own the GraphServer, which must outlive Stop().
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "graph_server.h"

namespace graphdev {

class GraphHttpServer {
 public:
  // Listens on host:port (0 = pick a free port) and serves `server`.
  static waop::Result<std::unique_ptr<GraphHttpServer>> Start(GraphServer* server,
                                                              const std::string& host, int port);
  ~GraphHttpServer();
  GraphHttpServer(const GraphHttpServer&) = delete;
  GraphHttpServer& operator=(const GraphHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return url_; }  // "http://127.0.0.1:1234"
  void Stop();

 private:
  struct Impl;
  GraphHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string url_;
};

// Delivers webhooks with cpprest's http_client (10 s timeout).
WebhookSender CpprestWebhookSender();

}  // namespace graphdev
