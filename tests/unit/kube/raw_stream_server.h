// A one-connection-at-a-time HTTP/1.1 server on a raw socket for watch tests: it answers a
// request with `Transfer-Encoding: chunked` headers and then sends the chunks the test
// writes, when it writes them, so tests control exactly how the stream is split and when it
// ends or breaks. (cpprest's listener buffers streamed bodies, which hides those cases.)
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace waop::kube::testing {

class RawStreamServer {
 public:
  RawStreamServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }

  ~RawStreamServer() {
    CloseConnection();
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Accepts the next connection and reads its request head (returns the request line), then
  // sends the response head: 200 chunked, or `status` with `body` (then closes).
  std::string Accept(int status = 200, const std::string& body = "") {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) return "";
    conn_fd_ = ::accept(listen_fd_, nullptr, nullptr);
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      pollfd q{conn_fd_, POLLIN, 0};
      if (::poll(&q, 1, 20000) <= 0) return "";
      const ssize_t n = ::recv(conn_fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "";
      head.append(buf, static_cast<std::size_t>(n));
    }
    if (status == 200) {
      Send(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
          "chunked\r\n\r\n");
    } else {
      Send("HTTP/1.1 " + std::to_string(status) + " Error\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body);
      CloseConnection();
    }
    return head.substr(0, head.find("\r\n"));
  }

  // Sends one chunk.
  void Write(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
    Send(std::string(size) + data + "\r\n");
  }
  // Ends the body cleanly (the watch's timeout).
  void End() {
    Send("0\r\n\r\n");
    CloseConnection();
  }
  // Drops the connection mid-stream.
  void CloseConnection() {
    if (conn_fd_ >= 0) {
      ::shutdown(conn_fd_, SHUT_RDWR);
      ::close(conn_fd_);
      conn_fd_ = -1;
    }
  }

 private:
  void Send(const std::string& s) {
    std::size_t off = 0;
    while (conn_fd_ >= 0 && off < s.size()) {
      const ssize_t n = ::send(conn_fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  int listen_fd_ = -1;
  int conn_fd_ = -1;
  int port_ = 0;
};

}  // namespace waop::kube::testing
