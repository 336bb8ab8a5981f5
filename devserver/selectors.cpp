#include "selectors.h"

#include <cctype>

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTerms(const std::string& text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!Trim(cur).empty() || !out.empty()) out.push_back(Trim(cur));
  return out;
}

bool ValidLabelKey(const std::string& k) {
  if (k.empty() || k.size() > 316) return false;
  for (char c : k) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/'))
      return false;
  }
  return true;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& term : SplitTerms(text)) {
    if (term.empty()) return Status::InvalidArgument("unable to parse requirement: empty term");
    Req r;
    size_t pos;
    if (term[0] == '!') {
      r.key = Trim(term.substr(1));
      r.op = Op::kNotExists;
    } else if ((pos = term.find("!=")) != std::string::npos) {
      r.key = Trim(term.substr(0, pos));
      r.op = Op::kNotEq;
      r.values.insert(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find("==")) != std::string::npos) {
      r.key = Trim(term.substr(0, pos));
      r.op = Op::kEq;
      r.values.insert(Trim(term.substr(pos + 2)));
    } else if ((pos = term.find('=')) != std::string::npos) {
      r.key = Trim(term.substr(0, pos));
      r.op = Op::kEq;
      r.values.insert(Trim(term.substr(pos + 1)));
    } else if ((pos = term.find(" notin ")) != std::string::npos ||
               (pos = term.find(" in ")) != std::string::npos) {
      bool notin = term.compare(pos, 7, " notin ") == 0;
      r.key = Trim(term.substr(0, pos));
      r.op = notin ? Op::kNotIn : Op::kIn;
      std::string rest = Trim(term.substr(pos + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        return Status::InvalidArgument("unable to parse requirement: found '" + rest +
                                       "', expected: '(' ... ')'");
      }
      std::string inner = rest.substr(1, rest.size() - 2);
      size_t start = 0;
      while (start <= inner.size()) {
        size_t comma = inner.find(',', start);
        if (comma == std::string::npos) comma = inner.size();
        r.values.insert(Trim(inner.substr(start, comma - start)));
        start = comma + 1;
      }
    } else {
      r.key = term;
      r.op = Op::kExists;
    }
    if (!ValidLabelKey(r.key)) {
      return Status::InvalidArgument("unable to parse requirement: invalid label key \"" + r.key +
                                     "\"");
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const json& labels) const {
  for (const Req& r : reqs_) {
    const json* v = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(r.key);
      if (it != labels.end() && it->is_string()) v = &*it;
    }
    switch (r.op) {
      case Op::kExists:
        if (!v) return false;
        break;
      case Op::kNotExists:
        if (v) return false;
        break;
      case Op::kEq:
      case Op::kIn:
        if (!v || !r.values.count(v->get<std::string>())) return false;
        break;
      case Op::kNotEq:
      case Op::kNotIn:
        if (v && r.values.count(v->get<std::string>())) return false;
        break;
    }
  }
  return true;
}

namespace {

bool FieldSupported(const std::string& field, const std::string& resource) {
  if (field == "metadata.name" || field == "metadata.namespace") return true;
  if (resource == "events") {
    static const std::set<std::string> kEventFields = {"involvedObject.kind",
                                                       "involvedObject.namespace",
                                                       "involvedObject.name",
                                                       "involvedObject.uid",
                                                       "involvedObject.apiVersion",
                                                       "involvedObject.resourceVersion",
                                                       "involvedObject.fieldPath",
                                                       "reason",
                                                       "reportingComponent",
                                                       "source",
                                                       "type",
                                                       "regarding.kind",
                                                       "regarding.namespace",
                                                       "regarding.name",
                                                       "regarding.uid",
                                                       "reportingController"};
    return kEventFields.count(field) > 0;
  }
  if (resource == "secrets") return field == "type";
  if (resource == "namespaces") return field == "status.phase";
  return false;
}

std::string FieldValue(const json& obj, const std::string& field) {
  if (field == "source") {
    // core/v1 events: "source" means source.component.
    const json* s = obj.contains("source") ? &obj["source"] : nullptr;
    if (s && s->is_object() && s->contains("component") && (*s)["component"].is_string())
      return (*s)["component"].get<std::string>();
    return "";
  }
  const json* cur = &obj;
  size_t start = 0;
  while (start <= field.size()) {
    size_t dot = field.find('.', start);
    if (dot == std::string::npos) dot = field.size();
    std::string part = field.substr(start, dot - start);
    if (!cur->is_object()) return "";
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

}  // namespace

Result<FieldSelector> FieldSelector::Parse(const std::string& text, const std::string& resource) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& term : SplitTerms(text)) {
    Req r;
    size_t pos;
    if ((pos = term.find("!=")) != std::string::npos) {
      r.field = Trim(term.substr(0, pos));
      r.equal = false;
      r.value = Trim(term.substr(pos + 2));
    } else if ((pos = term.find("==")) != std::string::npos) {
      r.field = Trim(term.substr(0, pos));
      r.equal = true;
      r.value = Trim(term.substr(pos + 2));
    } else if ((pos = term.find('=')) != std::string::npos) {
      r.field = Trim(term.substr(0, pos));
      r.equal = true;
      r.value = Trim(term.substr(pos + 1));
    } else {
      return Status::InvalidArgument("invalid selector: '" + text + "'; can't understand '" + term +
                                     "'");
    }
    if (!FieldSupported(r.field, resource)) {
      return Status::InvalidArgument("field label not supported: " + r.field);
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const json& obj) const {
  for (const Req& r : reqs_) {
    bool eq = FieldValue(obj, r.field) == r.value;
    if (eq != r.equal) return false;
  }
  return true;
}

std::string FieldSelector::PinnedName() const {
  for (const Req& r : reqs_) {
    if (r.field == "metadata.name" && r.equal) return r.value;
  }
  return "";
}

}  // namespace devserver
