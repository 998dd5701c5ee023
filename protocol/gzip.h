// Gzip as Kong's control plane compresses a reconfigure frame (kong-protocol.md §3.1): zlib
// deflateInit2 with windowBits 15+16 (an RFC 1952 gzip member), default level and strategy.
// tether-devcp and tests use it to build frames; the sidecar only inflates
// (sidecar/config/inflate.h).
//
// Threading: pure function, thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tether::protocol {

// gzip(data). Cannot fail on valid input; aborts only if zlib cannot allocate its state.
std::string Gzip(absl::string_view data);

}  // namespace tether::protocol
