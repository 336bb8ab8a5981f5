#include "kube/http.h"

#include <algorithm>
#include <cctype>

namespace waop::kube {

#ifndef WAOP_VERSION
#define WAOP_VERSION "0.1.0"
#endif

std::string UserAgent() { return std::string("whatsapp-operator/") + WAOP_VERSION; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

Status LineSplitter::Feed(std::string_view chunk) {
  if (ready_pos_ == ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
  }
  while (!chunk.empty()) {
    const auto nl = chunk.find('\n');
    const std::size_t take = nl == std::string_view::npos ? chunk.size() : nl;
    if (partial_.size() + take > max_line_) {
      return Status::InvalidArgument("stream line longer than " + std::to_string(max_line_) +
                                     " bytes");
    }
    partial_.append(chunk.substr(0, take));
    if (nl == std::string_view::npos) break;
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    ready_.push_back(std::move(partial_));
    partial_.clear();
    chunk.remove_prefix(nl + 1);
  }
  return Status::Ok();
}

std::optional<std::string> LineSplitter::Next() {
  if (ready_pos_ >= ready_.size()) return std::nullopt;
  return std::move(ready_[ready_pos_++]);
}

}  // namespace waop::kube
