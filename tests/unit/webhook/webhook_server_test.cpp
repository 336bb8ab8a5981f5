// The webhook's HTTPS server on 127.0.0.1: reviews over TLS, the HTTP errors, and a certificate
// replaced while it serves (a new connection gets the new one, no restart).
#include "webhook/webhook_server.h"

#include <cpprest/http_client.h>
#include <gtest/gtest.h>

#include "harness.h"
#include "support/fake_clock.h"
#include "tls/certs.h"

namespace waop::webhook {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class EmptyView : public controller::ClusterView {
 public:
  controller::ObjectPtr GetAssignment(std::string_view) const override { return nullptr; }
  std::vector<controller::ObjectPtr> AssignmentsByPhone(std::string_view) const override {
    return {};
  }
  std::vector<controller::ObjectPtr> AssignmentsByTenant(std::string_view) const override {
    return {};
  }
  controller::ObjectPtr GetConfigMap(std::string_view, std::string_view) const override {
    return nullptr;
  }
  controller::ObjectPtr GetPhoneNumber(std::string_view) const override { return nullptr; }
};

struct Reply {
  int status = 0;  // 0: no HTTP answer (the connection or handshake failed)
  std::string body;
  std::string error;
};

class WebhookServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::GenerateCa("test-ca", 24h);
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    auto cert = tls::IssueServingCert(ca_, "127.0.0.1", {}, {"127.0.0.1"}, 24h);
    ASSERT_TRUE(cert.ok());
    serving_cert_ = *cert;
    port_ = waop::testing::FreePort();
    server_ =
        std::make_unique<WebhookServer>("127.0.0.1", static_cast<uint16_t>(port_), handler_, cert_);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // One request on a new client (a new connection and handshake), trusting `ca_pem`.
  Reply Send(const std::string& ca_pem, const std::string& method, const std::string& path,
             const std::string& body = "") {
    Reply r;
    try {
      web::http::client::http_client_config config;
      config.set_timeout(10s);
      auto callback = tls::MakeClientSslCallback(ca_pem);
      EXPECT_TRUE(callback.ok());
      config.set_ssl_context_callback(*callback);
      web::http::client::http_client client("https://127.0.0.1:" + std::to_string(port_), config);
      web::http::http_request request(method);
      request.set_request_uri(path);
      if (!body.empty()) request.set_body(body, "application/json");
      auto response = client.request(request).get();
      r.status = response.status_code();
      r.body = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    return r;
  }
  static std::string ValidReview() {
    json review = {{"apiVersion", "admission.k8s.io/v1"},
                   {"kind", "AdmissionReview"},
                   {"request",
                    {{"uid", "u-1"},
                     {"operation", "CREATE"},
                     {"resource",
                      {{"group", "whatsapp.bakery-ia.io"},
                       {"version", "v1alpha1"},
                       {"resource", "whatsappassignments"}}},
                     {"namespace", "bakery-ia"},
                     {"object",
                      {{"metadata", {{"name", "a"}, {"namespace", "bakery-ia"}}},
                       {"spec", {{"tenantId", "t"}, {"phoneNumberId", "1"}}}}}}}};
    return review.dump();
  }

  FakeClock clock_;
  EmptyView view_;
  AdmissionHandler handler_{view_, clock_};
  tls::KeyPair ca_;
  tls::KeyPair serving_cert_;
  std::shared_ptr<tls::ReloadableServerCert> cert_ = std::make_shared<tls::ReloadableServerCert>();
  int port_ = 0;
  std::unique_ptr<WebhookServer> server_;
};

TEST_F(WebhookServerTest, ServesReviewsAndItsErrorsOverTls) {
  ASSERT_TRUE(cert_->Set(serving_cert_.cert_pem, serving_cert_.key_pem).ok());
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_TRUE(server_->listening());

  Reply ok = Send(ca_.cert_pem, "POST", std::string(kValidatePath), ValidReview());
  ASSERT_EQ(ok.status, 200) << ok.error << ok.body;
  json body = json::parse(ok.body);
  EXPECT_EQ(body["response"]["uid"], "u-1");
  EXPECT_EQ(body["response"]["allowed"], true);

  Reply malformed = Send(ca_.cert_pem, "POST", std::string(kValidatePath), "{\"kind\":");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("not valid JSON"), std::string::npos) << malformed.body;

  json wrong = json::parse(ValidReview());
  wrong["kind"] = "Pod";
  Reply wrong_kind = Send(ca_.cert_pem, "POST", std::string(kValidatePath), wrong.dump());
  EXPECT_EQ(wrong_kind.status, 400);
  EXPECT_NE(wrong_kind.body.find("kind \\\"Pod\\\""), std::string::npos) << wrong_kind.body;

  Reply big =
      Send(ca_.cert_pem, "POST", std::string(kValidatePath), std::string(kMaxReviewBytes + 1, ' '));
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_NE(big.body.find("larger than the limit"), std::string::npos);

  EXPECT_EQ(Send(ca_.cert_pem, "GET", std::string(kValidatePath)).status, 405);
  EXPECT_EQ(Send(ca_.cert_pem, "POST", "/other", ValidReview()).status, 404);

  // A client trusting another CA does not get through.
  auto other = tls::GenerateCa("other-ca", 24h);
  EXPECT_EQ(Send(other->cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 0);
}

TEST_F(WebhookServerTest, HandshakesFailUntilACertificateIsLoaded) {
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Send(ca_.cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 0);
  ASSERT_TRUE(cert_->Set(serving_cert_.cert_pem, serving_cert_.key_pem).ok());
  EXPECT_EQ(Send(ca_.cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 200);
}

TEST_F(WebhookServerTest, ARotatedCertificateIsServedWithoutARestart) {
  ASSERT_TRUE(cert_->Set(serving_cert_.cert_pem, serving_cert_.key_pem).ok());
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_EQ(Send(ca_.cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 200);

  auto new_ca = tls::GenerateCa("new-ca", 24h);
  auto rotated = tls::IssueServingCert(*new_ca, "127.0.0.1", {}, {"127.0.0.1"}, 24h);
  ASSERT_TRUE(rotated.ok());
  ASSERT_TRUE(cert_->Set(rotated->cert_pem, rotated->key_pem).ok());
  EXPECT_EQ(Send(new_ca->cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 200);
  EXPECT_EQ(Send(ca_.cert_pem, "POST", std::string(kValidatePath), ValidReview()).status, 0);
}

TEST_F(WebhookServerTest, ABadCertificateIsRefusedAndTheOldOneStays) {
  ASSERT_TRUE(cert_->Set(serving_cert_.cert_pem, serving_cert_.key_pem).ok());
  auto other = tls::GenerateCa("other", 24h);
  EXPECT_EQ(cert_->Set(serving_cert_.cert_pem, other->key_pem).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(cert_->cert_pem(), serving_cert_.cert_pem);
}

}  // namespace
}  // namespace waop::webhook
