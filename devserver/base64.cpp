#include "base64.h"

#include <algorithm>
#include <cstdint>

namespace devserver {

std::string Base64Encode(std::string_view in) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t bits = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
    if (n > 1) bits |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
    if (n > 2) bits |= static_cast<uint8_t>(in[i + 2]);
    out += kChars[(bits >> 18) & 63];
    out += kChars[(bits >> 12) & 63];
    out += n > 1 ? kChars[(bits >> 6) & 63] : '=';
    out += n > 2 ? kChars[bits & 63] : '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') {
      v = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = static_cast<uint32_t>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      v = static_cast<uint32_t>(c - '0' + 52);
    } else if (c == '+' || c == '-') {
      v = 62;
    } else if (c == '/' || c == '_') {
      v = 63;
    } else if (c == '=') {
      break;
    } else {
      out->clear();
      return false;
    }
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return true;
}

}  // namespace devserver
