// graph-devserver's data: the WhatsApp Business Accounts (WABAs) it serves, their phone
// numbers and message templates, the bearer token it accepts and the app secret it signs
// webhooks with. Loaded from a YAML file (--data) and changed while running through the
// control API (graph_server.h).
//
// Thread-safety: plain values; GraphServer guards its copy with a mutex.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace graphdev {

struct PhoneNumber {
  std::string id;  // digits
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating = "GREEN";  // GREEN, YELLOW, RED, NA, UNKNOWN
  std::string messaging_limit_tier;      // e.g. TIER_1K; may be empty
};

struct Template {
  std::string id;
  std::string name;
  std::string language;
  std::string status = "APPROVED";
  std::string category = "UTILITY";
};

// Orders numeric ids numerically ("9" < "10"), which is also the order pages are served in,
// so a cursor ("after this id") stays valid when numbers are added or removed between pages.
struct IdLess {
  bool operator()(const std::string& a, const std::string& b) const {
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
  }
};

struct Waba {
  std::string id;
  std::map<std::string, PhoneNumber, IdLess> numbers;  // by id
  std::vector<Template> templates;                     // in file order
};

struct GraphData {
  std::string token;       // the bearer token accepted (secret)
  std::string app_secret;  // signs webhooks (secret)
  int max_page_size = 0;   // 0 = no cap below Meta's 100
  std::map<std::string, Waba, IdLess> wabas;
};

// The quality ratings and Graph ids the server accepts.
bool ValidRating(std::string_view r);
bool ValidGraphId(std::string_view id);  // 1-32 digits

// Parses the YAML text of a data file; `source` names it in errors. InvalidArgument naming the
// field (e.g. "wabas[0].phoneNumbers[2].qualityRating") and what was expected.
waop::Result<GraphData> ParseGraphData(const std::string& yaml_text, const std::string& source);
// Reads and parses a file; InvalidArgument when it cannot be read.
waop::Result<GraphData> LoadGraphData(const std::string& path);

}  // namespace graphdev
