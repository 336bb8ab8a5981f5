// The size of cpprestsdk's shared I/O thread pool, used by the Graph and tenant-service clients
// and by our HTTP listeners (the Kubernetes client has its own transport, kube/http.h). No
// cpprest header here, so main() can size the pool without compiling cpprest. Implemented in
// cpprest_call.cpp (target waop_tls_asio).
#pragma once

namespace waop::tls {

// Sizes the pool (cpprest's default is 40 threads). Call once, before any cpprest use; later
// calls have no effect. Nothing may block a pool thread waiting for another HTTP exchange.
void SetCpprestThreads(int threads);
// One pool thread per core, at least 2: the I/O is asynchronous, and more threads only add
// wake-ups (on 2 cores, 40 threads made the 10k-assignment benchmark 1.75x slower than 2).
int DefaultCpprestThreads();

}  // namespace waop::tls
