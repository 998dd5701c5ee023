// Snapshots for the api unit tests, decoded from config_table JSON the way the CP session's
// applier decodes them, so hashes are real.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "sidecar/config/decoder.h"

namespace tether::api::testing {

inline config::SnapshotPtr Decode(absl::string_view config_table) {
  const std::string message =
      absl::StrCat(R"({"type":"reconfigure","config_table":)", config_table, "}");
  absl::StatusOr<config::DecodeResult> result =
      config::DecodeReconfigure(protocol::Gzip(message), protocol::kEmptyConfigHash,
                                config::DecodeLimits(), config::Source::kControlPlane, absl::Now());
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return nullptr;
  return result->snapshot;
}

// `{"id":"<id>","name":"<name>","comment":"<padding x's>"}`
inline std::string Row(absl::string_view id, absl::string_view name, size_t padding = 0) {
  return absl::StrCat(R"({"id":")", id, R"(","name":")", name, R"(","comment":")",
                      std::string(padding, 'x'), R"("})");
}

}  // namespace tether::api::testing
