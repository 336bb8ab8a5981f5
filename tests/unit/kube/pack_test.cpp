#include "kube/pack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/clock.h"

namespace waop::kube {
namespace {

using nlohmann::json;

std::vector<std::uint8_t> Packed(const json& doc) {
  std::vector<std::uint8_t> out;
  PackJson(doc, out);
  return out;
}

// Unpack(Pack(doc)) is `doc`, with the same types and the same text.
void ExpectRoundTrip(const json& doc) {
  const json back = UnpackJson(Packed(doc));
  EXPECT_EQ(back, doc);
  EXPECT_EQ(back.dump(), doc.dump());
}

const json kAssignment = json::parse(R"({
  "apiVersion": "whatsapp.bakery-ia.io/v1alpha1", "kind": "WhatsAppAssignment",
  "metadata": {"creationTimestamp": "2026-11-28T00:07:30Z", "generation": 1, "name": "wa-00001",
               "namespace": "bench-1", "resourceVersion": "15014",
               "uid": "cc05f094-e9a0-43b8-ab32-66c7e34f18e9"},
  "spec": {"defaultLanguage": "es", "enabled": true, "phoneNumberId": "346000000001",
           "tenantId": "tenant-1", "tenantName": "Panadería tenant-1"},
  "status": {"conditions": [
      {"lastTransitionTime": "2026-11-28T00:07:36Z",
       "message": "Phone number 346000000001 assigned to tenant 'Panadería tenant-1'",
       "observedGeneration": 1, "reason": "Bound", "status": "True", "type": "Ready"},
      {"lastTransitionTime": "2026-11-28T00:07:36Z",
       "message": "WhatsApp master account not configured", "observedGeneration": 1,
       "reason": "CredentialsMissing", "status": "False", "type": "QualitySynced"}],
    "observedGeneration": 1, "qualityRating": "UNKNOWN",
    "settingsConfigMap": "whatsapp-settings-wa-00001"}})");

const json kConfigMap = json::parse(R"({
  "apiVersion": "v1", "kind": "ConfigMap",
  "data": {"notification_settings.json": "{\"whatsapp_enabled\":true,\"whatsapp_phone_number_id\":\"346000000001\"}"},
  "metadata": {"creationTimestamp": "2026-11-28T00:07:36Z",
               "labels": {"app.kubernetes.io/managed-by": "whatsapp-operator",
                          "app.kubernetes.io/name": "whatsapp-operator",
                          "whatsapp.bakery-ia.io/tenant-id": "tenant-1"},
               "name": "whatsapp-settings-wa-00001", "namespace": "bench-1",
               "ownerReferences": [{"apiVersion": "whatsapp.bakery-ia.io/v1alpha1",
                                    "blockOwnerDeletion": true, "controller": true,
                                    "kind": "WhatsAppAssignment", "name": "wa-00001",
                                    "uid": "cc05f094-e9a0-43b8-ab32-66c7e34f18e9"}],
               "resourceVersion": "15008", "uid": "e7e4afef-f16d-4168-8009-6b0020e65326"}})");

TEST(PackTest, CachedObjectsComeBackExactlyAndSmallerThanMessagePack) {
  for (const json& doc : {kAssignment, kConfigMap}) {
    ExpectRoundTrip(doc);
    const std::size_t packed = Packed(doc).size();
    const std::size_t msgpack = json::to_msgpack(doc).size();
    // The saving the cache is sized on: well under two thirds of MessagePack.
    EXPECT_LT(packed * 3, msgpack * 2) << doc["kind"] << ": " << packed << " vs " << msgpack;
  }
}

TEST(PackTest, CanonicalTimestampsAndUuidsTakeTheirShortForm) {
  EXPECT_EQ(Packed("2026-11-28T00:07:36Z").size(), 1u + 5u);  // tag + varint seconds
  EXPECT_EQ(Packed("cc05f094-e9a0-43b8-ab32-66c7e34f18e9").size(), 1u + 16u);
  EXPECT_EQ(Packed("metadata").size(), 1u);
  EXPECT_EQ(Packed("whatsapp.bakery-ia.io/v1alpha1").size(), 1u);
}

TEST(PackTest, NearMissesStayTextAndComeBackExactly) {
  const char* near_misses[] = {
      "2026-11-28T00:07:36.5Z",  // fraction
      "2026-11-28T00:07:36+01:00",
      "2026-11-28 00:07:36Z",
      "2027-02-29T00:00:00Z",  // not a leap year
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "2026-11-28T24:00:00Z",
      "2026-11-28T23:60:00Z",
      "2026-11-28T23:59:60Z",  // leap second
      "1969-12-31T23:59:59Z",
      "-026-11-28T00:07:36Z",
      "2026-11-28T00:07:3aZ",
      "CC05F094-E9A0-43B8-AB32-66C7E34F18E9",  // uppercase
      "cc05f094e9a0-43b8-ab32-66c7e34f18e9-",
      "cc05f094-e9a0-43b8-ab32-66c7e34f18eg",
      "cc05f094-e9a0-43b8-ab32-66c7e34f18e",
      "Metadata",
      "",
  };
  for (const char* s : near_misses) {
    SCOPED_TRACE(s);
    ExpectRoundTrip(s);
    EXPECT_EQ(Packed(s).size(), 1u + 1u + std::string(s).size());  // tag, length, bytes
  }
  // Valid edge dates do take the short form, and come back.
  for (const char* s : {"2028-02-29T23:59:59Z", "2000-02-29T00:00:00Z", "1970-01-01T00:00:00Z",
                        "9999-12-31T23:59:59Z", "2026-12-31T12:30:45Z"}) {
    SCOPED_TRACE(s);
    ExpectRoundTrip(s);
    EXPECT_LE(Packed(s).size(), 7u);
  }
}

