#include "common/proxy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace waop {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Env(const char* upper, const char* lower) {
  if (const char* v = std::getenv(upper); v != nullptr && *v != '\0') return v;
  if (const char* v = std::getenv(lower); v != nullptr) return v;
  return "";
}

// An IPv4 or IPv6 address, as 16 bytes (IPv4 in the IPv4-mapped form) and its family.
struct Ip {
  std::array<unsigned char, 16> bytes{};
  bool v4 = false;
};

std::optional<Ip> ParseIp(const std::string& text) {
  Ip ip;
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    ip.v4 = true;
    ip.bytes[10] = ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, &a4, 4);
    return ip;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    std::memcpy(ip.bytes.data(), &a6, 16);
    ip.v4 = ip.bytes[10] == 0xff && ip.bytes[11] == 0xff &&
            std::all_of(ip.bytes.begin(), ip.bytes.begin() + 10,
                        [](unsigned char b) { return b == 0; });
    return ip;
  }
  return std::nullopt;
}

bool IsLoopback(const Ip& ip) {
  if (ip.v4) return ip.bytes[12] == 127;
  static const std::array<unsigned char, 16> kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
  return ip.bytes == kV6Loopback;
}

// Whether `ip` is in `net`/`bits` (both of the same family).
bool InRange(const Ip& ip, const Ip& net, int bits) {
  if (ip.v4 != net.v4) return false;
  int offset = ip.v4 ? 96 : 0;
  for (int i = 0; i < bits; ++i) {
    const int bit = offset + i;
    const int mask = 0x80 >> (bit % 8);
    if ((ip.bytes[bit / 8] & mask) != (net.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

// "host[:port]", host possibly a bracketed IPv6 address; the port is "" when absent. An
// unbracketed text with several colons is an IPv6 address without a port.
void SplitHostPort(std::string_view text, std::string* host, std::string* port) {
  port->clear();
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      *host = std::string(text);
      return;
    }
    *host = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size() && text[close + 1] == ':') *port = text.substr(close + 2);
    return;
  }
  if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    *host = std::string(text.substr(0, colon));
    *port = std::string(text.substr(colon + 1));
    return;
  }
  *host = std::string(text);
}

bool ValidPort(std::string_view port) {
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      int v = 0;
      std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Whether NO_PROXY says to reach host:port directly.
bool Bypassed(std::string_view no_proxy, const std::string& host, const std::string& port) {
  const std::optional<Ip> host_ip = ParseIp(host);
  std::string list = Lower(no_proxy);
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view entry = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (const auto slash = entry.find('/'); slash != std::string_view::npos) {
      const auto net = ParseIp(std::string(entry.substr(0, slash)));
      int bits = -1;
      const std::string_view len = entry.substr(slash + 1);
      std::from_chars(len.data(), len.data() + len.size(), bits);
      if (net && host_ip && bits >= 0 && bits <= (net->v4 ? 32 : 128) &&
          InRange(*host_ip, *net, bits)) {
        return true;
      }
      continue;
    }
    std::string entry_host, entry_port;
    SplitHostPort(entry, &entry_host, &entry_port);
    if (!entry_port.empty() && entry_port != port) continue;
    if (const auto ip = ParseIp(entry_host)) {
      if (host_ip && host_ip->bytes == ip->bytes) return true;
      continue;
    }
    if (entry_host.rfind("*.", 0) == 0) entry_host.erase(0, 1);
    if (entry_host.empty()) continue;
    if (entry_host.front() == '.') {
      if (host.size() > entry_host.size() &&
          host.compare(host.size() - entry_host.size(), entry_host.size(), entry_host) == 0) {
        return true;
      }
      continue;
    }
    if (host == entry_host) return true;
    const std::string suffix = "." + entry_host;
    if (host.size() > suffix.size() &&
        host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

ProxySettings ProxySettings::FromEnvironment() {
  ProxySettings s;
  s.http_proxy = Env("HTTP_PROXY", "http_proxy");
  s.https_proxy = Env("HTTPS_PROXY", "https_proxy");
  s.no_proxy = Env("NO_PROXY", "no_proxy");
  return s;
}

Result<std::optional<Proxy>> ProxyFor(const ProxySettings& settings, std::string_view target_url) {
  // The target: scheme://[user@]host[:port][/...].
  const auto scheme_end = target_url.find("://");
  if (scheme_end == std::string_view::npos) return std::optional<Proxy>();
  const std::string scheme = Lower(target_url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::optional<Proxy>();
  std::string_view authority = target_url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string host, port;
  SplitHostPort(authority, &host, &port);
  host = Lower(host);
  if (port.empty()) port = scheme == "https" ? "443" : "80";
  if (host == "localhost") return std::optional<Proxy>();
  if (const auto ip = ParseIp(host); ip && IsLoopback(*ip)) return std::optional<Proxy>();

  const bool https = scheme == "https";
  const std::string& setting = https ? settings.https_proxy : settings.http_proxy;
  const std::string variable = https ? "HTTPS_PROXY" : "HTTP_PROXY";
  const std::string_view value = Trim(setting);
  if (value.empty()) return std::optional<Proxy>();
  if (Bypassed(settings.no_proxy, host, port)) return std::optional<Proxy>();

  // The proxy: [http://][user[:password]@]host[:port][/...]. Messages never quote the value:
  // it may hold a password.
  std::string_view rest = value;
  if (const auto end = rest.find("://"); end != std::string_view::npos) {
    const std::string proxy_scheme = Lower(rest.substr(0, end));
    if (proxy_scheme != "http") {
      return Status::InvalidArgument(variable + ": expected an http:// proxy URL, got a " +
                                     proxy_scheme.substr(0, 16) +
                                     ":// one (https and socks proxies are not supported)");
    }
    rest.remove_prefix(end + 3);
  }
  std::string_view proxy_authority = rest.substr(0, rest.find_first_of("/?#"));
  Proxy proxy;
  if (const auto at = proxy_authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = proxy_authority.substr(0, at);
    const auto colon = user_info.find(':');
    proxy.username = PercentDecode(user_info.substr(0, colon));
    if (colon != std::string_view::npos)
      proxy.password = PercentDecode(user_info.substr(colon + 1));
    proxy_authority.remove_prefix(at + 1);
  }
  std::string proxy_host, proxy_port;
  SplitHostPort(proxy_authority, &proxy_host, &proxy_port);
  if (proxy_host.empty()) return Status::InvalidArgument(variable + ": no proxy host");
  const bool name_chars = std::all_of(proxy_host.begin(), proxy_host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
  if (!name_chars && !ParseIp(proxy_host)) {
    return Status::InvalidArgument(variable + ": the proxy host is not a host name or IP address");
  }
  if (proxy_port.empty()) proxy_port = "80";
  if (!ValidPort(proxy_port)) {
    return Status::InvalidArgument(variable + ": the proxy port is not a number from 1 to 65535");
  }
  const bool v6 = proxy_host.find(':') != std::string::npos;
  proxy.display = (v6 ? "[" + proxy_host + "]" : proxy_host) + ":" + proxy_port;
  proxy.url = "http://" + proxy.display;
  return std::optional<Proxy>(std::move(proxy));
}

}  // namespace waop
