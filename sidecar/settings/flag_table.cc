// The flag table; see flag_table.h. Each entry's help is also the README's configuration table
// (help_markdown_test keeps the two in step).
#include "sidecar/settings/flag_table.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sidecar/settings/value_parsers.h"

namespace tether::settings {
namespace {

// Every setting, once, in the order of the help text. The order does not matter to parsing: a
// parser that reads another setting says so with ApplyStage::kAfterOthers.
constexpr FlagDef kFlags[] = {
    {"config", "path", "",
     "YAML file of settings, keyed by flag name: cluster-control-plane: cp.example.com:8005.\n"
     "A list takes a YAML list (grpc-listen: [unix:///run/tether/tether.sock]), and\n"
     "cluster-dp-labels also a map. The file beats the defaults; the environment and flags beat\n"
     "the file.",
     // Hidden because every message about the file names it already.
     nullptr, ValueDisplay::kHide},

    // --- Control plane connection ---
    {"cluster-control-plane", "host[:port]", "",
     "Address of the Kong control plane (required). The port defaults to 443; write an IPv6\n"
     "address in brackets: [::1]:8005.",
     ParseControlPlane},
    {"cluster-mtls", "shared|pki", "shared",
     "shared: tether presents the CP's own cluster certificate, trusts only that certificate\n"
     "and verifies the name kong_clustering. pki: the CP checks our certificate against its CA,\n"
     "and tether verifies the CP against --cluster-ca-cert.",
     ParseMtls},
    {"cluster-cert", "path", "", "PEM certificate presented to the CP (required).",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.cert_path); },
     ValueDisplay::kHide},
    {"cluster-cert-key", "path", "", "PEM private key of --cluster-cert (required).",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.key_path); },
     ValueDisplay::kHide},
    {"cluster-ca-cert", "path", "",
     "pki only, and required there: PEM CA certificate that the CP's certificate must chain to.",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.ca_cert_path); },
     ValueDisplay::kHide},
    {"cluster-server-name", "name", "",
     "pki only: TLS server name sent (SNI) and verified. Default: the --cluster-control-plane\n"
     "host.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.server_name); }},
    {"cluster-dp-labels", "key:value,...", "",
     "Labels reported to the CP, at most 10. Keys and values have 1 to 63 letters, digits and\n"
     "_ . : -, and start and end with a letter or digit; keys must not start with kong, konnect,\n"
     "insomnia, mesh or kic.",
     ParseLabels, ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kKeyValues},
    {"cluster-max-payload", "bytes", "16777216",
     "Largest compressed frame accepted from the CP; at least 4194304, as in Kong.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.max_payload_bytes); }},
    {"cluster-max-inflated", "bytes|auto", "auto",
     "Largest config after decompression; at least --cluster-max-payload. auto is 10 times\n"
     "--cluster-max-payload (160 MiB by default): Kong configs compress about 6-fold, and a\n"
     "decompression bomb then costs at most that much memory before it is refused.",
     [](absl::string_view v, Settings& s) {
       if (v == "auto") {
         s.max_inflated_bytes = kAutoInflatedPerPayload * s.max_payload_bytes;
         return absl::OkStatus();
       }
       return ParseBytesTo(v, s.max_inflated_bytes);
     },
     ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kScalar, ApplyStage::kAfterOthers},
    {"cluster-max-entities", "count", "1000000",
     "Most entities a config may hold, all types together; more is refused (counted as\n"
     "too_large) and the current config stays.",
     [](absl::string_view v, Settings& s) { return ParseCountTo(v, s.max_entities); }},
    {"cluster-max-entity-types", "count", "1000",
     "Most top-level keys (entity types and metadata) a config may hold.",
     [](absl::string_view v, Settings& s) { return ParseCountTo(v, s.max_entity_types); }},
    {"cluster-max-metadata", "bytes", "1MiB",
     "Most bytes of config metadata (_format_version, _comment, ...) all together.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.max_metadata_bytes); }},
    {"connect-timeout", "duration", "5s",
     "Deadline for TCP connect, TLS and the WebSocket upgrade together.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.connect_timeout); }},
    {"ping-interval", "duration", "30s", "How often to ping the CP, as Kong's data plane does.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.ping_interval); }},
    {"ping-timeout", "duration", "45s",
     "Reconnect after this long without a frame from the CP; must exceed --ping-interval.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.ping_timeout); }},
    {"reconnect-backoff-min", "duration", "5s", "Shortest wait before reconnecting.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.backoff_min); }},
    {"reconnect-backoff-max", "duration", "60s",
     "Longest wait before reconnecting; at least --reconnect-backoff-min.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.backoff_max); }},
    {"cluster-use-proxy", "", "false",
     "Reach the CP through the HTTP CONNECT proxy given by --proxy-server, as Kong's\n"
     "cluster_use_proxy does.",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.cluster_use_proxy); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"proxy-server", "url", "",
     "Forward proxy for --cluster-use-proxy: http://[user:password@]host[:port], or https://...\n"
     "for TLS to the proxy. The user info (percent-encoded) is sent as Basic\n"
     "Proxy-Authorization and never shown. The port defaults to 80 for http, 443 for https.",
     ParseProxyServer, ValueDisplay::kHide},
    {"proxy-server-ssl-verify", "", "true",
     "Verify an https --proxy-server's certificate against the system's trusted CAs and its\n"
     "host name.",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.proxy_server_ssl_verify); },
     ValueDisplay::kShow, FlagKind::kSwitch},

    // --- Node identity ---
    {"node-id", "uuid", "",
     "Node id reported to the CP. Default: generated once and kept in <data-dir>/node_id.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.node_id); }},
    {"node-hostname", "host", "",
     "Hostname reported to the CP, without a port. Default: this machine's hostname.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.node_hostname); }},
    {"node-version", "auto|version", "auto",
     "Kong version reported to the CP. auto: tether finds the CP's own minor (a few refused\n"
     "attempts on the first start, then remembered in --data-dir). Or major.minor.patch with an\n"
     "optional suffix: the CP refuses another major or a newer minor than its own, and strips\n"
     "from the config what is newer than an older one.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.node_version); }},
    {"plugins", "list|@file", "bundled",
     "Plugins reported to the CP: name[:version] entries, comma-separated, or @file with one\n"
     "entry a line. bundled stands for the plugins Kong and Kong Enterprise bundle at the version\n"
     "in use; off for none. A version left out is the node version in use. The CP withholds\n"
     "config that uses a plugin missing here.",
     ParsePlugins, ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kList,
     ApplyStage::kAfterOthers},

    // --- Local ---
    {"data-dir", "path", "/var/lib/tether", "Directory for the node id and the config cache.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.data_dir); }},
    {"grpc-listen", "address", "",
     "Where the gRPC API listens; repeat the flag for several addresses (the environment variable\n"
     "takes a comma-separated list). unix:///path for a unix socket (mode 0660), or ip:port for\n"
     "TCP: 127.0.0.1:50051, [::1]:50051 (port 0 picks a free port). TCP without --grpc-tls-cert\n"
     "is unauthenticated: any local process may read the config. A non-loopback address needs\n"
     "--grpc-tls-cert or --grpc-allow-non-loopback. Default: unix://<data-dir>/tether.sock.",
     ParseGrpcListen, ValueDisplay::kShow, FlagKind::kRepeatable},
    {"snapshot-history-bytes", "bytes", "64MiB",
     "How much past config tether keeps so that a subscriber reconnecting with a recent hash\n"
     "gets a delta instead of the whole config; at most 16 configs. A past config costs what\n"
     "changed after it (its rows are shared with the next). 0 keeps none.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.snapshot_history_bytes); }},
    {"grpc-allow-non-loopback", "", "false",
     "Allow --grpc-listen on TCP addresses other than loopback without --grpc-tls-cert. Plain TCP\n"
     "has no authentication and the API serves the whole config, so only do this on a network\n"
     "only trusted proxies reach.",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.grpc_allow_non_loopback); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"grpc-tls-cert", "path", "",
     "PEM certificate (chain) the gRPC API presents on its TCP listeners. With --grpc-tls-key and\n"
     "--grpc-client-ca (all three or none), TCP listeners serve TLS 1.2+ and admit only clients\n"
     "with a certificate issued by that CA; a non-loopback address is then allowed. The files are\n"
     "checked every --cert-check-interval. Unix sockets are not affected.",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.grpc_tls_cert_path); },
     ValueDisplay::kHide},
    {"grpc-tls-key", "path", "", "PEM private key of --grpc-tls-cert.",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.grpc_tls_key_path); },
     ValueDisplay::kHide},
    {"grpc-client-ca", "path", "",
     "PEM CA certificate(s) that gRPC clients' certificates must chain to (see --grpc-tls-cert).",
     [](absl::string_view v, Settings& s) { return ParsePemPathTo(v, s.grpc_client_ca_path); },
     ValueDisplay::kHide},
    {"grpc-allowed-uids", "ids", "",
     "User ids that may connect to the gRPC unix sockets, checked on each connection\n"
     "(SO_PEERCRED); others are closed and counted (tether_grpc_peers_refused_total). Default:\n"
     "tether's own uid. Root is always allowed. A peer passes by its uid or its gid.",
     [](absl::string_view v, Settings& s) { return ParseIdsTo(v, s.grpc_allowed_uids); },
     ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kList},
    {"grpc-allowed-gids", "ids", "",
     "Group ids whose members may connect to the gRPC unix sockets. Only the peer's effective\n"
     "(primary) gid counts: SO_PEERCRED carries no supplementary groups. Default: tether's\n"
     "primary gid.",
     [](absl::string_view v, Settings& s) { return ParseIdsTo(v, s.grpc_allowed_gids); },
     ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kList},
    {"grpc-update-cache-bytes", "bytes", "16MiB",
     "How much memory the updates built for subscribers may hold while the gRPC API keeps them\n"
     "to share with later subscribers that need the same; beyond it the least recently used\n"
     "are dropped and rebuilt when needed. An update of one chunk holds its bytes; a larger\n"
     "one (a large config's full update) writes each chunk as streams send it and holds only\n"
     "its layout and, for a delta, its list of rows, so the config is not held twice.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.grpc_update_cache_bytes); }},
    {"grpc-max-subscribers", "count", "4096",
     "Watch streams the gRPC API serves at once; more are refused with RESOURCE_EXHAUSTED and\n"
     "counted (tether_subscribers_refused_total).",
     [](absl::string_view v, Settings& s) { return ParseCountTo(v, s.grpc_max_subscribers); }},
    {"grpc-max-streams-per-connection", "count", "256",
     "Concurrent gRPC calls one client connection may have open (HTTP/2\n"
     "MAX_CONCURRENT_STREAMS); a client queues the rest.",
     [](absl::string_view v, Settings& s) {
       return ParseCountTo(v, s.grpc_max_streams_per_connection);
     }},
    {"grpc-reflection", "", "true",
     "Serve gRPC server reflection, which lets grpcurl and buf call the API without its .proto\n"
     "files. It describes only the API, never config; false leaves it out.",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.grpc_reflection); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"grpc-memory-quota", "bytes", "256MiB",
     "Memory the gRPC API's transport may use for every connection's buffers together; under\n"
     "pressure it shrinks flow-control windows and refuses new allocations.",
     [](absl::string_view v, Settings& s) {
       if (absl::Status st = ParseBytesTo(v, s.grpc_memory_quota_bytes); !st.ok()) return st;
       return s.grpc_memory_quota_bytes >= (int64_t{1} << 20)
                  ? absl::OkStatus()
                  : absl::InvalidArgumentError("at least 1MiB");
     }},
    {"log-level", "level", "info", "debug, info, warn or error.", ParseLogLevel},
    {"log-format", "text|json", "text",
     "text: one human-readable line per event. json: one JSON object per line with time, level,\n"
     "component, message and the event's fields, for log collectors (use it on Kubernetes).",
     ParseLogFormat},

    // --- Config file and change hook ---
    {"write-config", "path", "",
     "After each applied config (and at start when serving the cache), write it to this file as\n"
     "a Kong declarative config (what `tetherctl get --json` shows under config): YAML when the\n"
     "path ends in .yaml or .yml, JSON otherwise. Mode 0600 (it holds credentials and keys);\n"
     "replaced atomically, so a reader never sees part of one.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.write_config); }},
    {"write-config-types", "type,...", "",
     "Write only these entity types (e.g. routes,services,upstreams,targets); metadata such as\n"
     "_format_version is always written. Default: every type.",
     ParseWriteConfigTypes, ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kList},
    {"on-change-exec", "command", "",
     "Run this command after each applied config, after --write-config wrote it: split like a\n"
     "shell splits words (quotes, backslashes) but run without one (a YAML list in the config\n"
     "file). Its environment adds TETHER_CONFIG_HASH and, with --write-config,\n"
     "TETHER_CONFIG_PATH. One run at a time; configs applied meanwhile are coalesced (the newest\n"
     "runs next). Exit 0 is an ACK, anything else a NACK: it shows in status as the subscriber\n"
     "on-change-exec and counts for --report-hash=acked. Its output goes to the log.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.on_change_exec); },
     ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kArgv},
    {"on-change-timeout", "duration", "30s",
     "How long an --on-change-exec run may take; then it is killed with its process group and\n"
     "counts as a NACK.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.on_change_timeout); }},

    // --- Config cache and start-up ---
    {"report-hash", "applied|acked", "applied",
     "The config hash pings carry, which the CP shows as this data plane's. applied: the config\n"
     "tether applied, as Kong's data plane does. acked: the newest config every connected\n"
     "subscriber has ACKed (the applied one with no subscriber), so a NACK keeps the CP's view\n"
     "on the previous config.",
     ParseReportHash},
    {"startup-policy", "serve-cache|wait-for-cp", "serve-cache",
     "serve-cache: serve the cached config at once while the CP is unreachable (like Kong).\n"
     "wait-for-cp: stay not ready until a config arrives from the CP.",
     ParseStartupPolicy},
    {"max-cache-age", "duration", "0s",
     "Refuse to serve a cached config saved longer ago than this; 0s accepts any age.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.max_cache_age); }},
    {"guard-empty-config", "", "false",
     "Refuse a pushed config with no services and no routes while the current one has some\n"
     "(a CP started before its database migrations has pushed empty configs).",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.guard_empty_config); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"cert-check-interval", "duration", "10s",
     "How often the cluster certificate, key and CA files, and the --grpc-tls-* files, are\n"
     "checked for rotation (the latter in whole seconds).",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.cert_check_interval); }},

    // --- Operations ---
    {"ops-listen", "ip:port", "127.0.0.1:8100",
     "Where the ops HTTP listener serves /livez, /readyz, /metrics and POST /shutdown: an ip\n"
     "address and a port (0 picks a free port). It may be a pod IP, since kubelet probes come\n"
     "from there; it serves no config, and /shutdown answers loopback callers only.",
     [](absl::string_view v, Settings& s) {
       return ParseHostPort(v, PortRule::kRequired, 0, s.ops_listen);
     }},
    {"drain-time", "duration", "5s",
     "After SIGTERM or POST /shutdown, how long subscribers are still served while readiness and\n"
     "gRPC health already say draining; then the API and the CP session close. 0s: no drain.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.drain_time); }},
};

// Kong settings with the same meaning whose names do not start with cluster_.
constexpr absl::string_view kOtherKongSettings[] = {"proxy-server", "proxy-server-ssl-verify"};

}  // namespace

absl::Span<const FlagDef> Flags() { return kFlags; }

const FlagDef* FindFlag(absl::string_view name) {
  for (const FlagDef& def : kFlags) {
    if (def.name == name) return &def;
  }
  return nullptr;
}

// --foo-bar -> TETHER_FOO_BAR; --cluster-foo (and kOtherKongSettings) also ->
// KONG_CLUSTER_FOO. Highest precedence first.
std::vector<std::string> EnvNames(absl::string_view flag) {
  std::string suffix = absl::AsciiStrToUpper(flag);
  std::replace(suffix.begin(), suffix.end(), '-', '_');
  std::vector<std::string> names = {absl::StrCat("TETHER_", suffix)};
  if (absl::StartsWith(flag, "cluster-") ||
      std::find(std::begin(kOtherKongSettings), std::end(kOtherKongSettings), flag) !=
          std::end(kOtherKongSettings)) {
    names.push_back(absl::StrCat("KONG_", suffix));
  }
  return names;
}

}  // namespace tether::settings
