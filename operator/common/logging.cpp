#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <shared_mutex>

#include "common/clock.h"

namespace waop::logging {
namespace {

constexpr std::string_view kRedacted = "[REDACTED]";

struct Secrets {
  std::shared_mutex mu;
  std::vector<std::string> values;  // longest first, so a secret containing another is whole
};

Secrets& GlobalSecrets() {
  static Secrets* secrets = new Secrets();  // never destroyed: loggers may run at exit
  return *secrets;
}

// The fields of the Log() call in progress on this thread, for the formatter.
thread_local const LogFields* current_fields = nullptr;

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "info";
  }
}

// A JSON string literal; invalid UTF-8 becomes U+FFFD instead of throwing.
std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsReserved(const std::string& key) {
  return key == "ts" || key == "level" || key == "logger" || key == "msg";
}

// logfmt-style value: bare when safe, else quoted with escapes; always one line.
std::string TextValue(std::string_view s) {
  const bool bare = !s.empty() && s.find_first_of(" \"=\n\r\t\\") == std::string_view::npos;
  if (bare) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

std::string OneLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string text = Redact(std::string_view(msg.payload.data(), msg.payload.size()));
    const std::string ts = FormatRfc3339Micro(msg.time);
    const std::string_view level = LevelName(msg.level);
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    std::string line;
    if (format_ == LogFormat::kJson) {
      line = "{\"ts\":" + JsonString(ts) + ",\"level\":" + JsonString(level) +
             ",\"logger\":" + JsonString(logger) + ",\"msg\":" + JsonString(text);
      if (current_fields) {
        for (const auto& [key, value] : *current_fields) {
          const std::string k = IsReserved(key) ? "field." + key : key;
          line += "," + JsonString(Redact(k)) + ":" + JsonString(Redact(value));
        }
      }
      line += "}\n";
    } else {
      line = ts + " " + std::string(level) + " " + std::string(logger) + " " + OneLine(text);
      if (current_fields) {
        for (const auto& [key, value] : *current_fields) {
          line += " " + TextValue(Redact(key)) + "=" + TextValue(Redact(value));
        }
      }
      line += "\n";
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  const LogFormat format_;
};

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view value) {
  if (value == "json") return LogFormat::kJson;
  if (value == "text") return LogFormat::kText;
  return Status::InvalidArgument("--log-format=\"" + std::string(value) + "\": want json or text");
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view value) {
  if (value == "debug") return spdlog::level::debug;
  if (value == "info") return spdlog::level::info;
  if (value == "warn" || value == "warning") return spdlog::level::warn;
  if (value == "error") return spdlog::level::err;
  return Status::InvalidArgument("--log-level=\"" + std::string(value) +
                                 "\": want debug, info, warn or error");
}

void SetUpLogging(const LoggingOptions& options, spdlog::sink_ptr sink) {
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<LineFormatter>(options.format));
  auto logger = std::make_shared<spdlog::logger>(options.logger_name, sink);
  logger->set_level(options.level);
  logger->flush_on(spdlog::level::trace);  // one line, one write: nothing lost on a crash
  spdlog::set_default_logger(logger);
}

namespace {

[[noreturn]] void LogAndAbort() {
  static std::atomic<bool> entered{false};
  if (!entered.exchange(true)) {
    std::string what = "no exception in flight";
    if (std::exception_ptr e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        what = std::string("uncaught exception: ") + ex.what();
      } catch (...) {
        what = "uncaught non-standard exception";
      }
    }
    try {
      Log(spdlog::level::critical, "std::terminate called; aborting", {{"error", what}});
      spdlog::default_logger()->flush();
    } catch (...) {
      // The logger is what failed: fall back to a bare line.
      std::fprintf(stderr, "whatsapp-operator: std::terminate called (%s); aborting\n",
                   what.c_str());
    }
  }
  std::abort();
}

}  // namespace

void InstallTerminateHandler() { std::set_terminate(LogAndAbort); }

std::shared_ptr<spdlog::logger> NamedLogger(const std::string& name) {
  return spdlog::default_logger()->clone(name);
}

void Log(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
         const LogFields& fields) {
  if (!logger.should_log(level)) return;
  const LogFields* previous = current_fields;
  current_fields = &fields;
  // "{}" so braces in messages are not format directives.
  logger.log(level, "{}", msg);
  current_fields = previous;
}

void Log(spdlog::level::level_enum level, std::string_view msg, const LogFields& fields) {
  Log(*spdlog::default_logger_raw(), level, msg, fields);
}

void RegisterSecret(std::string value) {
  if (value.empty()) return;
  auto& secrets = GlobalSecrets();
  std::unique_lock lock(secrets.mu);
  if (std::find(secrets.values.begin(), secrets.values.end(), value) != secrets.values.end()) {
    return;
  }
  secrets.values.push_back(std::move(value));
  std::stable_sort(secrets.values.begin(), secrets.values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void ClearSecrets() {
  auto& secrets = GlobalSecrets();
  std::unique_lock lock(secrets.mu);
  secrets.values.clear();
}

std::string Redact(std::string_view text) {
  std::string out(text);
  auto& secrets = GlobalSecrets();
  std::shared_lock lock(secrets.mu);
  for (const auto& secret : secrets.values) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  return out;
}

}  // namespace waop::logging
