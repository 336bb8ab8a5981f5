#include "yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace devserver::testing {

using nlohmann::json;

namespace {

json Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(Convert(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = Convert(kv.second);
      return out;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // Quoted: always a string.
  static const std::regex kInt("^[-+]?[0-9]+$");
  static const std::regex kFloat(R"(^[-+]?([0-9]*\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?$)");
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (std::regex_match(s, kInt)) return std::stoll(s);
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return s;
}

}  // namespace

waop::Result<json> YamlToJson(const std::string& yaml) {
  try {
    return Convert(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    return waop::Status::InvalidArgument(std::string("YAML does not parse: ") + e.what());
  }
}

waop::Result<json> LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return waop::Status::NotFound("cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return YamlToJson(buf.str());
}

waop::Result<json> CrdVersionSchema(const json& crd, const std::string& version) {
  for (const auto& v : crd["spec"]["versions"]) {
    if (v.value("name", "") == version) return v["schema"]["openAPIV3Schema"];
  }
  return waop::Status::NotFound("CRD has no version " + version);
}

}  // namespace devserver::testing
