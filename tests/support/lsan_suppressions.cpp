// LeakSanitizer suppressions for every test binary of the sanitizer build and for
// kube-devserver, the tests' API server (linked in by tests/CMakeLists.txt and
// devserver/CMakeLists.txt; the operator binary has its own, narrower list in operator/main.cpp).
//
// cpprestsdk runs its tasks on a static thread pool that is never joined. When a request ends
// in an error (connection refused, a connection closed mid-stream), cpprestsdk closes the body
// stream with a pplx when_all continuation that is still queued on that pool when a short test
// process exits; LeakSanitizer then reports the pplx::_Task_impl objects, allocated by
// libcpprest frames, as leaked. Whether it does depends on thread timing, so the report comes
// and goes (it failed a CI run in RestClientTest). These objects are not ours and no code of
// ours holds them, so leaks whose allocation stack passes through libcpprest are not reported.
// The same continuation is also made by cpprestsdk's header-only stream code when we close a
// watch's body stream on cancel (RestClientTest.WatchCancelUnblocksPromptly, once in a CI run):
// its frames are in our binary, not in libcpprest.so, so streambuf_state_manager (cpprestsdk's
// stream close) is named too.
// OpenSSL keeps per-thread state (its error queue, about 900 bytes a thread) that is freed when
// the thread exits. A handler that computes an HMAC or does a TLS handshake on one of those
// never-joined pool threads leaves that state behind at process exit, and LeakSanitizer reports
// it with a stack that ends inside libcrypto (it failed a CI run in MetaWebhookServerTest). So,
// as in the operator binary, allocations made inside libcrypto are not leak-checked; our OpenSSL
// objects are all held by RAII wrappers. Every other leak still fails the ASan run.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libcpprest.so\n"
         "leak:streambuf_state_manager\n"
         "leak:libcrypto.so\n";
}

// Keeps test output free of the table of used suppressions.
extern "C" const char* __lsan_default_options() {  // NOLINT(bugprone-reserved-identifier)
  return "print_suppressions=0";
}
