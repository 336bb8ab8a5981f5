// The cpprestsdk adapter of the Graph client: the only file of waop_meta that includes
// cpprest or Boost.Asio headers. Everything cpprest throws is caught here and becomes a Status.
#include <cpprest/http_client.h>

#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>

#include "meta/graph_client.h"
#include "meta/graph_parse.h"
#include "tls/cpprest_call.h"
#include "tls/ssl_context.h"

namespace waop::meta {
namespace {

namespace http = web::http;
namespace client = web::http::client;

constexpr std::string_view kNumberFields =
    "id,display_phone_number,verified_name,quality_rating,messaging_limit_tier";
constexpr std::string_view kTemplateFields = "name,language,status";

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ',') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Graph ids are digits; refusing anything else keeps ids from changing the request path.
Status CheckId(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > 64 ||
      id.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(id.substr(0, 64)) +
                                   "\": expected a Graph id (digits)");
  }
  return Status::Ok();
}

Status CheckVersion(std::string_view v) {
  static const std::regex kVersion("v[0-9]{1,3}\\.[0-9]{1,3}");
  if (!std::regex_match(v.begin(), v.end(), kVersion)) {
    return Status::InvalidArgument("API version \"" + std::string(v.substr(0, 32)) +
                                   "\": expected vMAJOR.MINOR, e.g. v21.0");
  }
  return Status::Ok();
}

int EffectivePort(const web::uri& u) {
  if (u.port() > 0) return u.port();
  return u.scheme() == "https" ? 443 : 80;
}

class CpprestGraphClient final : public GraphClient {
 public:
  CpprestGraphClient(GraphClientOptions options, web::uri base,
                     std::optional<tls::SslContextCallback> ssl)
      : options_(std::move(options)),
        base_(std::move(base)),
        client_(base_, tls::ClientConfig(options_.timeout, ssl ? *ssl : nullptr, options_.proxy)) {
    base_path_ = base_.path();
    while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  }

  Result<PhoneNumberListing> ListPhoneNumbers(const GraphAuth& auth,
                                              std::string_view waba_id) override {
    WAOP_RETURN_IF_ERROR(CheckVersion(auth.api_version));
    WAOP_RETURN_IF_ERROR(CheckId(waba_id, "WABA id"));
    PhoneNumberListing listing;
    const std::string first = "/" + auth.api_version + "/" + std::string(waba_id) +
                              "/phone_numbers?fields=" + std::string(kNumberFields) +
                              "&limit=" + std::to_string(options_.page_limit);
    Status s = Pages<GraphPhoneNumber>(
        auth, first, ParsePhoneNumberPage, &listing.calls,
        [&](GraphPhoneNumber n) { listing.numbers.push_back(std::move(n)); });
    if (!s.ok()) return s;
    return listing;
  }

  Result<GraphPhoneNumber> GetPhoneNumber(const GraphAuth& auth,
                                          std::string_view phone_number_id) override {
    WAOP_RETURN_IF_ERROR(CheckVersion(auth.api_version));
    WAOP_RETURN_IF_ERROR(CheckId(phone_number_id, "phone number id"));
    const std::string path = "/" + auth.api_version + "/" + std::string(phone_number_id) +
                             "?fields=" + std::string(kNumberFields);
    auto body = Call(auth, path);
    if (!body.ok()) return body.status();
    auto n = ParsePhoneNumber(*body);
    if (!n.ok()) return Failed(n.status(), auth, path);
    return n;
  }

  Result<std::vector<MessageTemplate>> ListTemplates(const GraphAuth& auth,
                                                     std::string_view waba_id,
                                                     std::string_view name) override {
    WAOP_RETURN_IF_ERROR(CheckVersion(auth.api_version));
    WAOP_RETURN_IF_ERROR(CheckId(waba_id, "WABA id"));
    std::string first = "/" + auth.api_version + "/" + std::string(waba_id) +
                        "/message_templates?fields=" + std::string(kTemplateFields) +
                        "&limit=" + std::to_string(options_.page_limit);
    if (!name.empty()) first += "&name=" + PercentEncode(name);
    std::vector<MessageTemplate> out;
    int calls = 0;
    Status s =
        Pages<MessageTemplate>(auth, first, ParseTemplatePage, &calls, [&](MessageTemplate t) {
          // Meta's name filter matches parts of names too.
          if (name.empty() || t.name == name) {
            out.push_back(std::move(t));
          }
        });
    if (!s.ok()) return s;
    return out;
  }

