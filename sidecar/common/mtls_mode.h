// MtlsMode: how the data plane's TLS identity is checked (kong-protocol.md §1.2). One enum for the
// settings, the CP session and tether-devcp, which all speak of the same two modes.
#pragma once

namespace tether {

enum class MtlsMode {
  // Kong's default: both sides present the same certificate; the DP trusts that certificate and
  // verifies the name kong_clustering.
  kShared,
  // The CP verifies the DP certificate against its CA; the DP trusts the CA it was given.
  kPki,
};

}  // namespace tether
