// Wiring of the whatsapp-operator process: Kubernetes client, metrics, informers, work queue and
// the assignment reconciler, registered with a manager::Manager that runs them (probes and
// metrics server, caches, leader election, leader-only controller and resync). Flags come in as
// Options; this returns the process exit code.
//
// Lifecycle: informers start on every replica (standbys keep warm caches, so a failover
// reconciles at once); workers run only on the leader. On SIGTERM/SIGINT in-flight reconciles
// finish, the lease is released (a standby takes over at its next retry), informers and servers
// stop, and the exit code is 0. Losing the lease unexpectedly exits with 1, as
// controller-runtime does, so the kubelet restarts a clean process.
#pragma once

#include "app/options.h"
#include "server/signals.h"

namespace waop::app {

int Run(const Options& options, server::SignalHandler& signals);

}  // namespace waop::app
