// Process-wide logging on spdlog, as operators log in Kubernetes: by default one JSON object
// per line on stderr ({"ts":"...","level":"info","logger":"...","msg":"...", key: value...}),
// or human-readable text ("--log-format text"), with structured key/values such as the
// object's namespace and name.
//
// Secrets: RegisterSecret() adds a value (the WhatsApp token, the app secret) that is replaced
// by "[REDACTED]" wherever it appears in a message or field, including in plain spdlog::info()
// calls from any library, because redaction happens in the formatter every line goes through.
// That is a safety net, not permission to log secrets.
//
// Thread-safety: everything is thread-safe. Structured fields travel from Log() to the formatter
// in a thread-local, so loggers must stay synchronous (spdlog's default); the logger installed
// by SetUpLogging is.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace waop::logging {

enum class LogFormat { kJson, kText };

// "json" | "text". InvalidArgument naming --log-format otherwise.
Result<LogFormat> ParseLogFormat(std::string_view value);
// "debug" | "info" | "warn" (or "warning") | "error". InvalidArgument naming --log-level.
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view value);

struct LoggingOptions {
  LogFormat format = LogFormat::kJson;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string logger_name = "whatsapp-operator";
};

// Replaces spdlog's default logger with one writing to `sink` (stderr when null) in `format`.
void SetUpLogging(const LoggingOptions& options, spdlog::sink_ptr sink = nullptr);

// Makes std::terminate (an exception escaping a thread, a noexcept violation) log one
// critical line naming the exception ("std::terminate called; aborting") before it aborts, so
// a crash that still happens is never silent. Idempotent; call after SetUpLogging.
void InstallTerminateHandler();

// A logger named `name` ("controller", "leader-election") sharing the default logger's sinks,
// level and format.
std::shared_ptr<spdlog::logger> NamedLogger(const std::string& name);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// One line with structured fields, e.g. Log(info, "bound", {{"namespace", ns}, {"name", n}}).
// Fields named ts, level, logger or msg are written with a "field." prefix instead of
// overwriting the standard keys.
void Log(spdlog::level::level_enum level, std::string_view msg, const LogFields& fields = {});
void Log(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
         const LogFields& fields = {});

// Secret values to be redacted from every line. Empty values are ignored.
void RegisterSecret(std::string value);
// Forget all registered secrets (on rotation, register the new value; old ones may stay).
void ClearSecrets();
// `text` with every registered secret replaced by "[REDACTED]".
std::string Redact(std::string_view text);

}  // namespace waop::logging
