#include "kube/selector.h"

#include <algorithm>

#include "common/json.h"

namespace waop::kube {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits on commas outside parentheses.
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (text[i] == ',' && depth == 0) {
      out.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(Trim(text.substr(start)));
  return out;
}

bool ValidKey(std::string_view k) {
  if (k.empty() || k.size() > 253 + 1 + 63) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (Trim(text).empty()) return selector;
  for (std::string_view term : SplitTerms(text)) {
    const std::string quoted = "label selector term \"" + std::string(term) + "\"";
    if (term.empty()) return Status::InvalidArgument("label selector: empty term");
    Requirement r;
    if (term.front() == '!') {
      r.key = std::string(Trim(term.substr(1)));
      r.op = Op::kNotExists;
    } else if (auto p = term.find(" notin "); p != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, p)));
      r.op = Op::kNotIn;
      term.remove_prefix(p + 7);
    } else if (auto q = term.find(" in "); q != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, q)));
      r.op = Op::kIn;
      term.remove_prefix(q + 4);
    } else if (auto ne = term.find("!="); ne != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, ne)));
      r.op = Op::kNotEquals;
      r.values.emplace_back(Trim(term.substr(ne + 2)));
    } else if (auto eq = term.find('='); eq != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, eq)));
      r.op = Op::kEquals;
      std::string_view v = term.substr(eq + 1);
      if (!v.empty() && v.front() == '=') v.remove_prefix(1);
      r.values.emplace_back(Trim(v));
    } else {
      r.key = std::string(term);
      r.op = Op::kExists;
    }
    if (r.op == Op::kIn || r.op == Op::kNotIn) {
      term = Trim(term);
      if (term.size() < 2 || term.front() != '(' || term.back() != ')') {
        return Status::InvalidArgument(quoted + ": expected a parenthesised value list");
      }
      std::string_view list = term.substr(1, term.size() - 2);
      std::size_t start = 0;
      for (std::size_t i = 0; i <= list.size(); ++i) {
        if (i == list.size() || list[i] == ',') {
          r.values.emplace_back(Trim(list.substr(start, i - start)));
          start = i + 1;
        }
      }
    }
    if (!ValidKey(r.key)) return Status::InvalidArgument(quoted + ": invalid key");
    selector.requirements_.push_back(std::move(r));
  }
  return selector;
}

bool LabelSelector::Matches(const nlohmann::json& labels) const {
  for (const auto& r : requirements_) {
    const bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    const std::string value = has ? labels[r.key].get<std::string>() : "";
    const bool in_values =
        has && std::find(r.values.begin(), r.values.end(), value) != r.values.end();
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector selector;
  if (Trim(text).empty()) return selector;
  for (std::string_view term : SplitTerms(text)) {
    Term t;
    std::size_t op_len = 1;
    auto p = term.find("!=");
    if (p != std::string_view::npos) {
      t.equals = false;
      op_len = 2;
    } else {
      p = term.find("==");
      if (p != std::string_view::npos) {
        op_len = 2;
      } else {
        p = term.find('=');
      }
      t.equals = true;
    }
    if (p == std::string_view::npos) {
      return Status::InvalidArgument("field selector term \"" + std::string(term) +
                                     "\": expected field=value or field!=value");
    }
    t.field = std::string(Trim(term.substr(0, p)));
    t.value = std::string(Trim(term.substr(p + op_len)));
    if (t.field != "metadata.name" && t.field != "metadata.namespace") {
      return Status::InvalidArgument("field selector: field \"" + t.field +
                                     "\" is not supported (metadata.name, metadata.namespace)");
    }
    selector.terms_.push_back(std::move(t));
  }
  return selector;
}

bool FieldSelector::Matches(const nlohmann::json& object) const {
  for (const auto& t : terms_) {
    const auto& md = object.contains("metadata") ? object["metadata"] : nlohmann::json();
    const std::string key = t.field.substr(9);  // after "metadata."
    const std::string value = JsonString(md, key);
    if ((value == t.value) != t.equals) return false;
  }
  return true;
}

}  // namespace waop::kube
