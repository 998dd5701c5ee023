// Command line, environment and config file -> Settings. Every setting is defined once, in the
// flag table (flag_table.cc): its flag, its environment names, its default, its parser and its
// help.
//
// Every flag --foo-bar can also be set with TETHER_FOO_BAR, and as foo-bar in the YAML file named
// by --config; every --cluster-* flag (and --proxy-server, --proxy-server-ssl-verify) also with
// Kong's own name (--cluster-cert -> KONG_CLUSTER_CERT), so a Kong data plane's environment works
// unchanged. Precedence: flag, then TETHER_*, then KONG_*, then the config file, then the default.
// Flags beat the environment because they are the more deliberate act: an operator typing a flag
// overrides whatever a container image or unit file exported. The environment beats the file so
// that one file (a ConfigMap) can serve many pods that differ in a variable or two.
//
// Threading: the functions are thread-safe (no global state; the environment is injected).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/settings/help.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// Looks up an environment variable; nullopt when unset. An empty value counts as unset, so that
// FOO= (as templating often leaves it) falls through to the next source.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();
// A fixed environment, for tests.
EnvLookup MapEnv(std::map<std::string, std::string> vars);

// --help, --version or --help-markdown was given: print text to stdout and exit 0, without
// validating anything else on the command line.
struct PrintAndExit {
  std::string text;
};

// What main does next: run with the Settings, or print and exit.
using ParseOutcome = std::variant<Settings, PrintAndExit>;

// Builds the daemon's Settings from argv and env, in order:
//   1. --help / --version / --help-markdown anywhere on the command line -> PrintAndExit;
//   2. reads the --config file, if any: a YAML map from flag names to values (unknown names,
//      duplicates and values of the wrong YAML type are errors naming the file and line);
//   3. each table entry takes its value from the flag, TETHER_*, KONG_*, the file or its default,
//      and parses it (syntax errors name the flag, the value unless it is secret, and where the
//      value came from, e.g. "from TETHER_PING_INTERVAL" or "from /etc/tether.yaml:3");
//   4. values that depend on other settings are resolved once every source is read, whatever the
//      table order: --plugins (which reads --node-version), and --grpc-listen's default
//      unix://<data-dir>/tether.sock;
//   5. ValidateSettings (validate.h): what ParseSettings returns is valid, and validated only
//      here.
// It does no I/O besides reading the files flags name (--config, --plugins @file, and the
// certificate files validation checks): node_hostname and node_id are left empty unless given,
// and nothing is created. PrepareNode (node_identity.h) fills them in.
// Flags are --name=value or --name value (a switch such as --grpc-allow-non-loopback needs no
// value). When a flag is repeated the last one wins, except for repeatable flags (--grpc-listen),
// where each adds a value and the environment variable takes a comma-separated list. Unknown
// flags, positional arguments and empty flag values are errors. Errors are InvalidArgument.
absl::StatusOr<ParseOutcome> ParseSettings(int argc, char** argv, const EnvLookup& env);

}  // namespace tether::settings
