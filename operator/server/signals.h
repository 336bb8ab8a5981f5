// SIGTERM / SIGINT handling for graceful shutdown: the first signal requests a stop that the
// main thread waits for (then it drains controllers, releases the Lease, closes servers); a
// second signal exits at once with status 1, as controller-runtime does, for an operator stuck
// in shutdown.
//
// Signal safety: the handler only bumps a lock-free atomic and write()s the signal number to a
// self-pipe (or calls _exit); a watcher thread reads the pipe and does the rest. This works no
// matter which thread the kernel delivers the signal to.
//
// Thread-safety: all methods are thread-safe. Only one SignalHandler may be installed at a
// time. Ownership: owns the pipe and the watcher thread; destruction restores the previous
// handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace waop::server {

class SignalHandler {
 public:
  struct Options {
    std::vector<int> signals = {SIGTERM, SIGINT};
    bool exit_on_second_signal = true;
  };
  // FailedPrecondition if a SignalHandler is already installed; Internal if pipe/sigaction
  // fail (with errno text).
  static Result<std::unique_ptr<SignalHandler>> Install(Options options);
  static Result<std::unique_ptr<SignalHandler>> Install() { return Install(Options{}); }
  ~SignalHandler();
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

  bool StopRequested() const;
  // The first signal received, or 0 (none yet, or RequestStop()).
  int ReceivedSignal() const;
  // Blocks until a stop is requested and the OnStop callbacks have run.
  void Wait();
  // Like Wait(); false if `timeout` passed first.
  bool WaitFor(std::chrono::milliseconds timeout);
  // Requests a stop without a signal (fatal error elsewhere, tests).
  void RequestStop();
  // Runs `callback(signal)` on the watcher thread when a stop is requested (0 for
  // RequestStop()); if a stop was already requested, runs it at once on the caller's thread.
  void OnStop(std::function<void(int)> callback);

 private:
  explicit SignalHandler(Options options) : options_(std::move(options)) {}
  void Watch();
  void Trigger(int signal);

  const Options options_;
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  std::vector<struct sigaction> previous_;
  std::thread watcher_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool callbacks_done_ = false;
  int signal_ = 0;
  std::vector<std::function<void(int)>> callbacks_;
};

}  // namespace waop::server
