#include "kube/pack.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace waop::kube {
namespace {

using nlohmann::json;

// Tags. A byte with the high bit set is a dictionary word: kWords[byte & 0x7f].
enum Tag : std::uint8_t {
  kNull = 0x00,
  kFalse = 0x01,
  kTrue = 0x02,
  kNegative = 0x03,   // number_integer < 0: varint of -(v + 1)
  kSigned = 0x04,     // number_integer >= 0: varint
  kUnsigned = 0x05,   // number_unsigned: varint
  kFloat = 0x06,      // 8 bytes, host order
  kString = 0x07,     // varint length, bytes
  kArray = 0x08,      // varint count, items
  kObject = 0x09,     // varint count, (key as a string form, value) pairs
  kTimestamp = 0x0a,  // varint seconds since 1970 of "YYYY-MM-DDTHH:MM:SSZ"
  kUuid = 0x0b,       // 16 bytes of a lowercase 8-4-4-4-12 UUID
  kBinary = 0x0c,     // varint length, bytes, 0 or 1 + varint subtype
  kWord = 0x80,
};

// Keys and values that recur in the objects the operator caches (assignments, phone numbers,
// settings ConfigMaps, published Secrets, Leases). Order is free but fixed; at most 128.
constexpr std::string_view kWords[] = {
    // Object and metadata keys.
    "apiVersion", "kind", "metadata", "spec", "status", "data", "name", "namespace", "uid",
    "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "blockOwnerDeletion", "controller", "type", "immutable",
    // Status and condition keys.
    "conditions", "reason", "message", "lastTransitionTime", "observedGeneration",
    // WhatsAppAssignment and WhatsAppPhoneNumber fields.
    "phoneNumberId", "tenantId", "tenantName", "enabled", "defaultLanguage", "qualityRating",
    "settingsConfigMap", "displayPhoneNumber", "verifiedName", "messagingLimitTier",
    "qualityCheckedAt", "lastSyncTime", "assignment",
    // Lease fields.
    "holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions",
    // Values: API groups, kinds, condition vocabulary, ratings.
    "v1", "whatsapp.bakery-ia.io/v1alpha1", "WhatsAppAssignment", "WhatsAppPhoneNumber",
    "ConfigMap", "Secret", "Opaque", "coordination.k8s.io/v1", "Lease", "True", "False", "Unknown",
    "Ready", "Stalled", "Reconciling", "QualitySynced", "TemplateApproved", "Bound",
    "DuplicatePhoneNumber", "DuplicateTenant", "InvalidSpec", "SettingsSyncFailed", "Releasing",
    "Pending", "Synced", "CredentialsMissing", "MetaUnavailable", "MetaError", "TokenRejected",
    "PhoneNumberNotFound", "RateLimited", "TenantServiceError", "TemplateUnknown",
    "TemplatePending", "TemplateRejected", "TemplateMissing", "TemplateNotApproved", "Approved",
    "GREEN", "YELLOW", "RED", "UNKNOWN", "es", "en",
    // Labels, annotations and keys the operator writes.
    "app.kubernetes.io/managed-by", "app.kubernetes.io/name", "app.kubernetes.io/component",
    "app.kubernetes.io/instance", "whatsapp-operator", "whatsapp.bakery-ia.io/tenant-id",
    "whatsapp.bakery-ia.io/finalizer", "whatsapp.bakery-ia.io/content-hash",
    "whatsapp-master-credentials", "notification_settings.json"};
constexpr std::size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
static_assert(kWordCount <= 128, "a dictionary word is one byte with the high bit set");

const std::unordered_map<std::string_view, std::uint8_t>& WordCodes() {
  static const auto* codes = [] {
    auto* m = new std::unordered_map<std::string_view, std::uint8_t>();
    for (std::size_t i = 0; i < kWordCount; ++i) {
      if (!m->emplace(kWords[i], static_cast<std::uint8_t>(i)).second) {
        throw std::logic_error("pack: duplicate dictionary word " + std::string(kWords[i]));
      }
    }
    return m;
  }();
  return *codes;
}

void PutVarint(std::uint64_t v, std::vector<std::uint8_t>& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// --- Timestamps: "YYYY-MM-DDTHH:MM:SSZ" with year 1970-9999, and nothing else.

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = y / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool IsLeap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool Digits(std::string_view s, std::size_t at, std::size_t n, unsigned& out) {
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

bool ParseTimestamp(std::string_view s, std::uint64_t& seconds) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z') {
    return false;
  }
  unsigned y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, y) || !Digits(s, 5, 2, mo) || !Digits(s, 8, 2, d) || !Digits(s, 11, 2, h) ||
      !Digits(s, 14, 2, mi) || !Digits(s, 17, 2, se)) {
    return false;
  }
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return false;
  if (d > kDays[mo - 1] + (mo == 2 && IsLeap(y) ? 1 : 0)) return false;
  seconds = static_cast<std::uint64_t>(DaysFromCivil(y, mo, d)) * 86400 + h * 3600 + mi * 60 + se;
  return true;
}

