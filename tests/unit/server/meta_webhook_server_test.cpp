// The Meta webhook listener over real HTTP on 127.0.0.1: the handler's decisions reach the wire,
// the raw body bytes reach the handler, and an announced oversized body is refused unread.
#include "server/meta_webhook_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "common/net.h"

namespace waop::server {
namespace {

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

// Sends `raw` (a whole HTTP/1.1 request) and reads the reply until the server closes.
Reply Send(std::uint16_t port, const std::string& raw) {
  Reply result;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return result;
  }
  ::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
  std::string in;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    in.append(buf, static_cast<size_t>(n));
    // A reply with Content-Length is complete once that much body arrived.
    const size_t split = in.find("\r\n\r\n");
    if (split == std::string::npos) continue;
    const size_t cl = in.find("Content-Length: ");
    if (cl != std::string::npos && cl < split) {
      const size_t len = std::stoul(in.substr(cl + 16));
      if (in.size() >= split + 4 + len) break;
    }
  }
  ::close(fd);
  const size_t split = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) return result;
  result.status = std::stoi(in.substr(9, 3));
  result.head = in.substr(0, split);
  result.body = in.substr(split + 4);
  return result;
}

std::string Post(const std::string& body, const std::string& signature) {
  return "POST /meta/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nx-hub-signature-256: " +
         signature + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(MetaWebhookServerTest, ServesTheHandlerOverHttp) {
  meta::MasterCredentials c;
  c.values = {{"WHATSAPP_APP_SECRET", "s3cret"}, {"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "vt"}};
  meta::StaticCredentialsSource source(c);
  std::mutex mu;
  std::vector<meta::QualityUpdate> updates;
  meta::MetaWebhookHandler handler(source, [&](const meta::QualityUpdate& u) {
    std::lock_guard lock(mu);
    updates.push_back(u);
    return true;
  });
  std::unique_ptr<MetaWebhookServer> server;
  std::uint16_t port = 0;
  for (int attempt = 0; attempt < 20 && !server; ++attempt) {
    auto p = PickFreeLoopbackPort();
    if (!p.ok()) continue;
    auto started = MetaWebhookServer::Start({"127.0.0.1", *p}, &handler);
    if (started.ok()) {
      server = std::move(started).value();
      port = *p;
    }
  }
  ASSERT_TRUE(server) << "no free port";

  auto verify = Send(port,
                     "GET /meta/webhook?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=987 "
                     "HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(verify.status, 200);
  EXPECT_EQ(verify.body, "987");

  // Bytes a JSON re-encoding would change (spacing, escapes, non-ASCII): the signature is over
  // the raw body, so they must arrive untouched.
  const std::string body =
      "{\"entry\":[{\"id\":\"77\",  \"changes\":[{\"field\":\"phone_number_quality_update\","
      "\"value\":{\"display_phone_number\":\"34612345678\",\"event\":\"DOWNGRADE\","
      "\"note\":\"Panader\xc3\xad\x61 \\u00e9\"}}]}]}";
  auto ok = Send(port, Post(body, meta::SignatureHeaderValue("s3cret", body)));
  EXPECT_EQ(ok.status, 200) << ok.body;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_EQ(updates[0].display_phone_number, "34612345678");
    EXPECT_EQ(updates[0].waba_id, "77");
  }
  EXPECT_EQ(Send(port, Post(body, meta::SignatureHeaderValue("wrong", body))).status, 401);

  // Announced too large: refused on the Content-Length (the listener does not hand the body
  // to the handler; cpprest itself still receives it before it replies).
  auto big = Send(port,
                  "POST /meta/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  "Content-Length: 2000000\r\n\r\n" +
                      std::string(2000000, ' '));
  EXPECT_EQ(big.status, 413);
  // Too large without a Content-Length (chunked): read up to the limit plus one byte.
  std::string chunked =
      "POST /meta/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\nx-hub-signature-256: sha256=00\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "80000\r\n" + std::string(0x80000, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(Send(port, chunked).status, 413);

  auto other = Send(port, "GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.status, 404);
  auto put = Send(port,
                  "PUT /meta/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(put.status, 405);
  EXPECT_NE(put.head.find("Allow: GET, POST"), std::string::npos) << put.head;

  server->Stop();
  EXPECT_EQ(Send(port, "GET /meta/webhook HTTP/1.1\r\nHost: x\r\n\r\n").status, 0)
      << "stopped means closed";
}

}  // namespace
}  // namespace waop::server
