#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "https_test_server.h"
#include "tls/certs.h"
#include "tls/cpprest_call.h"
#include "tls/ssl_context.h"

namespace waop::tls {
namespace {

using std::chrono::hours;

KeyPair MustCa(const std::string& name) {
  auto ca = GenerateCa(name, hours(24));
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return ca.ok() ? *ca : KeyPair{};
}

// Every client of ours (API server, Graph API, tenant service) is built from ClientConfig:
// redirects are never followed (cpprest would resend the bearer token to the Location), the
// timeout is the one given, and the TLS callback is installed when there is one. The
// behaviour against a redirecting server is checked in RestClientTest.
TEST(ClientConfigTest, FollowsNoRedirectsAndKeepsTimeoutAndTls) {
  auto plain = ClientConfig(std::chrono::milliseconds(2500));
  EXPECT_EQ(plain.max_redirects(), 0u);
  EXPECT_EQ(plain.timeout<std::chrono::milliseconds>(), std::chrono::milliseconds(2500));
  int called = 0;
  auto with_tls =
      ClientConfig(std::chrono::seconds(1), [&](boost::asio::ssl::context&) { ++called; });
  EXPECT_EQ(with_tls.max_redirects(), 0u);
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  with_tls.get_ssl_context_callback()(ctx);
  EXPECT_EQ(called, 1);
}

TEST(CertsTest, CaIsSelfSignedAndValidForTheRequestedTime) {
  auto before = std::chrono::system_clock::now();
  KeyPair ca = MustCa("waop test CA");
  EXPECT_NE(ca.cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(ca.key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(CertSignedBy(ca.cert_pem, ca.cert_pem));
  auto not_after = CertNotAfter(ca.cert_pem);
  ASSERT_TRUE(not_after.ok());
  auto expected = before + hours(24);
  EXPECT_LT(std::chrono::abs(*not_after - expected), std::chrono::minutes(2));
  auto not_before = CertNotBefore(ca.cert_pem);
  ASSERT_TRUE(not_before.ok());
  EXPECT_LT(*not_before, before);  // Backdated for clock skew.
}

TEST(CertsTest, ServingCertCarriesNamesAndChainsToItsCaOnly) {
  KeyPair ca = MustCa("ca-one");
  KeyPair other = MustCa("ca-two");
  auto cert = IssueServingCert(ca, "webhook", {"webhook.ns.svc", "localhost"}, {"127.0.0.1", "::1"},
                               hours(2));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_TRUE(CertSignedBy(cert->cert_pem, ca.cert_pem));
  EXPECT_FALSE(CertSignedBy(cert->cert_pem, other.cert_pem));
  // A bundle that contains the right CA among others verifies too.
  EXPECT_TRUE(CertSignedBy(cert->cert_pem, other.cert_pem + ca.cert_pem));
  auto dns = CertDnsNames(cert->cert_pem);
  ASSERT_TRUE(dns.ok());
  EXPECT_EQ(*dns, (std::vector<std::string>{"webhook.ns.svc", "localhost"}));
  auto ips = CertIpAddresses(cert->cert_pem);
  ASSERT_TRUE(ips.ok());
  EXPECT_EQ(*ips, (std::vector<std::string>{"127.0.0.1", "::1"}));
  auto not_after = CertNotAfter(cert->cert_pem);
  ASSERT_TRUE(not_after.ok());
  EXPECT_LT(*not_after, std::chrono::system_clock::now() + hours(3));
}

TEST(CertsTest, SerialsAreRandom) {
  KeyPair ca = MustCa("ca");
  auto a = IssueServingCert(ca, "a", {"a"}, {}, hours(1));
  auto b = IssueServingCert(ca, "a", {"a"}, {}, hours(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->cert_pem, b->cert_pem);
  EXPECT_NE(a->key_pem, b->key_pem);
}

TEST(CertsTest, CaCertIsNotAServingCertsIssuerWhenKeyDoesNotMatch) {
  KeyPair ca = MustCa("ca");
  KeyPair other = MustCa("other");
  auto r = IssueServingCert(KeyPair{ca.cert_pem, other.key_pem}, "x", {"x"}, {}, hours(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos);
}

TEST(CertsTest, BadInputIsRejectedWithSpecificErrors) {
  EXPECT_EQ(GenerateCa("", hours(1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateCa("x", hours(0)).status().code(), StatusCode::kInvalidArgument);
  KeyPair ca = MustCa("ca");
  auto bad_ip = IssueServingCert(ca, "x", {}, {"300.1.1.1"}, hours(1));
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_NE(bad_ip.status().message().find("300.1.1.1"), std::string::npos);
  auto bad_ca = IssueServingCert(KeyPair{"garbage", ca.key_pem}, "x", {"x"}, {}, hours(1));
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_NE(bad_ca.status().message().find("CA certificate"), std::string::npos);
  EXPECT_FALSE(CertNotAfter("not a pem").ok());
  EXPECT_FALSE(CertDnsNames("").ok());
  EXPECT_FALSE(CertSignedBy("garbage", ca.cert_pem));
  EXPECT_FALSE(CertSignedBy(ca.cert_pem, "garbage"));
}

TEST(SslContextTest, RejectsKeyThatDoesNotMatchCertificate) {
  KeyPair ca = MustCa("ca");
  auto a = IssueServingCert(ca, "a", {"a"}, {}, hours(1));
  auto b = IssueServingCert(ca, "b", {"b"}, {}, hours(1));
  ASSERT_TRUE(a.ok() && b.ok());
  auto cb = MakeServerSslCallback(a->cert_pem, b->key_pem);
  ASSERT_FALSE(cb.ok());
  EXPECT_EQ(cb.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeClientSslCallback("no pem here").ok());
  EXPECT_TRUE(MakeClientSslCallback(ca.cert_pem).ok());
  EXPECT_TRUE(MakeServerSslCallback(a->cert_pem + ca.cert_pem, a->key_pem).ok());
}

// A real handshake: cpprest listener with an issued certificate, cpprest clients trusting
// the right CA, a different CA, and the right CA for a certificate without the host's IP.
class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = MustCa("handshake-ca");
    auto serving = IssueServingCert(ca_, "localhost", {"localhost"}, {"127.0.0.1"}, hours(1));
    ASSERT_TRUE(serving.ok()) << serving.status().ToString();
    serving_ = *serving;
  }

  // The status code, or -1 with the error text when the request failed.
  static int Get(const std::string& url, const std::string& ca_pem, std::string* error) {
    auto cb = MakeClientSslCallback(ca_pem);
    if (!cb.ok()) {
      *error = cb.status().ToString();
      return -1;
    }
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(20));
    config.set_ssl_context_callback(*cb);
    try {
      web::http::client::http_client client(web::uri(url), config);
      auto response = client.request(web::http::methods::GET, "/hello").get();
      *error = response.extract_string().get();
      return response.status_code();
    } catch (const std::exception& e) {
      *error = e.what();
      return -1;
    }
  }

  KeyPair ca_;
  KeyPair serving_;
};

TEST_F(HandshakeTest, ClientTrustingTheCaConnects) {
  std::atomic<int> hits{0};
  auto server = testing::HttpsTestServer::Start(serving_, [&](web::http::http_request req) {
    ++hits;
    req.reply(web::http::status_codes::OK, "hi " + req.relative_uri().path());
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->url().rfind("https://127.0.0.1:", 0), 0u);
  std::string body;
  EXPECT_EQ(Get((*server)->url(), ca_.cert_pem, &body), 200) << body;
  EXPECT_EQ(body, "hi /hello");
  EXPECT_EQ(hits.load(), 1);
}

TEST_F(HandshakeTest, ClientTrustingAnotherCaFailsWithCertificateError) {
  std::atomic<int> hits{0};
  auto server = testing::HttpsTestServer::Start(serving_, [&](web::http::http_request req) {
    ++hits;
    req.reply(web::http::status_codes::OK);
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  KeyPair other = MustCa("someone-else");
  std::string error;
  EXPECT_EQ(Get((*server)->url(), other.cert_pem, &error), -1);
  EXPECT_NE(error.find("handshake"), std::string::npos) << error;
  EXPECT_EQ(hits.load(), 0);  // The request never reached the handler.
}

TEST_F(HandshakeTest, CertificateWithoutTheHostsIpFailsHostnameVerification) {
  auto wrong_name =
      IssueServingCert(ca_, "elsewhere", {"elsewhere.invalid"}, {"127.0.0.2"}, hours(1));
  ASSERT_TRUE(wrong_name.ok());
  auto server = testing::HttpsTestServer::Start(
      *wrong_name, [](web::http::http_request req) { req.reply(web::http::status_codes::OK); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::string error;
  EXPECT_EQ(Get((*server)->url(), ca_.cert_pem, &error), -1);
  EXPECT_NE(error.find("handshake"), std::string::npos) << error;
}

TEST(FreePortTest, PicksAPortInRange) {
  auto a = waop::PickFreeLoopbackPort();
  ASSERT_TRUE(a.ok());
  EXPECT_GT(*a, 0);
  EXPECT_LT(*a, 65536);
}

}  // namespace
}  // namespace waop::tls
