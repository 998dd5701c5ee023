// Reads the Prometheus text format back into numbers, for tests of /metrics.
//
// Threading: thread-compatible (no shared state).
#pragma once

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace tether::testing {

// Samples by series, `name{label="value",...}` as written, to their value. Comment lines
// (# HELP, # TYPE) are skipped.
inline std::map<std::string, double> ParsePrometheusText(absl::string_view text) {
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    EXPECT_TRUE(space != absl::string_view::npos &&
                absl::SimpleAtod(line.substr(space + 1), &value))
        << line;
    samples[std::string(line.substr(0, space))] = value;
  }
  return samples;
}

}  // namespace tether::testing
