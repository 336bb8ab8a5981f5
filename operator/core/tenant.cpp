#include "core/tenant.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/binding.h"
#include "core/validation.h"

namespace waop::core {
namespace {

std::string Digits(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

// A YAML double-quoted scalar: JSON's string syntax is valid YAML, and dump() without
// ensure_ascii keeps Unicode as it is (a tenant name stays readable in the file).
std::string Quoted(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A comment line's text: no line breaks (a tenant name could carry one).
std::string CommentText(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

// The ASCII letter a Latin-1 Supplement or Latin Extended-A letter is based on (two-byte UTF-8
// sequence `a b`), or 0.
char BaseLetter(unsigned char a, unsigned char b) {
  const unsigned cp = ((a & 0x1Fu) << 6) | (b & 0x3Fu);
  static const std::map<unsigned, char> kMap = [] {
    std::map<unsigned, char> m;
    auto add = [&m](unsigned from, unsigned to, char c) {
      for (unsigned x = from; x <= to; ++x) m[x] = c;
    };
    add(0xC0, 0xC5, 'a'), add(0xE0, 0xE5, 'a'), add(0xC7, 0xC7, 'c'), add(0xE7, 0xE7, 'c');
    add(0xC8, 0xCB, 'e'), add(0xE8, 0xEB, 'e'), add(0xCC, 0xCF, 'i'), add(0xEC, 0xEF, 'i');
    add(0xD1, 0xD1, 'n'), add(0xF1, 0xF1, 'n'), add(0xD2, 0xD6, 'o'), add(0xF2, 0xF6, 'o');
    add(0xD8, 0xD8, 'o'), add(0xF8, 0xF8, 'o'), add(0xD9, 0xDC, 'u'), add(0xF9, 0xFC, 'u');
    add(0xDD, 0xDD, 'y'), add(0xFD, 0xFD, 'y'), add(0xFF, 0xFF, 'y'), add(0xDF, 0xDF, 's');
    add(0x100, 0x105, 'a'), add(0x106, 0x10D, 'c'), add(0x10E, 0x111, 'd'), add(0x112, 0x11B, 'e');
    add(0x11C, 0x123, 'g'), add(0x128, 0x131, 'i'), add(0x139, 0x142, 'l'), add(0x143, 0x148, 'n');
    add(0x14C, 0x151, 'o'), add(0x154, 0x159, 'r'), add(0x15A, 0x161, 's'), add(0x162, 0x167, 't');
    add(0x168, 0x173, 'u'), add(0x179, 0x17E, 'z');
    return m;
  }();
  auto it = kMap.find(cp);
  return it == kMap.end() ? 0 : it->second;
}

std::string Slug(std::string_view text, size_t max) {
  std::string out;
  bool hyphen = false;
  auto put = [&](char c) {
    if (c == '-') {
      hyphen = !out.empty();
      return;
    }
    if (hyphen) out += '-';
    hyphen = false;
    out += c;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (std::isalnum(c) != 0) {
        put(static_cast<char>(std::tolower(c)));
      } else {
        put('-');
      }
      continue;
    }
    if ((c & 0xE0u) == 0xC0u && i + 1 < text.size()) {
      if (char base = BaseLetter(c, static_cast<unsigned char>(text[i + 1])); base != 0) {
        put(base);
        ++i;
        continue;
      }
    }
    // Any other code point: a separator (its continuation bytes are skipped).
    while (i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0u) == 0x80u) ++i;
    put('-');
  }
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace

bool RowShows(const TenantRow& row, const TenantTarget& target) {
  if (row.phone_number_id != target.phone_number_id) return false;
  if (target.display_phone_number.empty()) return true;
  return Digits(row.display_phone_number) == Digits(target.display_phone_number);
}

std::vector<TenantCall> CallsToShow(const std::optional<TenantRow>& row,
                                    const TenantTarget& target) {
  if (row && RowShows(*row, target)) return {};
  std::vector<TenantCall> calls;
  if (row && !row->phone_number_id.empty()) {
    calls.push_back({TenantCallKind::kUnassign, target.tenant_id, "", ""});
  }
  calls.push_back({TenantCallKind::kAssign, target.tenant_id, target.phone_number_id,
                   target.display_phone_number});
  return calls;
}

TenantDrift DiffTenants(const std::vector<TenantTarget>& targets,
                        const std::vector<TenantRow>& rows,
                        const std::set<std::string, std::less<>>& releasing) {
  TenantDrift drift;
  std::map<std::string_view, const TenantRow*> by_tenant;
  for (const TenantRow& r : rows) by_tenant.emplace(r.tenant_id, &r);
  std::set<std::string_view> wanted;
  for (const TenantTarget& t : targets) {
    wanted.insert(t.tenant_id);
    auto it = by_tenant.find(t.tenant_id);
    if (it == by_tenant.end() || !RowShows(*it->second, t)) drift.differing.push_back(t.tenant_id);
  }
  for (const TenantRow& r : rows) {
    if (!r.legacy_keys.empty()) drift.legacy.push_back(r);
    if (r.phone_number_id.empty() || wanted.contains(r.tenant_id) ||
        releasing.contains(r.tenant_id)) {
      continue;
    }
    drift.unexpected.push_back(r);
  }
  return drift;
}

api::AssignmentStatus ReleasingStatus(const api::Assignment& live, std::string_view cause,
                                      WallTime now) {
  api::AssignmentStatus s = live.status;
  s.observed_generation = live.metadata.generation;
  const std::string number = !live.spec.display_phone_number.empty()
                                 ? live.spec.display_phone_number
                                 : live.spec.phone_number_id;
  const std::string tenant =
      !live.spec.tenant_name.empty() ? "'" + live.spec.tenant_name + "'" : live.spec.tenant_id;
  api::Condition ready;
  ready.type = std::string(api::kConditionReady);
  ready.status = api::ConditionStatus::kFalse;
  ready.reason = std::string(api::kReasonReleasing);
  ready.message =
      "Assignment is being deleted; waiting for the tenant service to unassign phone "
      "number " +
      number + " from tenant " + tenant + " (" + std::string(cause) + ")";
  ready.observed_generation = live.metadata.generation;
  SetCondition(&s.conditions, std::move(ready), now);
  RemoveCondition(&s.conditions, api::kConditionStalled);
  RemoveCondition(&s.conditions, api::kConditionReconciling);
  return s;
}

std::string AssignmentNameFor(std::string_view tenant_name, std::string_view tenant_id) {
  // Room for a "-NN" suffix that makes a name unique.
  constexpr size_t kMax = 59;
  std::string name = Slug(tenant_name, kMax);
  if (!name.empty() && std::isalpha(static_cast<unsigned char>(name.front())) == 0 &&
      name.size() < kMax) {
    // A DNS-1123 label may start with a digit; a name like "42" reads better with a prefix.
    name = "tenant-" + name;
    if (name.size() > kMax) name.resize(kMax);
  }
  if (name.empty()) name = Slug("tenant-" + std::string(tenant_id), kMax);
  if (name.empty()) name = "tenant";
  return name;
}

ExportResult ExportAssignments(const std::vector<TenantRow>& rows, std::string_view ns) {
  ExportResult result;
  struct Candidate {
    const TenantRow* row;
    std::string base;
    std::string name;
  };
  std::vector<Candidate> candidates;
  for (const TenantRow& r : rows) {
    if (r.phone_number_id.empty()) {
      result.skipped.push_back("tenant " + r.tenant_id + ": no phone number assigned");
      continue;
    }
    api::AssignmentSpec spec;
    spec.tenant_id = r.tenant_id;
    spec.tenant_name = r.tenant_name;
    spec.phone_number_id = r.phone_number_id;
    spec.display_phone_number =
        IsDisplayPhoneNumber(r.display_phone_number) ? r.display_phone_number : std::string();
    if (api::FieldErrors errors = ValidateAssignmentSpec(spec); !errors.empty()) {
      result.skipped.push_back("tenant " + r.tenant_id + ": " + errors.ToString());
      continue;
    }
    candidates.push_back({&r, AssignmentNameFor(r.tenant_name, r.tenant_id), ""});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.base, a.row->tenant_id) < std::tie(b.base, b.row->tenant_id);
  });
  std::set<std::string> used;
  for (Candidate& c : candidates) {
    c.name = c.base;
    for (int n = 2; used.contains(c.name); ++n) c.name = c.base + "-" + std::to_string(n);
    used.insert(c.name);
  }
  // File order is name order, so creation order and the namespace/name tie-break agree.
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.name < b.name; });

