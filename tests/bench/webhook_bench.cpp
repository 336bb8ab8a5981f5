// Latency of the admission webhook at N cached assignments (default 10,000; first argument
// overrides): the decision alone (AdmissionHandler::Handle over real informer stores filled
// from the fake API server, packed as in the operator), and a full HTTPS round trip to the
// WebhookServer on 127.0.0.1 over a kept-alive connection. Reviews alternate between a
// duplicate (refused, with its message) and a free number (allowed). Prints p50 / p99 / max; the
// target is p99 < 5 ms. Exits non-zero only on a wrong decision.
#include <cpprest/http_client.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "controller/informer_view.h"
#include "harness.h"
#include "support/fake_client.h"
#include "tls/certs.h"
#include "webhook/admission_handler.h"
#include "webhook/webhook_server.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

json Review(size_t i, const std::string& phone, const std::string& tenant) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "uid-" + std::to_string(i)},
            {"operation", "CREATE"},
            {"resource",
             {{"group", "whatsapp.bakery-ia.io"},
              {"version", "v1alpha1"},
              {"resource", "whatsappassignments"}}},
            {"namespace", "tenants"},
            {"object",
             {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppAssignment"},
              {"metadata", {{"name", "new-" + std::to_string(i)}, {"namespace", "tenants"}}},
              {"spec",
               {{"tenantId", tenant},
                {"tenantName", "Tenant " + tenant},
                {"phoneNumberId", phone},
                {"displayPhoneNumber", "+34 600 000 000"}}}}}}}};
}

void Print(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))];
  };
  std::printf("%-34s n=%zu  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", what, us.size(),
              at(0.50) / 1000, at(0.99) / 1000, us.back() / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 10'000;
  waop::kube::FakeClient client;
  for (size_t i = 0; i < n; ++i) {
    json a = {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppAssignment"},
              {"metadata",
               {{"name", "assignment-" + std::to_string(i)},
                {"namespace", "ns-" + std::to_string(i % 50)}}},
              {"spec",
               {{"tenantId", "tenant-" + std::to_string(i)},
                {"tenantName", "Tenant " + std::to_string(i)},
                {"phoneNumberId", std::to_string(100000000 + i)},
                {"displayPhoneNumber", "+34 600 000 000"}}}};
    if (!client.Seed(waop::kube::resources::kWhatsAppAssignments, a).ok()) return 2;
  }
  auto informer = [&](const waop::kube::ResourceType& type) {
    waop::kube::InformerOptions o;
    o.type = type;
    return std::make_unique<waop::kube::Informer>(client, o);
  };
  auto assignments = informer(waop::kube::resources::kWhatsAppAssignments);
  auto config_maps = informer(waop::kube::resources::kConfigMaps);
  auto phones = informer(waop::kube::resources::kWhatsAppPhoneNumbers);
  if (!waop::controller::AddAssignmentIndexes(*assignments).ok()) return 2;
  for (auto* inf : {assignments.get(), config_maps.get(), phones.get()}) {
    if (!inf->Start().ok() || !inf->WaitForSync(120s)) return 2;
  }
  waop::controller::InformerView view(*assignments, *config_maps, *phones);
  waop::RealClock clock;
  waop::webhook::AdmissionHandler handler(view, clock);
  std::printf("webhook_bench: %zu cached assignments\n", n);

  // The decision alone.
  std::vector<std::string> bodies;
  for (size_t i = 0; i < 2000; ++i) {
    const size_t holder = (i * 7919) % n;
    bodies.push_back(
        i % 2 == 0
            ? Review(i, std::to_string(100000000 + holder), "new-" + std::to_string(i)).dump()
            : Review(i, std::to_string(900000000 + i), "new-" + std::to_string(i)).dump());
  }
  std::vector<double> us;
  for (int round = 0; round < 10; ++round) {
    for (size_t i = 0; i < bodies.size(); ++i) {
      auto start = Clock::now();
      waop::webhook::HttpAnswer a = handler.Handle(bodies[i]);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      const bool refused = a.body.find("\"allowed\":false") != std::string::npos;
      if (a.status != 200 || refused != (i % 2 == 0)) {
        std::fprintf(stderr, "wrong decision for review %zu: %s\n", i, a.body.c_str());
        return 1;
      }
    }
  }
  Print("decision (Handle)", us);

  // Over HTTPS, one kept-alive connection.
  auto ca = waop::tls::GenerateCa("bench-ca", 24h);
  auto serving = waop::tls::IssueServingCert(*ca, "127.0.0.1", {}, {"127.0.0.1"}, 24h);
  auto cert = std::make_shared<waop::tls::ReloadableServerCert>();
  if (!cert->Set(serving->cert_pem, serving->key_pem).ok()) return 2;
  const int port = waop::testing::FreePort();
  waop::webhook::WebhookServer server("127.0.0.1", static_cast<uint16_t>(port), handler, cert);
  if (!server.Start().ok()) return 2;
  web::http::client::http_client_config config;
  auto callback = waop::tls::MakeClientSslCallback(ca->cert_pem);
  config.set_ssl_context_callback(*callback);
  web::http::client::http_client http("https://127.0.0.1:" + std::to_string(port), config);
  us.clear();
  for (size_t i = 0; i < bodies.size(); ++i) {
    auto start = Clock::now();
    web::http::http_request request(web::http::methods::POST);
    request.set_request_uri(std::string(waop::webhook::kValidatePath));
    request.set_body(bodies[i], "application/json");
    auto response = http.request(request).get();
    std::string body = response.extract_utf8string(true).get();
    if (i > 0) {  // the first one pays the handshake
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    if (response.status_code() != 200) return 1;
  }
  Print("HTTPS round trip (keep-alive)", us);
  server.Stop();
  for (auto* inf : {assignments.get(), config_maps.get(), phones.get()}) inf->Stop();
  return 0;
}
