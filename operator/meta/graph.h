// The operator's view of the Meta Graph API (SPEC section 5): the WABA's phone numbers with
// their quality ratings, one number, and the message templates. Implementations: the
// cpprestsdk client (NewGraphClient) and in-memory fakes in tests.
//
// Errors, as Status codes the callers act on:
//   kUnavailable        HTTP 5xx, timeouts, connection failures          back off, retry
//   kResourceExhausted  Graph codes 4, 17, 80007, 80008, 130429; HTTP 429  back off longer
//   kUnauthenticated    Graph code 190, HTTP 401                          condition + one Event
//   kNotFound           Graph code 100 / HTTP 404 for an id that does not exist
//   kInternal           an answer that does not parse
// The message is Meta's own (error.message, code, fbtrace_id) and never the token.
//
// Thread-safety: implementations are safe for concurrent calls.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace waop::meta {

// What a call needs to authenticate: the version path segment ("v21.0") and the bearer token.
struct GraphAuth {
  std::string api_version;
  std::string access_token;  // secret
};

struct GraphPhoneNumber {
  std::string id;
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating;        // Meta's value as sent (GREEN, YELLOW, RED, NA, UNKNOWN)
  std::string messaging_limit_tier;  // e.g. TIER_1K; may be empty
  friend bool operator==(const GraphPhoneNumber&, const GraphPhoneNumber&) = default;
};

// A complete listing of a WABA's numbers: every page was read. A listing that failed part way
// is an error, never a shorter list (the caller must not delete what it did not see).
struct PhoneNumberListing {
  std::vector<GraphPhoneNumber> numbers;
  int calls = 0;  // HTTP requests it took
};

struct MessageTemplate {
  std::string name;
  std::string language;  // "es", "en_US"
  std::string status;    // APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...
  friend bool operator==(const MessageTemplate&, const MessageTemplate&) = default;
};

// The last X-App-Usage header seen: the highest of call_count, total_cputime, total_time (0-100).
struct AppUsage {
  int percent = 0;
  bool seen = false;
};

class GraphClient {
 public:
  virtual ~GraphClient() = default;
  // GET /{version}/{waba_id}/phone_numbers?fields=...&limit=100, following paging.next (or
  // paging.cursors.after) until the last page.
  virtual Result<PhoneNumberListing> ListPhoneNumbers(const GraphAuth& auth,
                                                      std::string_view waba_id) = 0;
  // GET /{version}/{phone_number_id}?fields=...
  virtual Result<GraphPhoneNumber> GetPhoneNumber(const GraphAuth& auth,
                                                  std::string_view phone_number_id) = 0;
  // GET /{version}/{waba_id}/message_templates?name=...&fields=name,language,status (paged).
  virtual Result<std::vector<MessageTemplate>> ListTemplates(const GraphAuth& auth,
                                                             std::string_view waba_id,
                                                             std::string_view name) = 0;
  // The usage Meta last reported; callers slow down when it runs high.
  virtual AppUsage LastUsage() const = 0;
};

}  // namespace waop::meta
