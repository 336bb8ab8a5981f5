#include "tls/cpprest_call.h"

#include <pplx/threadpool.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace waop::tls {

namespace http = web::http;

http::client::http_client_config ClientConfig(
    std::chrono::milliseconds timeout, std::function<void(boost::asio::ssl::context&)> ssl_context,
    const std::optional<Proxy>& proxy) {
  http::client::http_client_config cfg;
  cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  cfg.set_max_redirects(0);
  if (ssl_context) cfg.set_ssl_context_callback(std::move(ssl_context));
  if (proxy) {
    web::web_proxy p{web::uri(proxy->url)};
    if (!proxy->username.empty())
      p.set_credentials(web::credentials(proxy->username, proxy->password));
    cfg.set_proxy(std::move(p));
  }
  return cfg;
}

std::optional<CpprestAnswer> RequestWithin(http::client::http_client& client,
                                           const http::http_request& request,
                                           std::chrono::milliseconds timeout) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  pplx::cancellation_token_source cts;
  auto waiter = std::make_shared<Waiter>();
  pplx::task<CpprestAnswer> task =
      client.request(request, cts.get_token()).then([](http::http_response resp) {
        return resp.extract_utf8string(true).then([resp](std::string text) {
          return CpprestAnswer{resp.status_code(), resp.headers(), std::move(text)};
        });
      });
  task.then([waiter](pplx::task<CpprestAnswer> t) {
    try {
      (void)t.get();  // observed here: pplx aborts the process on an exception no one read
    } catch (const std::exception&) {
    }
    std::lock_guard lock(waiter->mu);
    waiter->done = true;
    waiter->cv.notify_all();
  });
  bool done;
  {
    std::unique_lock lock(waiter->mu);
    done = waiter->cv.wait_for(lock, timeout, [&] { return waiter->done; });
  }
  if (!done) {
    cts.cancel();
    return std::nullopt;
  }
  return task.get();  // rethrows cpprest's failure
}

int DefaultCpprestThreads() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

void SetCpprestThreads(int threads) {
  if (threads < 1) return;
  try {
    crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(threads));
  } catch (const std::exception&) {  // already initialised: keep the pool we have
  }
}

}  // namespace waop::tls