std::string FormatTimestamp(std::uint64_t seconds) {
  if (seconds >= 253402300800ULL) throw std::runtime_error("pack: timestamp out of range");
  // H. Hinnant's civil_from_days.
  const std::int64_t z = static_cast<std::int64_t>(seconds / 86400) + 719468;
  const std::int64_t era = z / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  const unsigned rest = static_cast<unsigned>(seconds % 86400);
  std::string out = "0000-00-00T00:00:00Z";
  auto put = [&out](std::size_t at, unsigned value, std::size_t width) {
    for (std::size_t i = at + width; i > at; value /= 10)
      out[--i] = static_cast<char>('0' + value % 10);
  };
  put(0, static_cast<unsigned>(y), 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, rest / 3600, 2);
  put(14, rest / 60 % 60, 2);
  put(17, rest % 60, 2);
  return out;
}

// --- UUIDs: 8-4-4-4-12 lowercase hex.

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsDash(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

bool ParseUuid(std::string_view s, std::uint8_t (&bytes)[16]) {
  if (s.size() != 36) return false;
  std::size_t b = 0;
  for (std::size_t i = 0; i < 36;) {
    if (IsDash(i)) {
      if (s[i] != '-') return false;
      ++i;
      continue;
    }
    const int hi = HexValue(s[i]);
    const int lo = HexValue(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[b++] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return true;
}

std::string FormatUuid(const std::uint8_t* bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(36, '-');
  std::size_t b = 0;
  for (std::size_t i = 0; i < 36;) {
    if (IsDash(i)) {
      ++i;
      continue;
    }
    s[i] = kHex[bytes[b] >> 4];
    s[i + 1] = kHex[bytes[b] & 0xf];
    ++b;
    i += 2;
  }
  return s;
}

void PackString(std::string_view s, std::vector<std::uint8_t>& out) {
  const auto& codes = WordCodes();
  if (auto it = codes.find(s); it != codes.end()) {
    out.push_back(static_cast<std::uint8_t>(kWord | it->second));
    return;
  }
  if (std::uint64_t seconds; ParseTimestamp(s, seconds)) {
    out.push_back(kTimestamp);
    PutVarint(seconds, out);
    return;
  }
  if (std::uint8_t uuid[16]; ParseUuid(s, uuid)) {
    out.push_back(kUuid);
    out.insert(out.end(), uuid, uuid + 16);
    return;
  }
  out.push_back(kString);
  PutVarint(s.size(), out);
  out.insert(out.end(), s.begin(), s.end());
}

void Pack(const json& doc, std::vector<std::uint8_t>& out) {
  switch (doc.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      out.push_back(kNull);
      return;
    case json::value_t::boolean:
      out.push_back(doc.get<bool>() ? kTrue : kFalse);
      return;
    case json::value_t::number_integer: {
      const auto v = doc.get<std::int64_t>();
      if (v < 0) {
        out.push_back(kNegative);
        PutVarint(static_cast<std::uint64_t>(-(v + 1)), out);
      } else {
        out.push_back(kSigned);
        PutVarint(static_cast<std::uint64_t>(v), out);
      }
      return;
    }
    case json::value_t::number_unsigned:
      out.push_back(kUnsigned);
      PutVarint(doc.get<std::uint64_t>(), out);
      return;
    case json::value_t::number_float: {
      const double v = doc.get<double>();
      std::uint8_t raw[sizeof v];
      std::memcpy(raw, &v, sizeof v);
      out.push_back(kFloat);
      out.insert(out.end(), raw, raw + sizeof v);
      return;
    }
    case json::value_t::string:
      PackString(doc.get_ref<const std::string&>(), out);
      return;
    case json::value_t::array:
      out.push_back(kArray);
      PutVarint(doc.size(), out);
      for (const auto& item : doc) Pack(item, out);
      return;
    case json::value_t::object:
      out.push_back(kObject);
      PutVarint(doc.size(), out);
      for (const auto& [key, value] : doc.items()) {
        PackString(key, out);
        Pack(value, out);
      }
      return;
    case json::value_t::binary: {
      const auto& bin = doc.get_binary();
      out.push_back(kBinary);
      PutVarint(bin.size(), out);
      out.insert(out.end(), bin.begin(), bin.end());
      out.push_back(bin.has_subtype() ? 1 : 0);
      if (bin.has_subtype()) PutVarint(bin.subtype(), out);
      return;
    }
  }
}

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  json Value(int depth) {
    if (depth > 1000) throw std::runtime_error("pack: nested too deeply");
    const std::uint8_t tag = Byte();
    switch (tag) {
      case kNull:
        return nullptr;
      case kFalse:
        return false;
      case kTrue:
        return true;
      case kNegative:
        return -static_cast<std::int64_t>(Varint()) - 1;
      case kSigned:
        return static_cast<std::int64_t>(Varint());
      case kUnsigned:
        return Varint();
      case kFloat: {
        double v;
        std::memcpy(&v, Take(sizeof v), sizeof v);
        return v;
      }
      case kArray: {
        const std::uint64_t n = Count();
        json out = json::array();
        auto& items = out.get_ref<json::array_t&>();
        items.reserve(n);
        for (std::uint64_t i = 0; i < n; ++i) items.push_back(Value(depth + 1));
        return out;
      }
      case kObject: {
        const std::uint64_t n = Count();
        json out = json::object();
        auto& members = out.get_ref<json::object_t&>();
        for (std::uint64_t i = 0; i < n; ++i) {
          std::string key = String(Byte());
          // Keys were written in order, so each goes at the end.
          members.emplace_hint(members.end(), std::move(key), Value(depth + 1));
        }
        return out;
      }
      case kBinary: {
        const std::uint64_t n = Count();
        const std::uint8_t* p = Take(n);
        std::vector<std::uint8_t> bytes(p, p + n);
        if (Byte() == 1) return json::binary(std::move(bytes), Varint());
        return json::binary(std::move(bytes));
      }
      default:
        return String(tag);
    }
  }

  bool AtEnd() const { return at_ == bytes_.size(); }

 private:
  std::string String(std::uint8_t tag) {
    if (tag & kWord) {
      const std::size_t i = tag & 0x7f;
      if (i >= kWordCount) throw std::runtime_error("pack: unknown dictionary word");
      return std::string(kWords[i]);
    }
    switch (tag) {
      case kString: {
        const std::uint64_t n = Count();
        const auto* p = reinterpret_cast<const char*>(Take(n));
        return std::string(p, n);
      }
      case kTimestamp:
        return FormatTimestamp(Varint());
      case kUuid:
        return FormatUuid(Take(16));
      default:
        throw std::runtime_error("pack: unknown tag " + std::to_string(tag));
    }
  }

  std::uint8_t Byte() { return *Take(1); }

  const std::uint8_t* Take(std::uint64_t n) {
    if (n > bytes_.size() - at_) throw std::runtime_error("pack: truncated");
    const std::uint8_t* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }

  std::uint64_t Varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = Byte();
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("pack: varint too long");
  }

  // A length or count, which can never exceed the bytes left (every item takes at least one).
  std::uint64_t Count() {
    const std::uint64_t n = Varint();
    if (n > bytes_.size() - at_) throw std::runtime_error("pack: truncated");
    return n;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

}  // namespace

void PackJson(const nlohmann::json& doc, std::vector<std::uint8_t>& out) { Pack(doc, out); }

nlohmann::json UnpackJson(std::span<const std::uint8_t> bytes) {
  Reader reader(bytes);
  json doc = reader.Value(0);
  if (!reader.AtEnd()) throw std::runtime_error("pack: trailing bytes");
  return doc;
}

}  // namespace waop::kube
