// What tether prints for --help, --help-markdown and --version, generated from the flag table.
//
// Threading: thread-safe (pure functions).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tether::settings {

// Usage text: every flag with its value form, help, default and environment names.
std::string HelpText();

// The same as a Markdown table (flag, environment, default, description), one row a flag, for the
// README's configuration section; `tether --help-markdown` prints it.
std::string HelpMarkdown();

// tether's own version, e.g. "0.1.0".
absl::string_view TetherVersion();

// "tether <version> (...)", for --version.
std::string VersionText();

}  // namespace tether::settings
