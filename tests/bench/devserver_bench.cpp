// kube-devserver write throughput: one watch open on ConfigMaps, 4 keep-alive clients doing
// small ConfigMap creates then merge-patch updates for a few seconds. Prints writes/s and
// p50/p99 latency. Exits non-zero only when something is wrong (a failed write, or the watch
// not seeing every write), never on timing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "devserver_test_util.h"

namespace {

using Clock = std::chrono::steady_clock;

// One keep-alive HTTP/1.1 connection; responses framed by Content-Length.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Returns the status code, 0 on a connection error.
  int Do(const std::string& method, const std::string& path, const std::string& ct,
         const std::string& body) {
    if (fd_ < 0) return 0;
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + ct +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t off = 0;
    while (off < req.size()) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return 0;
      off += static_cast<size_t>(n);
    }
    char tmp[16384];
    while (true) {
      size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        int status = std::atoi(buf_.c_str() + buf_.find(' ') + 1);
        std::string head = buf_.substr(0, end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t cl = head.find("content-length:");
        size_t len =
            cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        if (buf_.size() >= end + 4 + len) {
          buf_.erase(0, end + 4 + len);
          return status;
        }
      }
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) return 0;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

}  // namespace

int main() {
  devserver::testing::Devserver ds({"--watch-history", "200000"});
  if (!ds.ok()) {
    std::fprintf(stderr, "devserver did not start\n");
    return 1;
  }
  const int kClients = 4;
  const auto kDuration = std::chrono::seconds(4);
  std::atomic<long> watch_events{0};
  std::atomic<bool> stop_watch{false};
  devserver::testing::WatchStream watch(
      ds.port(), "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1");
  std::thread watcher([&] {
    while (!stop_watch) {
      auto e = watch.Next(std::chrono::milliseconds(200));
      if (e) ++watch_events;
    }
  });

  std::vector<std::vector<double>> latencies(kClients);
  std::atomic<long> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Conn conn(ds.port());
      int i = 0;
      while (Clock::now() - start < kDuration) {
        std::string name = "bench-" + std::to_string(c) + "-" + std::to_string(i % 50);
        auto t0 = Clock::now();
        int status;
        if (i < 50) {
          status = conn.Do("POST", "/api/v1/namespaces/default/configmaps", "application/json",
                           R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
                               R"(","labels":{"app":"bench"}},"data":{"i":"0"}})");
          if (status != 201) ++failures;
        } else {
          status = conn.Do("PATCH", "/api/v1/namespaces/default/configmaps/" + name,
                           "application/merge-patch+json",
                           R"({"data":{"i":")" + std::to_string(i) + R"("}})");
          if (status != 200) ++failures;
        }
        latencies[c].push_back(
            std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        ++i;
      }
    });
  }
  for (auto& t : clients) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  long writes = static_cast<long>(all.size());
  // Every write is one watch event; wait for the watch to catch up.
  for (int i = 0; i < 100 && watch_events < writes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop_watch = true;
  watcher.join();
  auto pct = [&](double p) {
    return all.empty() ? 0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  std::printf("devserver_bench: %d keep-alive clients, 1 watch, %.1f s\n", kClients, secs);
  std::printf("  writes: %ld (%.0f writes/s), failures: %ld\n", writes, writes / secs,
              failures.load());
  std::printf("  latency: p50 %.0f us, p99 %.0f us, max %.0f us\n", pct(0.5), pct(0.99),
              all.empty() ? 0 : all.back());
  std::printf("  watch events received: %ld\n", watch_events.load());
  if (failures > 0 || watch_events < writes) {
    std::fprintf(stderr, "devserver_bench: wrong result (failures or missing watch events)\n");
    return 1;
  }
  return 0;
}
