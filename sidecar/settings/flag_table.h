// The flag table: every setting once, with its flag, its default, its parser and its help. The
// sources (sources.h), ParseSettings (flags.h) and the help (help.h) all read it. Internal to
// settings/.
//
// Threading: thread-safe (immutable data).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// Parses one value into its field. Returns InvalidArgument with only the reason ("not a
// duration"); ParseSettings prefixes the flag, the value and where the value came from.
using ApplyFn = absl::Status (*)(absl::string_view value, Settings& settings);

// Whether a value may be repeated in an error message. Certificate flags are hidden because Kong
// also accepts inline PEM in KONG_CLUSTER_CERT_KEY, and that would be a private key.
enum class ValueDisplay { kShow, kHide };

// How often a flag may be given and whether it takes a value.
enum class FlagKind {
  // One value; when given again, the last one wins.
  kSingle,
  // Each --flag adds a value (applied in order); the environment variable takes a comma-separated
  // list. The default applies only when neither gives any.
  kRepeatable,
  // A boolean: --flag alone means true; --flag=false and TETHER_FLAG=false also work.
  kSwitch,
};

// What a flag's value may look like in the --config file, besides a plain scalar.
enum class ValueShape {
  // One value: a YAML scalar. (A kRepeatable flag also takes a YAML list, one value per item.)
  kScalar,
  // A comma-separated list: a YAML list is joined with commas.
  kList,
  // Comma-separated key:value pairs: a YAML map (or list of "key:value") is joined likewise.
  kKeyValues,
  // A command line: a YAML list gives one argument per item (each quoted, then joined with
  // spaces, so that splitting the line gives the items back).
  kArgv,
};

// When ParseSettings applies a flag's value.
enum class ApplyStage {
  kFirst,
  // After every kFirst flag, whatever the table order: the parser reads settings other flags set
  // (--plugins reads --node-version).
  kAfterOthers,
};

struct FlagDef {
  // Without the leading "--". Environment names derive from it (EnvNames), and it is the key in
  // the --config file.
  absl::string_view name;
  // Placeholder in the help ("duration").
  absl::string_view value_name;
  // Parsed like any other value when no flag or environment variable sets it; empty = none, and
  // the field keeps its zero value (ValidateSettings reports a missing required one).
  absl::string_view default_value;
  absl::string_view help;
  // Null only for --config, which ParseSettings reads before every other setting.
  ApplyFn apply;
  ValueDisplay display = ValueDisplay::kShow;
  FlagKind kind = FlagKind::kSingle;
  ValueShape shape = ValueShape::kScalar;
  ApplyStage stage = ApplyStage::kFirst;
};

// The name of the flag that names the config file; its FlagDef has no apply.
inline constexpr absl::string_view kConfigFlag = "config";

// Every flag, in the order of the help text.
absl::Span<const FlagDef> Flags();

// The flag called `name` (without "--"), or null.
const FlagDef* FindFlag(absl::string_view name);

// --foo-bar -> TETHER_FOO_BAR; --cluster-foo (and the other Kong settings) also ->
// KONG_CLUSTER_FOO. Highest precedence first.
std::vector<std::string> EnvNames(absl::string_view flag);

}  // namespace tether::settings
