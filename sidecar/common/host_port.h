// JoinHostPort: "host:port", with an IPv6 literal bracketed (RFC 3986 §3.2.2, RFC 7230 §5.4).
//
// Why one function: addresses reach logs, status, Host headers and gRPC listen URIs, and each
// hand-rolled copy was one more place to forget the brackets.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tether {

inline std::string JoinHostPort(absl::string_view host, uint32_t port) {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

}  // namespace tether
