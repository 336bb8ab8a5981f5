// The validating admission webhook's decision (SPEC section 3, Admission): an
// admission.k8s.io/v1 AdmissionReview in (the raw HTTP body), the AdmissionReview answer out.
// Pure apart from reading the informer cache through a ClusterView and the clock.
//
// What it refuses, CREATE and UPDATE of whatsappassignments.whatsapp.bakery-ia.io/v1alpha1:
// - what the operator's own validation refuses (core::ClaimErrors, and for an UPDATE
//   core::ValidateAssignmentUpdate: tenantId immutable), code 422, the message naming each field
//   as the InvalidSpec condition does;
// - an assignment that, resolved with the cached holders of its phone number and tenant (its
//   connected component, as the controller resolves it), would not be Bound: code 403, the
//   controller's exact DuplicatePhoneNumber / DuplicateTenant message. A CREATE is dated now
//   (it has no creationTimestamp yet), so it is the youngest and never wins against a holder;
// - an UPDATE that would take a number or tenant from the assignment holding it now. An older
//   assignment moving onto a younger one's number would win by age, so the resolver alone
//   would let it through; it is refused with the duplicate message naming the holder, and a
//   sentence saying an update cannot take a number or tenant from its holder.
// An UPDATE that keeps spec.phoneNumberId and spec.tenantId is never refused as a duplicate (the
// operator's own finalizer writes and edits of a waiting assignment pass), and one that leaves
// the spec as it was is not validated again (an object stored while the webhook was down can
// still be finalized and deleted).
//
// Allowed without a look: objects being deleted (deletionTimestamp set), dry runs, other
// resources, subresources and operations.
//
// HTTP errors (a JSON metav1.Status body): 413 for a body over kMaxReviewBytes, 400 for a body
// that is not a v1 AdmissionReview with a request (not JSON, nested deeper than kMaxJsonDepth,
// wrong apiVersion or kind, missing uid, object not an object), naming what was wrong.
// Never throws.
//
// Thread-safety: Handle is const and may run concurrently (the ClusterView is thread-safe).
// Ownership: borrows the view and the clock, which must outlive the handler.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "controller/cluster_view.h"

namespace waop::webhook {

// The path the ValidatingWebhookConfiguration points at (SPEC section 3).
inline constexpr std::string_view kValidatePath =
    "/validate-whatsapp-bakery-ia-io-v1alpha1-whatsappassignment";
// The webhook's name in the ValidatingWebhookConfiguration.
inline constexpr std::string_view kWebhookName = "vwhatsappassignment.whatsapp.bakery-ia.io";
// The API server sends at most 3 MiB objects; a review carries two and some framing, but
// anything larger than this is not a review the API server sent.
inline constexpr size_t kMaxReviewBytes = 3 * 1024 * 1024;
// JSON nesting depth refused before parsing (Kubernetes objects nest a few tens deep).
inline constexpr size_t kMaxJsonDepth = 100;

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
};

class AdmissionHandler {
 public:
  // `cache_synced`, when given, must return true before reviews are decided: an empty cache
  // would read as "no holders" and let every duplicate in, so until then reviews get 503 and
  // the API server applies the failurePolicy.
  AdmissionHandler(const controller::ClusterView& view, const Clock& clock,
                   std::function<bool()> cache_synced = {})
      : view_(view), clock_(clock), cache_synced_(std::move(cache_synced)) {}

  // The answer to a POST of `body` to kValidatePath.
  HttpAnswer Handle(std::string_view body) const noexcept;

  // The answer to a body too large to read (the server checks Content-Length first).
  static HttpAnswer TooLarge(size_t bytes);
  // A metav1.Status body with `code` and `message`.
  static HttpAnswer Error(int code, std::string_view message);

 private:
  HttpAnswer HandleParsed(std::string_view body) const;
  const controller::ClusterView& view_;
  const Clock& clock_;
  const std::function<bool()> cache_synced_;
};

}  // namespace waop::webhook