TEST(PackTest, TimestampsAgreeWithTheClockFormatter) {
  std::mt19937_64 rng(20261128);
  std::uniform_int_distribution<std::int64_t> seconds(0, 253402300799);  // 1970 .. 9999
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t s = i == 0 ? 0 : i == 1 ? 253402300799 : seconds(rng);
    if (s > 9214646400) continue;  // WallTime ends in 2262
    const std::string text = FormatRfc3339(WallTime(std::chrono::seconds(s)));
    ASSERT_EQ(UnpackJson(Packed(text)), text) << "seconds " << s;
    ASSERT_LE(Packed(text).size(), 7u) << text;
  }
}

TEST(PackTest, NumbersKeepTheirTypesAndValues) {
  const json numbers = json::array(
      {0, -1, 1, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
       std::numeric_limits<std::uint64_t>::max(), 0.0, -0.0, 1e308, -2.5e-300, 0.1});
  const json back = UnpackJson(Packed(numbers));
  ASSERT_EQ(back.size(), numbers.size());
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(back[i].type(), numbers[i].type());
    EXPECT_EQ(back[i].dump(), numbers[i].dump());
  }
  EXPECT_TRUE(std::signbit(back[7].get<double>()));
  // Parsed from text: unsigned for non-negative integers, signed for negative ones.
  ExpectRoundTrip(json::parse(R"({"a": 3, "b": -3, "c": 18446744073709551615, "d": 3.0})"));
}

TEST(PackTest, BinaryValuesComeBack) {
  json doc = json::binary({1, 2, 3, 255});
  ExpectRoundTrip(doc);
  json with_subtype = json::binary({0, 128}, 42);
  const json back = UnpackJson(Packed(with_subtype));
  ASSERT_TRUE(back.is_binary());
  EXPECT_EQ(back.get_binary(), with_subtype.get_binary());
  EXPECT_EQ(back.get_binary().subtype(), 42u);
}

// A random document mixing dictionary words, timestamps, UUIDs (valid and near misses) and
// arbitrary bytes, nested up to `depth`.
json RandomDocument(std::mt19937_64& rng, int depth) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  auto random_string = [&]() -> std::string {
    switch (pick(6)) {
      case 0: {
        static const char* words[] = {
            "metadata",          "True", "ConfigMap", "status", "es", "app.kubernetes.io/name",
            "lastTransitionTime"};
        return words[pick(7)];
      }
      case 1:
        return FormatRfc3339(WallTime(std::chrono::seconds(rng() % 9214646400ULL)));
      case 2: {
        std::string s = "2026-11-28T00:07:36Z";
        s[static_cast<std::size_t>(pick(20))] = static_cast<char>(pick(128));
        return s;
      }
      case 3: {
        static const char hex[] = "0123456789abcdefABCDEF-g";
        std::string s(36, '-');
        for (std::size_t i = 0; i < 36; ++i) {
          if (i != 8 && i != 13 && i != 18 && i != 23) s[i] = hex[pick(16)];
        }
        if (pick(3) == 0) s[static_cast<std::size_t>(pick(36))] = hex[pick(24)];
        return s;
      }
      default: {
        std::string s(static_cast<std::size_t>(pick(40)), '\0');
        for (char& c : s) c = static_cast<char>(pick(256));
        return s;
      }
    }
  };
  const int kind = depth <= 0 ? pick(6) : pick(8);
  switch (kind) {
    case 0:
      return nullptr;
    case 1:
      return pick(2) == 0;
    case 2:
      return static_cast<std::int64_t>(rng());
    case 3:
      return static_cast<std::uint64_t>(rng() >> pick(64));
    case 4:
      return static_cast<double>(static_cast<std::int64_t>(rng())) / 7.0;
    case 5:
      return random_string();
    case 6: {
      json a = json::array();
      for (int i = pick(5); i > 0; --i) a.push_back(RandomDocument(rng, depth - 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = pick(6); i > 0; --i) o[random_string()] = RandomDocument(rng, depth - 1);
      return o;
    }
  }
}

TEST(PackTest, SeededRandomDocumentsComeBackExactly) {
  const std::uint64_t base = std::random_device{}();
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const std::uint64_t seed = base + i;
    std::mt19937_64 rng(seed);
    const json doc = RandomDocument(rng, 4);
    const json back = UnpackJson(Packed(doc));
    ASSERT_EQ(back, doc) << "seed " << seed;
    ASSERT_EQ(back.dump(-1, ' ', false, json::error_handler_t::replace),
              doc.dump(-1, ' ', false, json::error_handler_t::replace))
        << "seed " << seed;
  }
}

TEST(PackTest, DamagedBytesAreRefusedNotMisread) {
  const std::vector<std::uint8_t> whole = Packed(kAssignment);
  // Every proper prefix is truncated.
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_THROW(UnpackJson(std::span(whole.data(), n)), std::runtime_error) << "prefix " << n;
  }
  std::vector<std::uint8_t> trailing = whole;
  trailing.push_back(0x00);
  EXPECT_THROW(UnpackJson(trailing), std::runtime_error);
  EXPECT_THROW(UnpackJson(std::vector<std::uint8_t>{0x0d}), std::runtime_error);  // no such tag
  EXPECT_THROW(UnpackJson(std::vector<std::uint8_t>{0xff}), std::runtime_error);  // no such word
  // A count larger than the bytes left.
  EXPECT_THROW(UnpackJson(std::vector<std::uint8_t>{0x08, 0x7f, 0x00}), std::runtime_error);
}

}  // namespace
}  // namespace waop::kube
