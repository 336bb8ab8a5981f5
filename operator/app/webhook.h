// Wiring of the admission webhook into the runtime (SPEC sections 3 and 7): on every replica,
// the HTTPS server (reading the informer cache) and its certificate source (the Secret-backed
// CertManager, or --webhook-cert-dir), both in the manager's servers group, and the readiness
// check "webhook". Nothing with --webhook-port=0.
//
// Thread-safety: call before Manager::Run, from one thread.
// Ownership: the runnables added to `mgr` borrow `client`, `view`, `caches_synced` and `clock`,
// which must outlive the manager.
#pragma once

#include <functional>
#include <string>

#include "app/options.h"
#include "common/clock.h"
#include "common/status.h"
#include "controller/cluster_view.h"
#include "kube/client.h"
#include "manager/manager.h"

namespace waop::app {

// The Secret and the Service live in --webhook-secret-namespace, else the pod's namespace (the
// service account's), else `kubeconfig_namespace`, else "default". `caches_synced` gates reviews
// (see AdmissionHandler). InvalidArgument for bad settings.
[[nodiscard]] Status AddWebhook(manager::Manager& mgr, const Options& o,
                                const std::string& kubeconfig_namespace, kube::Client& client,
                                const controller::ClusterView& view,
                                std::function<bool()> caches_synced, const Clock& clock);

}  // namespace waop::app
