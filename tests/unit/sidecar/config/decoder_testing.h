// What the decoder tests share: messages built around a config_table, decoded as the pipeline
// decodes a CP's frame.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "rapidjson/document.h"
#include "sidecar/config/decoder.h"

namespace tether::config {

inline constexpr absl::string_view kHashA = "0123456789abcdef0123456789abcdef";
inline constexpr absl::string_view kHashB = "fedcba9876543210fedcba9876543210";
inline const std::string kZeros(protocol::kEmptyConfigHash);
inline const absl::Time kReceivedAt = absl::FromUnixSeconds(1718000100);

// A reconfigure message around `config_table` (JSON text); `config_hash` and `hashes` are
// omitted when empty.
inline std::string Message(absl::string_view config_table, absl::string_view config_hash = "",
                           absl::string_view hashes = "") {
  std::string message = R"({"type":"reconfigure","timestamp":1718000099.125)";
  if (!config_hash.empty()) absl::StrAppend(&message, R"(,"config_hash":")", config_hash, "\"");
  if (!hashes.empty()) absl::StrAppend(&message, R"(,"hashes":)", hashes);
  absl::StrAppend(&message, R"(,"config_table":)", config_table, "}");
  return message;
}

inline absl::StatusOr<DecodeResult> Decode(absl::string_view json,
                                           absl::string_view applied = kZeros,
                                           const DecodeLimits& limits = DecodeLimits()) {
  return DecodeReconfigure(protocol::Gzip(json), applied, limits, Source::kControlPlane,
                           kReceivedAt);
}

// A tree of `json`, which the test expects to parse.
inline rapidjson::Document Parse(absl::string_view json) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  EXPECT_FALSE(document.HasParseError()) << json.substr(0, 200);
  return document;
}

}  // namespace tether::config
