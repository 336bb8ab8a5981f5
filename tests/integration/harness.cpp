#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/net.h"

extern char** environ;

namespace waop::testing {
namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> EnvWith(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq)) != 0) continue;
    env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
            const std::string& in, const std::map<std::string, std::string>& extra_env) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.empty() ? "/dev/null" : in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a kill reaches the child's children too.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  auto cargv = CArgv(argv);
  auto env = EnvWith(extra_env);
  auto cenv = CArgv(env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

std::optional<int> Reap(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "waop-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (std::getenv("WAOP_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(path_, ec);
}

Process::Process(std::string name, std::vector<std::string> argv,
                 const std::filesystem::path& log_dir, std::map<std::string, std::string> extra_env)
    : name_(std::move(name)), out_(log_dir / (name_ + ".out")), err_(log_dir / (name_ + ".err")) {
  pid_ = Spawn(argv, out_.string(), err_.string(), "", extra_env);
  if (pid_ < 0) throw std::runtime_error("cannot start " + argv.at(0));
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    if (!Signal(SIGTERM, std::chrono::seconds(5))) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      exit_code_ = Reap(pid_, std::chrono::seconds(5));
    }
  }
}

bool Process::Running() {
  if (exit_code_) return false;
  exit_code_ = Reap(pid_, std::chrono::milliseconds(0));
  return !exit_code_.has_value();
}

std::optional<int> Process::Signal(int sig, std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  kill(pid_, sig);
  return Wait(timeout);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (!exit_code_) exit_code_ = Reap(pid_, timeout);
  return exit_code_;
}

std::string Process::Stdout() const { return ReadFile(out_.string()); }
std::string Process::Stderr() const { return ReadFile(err_.string()); }

long Process::PeakRssKib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

double Process::CpuSeconds() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) end with ')': utime and stime are
  // the 14th and 15th fields of the line, the 12th and 13th after it.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && rest >> field; ++i) {
    if (i >= 12) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CommandResult Run(const std::vector<std::string>& argv, const std::string& stdin_text,
                  std::chrono::milliseconds timeout) {
  TempDir dir;
  std::string in;
  if (!stdin_text.empty()) {
    in = dir.File("stdin");
    WriteFile(in, stdin_text);
  }
  CommandResult r;
  pid_t pid = Spawn(argv, dir.File("out"), dir.File("err"), in, {});
  if (pid < 0) {
    r.err = "cannot start " + argv.at(0);
    return r;
  }
  auto code = Reap(pid, timeout);
  if (!code) {
    r.timed_out = true;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    code = Reap(pid, std::chrono::seconds(5));
  }
  r.exit_code = code.value_or(-1);
  r.out = ReadFile(dir.File("out"));
  r.err = ReadFile(dir.File("err"));
  return r;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(interval);
  }
}

int FreePort() {
  auto port = waop::PickFreeLoopbackPort();
  if (!port.ok()) throw std::runtime_error("cannot find a free port: " + port.status().message());
  return *port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string SourceDir() { return WAOP_SOURCE_DIR; }
std::string BinaryDir() { return WAOP_BINARY_DIR; }

}  // namespace waop::testing
