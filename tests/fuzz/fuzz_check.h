// Property checks for the libFuzzer harnesses: a broken property aborts, so libFuzzer saves the
// input as a crash like any sanitizer report.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace tether::fuzz {

[[noreturn]] inline void Fail(absl::string_view what) {
  std::fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

inline void Require(bool ok, absl::string_view what) {
  if (!ok) Fail(what);
}

// 32 lowercase hex chars, the form of every Kong hash.
inline bool IsHash(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

}  // namespace tether::fuzz
