// The pure half of the Graph client: reading Meta's answers (pages of phone numbers and
// templates, one number, error bodies, usage headers) into values and Status codes. No HTTP,
// no exceptions: a malformed answer is a kInternal Status with a clear message, and nesting
// deeper than kMaxJsonDepth is refused before parsing (no unbounded recursion).
//
// Thread-safety: free functions without shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "meta/graph.h"

namespace waop::meta {

inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kMaxAnswerBytes = 16 * 1024 * 1024;

// One page of a Graph list: its items, paging.cursors.after and paging.next ("" when absent;
// no next means the last page).
template <typename T>
struct GraphPage {
  std::vector<T> items;
  std::string after;
  std::string next;
};

Result<GraphPage<GraphPhoneNumber>> ParsePhoneNumberPage(std::string_view body);
Result<GraphPage<MessageTemplate>> ParseTemplatePage(std::string_view body);
Result<GraphPhoneNumber> ParsePhoneNumber(std::string_view body);

// The Status for an answer with a non-2xx HTTP status, classified as graph.h says:
//   Graph code 190, or HTTP 401 without a Graph code            kUnauthenticated
//   codes 4, 17, 32, 613, 80007, 80008, 130429; HTTP 429          kResourceExhausted
//   code 100 for an object that does not exist (error_subcode 33
//     or "does not exist" in the message); HTTP 404               kNotFound
//   codes 1, 2, or is_transient; HTTP 5xx                         kUnavailable
//   codes 10 and 200-299; HTTP 403                                kPermissionDenied
//   any other Graph error                                         kInvalidArgument
//   another status with a body that is not a Graph error          kInternal
// The message is "<what>: Graph error <code>[/<subcode>] (<type>): <Meta's message>
// (fbtrace_id <id>; HTTP <status>)"; `what` must not hold a secret.
Status GraphErrorStatus(int http_status, std::string_view body, std::string_view what);

// The highest of call_count, total_cputime and total_time (clamped to 0..100) in an
// X-App-Usage value ({"call_count":N,...}) or an X-Business-Use-Case-Usage value
// ({"<id>":[{"call_count":N,...},...],...}); nullopt when it does not parse.
std::optional<int> ParseUsageHeader(std::string_view value);

// True when `body` nests arrays/objects no deeper than `max_depth` (strings are skipped).
bool JsonDepthWithin(std::string_view body, int max_depth);

// `text` with every occurrence of `secret` replaced by "[REDACTED]" (no-op for an empty secret).
std::string Redact(std::string text, std::string_view secret);

}  // namespace waop::meta
