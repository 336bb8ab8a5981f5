#include "meta/credentials.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

namespace waop::meta {

std::string MasterCredentials::Get(std::string_view key) const {
  auto it = values.find(key);
  return it == values.end() ? std::string() : it->second;
}

std::vector<std::string> MasterCredentials::MissingForGraph() const {
  std::vector<std::string> missing;
  for (std::string_view key : {kAccessTokenKey, kBusinessAccountIdKey}) {
    if (Get(key).empty()) missing.emplace_back(key);
  }
  return missing;
}

std::string MasterCredentials::ApiVersion() const {
  std::string v = Get(kApiVersionKey);
  return v.empty() ? std::string(kDefaultApiVersion) : v;
}

std::map<std::string, std::string> MasterCredentials::Published() const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : values) {
    if (k != kAppSecretKey && k != kTenantServiceTokenKey && !v.empty()) out.emplace(k, v);
  }
  return out;
}

std::string MasterCredentials::PublishedHash() const {
  std::string input;
  for (const auto& [k, v] : Published()) {
    for (const std::string* s : {&k, &v}) {
      input += std::to_string(s->size());
      input += ':';
      input += *s;
    }
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  std::string hex;
  hex.reserve(len * 2);
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace waop::meta
