// Where flag values come from: the command line, the environment and the YAML --config file, and
// which of them wins for one flag (the precedence flags.h describes). Internal to settings/.
//
// Threading: thread-safe (no global state; the environment is injected).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sidecar/settings/flag_table.h"
#include "sidecar/settings/flags.h"

namespace tether::settings {

// The values of one flag and where they came from, for error messages.
struct SourcedValues {
  // One value, except for a kRepeatable flag given several times or by a list in the environment.
  std::vector<std::string> values;
  // Empty for the command line; else "from TETHER_X", "from KONG_X", "from <file>:<line>" or
  // "default".
  std::string origin;
};

// Flag name -> its values on the command line, in order.
using GivenFlags = absl::flat_hash_map<std::string, std::vector<std::string>>;

// Flag name -> its values in the --config file.
using FileValues = absl::flat_hash_map<std::string, SourcedValues>;

// Collects --name=value and --name value pairs (a switch takes no separate value). Unknown flags,
// positional arguments and empty values are errors.
absl::StatusOr<GivenFlags> ScanArgs(int argc, char** argv);

// Reads the --config file: a YAML map of flag names to values. Errors name the file and line;
// values are never repeated in them.
absl::StatusOr<FileValues> LoadConfigFile(const std::string& path);

// The values `def` takes: from the command line, else TETHER_*, else KONG_*, else the file, else
// its default; nullopt when none gives one.
std::optional<SourcedValues> Lookup(const FlagDef& def, const GivenFlags& given,
                                    const EnvLookup& env, const FileValues& file);

}  // namespace tether::settings
