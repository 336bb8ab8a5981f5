#include "webhook/admission_handler.h"

#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "api/json.h"
#include "api/types.h"
#include "core/binding.h"
#include "core/status.h"
#include "core/validation.h"

namespace waop::webhook {
namespace {

using nlohmann::json;

constexpr std::string_view kReviewApiVersion = "admission.k8s.io/v1";
constexpr std::string_view kReviewKind = "AdmissionReview";

// Serialises without throwing: strings that came from a parse are valid UTF-8, and anything
// else is replaced rather than thrown over.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The deepest nesting of arrays and objects in `text`, looking past string contents; stops
// counting once `limit` is exceeded.
size_t NestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t max = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return max;
}

struct Decision {
  bool allowed = true;
  int code = 200;
  std::string reason;  // metav1.StatusReason
  std::string message;
  api::FieldErrors causes;
};

Decision Allow() { return {}; }
Decision Deny(int code, std::string reason, std::string message, api::FieldErrors causes = {}) {
  return {false, code, std::move(reason), std::move(message), std::move(causes)};
}

std::vector<core::AssignmentSummary> Summaries(const std::vector<controller::ObjectPtr>& objects) {
  std::vector<core::AssignmentSummary> out;
  out.reserve(objects.size());
  for (const auto& obj : objects) {
    if (auto claim = core::ClaimOf(*obj)) out.push_back(std::move(*claim));
  }
  return out;
}

const json* Member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringMember(const json& object, std::string_view key) {
  const json* v = Member(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

bool Deleting(const json& object) {
  const json* meta = Member(object, "metadata");
  const json* ts = meta != nullptr ? Member(*meta, "deletionTimestamp") : nullptr;
  return ts != nullptr && !ts->is_null();
}

// A request's operation applies to our resource: WhatsAppAssignment, no subresource.
bool IsOurs(const json& request) {
  const json* resource = Member(request, "resource");
  if (resource == nullptr || !resource->is_object()) return false;
  return StringMember(*resource, "group") == api::kGroup &&
         StringMember(*resource, "version") == api::kVersion &&
         StringMember(*resource, "resource") == api::kAssignmentPlural &&
         StringMember(request, "subResource").empty();
}

std::shared_ptr<const core::BindingHolder> HolderOf(const core::AssignmentSummary& a) {
  return std::make_shared<const core::BindingHolder>(core::BindingHolder{
      a.ns, a.name, a.tenant_id, a.tenant_name, a.phone_number_id, a.display_phone_number});
}

// The decision for a CREATE (old_object null) or UPDATE of an assignment not being deleted.
Decision Decide(const controller::ClusterView& view, WallTime now, const json& request,
                const json& object, const json* old_object) {
  // An update that leaves the spec as it was changes no claim and breaks no new rule: the
  // operator's finalizer writes, labels, annotations.
  if (old_object != nullptr) {
    const json* spec = Member(object, "spec");
    const json* old_spec = Member(*old_object, "spec");
    if (spec != nullptr && old_spec != nullptr && *spec == *old_spec) return Allow();
  }

  api::Assignment a;
  api::FieldErrors errors = core::ClaimErrors(object, &a);
  std::optional<core::AssignmentSummary> old_claim;
  if (old_object != nullptr) {
    api::Assignment old;
    if (core::ClaimErrors(*old_object, &old).empty()) {
      if (!old.metadata.deleting()) old_claim = core::Summarize(old);
      if (errors.empty()) {
        for (const api::FieldError& e : core::ValidateAssignmentUpdate(old, a)) {
          bool seen = false;
          for (const api::FieldError& have : errors) seen = seen || have == e;
          if (!seen) errors.Add(e.type, e.path, e.detail);
        }
      }
    }
  }
  if (!errors.empty()) return Deny(422, "Invalid", errors.ToString(), errors);

  core::AssignmentSummary self = core::Summarize(a);
  if (self.ns.empty()) self.ns = StringMember(request, "namespace");
  if (self.name.empty()) self.name = StringMember(request, "name");
  // A new object has no creationTimestamp yet: it is the youngest of all.
  if (old_object == nullptr || self.creation_timestamp == WallTime{}) {
    self.creation_timestamp = now;
  }
  if (old_claim && old_claim->ns.empty()) old_claim->ns = self.ns;

  // An update keeping the number and the tenant takes nothing from anyone.
  if (old_claim && old_claim->phone_number_id == self.phone_number_id &&
      old_claim->tenant_id == self.tenant_id) {
    return Allow();
  }

  auto by_phone = [&](std::string_view id) { return Summaries(view.AssignmentsByPhone(id)); };
  auto by_tenant = [&](std::string_view id) { return Summaries(view.AssignmentsByTenant(id)); };
  std::optional<core::PhoneInfo> phone;
  if (controller::ObjectPtr inventory = view.GetPhoneNumber(a.spec.phone_number_id)) {
    if (auto parsed = api::ParsePhoneNumber(*inventory); parsed.ok()) {
      phone = core::PhoneInfoFromStatus(parsed->status);
    }
  }

  // What the controller would decide with this object stored: its component, resolved.
  std::vector<core::AssignmentSummary> component =
      core::ConnectedComponent(self, by_phone, by_tenant);
  core::BindingOutcome outcome = core::ResolveBindings(component).front();
  if (outcome.state != core::BindingState::kBound) {
    return Deny(403, "Forbidden", core::BindingMessage(a.spec, outcome, phone));
  }
  if (old_object == nullptr) return Allow();

  // An update that would win by age: refused when it takes a number or tenant someone holds
  // now. Who holds what now: the components of the old and the new claim, with the old one.
  std::vector<core::AssignmentSummary> before =
      core::AffectedAssignments(old_claim ? &*old_claim : nullptr, &self, by_phone, by_tenant);
  std::erase_if(before, [&](const core::AssignmentSummary& m) {
    return m.ns == self.ns && m.name == self.name;
  });
  if (old_claim) before.push_back(*old_claim);
  std::vector<core::BindingOutcome> held = core::ResolveBindings(before);
  for (size_t i = 0; i < before.size(); ++i) {
    const core::AssignmentSummary& m = before[i];
    if (held[i].state != core::BindingState::kBound) continue;
    if (m.ns == self.ns && m.name == self.name) continue;
    core::BindingOutcome taken;
    std::string what;
    if (m.phone_number_id == self.phone_number_id) {
      taken = {core::BindingState::kDuplicatePhoneNumber, HolderOf(m)};
      what = "a phone number";
    } else if (m.tenant_id == self.tenant_id) {
      taken = {core::BindingState::kDuplicateTenant, HolderOf(m)};
      what = "a tenant";
    } else {
      continue;
    }
    return Deny(403, "Forbidden",
                core::BindingMessage(a.spec, taken, phone) + "; an update cannot take " + what +
                    " from the assignment holding it, even an older assignment: delete or "
                    "change the holder first");
  }
  return Allow();
}

}  // namespace

HttpAnswer AdmissionHandler::Error(int code, std::string_view message) {
  std::string reason = code == 413   ? "RequestEntityTooLarge"
                       : code == 400 ? "BadRequest"
                       : code == 503 ? "ServiceUnavailable"
                                     : "";
  json status = {{"apiVersion", "v1"},        {"kind", "Status"}, {"status", "Failure"},
                 {"message", message},        {"reason", reason}, {"code", code},
                 {"metadata", json::object()}};
  return {code, Dump(status)};
}

HttpAnswer AdmissionHandler::TooLarge(size_t bytes) {
  return Error(413, "AdmissionReview body of " + std::to_string(bytes) +
                        " bytes is larger than the limit of " + std::to_string(kMaxReviewBytes) +
                        " bytes");
}

HttpAnswer AdmissionHandler::Handle(std::string_view body) const noexcept {
  try {
    return HandleParsed(body);
  } catch (const std::exception& e) {
    // Nothing below should throw (non-throwing parse, checked accessors); a bug must still not
    // take down the server, and the API server then applies the failurePolicy.
    return Error(500, std::string("internal error deciding the review: ") + e.what());
  } catch (...) {
    return Error(500, "internal error deciding the review");
  }
}

HttpAnswer AdmissionHandler::HandleParsed(std::string_view body) const {
  if (body.size() > kMaxReviewBytes) return TooLarge(body.size());
  if (body.empty()) return Error(400, "malformed AdmissionReview: the request body is empty");
  if (NestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return Error(400, "malformed AdmissionReview: JSON nested deeper than " +
                          std::to_string(kMaxJsonDepth) + " levels");
  }
  const json review = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) {
    return Error(400, "malformed AdmissionReview: the request body is not valid JSON");
  }
  if (!review.is_object()) {
    return Error(400, std::string("malformed AdmissionReview: expected a JSON object, got ") +
                          review.type_name());
  }
  const std::string api_version = StringMember(review, "apiVersion");
  const std::string kind = StringMember(review, "kind");
  if (kind != kReviewKind || api_version != kReviewApiVersion) {
    return Error(400, "malformed AdmissionReview: expected apiVersion \"" +
                          std::string(kReviewApiVersion) + "\" and kind \"" +
                          std::string(kReviewKind) + "\", got apiVersion \"" + api_version +
                          "\" and kind \"" + kind + "\"");
  }
  const json* request = Member(review, "request");
  if (request == nullptr || !request->is_object()) {
    return Error(400, "malformed AdmissionReview: request: expected an object");
  }
  const std::string uid = StringMember(*request, "uid");
  if (uid.empty()) {
    return Error(400, "malformed AdmissionReview: request.uid: expected a non-empty string");
  }
  if (cache_synced_ && !cache_synced_()) {
    return Error(503, "the operator's cache of WhatsAppAssignments is not synced yet");
  }

  Decision d;
  const std::string operation = StringMember(*request, "operation");
  const json* dry_run = Member(*request, "dryRun");
  const bool is_dry_run = dry_run != nullptr && dry_run->is_boolean() && dry_run->get<bool>();
  if (IsOurs(*request) && (operation == "CREATE" || operation == "UPDATE") && !is_dry_run) {
    const json* object = Member(*request, "object");
    if (object == nullptr || !object->is_object()) {
      return Error(
          400, "malformed AdmissionReview: request.object: expected an object for " + operation);
    }
    const json* old_object = Member(*request, "oldObject");
    if (operation == "UPDATE" && (old_object == nullptr || !old_object->is_object())) {
      return Error(400,
                   "malformed AdmissionReview: request.oldObject: expected an object for "
                   "UPDATE");
    }
    if (!Deleting(*object)) {
      d = Decide(view_, clock_.Now(), *request, *object,
                 operation == "UPDATE" ? old_object : nullptr);
    }
  }

  json response = {{"uid", uid}, {"allowed", d.allowed}};
  if (!d.allowed) {
    json status = {{"code", d.code}, {"reason", d.reason}, {"message", d.message}};
    if (!d.causes.empty()) {
      json causes = json::array();
      for (const api::FieldError& e : d.causes) {
        causes.push_back({{"reason", api::FieldErrorTypeReason(e.type)},
                          {"message", e.detail},
                          {"field", e.path}});
      }
      status["details"] = {{"causes", std::move(causes)}};
    }
    response["status"] = std::move(status);
  }
  return {200, Dump(json{{"apiVersion", kReviewApiVersion},
                         {"kind", kReviewKind},
                         {"response", std::move(response)}})};
}

}  // namespace waop::webhook
