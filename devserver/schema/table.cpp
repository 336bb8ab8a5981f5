#include "schema/table.h"

#include <cctype>
#include <optional>

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

namespace {

constexpr char kNameDescription[] =
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr char kCreationTimestampDescription[] =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

// One step of a parsed JSONPath.
struct Step {
  enum class Kind { kField, kIndex, kAll, kFilter } kind = Kind::kField;
  std::string field;
  int64_t index = 0;
  // Filter: @.<filter_path> <op> <literal>; op empty means "exists".
  std::vector<std::string> filter_path;
  std::string op;
  json literal;
};

Result<json> ParseLiteral(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return json(std::string(s.substr(1, s.size() - 2)));
  }
  if (s == "true") return json(true);
  if (s == "false") return json(false);
  try {
    size_t used = 0;
    std::string text(s);
    if (text.find('.') == std::string::npos) {
      int64_t v = std::stoll(text, &used);
      if (used == text.size()) return json(v);
    } else {
      double v = std::stod(text, &used);
      if (used == text.size()) return json(v);
    }
  } catch (const std::exception&) {
    // Fall through to the error below.
  }
  return Status::InvalidArgument("filter literal '" + std::string(s) + "' is not a string, " +
                                 "number or boolean");
}

Result<std::vector<std::string>> ParseDotted(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '.') return Status::InvalidArgument("expected '.' in '" + std::string(s) + "'");
    size_t j = i + 1;
    while (j < s.size() && s[j] != '.') ++j;
    if (j == i + 1) return Status::InvalidArgument("empty field name in '" + std::string(s) + "'");
    out.emplace_back(s.substr(i + 1, j - i - 1));
    i = j;
  }
  return out;
}

Result<std::vector<Step>> ParsePath(std::string_view path) {
  std::string_view p = path;
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.front()))) p.remove_prefix(1);
  while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.remove_suffix(1);
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = p.substr(1, p.size() - 2);
  if (!p.empty() && p.front() == '$') p.remove_prefix(1);
  std::vector<Step> steps;
  size_t i = 0;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("JSONPath '" + std::string(path) + "': " + why);
  };
  while (i < p.size()) {
    if (p[i] == '.') {
      if (i + 1 < p.size() && p[i + 1] == '.') return bad("recursive descent is not supported");
      size_t j = i + 1;
      // A backslash escapes a dot inside a key (kubectl's "labels.app\.kubernetes\.io/name").
      std::string name;
      while (j < p.size() && p[j] != '.' && p[j] != '[') {
        if (p[j] == '\\' && j + 1 < p.size()) ++j;
        name += p[j++];
      }
      if (name.empty()) return bad("empty field name");
      Step s;
      s.field = name;
      steps.push_back(s);
      i = j;
    } else if (p[i] == '[') {
      size_t close = p.find(']', i);
      // A filter may contain ']' inside a quoted literal; find the closing ")]".
      if (p.substr(i, 2) == "[?") {
        close = p.find(")]", i);
        if (close == std::string_view::npos) return bad("unterminated filter");
        std::string_view body = p.substr(i + 2, close - i - 2);
        if (body.empty() || body.front() != '(') return bad("filter must be [?(...)]");
        body.remove_prefix(1);
        while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
        if (body.substr(0, 1) != "@") return bad("filter must start with @");
        body.remove_prefix(1);
        Step s;
        s.kind = Step::Kind::kFilter;
        size_t op_at = std::string_view::npos;
        for (const char* op : {"==", "!="}) {
          size_t at = body.find(op);
          if (at != std::string_view::npos && (op_at == std::string_view::npos || at < op_at)) {
            op_at = at;
            s.op = op;
          }
        }
        std::string_view lhs = op_at == std::string_view::npos ? body : body.substr(0, op_at);
        while (!lhs.empty() && lhs.back() == ' ') lhs.remove_suffix(1);
        auto fields = ParseDotted(lhs);
        if (!fields.ok()) return bad(fields.status().message());
        s.filter_path = *fields;
        if (op_at != std::string_view::npos) {
          auto lit = ParseLiteral(body.substr(op_at + 2));
          if (!lit.ok()) return bad(lit.status().message());
          s.literal = *lit;
        }
        steps.push_back(s);
        i = close + 2;
        continue;
      }
      if (close == std::string_view::npos) return bad("unterminated '['");
      std::string_view inside = p.substr(i + 1, close - i - 1);
      Step s;
      if (inside == "*") {
        s.kind = Step::Kind::kAll;
      } else if (inside.size() >= 2 && (inside.front() == '\'' || inside.front() == '"')) {
        s.field = std::string(inside.substr(1, inside.size() - 2));
      } else {
        try {
          size_t used = 0;
          s.index = std::stoll(std::string(inside), &used);
          if (used != inside.size()) return bad("bad index '" + std::string(inside) + "'");
        } catch (const std::exception&) {
          return bad("bad index '" + std::string(inside) + "'");
        }
        s.kind = Step::Kind::kIndex;
      }
      steps.push_back(s);
      i = close + 1;
    } else {
      return bad(std::string("unexpected '") + p[i] + "'");
    }
  }
  return steps;
}

