// ReadCommandLine: the argv reading shared by tether's tools (tetherctl, tether-devcp,
// tether-load), which take flags as `--name value` or `--name=value`.
//
// Why: each tool had its own copy of the same loop; this keeps the syntax and its error
// messages one thing, while each tool keeps its own flags and how it checks their values. (The
// daemon's settings have their own stricter syntax, sidecar/settings/sources.h.)
//
// Threading: stateless, thread-safe.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tether {

// What a tool makes of `--name`.
enum class FlagKind {
  kUnknown,  // "unknown flag --name", before any value is looked for
  kSwitch,   // bare `--name`; "--name takes no value" for `--name=value`
  kValue,    // `--name=value` or `--name value`; "--name needs a value" when none follows
};

struct CommandLineHandlers {
  std::function<FlagKind(absl::string_view name)> kind;
  // Each flag in argv order, its name without "--"; `value` is empty for a switch. An error
  // stops the reading and is returned.
  std::function<absl::Status(absl::string_view name, absl::string_view value)> flag;
  // Each argument that does not start with "--"; unset, the first is UnexpectedArgument.
  std::function<absl::Status(absl::string_view arg)> positional = nullptr;
};

// "unexpected argument \"ARG\"", for an argument a tool has no place for.
absl::Status UnexpectedArgument(absl::string_view arg);

// Reads argv[1..argc) in order and stops at the first error (InvalidArgument, for people).
// `--help` and `-h` set `help` and are otherwise ignored, so that the tool prints its usage
// whatever else is given.
absl::Status ReadCommandLine(int argc, char** argv, const CommandLineHandlers& handlers,
                             bool& help);

}  // namespace tether
