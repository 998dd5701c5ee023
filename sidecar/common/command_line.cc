// See command_line.h.
#include "sidecar/common/command_line.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tether {

absl::Status UnexpectedArgument(absl::string_view arg) {
  return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
}

absl::Status ReadCommandLine(int argc, char** argv, const CommandLineHandlers& handlers,
                             bool& help) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      absl::Status status =
          handlers.positional ? handlers.positional(arg) : UnexpectedArgument(arg);
      if (!status.ok()) return status;
      continue;
    }
    const size_t eq = arg.find('=');
    const absl::string_view name = arg.substr(0, eq);
    absl::string_view value;
    switch (handlers.kind(name)) {
      case FlagKind::kUnknown:
        return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
      case FlagKind::kSwitch:
        if (eq != absl::string_view::npos) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
        }
        break;
      case FlagKind::kValue:
        if (eq != absl::string_view::npos) {
          value = arg.substr(eq + 1);
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        }
        break;
    }
    if (absl::Status status = handlers.flag(name, value); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace tether
