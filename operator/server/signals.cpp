#include "server/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace waop::server {
namespace {

// State the async-signal handler may touch: plain ints and a lock-free atomic.
std::atomic<bool> g_installed{false};
std::atomic<int> g_pipe_write{-1};
std::atomic<int> g_count{0};
std::atomic<bool> g_exit_on_second{true};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void HandleSignal(int sig) {
  const int saved_errno = errno;
  if (g_count.fetch_add(1) >= 1 && g_exit_on_second.load()) _exit(1);
  const int fd = g_pipe_write.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(sig);
    // Nothing useful to do if the pipe is full: a stop is already pending.
    [[maybe_unused]] ssize_t n = write(fd, &byte, 1);
  }
  errno = saved_errno;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<SignalHandler>> SignalHandler::Install(Options options) {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true)) {
    return Status::FailedPrecondition("a signal handler is already installed");
  }
  std::unique_ptr<SignalHandler> handler(new SignalHandler(std::move(options)));
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    g_installed = false;
    return Status::Internal(Errno("pipe2"));
  }
  handler->pipe_read_ = fds[0];
  handler->pipe_write_ = fds[1];
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  g_pipe_write = fds[1];
  g_count = 0;
  g_exit_on_second = handler->options_.exit_on_second_signal;
  handler->watcher_ = std::thread([h = handler.get()] { h->Watch(); });
  for (int sig : handler->options_.signals) {
    struct sigaction action {};
    action.sa_handler = HandleSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction previous {};
    if (sigaction(sig, &action, &previous) != 0) {
      const std::string error = Errno("sigaction");
      return Status::Internal(error);  // the destructor restores what was installed
    }
    handler->previous_.push_back(previous);
  }
  return handler;
}

SignalHandler::~SignalHandler() {
  for (size_t i = 0; i < previous_.size(); ++i) {
    sigaction(options_.signals[i], &previous_[i], nullptr);
  }
  g_pipe_write = -1;
  if (pipe_write_ >= 0) {
    const unsigned char quit = 0;  // not a signal number: tells the watcher to exit
    [[maybe_unused]] ssize_t n = write(pipe_write_, &quit, 1);
  }
  if (watcher_.joinable()) watcher_.join();
  if (pipe_read_ >= 0) close(pipe_read_);
  if (pipe_write_ >= 0) close(pipe_write_);
  g_installed = false;
}

void SignalHandler::Watch() {
  while (true) {
    unsigned char byte = 0;
    const ssize_t n = read(pipe_read_, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;
    Trigger(byte);
  }
}

void SignalHandler::Trigger(int signal) {
  std::vector<std::function<void(int)>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    signal_ = signal;
    callbacks = callbacks_;
  }
  for (const auto& callback : callbacks) {
    // One throwing stop callback must not keep the others from running (nor end the
    // watcher thread, whose exceptions would end the process).
    try {
      callback(signal);
    } catch (const std::exception& e) {
      spdlog::error("stop callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("stop callback threw a non-standard exception");
    }
  }
  {
    // Waiters wake only after the callbacks ran, so Wait() returning means they are done.
    std::lock_guard lock(mu_);
    callbacks_done_ = true;
  }
  cv_.notify_all();
}

bool SignalHandler::StopRequested() const {
  std::lock_guard lock(mu_);
  return stop_;
}

int SignalHandler::ReceivedSignal() const {
  std::lock_guard lock(mu_);
  return signal_;
}

void SignalHandler::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return callbacks_done_; });
}

bool SignalHandler::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return callbacks_done_; });
}

void SignalHandler::RequestStop() { Trigger(0); }

void SignalHandler::OnStop(std::function<void(int)> callback) {
  int signal = 0;
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
    signal = signal_;
  }
  callback(signal);
}

}  // namespace waop::server