  AppUsage LastUsage() const override {
    std::lock_guard lock(mu_);
    return usage_;
  }

 private:
  // The path and query of a request for "what" in messages: the query may carry a cursor but
  // never the token (it goes in the Authorization header).
  static std::string What(const std::string& path_and_query) {
    return "GET " + path_and_query.substr(0, path_and_query.find('?'));
  }

  Status Failed(const Status& s, const GraphAuth& auth, const std::string& path) const {
    Status out(s.code(), Redact(What(path) + ": " + s.message(), auth.access_token));
    return out;
  }

  // Reads every page, from `first` on, handing each item to `sink`. An error on any page
  // fails the whole listing.
  template <typename T, typename Parse, typename Sink>
  Status Pages(const GraphAuth& auth, std::string request, Parse parse, int* calls, Sink sink) {
    std::set<std::string> seen;
    for (int page = 1;; ++page) {
      if (page > options_.max_pages) {
        return Status::Internal(What(request) + ": more than " +
                                std::to_string(options_.max_pages) + " pages; giving up");
      }
      if (!seen.insert(request).second) {
        return Status::Internal(What(request) + ": paging did not advance (page " +
                                std::to_string(page) + " repeats an earlier request)");
      }
      ++*calls;
      auto body = Call(auth, request);
      if (!body.ok()) {
        if (page == 1) return body.status();
        return Status(body.status().code(), body.status().message() + " (page " +
                                                std::to_string(page) +
                                                "; the listing is incomplete)");
      }
      auto parsed = parse(*body);
      if (!parsed.ok()) return Failed(parsed.status(), auth, request);
      for (auto& item : parsed->items) sink(std::move(item));
      if (parsed->next.empty()) return Status::Ok();
      auto next = NextRequest(*parsed, request);
      if (!next.ok()) return Failed(next.status(), auth, request);
      request = std::move(*next);
    }
  }

  // The path and query of the next page: paging.next when it points at our base URL (minus
  // any access_token in it), else the current request with after=<cursor>.
  Result<std::string> NextRequest(const auto& page, const std::string& current) const {
    try {
      web::uri next(page.next);
      std::string path = next.path();
      const bool same_origin = next.scheme() == base_.scheme() && next.host() == base_.host() &&
                               EffectivePort(next) == EffectivePort(base_) &&
                               (base_path_.empty() || path.rfind(base_path_ + "/", 0) == 0);
      if (same_origin) {
        path = path.substr(base_path_.size());
        std::string query;
        for (const auto& part : Split(next.query())) {
          if (part.rfind("access_token=", 0) == 0) continue;
          query += (query.empty() ? "" : "&") + part;
        }
        return query.empty() ? path : path + "?" + query;
      }
    } catch (const std::exception&) {
      // Not a URL we can use: fall back to the cursor.
    }
    if (page.after.empty()) {
      return Status::Internal("paging.next points elsewhere and there is no paging.cursors.after");
    }
    std::string base = current;
    size_t q = base.find('?');
    std::string path = base.substr(0, q);
    std::string query;
    if (q != std::string::npos) {
      for (const auto& part : Split(base.substr(q + 1))) {
        if (part.rfind("after=", 0) == 0) continue;
        query += (query.empty() ? "" : "&") + part;
      }
    }
    query += (query.empty() ? "" : "&") + std::string("after=") + PercentEncode(page.after);
    return path + "?" + query;
  }

  static std::vector<std::string> Split(const std::string& query) {
    std::vector<std::string> out;
    std::stringstream ss(query);
    std::string part;
    while (std::getline(ss, part, '&')) {
      if (!part.empty()) out.push_back(part);
    }
    return out;
  }

