// How the data plane authenticates to the control plane and verifies it, in Kong's two
// cluster_mtls modes (kong-protocol.md §1.2). Kept free of Asio so headers stay cheap.
#pragma once

#include <string>

#include "sidecar/common/mtls_mode.h"

namespace tether::cp {

struct TlsOptions {
  MtlsMode mode = MtlsMode::kShared;
  // Client certificate (PEM, chain allowed); in shared mode also the only trusted server cert.
  std::string cert_path;
  std::string key_path;      // its private key (PEM); never logged
  std::string ca_cert_path;  // pki mode: the CA that signs the CP's certificate
  std::string server_name;   // pki mode: SNI and verified name; empty means the CP host
};

// The name the CP certificate must match: "kong_clustering" in shared mode; in pki mode the
// configured server name, else `cp_host`.
std::string ExpectedServerName(const TlsOptions& options, const std::string& cp_host);

}  // namespace tether::cp
