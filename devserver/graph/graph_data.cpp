#include "graph_data.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace graphdev {

using waop::Result;
using waop::Status;

namespace {

// Throws nothing: every yaml-cpp call that could throw is inside ParseGraphData's try.
class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Status Error(const std::string& field, const std::string& expected) const {
    return Status::InvalidArgument(source_ + ": " + field + ": " + expected);
  }

  // A scalar string field; `required` makes a missing one an error.
  Status String(const YAML::Node& map, const std::string& key, const std::string& path,
                bool required, std::string* out) const {
    YAML::Node n = map[key];
    if (!n || n.IsNull()) {
      if (required) return Error(path + key, "required, expected a string");
      return Status::Ok();
    }
    if (!n.IsScalar()) return Error(path + key, "expected a string");
    *out = n.Scalar();
    return Status::Ok();
  }

  Status Keys(const YAML::Node& map, const std::string& path,
              const std::set<std::string>& allowed) const {
    for (const auto& kv : map) {
      std::string k = kv.first.Scalar();
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(path + k, "unknown field (expected one of: " + list + ")");
      }
    }
    return Status::Ok();
  }

  Status Number(const YAML::Node& n, const std::string& path, PhoneNumber* out) const {
    if (!n.IsMap()) return Error(path, "expected a mapping with id, displayPhoneNumber, ...");
    const std::string p = path + ".";
    WAOP_RETURN_IF_ERROR(Keys(
        n, p, {"id", "displayPhoneNumber", "verifiedName", "qualityRating", "messagingLimitTier"}));
    WAOP_RETURN_IF_ERROR(String(n, "id", p, true, &out->id));
    if (!ValidGraphId(out->id))
      return Error(p + "id", "expected 1-32 digits, got \"" + out->id + "\"");
    WAOP_RETURN_IF_ERROR(String(n, "displayPhoneNumber", p, true, &out->display_phone_number));
    WAOP_RETURN_IF_ERROR(String(n, "verifiedName", p, false, &out->verified_name));
    WAOP_RETURN_IF_ERROR(String(n, "qualityRating", p, false, &out->quality_rating));
    if (!ValidRating(out->quality_rating)) {
      return Error(p + "qualityRating", "expected GREEN, YELLOW, RED, NA or UNKNOWN, got \"" +
                                            out->quality_rating + "\"");
    }
    WAOP_RETURN_IF_ERROR(String(n, "messagingLimitTier", p, false, &out->messaging_limit_tier));
    return Status::Ok();
  }

  Status Tmpl(const YAML::Node& n, const std::string& path, Template* out) const {
    if (!n.IsMap()) return Error(path, "expected a mapping with name, language, status");
    const std::string p = path + ".";
    WAOP_RETURN_IF_ERROR(Keys(n, p, {"id", "name", "language", "status", "category"}));
    WAOP_RETURN_IF_ERROR(String(n, "name", p, true, &out->name));
    WAOP_RETURN_IF_ERROR(String(n, "language", p, true, &out->language));
    WAOP_RETURN_IF_ERROR(String(n, "status", p, false, &out->status));
    WAOP_RETURN_IF_ERROR(String(n, "category", p, false, &out->category));
    WAOP_RETURN_IF_ERROR(String(n, "id", p, false, &out->id));
    return Status::Ok();
  }

  Result<GraphData> Parse(const YAML::Node& root) const {
    if (!root || root.IsNull()) return Error("(top level)", "the file is empty");
    if (!root.IsMap()) return Error("(top level)", "expected a mapping with token and wabas");
    WAOP_RETURN_IF_ERROR(Keys(root, "", {"token", "appSecret", "maxPageSize", "wabas"}));
    GraphData d;
    WAOP_RETURN_IF_ERROR(String(root, "token", "", true, &d.token));
    if (d.token.empty()) return Error("token", "expected a non-empty string");
    WAOP_RETURN_IF_ERROR(String(root, "appSecret", "", false, &d.app_secret));
    if (YAML::Node m = root["maxPageSize"]; m && !m.IsNull()) {
      int v = -1;
      if (!m.IsScalar() || !YAML::convert<int>::decode(m, v) || v < 0 || v > 100) {
        return Error("maxPageSize", "expected an integer 0..100 (0 = no cap)");
      }
      d.max_page_size = v;
    }
    YAML::Node wabas = root["wabas"];
    if (!wabas || !wabas.IsSequence() || wabas.size() == 0) {
      return Error("wabas", "required, expected a non-empty list of {id, phoneNumbers, templates}");
    }
    std::set<std::string> number_ids;
    uint64_t template_id = 900000000000000;
    for (size_t i = 0; i < wabas.size(); ++i) {
      const std::string path = "wabas[" + std::to_string(i) + "]";
      const YAML::Node w = wabas[i];
      if (!w.IsMap()) return Error(path, "expected a mapping with id, phoneNumbers, templates");
      WAOP_RETURN_IF_ERROR(Keys(w, path + ".", {"id", "phoneNumbers", "templates"}));
      Waba waba;
      WAOP_RETURN_IF_ERROR(String(w, "id", path + ".", true, &waba.id));
      if (!ValidGraphId(waba.id))
        return Error(path + ".id", "expected 1-32 digits, got \"" + waba.id + "\"");
      if (d.wabas.count(waba.id)) return Error(path + ".id", "duplicate WABA id " + waba.id);
      if (YAML::Node nums = w["phoneNumbers"]; nums && !nums.IsNull()) {
        if (!nums.IsSequence()) return Error(path + ".phoneNumbers", "expected a list");
        for (size_t j = 0; j < nums.size(); ++j) {
          const std::string np = path + ".phoneNumbers[" + std::to_string(j) + "]";
          PhoneNumber pn;
          WAOP_RETURN_IF_ERROR(Number(nums[j], np, &pn));
          if (!number_ids.insert(pn.id).second) {
            return Error(np + ".id", "duplicate phone number id " + pn.id);
          }
          waba.numbers[pn.id] = pn;
        }
      }
      if (YAML::Node ts = w["templates"]; ts && !ts.IsNull()) {
        if (!ts.IsSequence()) return Error(path + ".templates", "expected a list");
        for (size_t j = 0; j < ts.size(); ++j) {
          Template t;
          WAOP_RETURN_IF_ERROR(Tmpl(ts[j], path + ".templates[" + std::to_string(j) + "]", &t));
          if (t.id.empty()) t.id = std::to_string(template_id++);
          waba.templates.push_back(t);
        }
      }
      d.wabas[waba.id] = std::move(waba);
    }
    return d;
  }

 private:
  std::string source_;
};

}  // namespace

bool ValidRating(std::string_view r) {
  return r == "GREEN" || r == "YELLOW" || r == "RED" || r == "NA" || r == "UNKNOWN";
}

bool ValidGraphId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Result<GraphData> ParseGraphData(const std::string& yaml_text, const std::string& source) {
  try {
    return Parser(source).Parse(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": not valid YAML: " + e.what());
  }
}

Result<GraphData> LoadGraphData(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot read the data file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseGraphData(ss.str(), path);
}

}  // namespace graphdev
