// Label and field selectors as kube-apiserver parses them from `labelSelector` and
// `fieldSelector` query parameters.
//
// Thread-safety: immutable after Parse; safe to share between threads.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace devserver {

// Supports `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma = AND.
class LabelSelector {
 public:
  // InvalidArgument with the offending term on a syntax error.
  static waop::Result<LabelSelector> Parse(const std::string& text);
  bool Empty() const { return reqs_.empty(); }
  // `labels` is metadata.labels (an object, or null when absent).
  bool Matches(const nlohmann::json& labels) const;

 private:
  enum class Op { kEq, kNotEq, kIn, kNotIn, kExists, kNotExists };
  struct Req {
    std::string key;
    Op op;
    std::set<std::string> values;
  };
  std::vector<Req> reqs_;
};

// Supports `path=v`, `path==v`, `path!=v`, comma = AND, over the fields the real server
// accepts for the resource (metadata.name and metadata.namespace everywhere; events also
// involvedObject.*, reason, type, source...).
class FieldSelector {
 public:
  // InvalidArgument "field label not supported: <label>" like the real server.
  static waop::Result<FieldSelector> Parse(const std::string& text, const std::string& resource);
  bool Empty() const { return reqs_.empty(); }
  bool Matches(const nlohmann::json& obj) const;
  // When the selector pins metadata.name, the name (for cheap lookups); else "".
  std::string PinnedName() const;

 private:
  struct Req {
    std::string field;
    bool equal;
    std::string value;
  };
  std::vector<Req> reqs_;
};

}  // namespace devserver
