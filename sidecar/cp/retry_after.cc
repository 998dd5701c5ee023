#include "sidecar/cp/retry_after.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace tether::cp {

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  absl::Duration wait;
  if (std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
    uint64_t seconds = 0;
    // Too many digits to parse is "very long": capped like any long wait.
    if (!absl::SimpleAtoi(value, &seconds)) return kMaxRetryAfter;
    wait = absl::Seconds(std::min<uint64_t>(seconds, absl::ToInt64Seconds(kMaxRetryAfter)));
  } else {
    absl::Time at;
    std::string err;
    // IMF-fixdate, the form RFC 9110 requires senders to use.
    if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(value), absl::UTCTimeZone(), &at,
                         &err)) {
      return std::nullopt;
    }
    wait = at - now;
  }
  return std::clamp(wait, absl::ZeroDuration(), kMaxRetryAfter);
}

}  // namespace tether::cp
