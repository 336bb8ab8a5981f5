// The devserver's base64 against RFC 4648's test vectors, and what the decoder refuses.
#include "base64.h"

#include <gtest/gtest.h>

namespace devserver {
namespace {

TEST(DevserverBase64, EncodesTheRfcVectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(DevserverBase64, DecodesBothAlphabetsAndRoundTrips) {
  std::string out;
  ASSERT_TRUE(Base64Decode("Zm9vYmE=", &out));
  EXPECT_EQ(out, "fooba");
  ASSERT_TRUE(Base64Decode("__4A", &out));  // URL-safe alphabet
  EXPECT_EQ(out, std::string("\xff\xfe\x00", 3));
  for (size_t n = 0; n < 64; ++n) {
    std::string in;
    for (size_t i = 0; i < n; ++i) in += static_cast<char>((i * 37 + n) & 0xff);
    ASSERT_TRUE(Base64Decode(Base64Encode(in), &out)) << n;
    EXPECT_EQ(out, in) << n;
  }
}

TEST(DevserverBase64, RefusesOtherCharacters) {
  std::string out = "left over";
  EXPECT_FALSE(Base64Decode("Zm9v!", &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(Base64Decode("Zm 9v", &out));
}

}  // namespace
}  // namespace devserver
