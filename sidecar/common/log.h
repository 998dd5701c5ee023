// tether's logging facade: one line per event, a short lowercase message plus key=value fields.
//
// Threading: thread-safe; lines from different threads never interleave.
// Never pass private keys, tokens or config contents as fields (config only at debug level).
#pragma once

#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

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
