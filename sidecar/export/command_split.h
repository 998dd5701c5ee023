// Splitting --on-change-exec into argv the way a POSIX shell splits words, without a shell.
//
// Why no shell: the command runs with tether's privileges and the config's hash in its
// environment; splitting here keeps quoting familiar (`sh -c '...'` still works when a shell is
// wanted) without expansions, globbing or a shell's start-up cost on every config.
//
// Threading: thread-safe (pure functions).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::exporter {

// Blanks (space, tab, newline) separate words. 'single quotes' keep everything literally;
// "double quotes" keep everything but \ before $ ` " \ or a newline; outside quotes a backslash
// keeps the next character (a backslash-newline joins lines). Nothing is expanded: $VAR, ~ and *
// stay as written. InvalidArgument for an unterminated quote, a trailing backslash or no word.
absl::StatusOr<std::vector<std::string>> SplitCommandLine(absl::string_view line);

}  // namespace tether::exporter
