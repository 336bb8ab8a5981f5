// Label and field selectors as the API server understands them, for the fake client (and any
// client-side filtering): `a=b,c!=d,e in (x,y),f notin (z),g,!h`, and field selectors on
// metadata.name / metadata.namespace.
//
// Thread-safety: immutable after parsing; safe to share.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace waop::kube {

class LabelSelector {
 public:
  // Parses `text`; "" selects everything. InvalidArgument naming the bad term.
  static Result<LabelSelector> Parse(std::string_view text);
  // True when an object with these labels (a JSON object of strings, or null) is selected.
  bool Matches(const nlohmann::json& labels) const;
  bool Empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  // Supports metadata.name and metadata.namespace with =, == and !=. InvalidArgument for
  // anything else (as the API server rejects unknown fields).
  static Result<FieldSelector> Parse(std::string_view text);
  bool Matches(const nlohmann::json& object) const;

 private:
  struct Term {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace waop::kube
