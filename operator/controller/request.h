// What a reconcile is asked to look at, typed by kind (controller-runtime's reconcile.Request,
// kube-rs's ObjectRef): a WhatsAppAssignment by namespace/name, or a WhatsAppPhoneNumber (the
// inventory) by its phone number id. The work queue carries Key(); Parse() is its inverse, so a
// kind never hides in a string prefix outside these two functions.
//
// Thread-safety: a value type.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace waop::controller {

struct Request {
  enum class Kind { kAssignment, kPhoneNumber };
  Kind kind = Kind::kAssignment;
  std::string ns;    // assignments only
  std::string name;  // the assignment's name, or the phone number id

  static Request Assignment(std::string ns, std::string name) {
    return {Kind::kAssignment, std::move(ns), std::move(name)};
  }
  static Request PhoneNumber(std::string id) { return {Kind::kPhoneNumber, "", std::move(id)}; }

  // "namespace/name", or "phone:<id>" (a phone number id is digits, a namespace never holds a
  // colon, so the two never collide).
  std::string Key() const {
    return kind == Kind::kPhoneNumber ? std::string(kPhonePrefix) + name : ns + "/" + name;
  }
  // nullopt for a key Key() cannot produce.
  static std::optional<Request> Parse(std::string_view key) {
    if (key.substr(0, kPhonePrefix.size()) == kPhonePrefix) {
      if (key.size() == kPhonePrefix.size()) return std::nullopt;
      return PhoneNumber(std::string(key.substr(kPhonePrefix.size())));
    }
    const auto slash = key.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == key.size()) {
      return std::nullopt;
    }
    return Assignment(std::string(key.substr(0, slash)), std::string(key.substr(slash + 1)));
  }

  friend bool operator==(const Request&, const Request&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Request& r) { return os << r.Key(); }

 private:
  static constexpr std::string_view kPhonePrefix = "phone:";
};

}  // namespace waop::controller