  std::vector<AssignmentSummary> summaries;
  for (const Candidate& c : candidates) {
    AssignmentSummary s;
    s.ns = std::string(ns);
    s.name = c.name;
    s.uid = c.name;
    s.tenant_id = c.row->tenant_id;
    s.tenant_name = c.row->tenant_name;
    s.phone_number_id = c.row->phone_number_id;
    s.display_phone_number = c.row->display_phone_number;
    summaries.push_back(std::move(s));
  }
  const std::vector<BindingOutcome> outcomes = ResolveBindings(summaries);

  for (size_t i = 0; i < candidates.size(); ++i) {
    const TenantRow& r = *candidates[i].row;
    std::string doc;
    doc += "# From tenant service row " + CommentText(r.tenant_id) + " (" +
           CommentText(r.tenant_name.empty() ? "no name" : r.tenant_name) + ")\n";
    if (!IsDisplayPhoneNumber(r.display_phone_number) && !r.display_phone_number.empty()) {
      doc += "# display_phone_number " + Quoted(r.display_phone_number) +
             " is not E.164 and was left out\n";
    }
    if (const BindingOutcome& o = outcomes[i]; o.state != BindingState::kBound && o.holder) {
      ++result.losers;
      const bool phone = o.state == BindingState::kDuplicatePhoneNumber;
      doc +=
          "# DUPLICATE: " +
          (phone ? "phone number " + r.phone_number_id + " is also in the row of tenant "
                 : "tenant " + r.tenant_id + " also appears in another row, ") +
          CommentText(o.holder->tenant_name.empty() ? o.holder->tenant_id : o.holder->tenant_name) +
          ", exported as " + o.holder->name + ".\n";
      doc +=
          "# The oldest assignment wins (creationTimestamp, then namespace/name). This file "
          "lists " +
          o.holder->name +
          " first and its name sorts first, so\n# applied together it wins; this one will be "
          "Ready=False " +
          std::string(phone ? "DuplicatePhoneNumber" : "DuplicateTenant") +
          " until one of them is changed or deleted.\n";
    }
    doc += "apiVersion: " + std::string(api::kApiVersion) + "\n";
    doc += "kind: " + std::string(api::kAssignmentKind) + "\n";
    doc += "metadata:\n  name: " + candidates[i].name + "\n";
    if (!ns.empty()) doc += "  namespace: " + std::string(ns) + "\n";
    doc += "spec:\n";
    doc += "  tenantId: " + Quoted(r.tenant_id) + "\n";
    if (!r.tenant_name.empty()) doc += "  tenantName: " + Quoted(r.tenant_name) + "\n";
    doc += "  phoneNumberId: " + Quoted(r.phone_number_id) + "\n";
    if (IsDisplayPhoneNumber(r.display_phone_number) && !r.display_phone_number.empty()) {
      doc += "  displayPhoneNumber: " + Quoted(r.display_phone_number) + "\n";
    }
    doc += std::string("  enabled: ") + (r.whatsapp_enabled ? "true" : "false") + "\n";
    result.assignments.push_back({candidates[i].name, std::move(doc)});
  }
  return result;
}

std::string ExportYamlStream(const ExportResult& result, std::string_view source) {
  std::string out = "# WhatsAppAssignments exported from the tenant service " +
                    CommentText(source) + " by whatsapp-operator export.\n";
  out += "# " + std::to_string(result.assignments.size()) + " assignment(s)";
  if (result.losers > 0) {
    out += ", " + std::to_string(result.losers) + " of them duplicates that will not bind";
  }
  out += "; apply them in this order (kubectl apply -f keeps it).\n";
  for (const std::string& s : result.skipped) out += "# Skipped " + CommentText(s) + "\n";
  for (const ExportedAssignment& a : result.assignments) out += "---\n" + a.yaml;
  return out;
}

}  // namespace waop::core
