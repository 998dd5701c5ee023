// tether's logging facade: one line per event, a short lowercase message plus key=value fields,
// written to stderr through spdlog in one of two formats:
//   text (the default, for people):
//     2025-01-02T03:04:05.678Z info cp: connected to control plane peer=10.0.0.7:8005
//   json (one object per line, for Kubernetes log collectors), every value a string:
//     {"time":"2025-01-02T03:04:05.678Z","level":"info","component":"cp",
//      "message":"connected to control plane","peer":"10.0.0.7:8005"}
// Times are UTC with milliseconds (RFC 3339). In json, control characters and quotes are escaped
// and invalid UTF-8 becomes U+FFFD, so every line parses whatever a field holds; field keys
// should not repeat time, level, component or message.
//
// Threading: thread-safe; lines from different threads never interleave. Logging never throws.
// Never pass private keys, tokens or config contents as fields (config only at debug level).
#pragma once

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  template <typename T>
  requires std::is_arithmetic_v<T> Field(absl::string_view k, T v)
      : key(k), value(std::to_string(v)) {}

  absl::string_view key;
  std::string value;
};

using Fields = std::initializer_list<Field>;

void SetLevel(Level level);
absl::StatusOr<Level> ParseLevel(absl::string_view name);
bool Enabled(Level level);

// Applies to every line written afterwards; text until called.
void SetFormat(Format format);
absl::StatusOr<Format> ParseFormat(absl::string_view name);

void Write(Level level, absl::string_view component, absl::string_view message, Fields fields = {});

inline void Debug(absl::string_view component, absl::string_view message, Fields fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, component, message, fields);
}
inline void Info(absl::string_view component, absl::string_view message, Fields fields = {}) {
  Write(Level::kInfo, component, message, fields);
}
inline void Warn(absl::string_view component, absl::string_view message, Fields fields = {}) {
  Write(Level::kWarn, component, message, fields);
}
inline void Error(absl::string_view component, absl::string_view message, Fields fields = {}) {
  Write(Level::kError, component, message, fields);
}

}  // namespace tether::log
