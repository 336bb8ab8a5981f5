#include "devserver_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace devserver::testing {

using nlohmann::json;

namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string Request(const std::string& method, const std::string& path, const std::string& body,
                    const std::map<std::string, std::string>& headers, bool close) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_ct = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (strcasecmp(k.c_str(), "content-type") == 0) has_ct = true;
  }
  if (!body.empty() && !has_ct) req += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (close) req += "Connection: close\r\n";
  req += "\r\n" + body;
  return req;
}

// Parses "HTTP/1.1 200 OK\r\nA: b\r\n\r\n"; returns the header block length or 0.
size_t ParseHead(const std::string& buf, int* status, std::map<std::string, std::string>* h) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::string head = buf.substr(0, end);
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  size_t sp = first.find(' ');
  *status = sp == std::string::npos ? 0 : std::atoi(first.c_str() + sp + 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string k = line.substr(0, colon);
      for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v[0] == ' ') v.erase(0, 1);
      (*h)[k] = (*h).count(k) ? (*h)[k] + ", " + v : v;
    }
    pos = e + 2;
  }
  return end + 4;
}

// Decodes as much chunked data as is complete. Returns false at the terminating chunk.
bool Dechunk(std::string* raw, std::string* out) {
  while (true) {
    size_t eol = raw->find("\r\n");
    if (eol == std::string::npos) return true;
    size_t len = std::strtoul(raw->substr(0, eol).c_str(), nullptr, 16);
    if (len == 0) return false;
    if (raw->size() < eol + 2 + len + 2) return true;
    out->append(*raw, eol + 2, len);
    raw->erase(0, eol + 2 + len + 2);
  }
}

}  // namespace

HttpResult Http(int port, const std::string& method, const std::string& path,
                const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult r;
  int fd = Connect(port);
  if (fd < 0) return r;
  if (!SendAll(fd, Request(method, path, body, headers, true))) {
    ::close(fd);
    return r;
  }
  std::string buf;
  char tmp[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 60000) <= 0) break;
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    int status = 0;
    std::map<std::string, std::string> h;
    size_t head = ParseHead(buf, &status, &h);
    if (head == 0) continue;
    std::string rest = buf.substr(head);
    if (h.count("content-length")) {
      size_t len = std::stoul(h["content-length"]);
      if (rest.size() >= len) {
        r.status = status;
        r.headers = h;
        r.body = rest.substr(0, len);
        break;
      }
    } else if (h.count("transfer-encoding")) {
      std::string out;
      if (!Dechunk(&rest, &out)) {
        r.status = status;
        r.headers = h;
        r.body = out;
        break;
      }
    }
  }
  ::close(fd);
  return r;
}

std::string DevserverBinary() { return WAOP_DEVSERVER_BINARY; }
std::string RepoDir() { return waop::testing::SourceDir(); }

Devserver::Devserver(std::vector<std::string> extra_args) {
  std::vector<std::string> argv = {DevserverBinary(),      "--port",          "0",
                                   "--port-file",          dir_.File("port"), "--kubeconfig-out",
                                   dir_.File("kubeconfig")};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<waop::testing::Process>("kube-devserver", argv, dir_.path());
  std::string port_file = dir_.File("port");
  waop::testing::WaitFor(
      [&] {
        std::string text = waop::testing::ReadFile(port_file);
        if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
        return port_ > 0 || !proc_->Running();
      },
      std::chrono::seconds(30));
}

Devserver::~Devserver() = default;

HttpResult Devserver::Get(const std::string& path, const std::map<std::string, std::string>& h) {
  return Http(port_, "GET", path, "", h);
}
HttpResult Devserver::Post(const std::string& path, const json& body) {
  return Http(port_, "POST", path, body.dump());
}
HttpResult Devserver::Put(const std::string& path, const json& body) {
  return Http(port_, "PUT", path, body.dump());
}
HttpResult Devserver::Delete(const std::string& path, const json& options) {
  return Http(port_, "DELETE", path, options.is_null() ? "" : options.dump());
}
HttpResult Devserver::Patch(const std::string& path, const std::string& content_type,
                            const json& patch) {
  return Http(port_, "PATCH", path, patch.dump(), {{"Content-Type", content_type}});
}

WatchStream::WatchStream(int port, const std::string& path,
                         const std::map<std::string, std::string>& headers) {
  fd_ = Connect(port);
  if (fd_ < 0 || !SendAll(fd_, Request("GET", path, "", headers, false))) {
    ended_ = true;
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string buf;
  char tmp[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      ended_ = true;
      return;
    }
    buf.append(tmp, static_cast<size_t>(n));
    std::map<std::string, std::string> h;
    size_t head = ParseHead(buf, &status_, &h);
    if (head == 0) continue;
    chunked_ = h.count("transfer-encoding") > 0;
    raw_ = buf.substr(head);
    if (!chunked_) {
      lines_ = raw_;
      raw_.clear();
    }
    return;
  }
  ended_ = true;
}

WatchStream::~WatchStream() {
  if (fd_ >= 0) ::close(fd_);
}

bool WatchStream::Fill(std::chrono::steady_clock::time_point deadline) {
  if (chunked_ && !Dechunk(&raw_, &lines_)) ended_ = true;
  if (lines_.find('\n') != std::string::npos) return true;
  if (ended_) return false;
  char tmp[65536];
  while (std::chrono::steady_clock::now() < deadline && !ended_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      ended_ = true;
      break;
    }
    if (chunked_) {
      raw_.append(tmp, static_cast<size_t>(n));
      if (!Dechunk(&raw_, &lines_)) ended_ = true;
    } else {
      lines_.append(tmp, static_cast<size_t>(n));
    }
    if (lines_.find('\n') != std::string::npos) return true;
  }
  return lines_.find('\n') != std::string::npos;
}

std::optional<json> WatchStream::Next(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return std::nullopt;
  if (!Fill(std::chrono::steady_clock::now() + timeout)) return std::nullopt;
  size_t nl = lines_.find('\n');
  std::string line = lines_.substr(0, nl);
  lines_.erase(0, nl + 1);
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return json{{"unparsable", line}};
  return j;
}

}  // namespace devserver::testing
