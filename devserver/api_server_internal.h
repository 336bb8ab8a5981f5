// Helpers shared by the files of ApiServer (api_server*.cpp): responses, metadata access and
// the retry bound of optimistic writes. Not part of kube-devserver's interface; include it only
// from those files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http_types.h"
#include "selectors.h"
#include "store.h"

namespace devserver {

// Optimistic-concurrency attempts of a write before it answers Conflict.
inline constexpr int kMaxRetries = 16;

inline HttpResponse JsonResponse(int code, const nlohmann::json& body) {
  HttpResponse r;
  r.status = code;
  r.body = body.dump();
  return r;
}

inline const nlohmann::json& Meta(const nlohmann::json& obj) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

inline std::string MetaString(const nlohmann::json& obj, const char* key) {
  const nlohmann::json& m = Meta(obj);
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}

inline uint64_t ParseRv(const std::string& s, bool* ok) {
  *ok = true;
  if (s.empty()) return 0;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

inline bool HasFinalizers(const nlohmann::json& obj) {
  const nlohmann::json& m = Meta(obj);
  auto it = m.find("finalizers");
  return it != m.end() && it->is_array() && !it->empty();
}

inline bool BeingDeleted(const nlohmann::json& obj) {
  const nlohmann::json& m = Meta(obj);
  auto it = m.find("deletionTimestamp");
  return it != m.end() && !it->is_null();
}

// The labelSelector and fieldSelector query parameters of a list, watch or deletecollection of
// `resource`; the error (a 400 for the caller) names what is wrong with them.
struct RequestSelectors {
  LabelSelector labels;
  FieldSelector fields;
  // Options listing namespace `ns` ("" = all) through these selectors, which must outlive them.
  ListOptions ListIn(std::string ns) const {
    ListOptions lo;
    lo.ns = std::move(ns);
    lo.labels = &labels;
    lo.fields = &fields;
    return lo;
  }
};
inline waop::Result<RequestSelectors> ParseSelectors(const HttpRequest& req,
                                                     const std::string& resource) {
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) return labels.status();
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"), resource);
  if (!fields.ok()) return fields.status();
  return RequestSelectors{std::move(*labels), std::move(*fields)};
}

}  // namespace devserver