const json* Lookup(const json& v, const std::vector<std::string>& fields) {
  const json* cur = &v;
  for (const auto& f : fields) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(f);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool LiteralEquals(const json& value, const json& literal) {
  if (value.is_number() && literal.is_number()) return value.get<double>() == literal.get<double>();
  return value == literal;
}

std::string CellString(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::vector<json> EvalSteps(const std::vector<Step>& steps, const json& obj);

// A printer column with its JSONPath parsed once per table, not once per cell.
struct ParsedColumn {
  std::string type;
  std::optional<std::vector<Step>> steps;  // nullopt: the path does not parse; cells are null
};

json Cell(const ParsedColumn& column, const json& obj, const waop::Clock& clock) {
  if (!column.steps) return nullptr;
  std::vector<json> results = EvalSteps(*column.steps, obj);
  if (results.empty()) return nullptr;
  const json& value = results[0];
  const std::string& type = column.type;
  if (value.is_null()) return nullptr;
  if (type == "string") return CellString(value);
  if (type == "integer") {
    if (value.is_number()) return json(static_cast<int64_t>(value.get<double>()));
    return nullptr;
  }
  if (type == "number") {
    if (value.is_number()) return json(value.get<double>());
    return nullptr;
  }
  if (type == "boolean") return value.is_boolean() ? value : json(nullptr);
  if (type == "date") {
    if (!value.is_string()) return nullptr;
    auto t = waop::ParseRfc3339(value.get<std::string>());
    if (!t.ok()) return "<invalid>";
    return HumanDuration(clock.Now() - *t);
  }
  return nullptr;
}

std::vector<json> EvalSteps(const std::vector<Step>& steps, const json& obj) {
  std::vector<const json*> current{&obj};
  for (const auto& step : steps) {
    std::vector<const json*> next;
    for (const json* v : current) {
      switch (step.kind) {
        case Step::Kind::kField:
          if (v->is_object()) {
            auto it = v->find(step.field);
            if (it != v->end()) next.push_back(&*it);
          }
          break;
        case Step::Kind::kIndex:
          if (v->is_array()) {
            int64_t n = static_cast<int64_t>(v->size());
            int64_t i = step.index < 0 ? n + step.index : step.index;
            if (i >= 0 && i < n) next.push_back(&(*v)[static_cast<size_t>(i)]);
          }
          break;
        case Step::Kind::kAll:
          if (v->is_array()) {
            for (const auto& x : *v) next.push_back(&x);
          } else if (v->is_object()) {
            for (const auto& [k, x] : v->items()) next.push_back(&x);
          }
          break;
        case Step::Kind::kFilter:
          if (v->is_array()) {
            for (const auto& x : *v) {
              const json* field = Lookup(x, step.filter_path);
              bool keep = false;
              if (step.op.empty()) {
                keep = field != nullptr;
              } else if (field != nullptr) {
                bool eq = LiteralEquals(*field, step.literal);
                keep = step.op == "==" ? eq : !eq;
              }
              if (keep) next.push_back(&x);
            }
          }
          break;
      }
    }
    current = std::move(next);
  }
  std::vector<json> out;
  out.reserve(current.size());
  for (const json* v : current) out.push_back(*v);
  return out;
}

}  // namespace

Result<std::vector<json>> EvalJsonPath(std::string_view path, const json& obj) {
  auto steps = ParsePath(path);
  if (!steps.ok()) return steps.status();
  return EvalSteps(*steps, obj);
}

std::string HumanDuration(std::chrono::nanoseconds d) {
  using std::chrono::duration_cast;
  int64_t seconds = duration_cast<std::chrono::seconds>(d).count();
  // Up to two seconds in the future counts as now (clock skew), as in apimachinery.
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  int64_t hours = minutes / 60;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return dy == 0 ? std::to_string(hours / 24 / 365) + "y"
                   : std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

json BuildTable(const json& additional_printer_columns, const std::vector<const json*>& objects,
                const std::string& list_resource_version, bool include_object) {
  return BuildTable(additional_printer_columns, objects, list_resource_version, include_object,
                    waop::RealClock::Get());
}

json BuildTable(const json& additional_printer_columns, const std::vector<const json*>& objects,
                const std::string& list_resource_version, bool include_object,
                const waop::Clock& clock) {
  json columns = additional_printer_columns.is_array() ? additional_printer_columns : json::array();
  if (columns.empty()) {
    columns.push_back({{"name", "Age"},
                       {"type", "date"},
                       {"description", kCreationTimestampDescription},
                       {"jsonPath", ".metadata.creationTimestamp"}});
  }
  json defs = json::array();
  defs.push_back({{"name", "Name"},
                  {"type", "string"},
                  {"format", "name"},
                  {"description", kNameDescription},
                  {"priority", 0}});
  for (const auto& c : columns) {
    defs.push_back({{"name", c.value("name", "")},
                    {"type", c.value("type", "string")},
                    {"format", c.value("format", "")},
                    {"description", c.value("description", "")},
                    {"priority", c.value("priority", 0)}});
  }
  std::vector<ParsedColumn> parsed;
  for (const auto& c : columns) {
    ParsedColumn p;
    p.type = c.value("type", "string");
    auto steps = ParsePath(c.value("jsonPath", ""));
    if (steps.ok()) p.steps = std::move(*steps);
    parsed.push_back(std::move(p));
  }
  json rows = json::array();
  for (const json* obj : objects) {
    if (obj == nullptr) continue;
    json cells = json::array();
    const json* name = Lookup(*obj, {"metadata", "name"});
    cells.push_back(name != nullptr ? *name : json(""));
    for (const auto& c : parsed) cells.push_back(Cell(c, *obj, clock));
    json row = {{"cells", cells}};
    if (include_object) {
      row["object"] = *obj;
    } else {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", obj->value("metadata", json::object())}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", list_resource_version}}},
          {"columnDefinitions", defs},
          {"rows", rows}};
}

}  // namespace devserver
