// Transport-neutral request and response types for kube-devserver. The API logic (ApiServer)
// speaks only these, so it stays independent of cpprestsdk; http_adapter.cpp converts.
//
// Thread-safety: plain value types, except StreamSink, whose implementations are thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace devserver {

// A streamed response body (watch). Write() appends bytes and returns false once the client is
// gone or the stream was closed; Close() ends the chunked body. Implementations are thread-safe.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool Write(std::string_view bytes) = 0;
  virtual void Close() = 0;
  // Bytes written but not yet taken by the transport; a client that stops reading makes this
  // grow, which is how we notice it is gone.
  virtual size_t Backlog() const = 0;
};

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // decoded path, no query
  std::map<std::string, std::string> query;    // decoded; last value wins
  std::map<std::string, std::string> headers;  // keys lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Query(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
  bool HasQuery(const std::string& name) const { return query.count(name) > 0; }
};

// A response is either a complete body or, when `stream` is set by the handler through
// StartStream, a streamed one fed later from other threads.
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  std::string body;
  // Set for streamed responses: the adapter creates the sink and hands it to this callback
  // after the headers have been sent.
  std::function<void(std::shared_ptr<StreamSink>)> on_stream;
};

}  // namespace devserver
