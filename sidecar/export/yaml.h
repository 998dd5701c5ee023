// A JSON document written as YAML, for --write-config=*.yaml (Kong reads declarative config in
// either form).
//
// Numbers keep the text they had in the JSON; every string is double-quoted (map keys only when
// a plain key could read as something else), so that "true", "1" or "null" stay strings for any
// YAML reader, 1.1 or 1.2.
//
// Threading: thread-safe (pure function).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::exporter {

// InvalidArgument when `json` is not JSON.
absl::StatusOr<std::string> JsonToYaml(absl::string_view json);

}  // namespace tether::exporter
