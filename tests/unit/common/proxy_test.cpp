// ProxyFor: which proxy (if any) a request to a URL goes through, as Go's ProxyFromEnvironment
// decides it, and the errors for settings that are not usable proxy URLs.
#include "common/proxy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace waop {
namespace {

// The proxy's "host:port" for `url`, "direct", or "error: <message>".
std::string Route(const ProxySettings& s, const std::string& url) {
  auto p = ProxyFor(s, url);
  if (!p.ok()) return "error: " + p.status().message();
  return *p ? (*p)->display : "direct";
}

ProxySettings Settings(std::string no_proxy = "") {
  ProxySettings s;
  s.https_proxy = "http://proxy.corp:3128";
  s.http_proxy = "plain.corp:8080";
  s.no_proxy = std::move(no_proxy);
  return s;
}

TEST(ProxyTest, HttpsUsesHttpsProxyAndHttpUsesHttpProxy) {
  EXPECT_EQ(Route(Settings(), "https://graph.facebook.com/v21.0/x"), "proxy.corp:3128");
  EXPECT_EQ(Route(Settings(), "http://tenants.example.com:8080/api"), "plain.corp:8080");
  ProxySettings only_http;
  only_http.http_proxy = "http://plain.corp:8080";
  EXPECT_EQ(Route(only_http, "https://graph.facebook.com"), "direct");  // no fallback, as Go
  EXPECT_EQ(Route(ProxySettings{}, "https://graph.facebook.com"), "direct");
}

TEST(ProxyTest, LoopbackAndLocalhostAreAlwaysDirect) {
  for (const char* url : {"https://localhost:8443", "https://LOCALHOST", "https://127.0.0.1:9",
                          "https://127.4.5.6", "https://[::1]:8443/x"}) {
    EXPECT_EQ(Route(Settings(), url), "direct") << url;
  }
}

TEST(ProxyTest, NoProxyMatchesAsGoDoes) {
  struct Case {
    const char* no_proxy;
    const char* url;
    bool direct;
  };
  const Case cases[] = {
      {"*", "https://graph.facebook.com", true},
      {"facebook.com", "https://graph.facebook.com", true},  // a domain and its subdomains
      {"facebook.com", "https://facebook.com", true},
      {"facebook.com", "https://notfacebook.com", false},
      {".facebook.com", "https://graph.facebook.com", true},  // subdomains only
      {".facebook.com", "https://facebook.com", false},
      {"*.facebook.com", "https://graph.facebook.com", true},
      {"*.facebook.com", "https://facebook.com", false},
      {"FaceBook.COM", "https://Graph.Facebook.com", true},  // case does not matter
      {" other.org , facebook.com ", "https://graph.facebook.com", true},
      {"graph.facebook.com:443", "https://graph.facebook.com", true},  // the default port
      {"graph.facebook.com:8443", "https://graph.facebook.com", false},
      {"10.0.0.0/8", "https://10.96.0.1:443", true},
      {"10.0.0.0/8", "https://11.0.0.1", false},
      {"10.0.0.0/8", "https://tenants.svc", false},  // a range matches addresses only
      {"192.168.1.7", "https://192.168.1.7:9443", true},
      {"192.168.1.7:9443", "https://192.168.1.7:9443", true},
      {"192.168.1.7:9444", "https://192.168.1.7:9443", false},
      {"fd00::/8", "https://[fd00::12]:443", true},
      {"fd00::12", "https://[fd00::12]", true},
      {"[fd00::12]:443", "https://[fd00::12]", true},
      {"", "https://graph.facebook.com", false},
      {",,", "https://graph.facebook.com", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Route(Settings(c.no_proxy), c.url), c.direct ? "direct" : "proxy.corp:3128")
        << "NO_PROXY=\"" << c.no_proxy << "\" " << c.url;
  }
}

TEST(ProxyTest, CredentialsAreTakenOutOfTheUrl) {
  ProxySettings s;
  s.https_proxy = "http://ops%40corp:p%3Ass@proxy.corp:3128/ignored";
  auto p = ProxyFor(s, "https://graph.facebook.com");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->url, "http://proxy.corp:3128");
  EXPECT_EQ((*p)->display, "proxy.corp:3128");
  EXPECT_EQ((*p)->username, "ops@corp");
  EXPECT_EQ((*p)->password, "p:ss");
  s.https_proxy = "[fd00::1]";
  p = ProxyFor(s, "https://graph.facebook.com");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->url, "http://[fd00::1]:80");
}

TEST(ProxyTest, UnusableSettingsAreErrorsThatNameTheVariableButNotTheValue) {
  ProxySettings s;
  s.https_proxy = "socks5://user:hunter2@proxy.corp:1080";
  EXPECT_EQ(Route(s, "https://graph.facebook.com"),
            "error: HTTPS_PROXY: expected an http:// proxy URL, got a socks5:// one (https and "
            "socks proxies are not supported)");
  s.https_proxy = "http://user:hunter2@:3128";
  EXPECT_EQ(Route(s, "https://graph.facebook.com"), "error: HTTPS_PROXY: no proxy host");
  s.https_proxy = "http://user:hunter2@proxy corp:3128";
  EXPECT_EQ(Route(s, "https://graph.facebook.com"),
            "error: HTTPS_PROXY: the proxy host is not a host name or IP address");
  s.http_proxy = "http://user:hunter2@proxy.corp:99999";
  EXPECT_EQ(Route(s, "http://tenants.example.com"),
            "error: HTTP_PROXY: the proxy port is not a number from 1 to 65535");
  // A setting that does not apply is not checked: loopback, or NO_PROXY.
  EXPECT_EQ(Route(s, "http://127.0.0.1:8080"), "direct");
}

TEST(ProxyTest, EnvironmentUpperCaseFirst) {
  setenv("HTTPS_PROXY", "http://upper:1", 1);
  setenv("https_proxy", "http://lower:2", 1);
  setenv("http_proxy", "http://lower:3", 1);
  unsetenv("HTTP_PROXY");
  setenv("no_proxy", "example.com", 1);
  unsetenv("NO_PROXY");
  ProxySettings s = ProxySettings::FromEnvironment();
  EXPECT_EQ(s.https_proxy, "http://upper:1");
  EXPECT_EQ(s.http_proxy, "http://lower:3");
  EXPECT_EQ(s.no_proxy, "example.com");
  for (const char* v : {"HTTPS_PROXY", "https_proxy", "http_proxy", "no_proxy"}) unsetenv(v);
}

}  // namespace
}  // namespace waop
