// Settings: the typed configuration of the tether daemon, built once at start-up from flags,
// environment and config file (flags.h), checked by ValidateSettings (validate.h) and completed
// by PrepareNode (node_identity.h).
//
// Code below settings/ sees only this struct: never a flag, an environment variable or a string
// holding a typed value. The defaults live in one place, the flag table in flag_table.cc; a
// default-constructed Settings is zero-initialised and not valid, so build one with ParseSettings
// and PrepareNode.
//
// Threading: a plain value type (thread-compatible); share it as const after start-up.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mtls_mode.h"

namespace tether::settings {

// A host and a port. An IPv6 host is held without brackets ("::1"); FormatHostPort adds them.
struct HostPort {
  std::string host;
  uint16_t port{};

  bool operator==(const HostPort&) const = default;
};

// "host:port", with an IPv6 host in brackets ("[::1]:8005"), as URLs and Host headers need.
std::string FormatHostPort(const HostPort& host_port);

// Where the gRPC API listens (--grpc-listen).
struct GrpcListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind{};
  // kUnix: the socket's absolute path.
  std::string path;
  // kTcp: an IP address (an IPv6 one without brackets) and a port; port 0 picks a free port.
  HostPort tcp;

  bool operator==(const GrpcListenAddress&) const = default;
};

// The address as --grpc-listen and gRPC write it: "unix:///run/tether.sock", "127.0.0.1:50051",
// "[::1]:50051".
std::string FormatGrpcListen(const GrpcListenAddress& address);

// An HTTP CONNECT forward proxy (--proxy-server), as Kong's proxy_server.
struct ProxyServer {
  enum class Scheme { kHttp, kHttps };
  Scheme scheme{};
  HostPort address;
  // From the URL's user info, percent-decoded; both empty when it has none. Secrets: never log or
  // show them.
  std::string username;
  std::string password;

  bool operator==(const ProxyServer&) const = default;
};

// One entry of basic_info.plugins (kong-protocol.md §2). version is never empty: it matches
// ^\d+\.\d+\.\d+ so that the CP can compare major and minor.
struct Plugin {
  std::string name;
  std::string version;

  bool operator==(const Plugin&) const = default;
};

// --plugins as given: Kong's bundled set or not, and the plugins listed by name. A listed plugin
// without a version is advertised at the node version in use, which with --node-version=auto is
// known only once the CP accepted one (ResolvePlugins, bundled_plugins.h).
struct PluginSelection {
  bool bundled = false;
  std::vector<Plugin> listed;  // sorted by lowercase name; version "" = the node version

  bool operator==(const PluginSelection&) const = default;
};

// --node-version's default: find the CP's version by itself (cp/version_negotiation.h).
inline constexpr char kAutoNodeVersion[] = "auto";
// --cluster-max-inflated=auto: this many times --cluster-max-payload.
inline constexpr int64_t kAutoInflatedPerPayload = 10;

// Which config hash the pings carry (--report-hash): what the CP shows as this data plane's.
enum class ReportHash {
  kApplied,  // the config tether applied (Kong's data plane)
  kAcked,    // the newest config every connected subscriber has ACKed
};

// What tether serves before the CP has sent a config (--startup-policy).
enum class StartupPolicy {
  // Kong's behaviour (fail static): the last-known-good config on disk, at once.
  kServeCache,
  // Nothing: not ready until a live config arrives.
  kWaitForCp,
};

struct Settings {
  // --- Control plane connection (kong-protocol.md §1) ---

  // --cluster-control-plane host[:port]; the port defaults to 443 as in Kong's WebSocket client.
  HostPort control_plane;
  MtlsMode mtls{};
  // PEM files. Only the paths are held here; cp/ reads the contents.
  std::string cert_path;
  std::string key_path;
  // Set only in pki mode, where it is required.
  std::optional<std::string> ca_cert_path;
  // pki mode only: SNI and the verified name. When absent, the host of control_plane.
  std::optional<std::string> server_name;
  // basic_info.labels (kong-protocol.md §2): at most 10, validated with Kong's rules.
  std::map<std::string, std::string> labels;
  // Largest compressed WebSocket frame accepted (Kong's cluster_max_payload, §1.3).
  int64_t max_payload_bytes{};
  // Largest config after gzip inflation; guards against a decompression bomb. `auto` (the
  // default) is kAutoInflatedPerPayload x max_payload_bytes.
  int64_t max_inflated_bytes{};
  // What a config may hold (config::DecodeLimits).
  int64_t max_entities{};
  int64_t max_entity_types{};
  int64_t max_metadata_bytes{};
  // How much past config (inflated bytes) the snapshot history may hold for delta resumes.
  int64_t snapshot_history_bytes{};
  // TCP connect + TLS + WebSocket upgrade, as one deadline.
  absl::Duration connect_timeout;
  // How often to ping the CP (§4.1), and how long silence may last before reconnecting.
  // Invariant after validation: ping_timeout > ping_interval.
  absl::Duration ping_interval;
  absl::Duration ping_timeout;
  // Reconnect delay bounds. Invariant after validation: 0 < backoff_min <= backoff_max.
  absl::Duration backoff_min;
  absl::Duration backoff_max;
  // Reach the CP through proxy_server (Kong's cluster_use_proxy); validation requires the server.
  bool cluster_use_proxy = false;
  std::optional<ProxyServer> proxy_server;
  // Verify an https proxy's certificate (system CAs) and host name.
  bool proxy_server_ssl_verify = true;

