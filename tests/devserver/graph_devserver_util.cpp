#include "graph_devserver_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace devserver::testing {

using nlohmann::json;

std::string GraphDevserverBinary() { return WAOP_GRAPH_DEVSERVER_BINARY; }

std::string GraphData(int numbers, int max_page_size) {
  std::string y =
      std::string("token: \"") + kGraphToken + "\"\nappSecret: \"" + kGraphAppSecret + "\"\n";
  if (max_page_size > 0) y += "maxPageSize: " + std::to_string(max_page_size) + "\n";
  y += std::string("wabas:\n  - id: \"") + kGraphWaba + "\"\n    phoneNumbers:\n";
  if (numbers == 0) y += "      []\n";
  for (int i = 1; i <= numbers; ++i) {
    std::string id = std::to_string(100000000000000LL + i);
    std::string display = i == 1 ? "+34 612 345 678" : "+34 600 000 " + std::to_string(1000 + i);
    y += "      - {id: \"" + id + "\", displayPhoneNumber: \"" + display +
         "\", verifiedName: \"Bakery " + std::to_string(i) +
         "\", qualityRating: " + (i % 7 == 0 ? "YELLOW" : "GREEN") +
         ", messagingLimitTier: TIER_1K}\n";
  }
  y += "    templates:\n      - {name: po_notification, language: es, status: APPROVED}\n";
  return y;
}

GraphDevserver::GraphDevserver(const std::string& data_yaml, std::vector<std::string> extra_args) {
  waop::testing::WriteFile(dir_.File("data.yaml"), data_yaml);
  std::vector<std::string> argv = {
      GraphDevserverBinary(), "--data",      dir_.File("data.yaml"), "--listen",
      "127.0.0.1:0",          "--port-file", dir_.File("port")};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<waop::testing::Process>("graph-devserver", argv, dir_.path());
  const std::string port_file = dir_.File("port");
  waop::testing::WaitFor(
      [&] {
        std::string text = waop::testing::ReadFile(port_file);
        if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
        return port_ > 0 || !proc_->Running();
      },
      std::chrono::seconds(30));
}

GraphDevserver::~GraphDevserver() = default;

HttpResult GraphDevserver::Get(const std::string& path_and_query, const std::string& token) {
  std::map<std::string, std::string> h;
  if (!token.empty()) h["Authorization"] = "Bearer " + token;
  return Http(port_, "GET", path_and_query, "", h);
}

HttpResult GraphDevserver::Control(const std::string& method, const std::string& path,
                                   const json& body) {
  return Http(port_, method, path, body.is_null() ? "" : body.dump());
}

void GraphDevserver::Generate(int count, long long first_id) {
  Control("POST", "/_control/phone-numbers/generate",
          {{"wabaId", kGraphWaba}, {"count", count}, {"firstId", first_id}});
}

long long GraphDevserver::RequestTotal() {
  json j = Control("GET", "/_control/requests").Json();
  return j.is_object() && j.contains("total") ? j["total"].get<long long>() : -1;
}

WebhookReceiver::WebhookReceiver(int status) : status_(status) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 16) != 0) {
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

WebhookReceiver::~WebhookReceiver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void WebhookReceiver::Serve() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    std::string buf;
    ReceivedRequest req;
    size_t head_end = std::string::npos;
    size_t want = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd cp{c, POLLIN, 0};
      if (::poll(&cp, 1, 100) <= 0) continue;
      char tmp[8192];
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      buf.append(tmp, static_cast<size_t>(n));
      if (head_end == std::string::npos) {
        head_end = buf.find("\r\n\r\n");
        if (head_end == std::string::npos) continue;
        std::string head = buf.substr(0, head_end);
        size_t line_end = head.find("\r\n");
        std::string first = head.substr(0, line_end);
        size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
        req.method = first.substr(0, sp1);
        req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
          size_t e = head.find("\r\n", pos);
          if (e == std::string::npos) e = head.size();
          std::string line = head.substr(pos, e - pos);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string k = line.substr(0, colon);
            std::transform(k.begin(), k.end(), k.begin(), ::tolower);
            std::string v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.erase(0, 1);
            req.headers[k] = v;
          }
          pos = e + 2;
        }
        want = static_cast<size_t>(std::atol(req.headers["content-length"].c_str()));
      }
      if (buf.size() - (head_end + 4) >= want) break;
    }
    if (head_end != std::string::npos) req.body = buf.substr(head_end + 4, want);
    std::string resp = "HTTP/1.1 " + std::to_string(status_) +
                       " X\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                       "Connection: close\r\n\r\n{}";
    (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(c);
    {
      std::lock_guard lock(mu_);
      got_.push_back(std::move(req));
    }
    cv_.notify_all();
  }
}

std::optional<ReceivedRequest> WebhookReceiver::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !got_.empty(); })) return std::nullopt;
  ReceivedRequest r = std::move(got_.front());
  got_.pop_front();
  return r;
}

}  // namespace devserver::testing