  // One GET; the body of a 2xx answer, else the classified error. The whole exchange (connect,
  // headers, body) is bounded by options_.timeout (tls::RequestWithin).
  Result<std::string> Call(const GraphAuth& auth, const std::string& path_and_query) {
    Status outcome = Status::Ok();
    std::string body;
    try {
      http::http_request req(http::methods::GET);
      req.set_request_uri(web::uri(base_path_ + path_and_query));
      req.headers().add("Authorization", "Bearer " + auth.access_token);
      req.headers().add("Accept", "application/json");
      req.headers().add("User-Agent", options_.user_agent);
      std::optional<tls::CpprestAnswer> a = tls::RequestWithin(client_, req, options_.timeout);
      if (!a) {
        outcome = Status::Unavailable(What(path_and_query) + ": timed out after " +
                                      std::to_string(options_.timeout.count()) + " ms");
      } else {
        body = std::move(a->body);
        RecordUsage(a->headers);
        if (a->status < 200 || a->status > 299) {
          Status e = GraphErrorStatus(a->status, body, What(path_and_query));
          outcome = Status(e.code(), Redact(e.message(), auth.access_token));
        }
      }
    } catch (const http::http_exception& e) {
      if (e.error_code() == std::errc::timed_out) {
        outcome = Status::Unavailable(What(path_and_query) + ": timed out after " +
                                      std::to_string(options_.timeout.count()) + " ms");
      } else {
        outcome = Failed(Status::Unavailable(e.what()), auth, path_and_query);
      }
    } catch (const std::exception& e) {
      outcome = Failed(Status::Unavailable(e.what()), auth, path_and_query);
    }
    if (options_.on_request) options_.on_request(outcome);
    if (!outcome.ok()) return outcome;
    return body;
  }

  // The usage Meta reported on this answer: the higher of X-App-Usage and
  // X-Business-Use-Case-Usage; an answer with neither means low usage (Meta sends them once
  // usage is noticeable).
  void RecordUsage(const http::http_headers& headers) {
    std::optional<int> percent;
    for (const char* name : {"X-App-Usage", "X-Business-Use-Case-Usage"}) {
      auto it = headers.find(name);
      if (it == headers.end()) continue;
      if (auto p = ParseUsageHeader(it->second)) percent = std::max(percent.value_or(0), *p);
    }
    std::lock_guard lock(mu_);
    usage_ = percent ? AppUsage{*percent, true} : AppUsage{};
  }

  const GraphClientOptions options_;
  const web::uri base_;
  std::string base_path_;
  client::http_client client_;
  mutable std::mutex mu_;
  AppUsage usage_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<GraphClient>> NewGraphClient(GraphClientOptions options) {
  web::uri base;
  try {
    base = web::uri(options.base_url);
  } catch (const std::exception&) {
    return Status::InvalidArgument("Graph API URL \"" + options.base_url + "\": not a valid URL");
  }
  if (base.scheme() != "https" && base.scheme() != "http") {
    return Status::InvalidArgument("Graph API URL \"" + options.base_url +
                                   "\": expected http:// or https://");
  }
  if (base.host().empty()) {
    return Status::InvalidArgument("Graph API URL \"" + options.base_url + "\": no host");
  }
  if (!base.query().empty() || !base.fragment().empty()) {
    return Status::InvalidArgument("Graph API URL \"" + options.base_url +
                                   "\": expected no query or fragment");
  }
  if (options.page_limit < 1 || options.page_limit > 100) {
    return Status::InvalidArgument("Graph page limit: expected 1..100, got " +
                                   std::to_string(options.page_limit));
  }
  if (options.max_pages < 1) options.max_pages = 1;
  if (options.timeout.count() <= 0) options.timeout = std::chrono::seconds(30);
  std::optional<tls::SslContextCallback> ssl;
  if (!options.ca_file.empty() && base.scheme() == "https") {
    std::ifstream in(options.ca_file);
    if (!in) {
      return Status::InvalidArgument("Graph CA file " + options.ca_file + ": cannot be read");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto cb = tls::MakeClientSslCallback(ss.str());
    if (!cb.ok()) {
      return Status::InvalidArgument("Graph CA file " + options.ca_file + ": " +
                                     cb.status().message());
    }
    ssl = std::move(*cb);
  }
  try {
    auto c = std::make_unique<CpprestGraphClient>(std::move(options), base, std::move(ssl));
    return std::unique_ptr<GraphClient>(std::move(c));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("Graph client: ") + e.what());
  }
}

}  // namespace waop::meta
