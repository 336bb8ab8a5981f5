// A small evaluator for the CEL subset that CRD x-kubernetes-validations in this project use,
// parsed into a tree (not matched as strings), so spacing and equivalent spellings work:
//   literals: integers, doubles, 'single' / "double" quoted strings, true, false, null,
//             [list, literals]
//   variables: self, oldSelf; field access a.b, index a[0] / a['k']
//   operators: ! - (unary), * / %, + -, < <= > >= == !=, in, &&, ||, ?:
//   functions: has(a.b), size(x) / x.size(), x.matches('re'), x.startsWith(s),
//              x.endsWith(s), x.contains(s), x.all(v, pred), x.exists(v, pred)
// Anything else fails to parse; the schema then records the rule as unsupported and skips it.
//
// Thread-safety: a parsed CelRule is immutable; Evaluate may run concurrently.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace devserver {

struct CelNode;

class CelProgram {
 public:
  // InvalidArgument (with the position) when the expression is outside the subset.
  static waop::Result<CelProgram> Parse(std::string_view expression);

  // True/false; InvalidArgument for an evaluation error (no such key, type mismatch,
  // non-boolean result), as CEL's runtime errors.
  waop::Result<bool> Evaluate(const nlohmann::json& self, const nlohmann::json* old_self) const;

  // Whether the expression mentions oldSelf (a transition rule).
  bool UsesOldSelf() const { return uses_old_self_; }

 private:
  std::shared_ptr<const CelNode> root_;
  bool uses_old_self_ = false;
};

}  // namespace devserver
