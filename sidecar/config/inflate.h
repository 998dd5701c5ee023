// Inflate for reconfigure frames (kong-protocol.md §3.1): like Kong's data plane, zlib with
// windowBits 15+32, so both gzip (what the CP sends) and zlib-wrapped data are accepted.
//
// Why a cap checked while inflating: the frame is untrusted, and a few MiB of deflate can expand
// ~1000-fold. Output stops at `max_bytes`, so a decompression bomb costs at most that much memory
// and the time to produce it.
//
// Threading: pure function, thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::config {

// The inflated bytes of one gzip or zlib stream that must span all of `compressed`.
//
// Errors: ResourceExhausted when the output would exceed `max_bytes`; InvalidArgument for empty,
// corrupt or truncated input and for bytes after the end of the stream (Kong's CP never sends
// them, and accepting them would let two different frames carry one config).
absl::StatusOr<std::string> Inflate(absl::string_view compressed, size_t max_bytes);

}  // namespace tether::config
