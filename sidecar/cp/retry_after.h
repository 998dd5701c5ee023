// Retry-After (RFC 9110 §10.2.3) on a refused websocket upgrade: Kong Enterprise control planes
// answer 429 or 503 with it under reconnect storms, and a data plane that comes back sooner only
// adds to the storm.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::cp {

// The longest Retry-After tether honours: a CP asking for more is waited for this long, so a
// misconfigured header cannot park a data plane for hours.
inline constexpr absl::Duration kMaxRetryAfter = absl::Minutes(10);

// How long `value` asks to wait from `now`: delay-seconds ("30") or an HTTP-date ("Sun, 06 Nov
// 1994 08:49:37 GMT"), at most kMaxRetryAfter; zero for a date in the past; nullopt when the
// value is neither.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

}  // namespace tether::cp