  // --- Node identity, sent on every connection (§1.1, §2) ---

  // A UUID: --node-id, or else PrepareNode fills it from <data_dir>/node_id, so it is never empty
  // once PrepareNode succeeded.
  std::string node_id;
  // A hostname or IP address without a port; unless given, PrepareNode sets the system's.
  std::string node_hostname;
  // The Kong version we claim to be, e.g. "3.10.0", or "auto" (kAutoNodeVersion) to take the
  // CP's own; the CP checks its major and minor.
  std::string node_version;
  // --plugins as given, resolved again for each version tried with auto.
  PluginSelection plugin_selection;
  // plugin_selection resolved at node_version (with auto: at the newest version tether knows).
  // Sorted by lowercase name, names unique, as Kong sends them.
  std::vector<Plugin> plugins;

  // --- Local ---

  // Holds node_id and the config cache. PrepareNode creates it 0710 when missing
  // (the group may reach the default socket in it, not list it).
  std::string data_dir;
  // Where the gRPC API listens; never empty after parsing (default: unix://<data_dir>/tether.sock).
  std::vector<GrpcListenAddress> grpc_listen;
  // Lets --grpc-listen take a TCP address that is not loopback (refused otherwise: without
  // grpc_tls the API has no authentication and serves the whole config).
  bool grpc_allow_non_loopback = false;
  // PEM files for mutual TLS on the TCP listeners: all three or none (validation). Only the
  // paths; gRPC reads them, and again when they change.
  std::string grpc_tls_cert_path;
  std::string grpc_tls_key_path;
  std::string grpc_client_ca_path;
  // Who may connect to the unix sockets (SO_PEERCRED). Empty: tether's own uid, resp. its
  // primary gid. Root is always allowed (it can read the cache and the keys anyway).
  std::vector<uint32_t> grpc_allowed_uids;
  std::vector<uint32_t> grpc_allowed_gids;
  // Byte budget of the updates the gRPC API keeps for sharing between subscribers.
  int64_t grpc_update_cache_bytes{};
  // Bounds against a flooding client (api::ServerOptions).
  int64_t grpc_max_subscribers{};
  int64_t grpc_max_streams_per_connection{};
  int64_t grpc_memory_quota_bytes{};
  // Whether the gRPC API serves grpc.reflection (api::ServerOptions::reflection).
  bool grpc_reflection = true;
  log::Level log_level{};
  log::Format log_format{};

  // --- Config file and change hook (export/exporter.h) ---

  // Where each applied config is written as a Kong declarative config; empty writes none.
  std::string write_config;
  // The entity types written there; empty means every type.
  std::vector<std::string> write_config_types;
  // The command run after each applied config, as one command line: the app splits it into argv
  // (export/command_split.h); a YAML list arrives with each item single-quoted. Empty: none.
  std::string on_change_exec;
  // A run that takes longer is killed with its process group. Positive after validation.
  absl::Duration on_change_timeout;

  // --- Config cache and start-up ---

  StartupPolicy startup_policy{};
  ReportHash report_hash = ReportHash::kApplied;
  // A cache saved longer ago than this is not served; zero accepts any age.
  absl::Duration max_cache_age;
  // Refuse a config with no services and no routes while the current one has some.
  bool guard_empty_config = false;
  // How often the cluster cert, key and CA files (and the grpc_tls ones) are read again to pick
  // up a rotation.
  absl::Duration cert_check_interval;

  // --- Operations ---

  // The ops HTTP listener (probes, metrics, /shutdown): an IP address and a port, 0 picking a
  // free one. Unlike the gRPC API it may be non-loopback: kubelet probes arrive on the pod IP,
  // it serves no config, and /shutdown answers loopback peers only.
  HostPort ops_listen;
  // After SIGTERM or /shutdown, how long subscribers are still served while readiness says
  // draining; zero stops at once. Never negative after validation.
  absl::Duration drain_time;
};

}  // namespace tether::settings
