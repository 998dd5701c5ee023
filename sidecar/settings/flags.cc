#include "sidecar/settings/flags.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sidecar/common/file_util.h"
#include "sidecar/settings/bundled_plugins.h"
#include "sidecar/settings/node_identity.h"
#include "sidecar/settings/validate.h"
#include "yaml-cpp/yaml.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "unknown"
#endif

namespace tether::settings {
namespace {

// Parses one value into its field. Returns InvalidArgument with only the reason ("not a
// duration"); ParseSettings prefixes the flag, the value and where the value came from.
using ApplyFn = absl::Status (*)(absl::string_view value, Settings& settings);

// Whether a value may be repeated in an error message. Certificate flags are hidden because Kong
// also accepts inline PEM in KONG_CLUSTER_CERT_KEY, and that would be a private key.
enum class ValueDisplay { kShow, kHide };

// How often a flag may be given and whether it takes a value.
enum class FlagKind {
  // One value; when given again, the last one wins.
  kSingle,
  // Each --flag adds a value (applied in order); the environment variable takes a comma-separated
  // list. The default applies only when neither gives any.
  kRepeatable,
  // A boolean: --flag alone means true; --flag=false and TETHER_FLAG=false also work.
  kSwitch,
};

// What a flag's value may look like in the --config file, besides a plain scalar.
enum class ValueShape {
  // One value: a YAML scalar. (A kRepeatable flag also takes a YAML list, one value per item.)
  kScalar,
  // A comma-separated list: a YAML list is joined with commas.
  kList,
  // Comma-separated key:value pairs: a YAML map (or list of "key:value") is joined likewise.
  kKeyValues,
};

struct FlagDef {
  // Without the leading "--". Environment names derive from it (EnvNames), and it is the key in
  // the --config file.
  absl::string_view name;
  // Placeholder in the help ("duration").
  absl::string_view value_name;
  // Parsed like any other value when no flag or environment variable sets it; empty = none, and
  // the field keeps its zero value (ValidateSettings reports a missing required one).
  absl::string_view default_value;
  absl::string_view help;
  // Null only for --config, which ParseSettings reads before every other setting.
  ApplyFn apply;
  ValueDisplay display = ValueDisplay::kShow;
  FlagKind kind = FlagKind::kSingle;
  ValueShape shape = ValueShape::kScalar;
};

absl::Status Reason(absl::string_view reason) { return absl::InvalidArgumentError(reason); }

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

absl::Status ParseDurationTo(absl::string_view value, absl::Duration& out) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d)) return Reason("not a duration (want e.g. 500ms, 2s or 1m)");
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    return Reason("not a finite duration");
  }
  out = d;
  return absl::OkStatus();
}

// A byte count: digits, optionally followed by KiB, MiB or GiB.
absl::Status ParseBytesTo(absl::string_view value, int64_t& out) {
  static constexpr std::pair<absl::string_view, int64_t> kUnits[] = {
      {"KiB", int64_t{1} << 10}, {"MiB", int64_t{1} << 20}, {"GiB", int64_t{1} << 30}};
  int64_t multiplier = 1;
  for (const auto& [suffix, factor] : kUnits) {
    if (absl::ConsumeSuffix(&value, suffix)) {
      multiplier = factor;
      break;
    }
  }
  int64_t n = 0;
  if (value.empty() || value.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(value, &n) || n > std::numeric_limits<int64_t>::max() / multiplier) {
    return Reason("not a byte count (want e.g. 16777216 or 16MiB)");
  }
  out = n * multiplier;
  return absl::OkStatus();
}

// Whether a host:port value must carry its port.
enum class PortRule { kOptional, kRequired };

// host, host:port, [v6] or [v6]:port into `out`; without a port, out.port keeps its value. Ports
// run from `min_port` (1, or 0 where 0 means "any free port") to 65535. The host itself is checked
// by ValidateSettings.
absl::Status ParseHostPort(absl::string_view value, PortRule rule, int min_port, HostPort& out) {
  if (absl::StrContains(value, "://")) return Reason("give host:port, without a scheme");
  absl::string_view host = value;
  absl::string_view port;
  bool has_port = false;
  if (absl::ConsumePrefix(&host, "[")) {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) return Reason("missing ] after the ipv6 address");
    absl::string_view rest = host.substr(close + 1);
    host = host.substr(0, close);
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) return Reason("want [ipv6]:port");
      port = rest;
      has_port = true;
    }
  } else {
    const size_t colons = std::count(value.begin(), value.end(), ':');
    if (colons > 1) return Reason("put an ipv6 address in brackets, e.g. [::1]:8005");
    if (colons == 1) {
      const size_t colon = value.find(':');
      host = value.substr(0, colon);
      port = value.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) return Reason("missing host");
  if (!has_port && rule == PortRule::kRequired) {
    return Reason("missing port (want host:port, or [ipv6]:port)");
  }
  uint16_t port_number = out.port;
  if (has_port) {
    int n = 0;
    if (port.empty() || port.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(port, &n) || n < min_port || n > 65535) {
      return Reason(
          absl::StrCat("port ", Quote(port), " must be a number from ", min_port, " to 65535"));
    }
    port_number = static_cast<uint16_t>(n);
  }
  out = HostPort{std::string(host), port_number};
  return absl::OkStatus();
}

absl::Status ParseControlPlane(absl::string_view value, Settings& s) {
  // kong-protocol.md §1.1: the port defaults to 443, as in Kong's WebSocket client.
  constexpr uint16_t kDefaultPort = 443;
  HostPort parsed{"", kDefaultPort};
  if (absl::Status st = ParseHostPort(value, PortRule::kOptional, 1, parsed); !st.ok()) return st;
  s.control_plane = std::move(parsed);
  return absl::OkStatus();
}

// unix:///absolute/path, or ip:port / [ipv6]:port (port 0: any free port). Appends, since the
// flag is repeatable. Which hosts are allowed is ValidateSettings' rule.
absl::Status ParseGrpcListen(absl::string_view value, Settings& s) {
  GrpcListenAddress address;
  if (absl::ConsumePrefix(&value, "unix:")) {
    // gRPC also reads unix:relative and unix:/abs; one spelling keeps logs and docs unambiguous.
    if (!absl::ConsumePrefix(&value, "//") || !absl::StartsWith(value, "/")) {
      return Reason("want unix:///absolute/path");
    }
    address.kind = GrpcListenAddress::Kind::kUnix;
    address.path = std::string(value);
  } else {
    address.kind = GrpcListenAddress::Kind::kTcp;
    if (absl::Status st = ParseHostPort(value, PortRule::kRequired, 0, address.tcp); !st.ok()) {
      return Reason(absl::StrCat(st.message(), "; or unix:///path"));
    }
  }
  s.grpc_listen.push_back(std::move(address));
  return absl::OkStatus();
}

absl::Status ParseBoolTo(absl::string_view value, bool& out) {
  const std::string lower = absl::AsciiStrToLower(value);
  // on and off are how Kong writes booleans (KONG_CLUSTER_USE_PROXY=on).
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
    out = true;
  } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
    out = false;
  } else {
    return Reason("want true or false");
  }
  return absl::OkStatus();
}

absl::Status ParseMtls(absl::string_view value, Settings& s) {
  if (value == "shared") {
    s.mtls = MtlsMode::kShared;
  } else if (value == "pki") {
    s.mtls = MtlsMode::kPki;
  } else {
    return Reason("want shared or pki");
  }
  return absl::OkStatus();
}

// A plain string; the rules on its content are ValidateSettings'.
template <typename T>
absl::Status CopyTo(absl::string_view value, T& out) {
  out = std::string(value);
  return absl::OkStatus();
}

// Kong accepts a path, PEM text or base64 PEM for certificates and keys; tether takes a path.
// "LS0tLS1CRUdJTi" is "-----BEGIN" in base64.
template <typename T>
absl::Status ParsePemPathTo(absl::string_view value, T& out) {
  if (absl::StrContains(value, '\n') || absl::StartsWith(value, "-----BEGIN") ||
      absl::StartsWith(value, "LS0tLS1CRUdJTi")) {
    return Reason("inline pem is not supported, give the path of a pem file");
  }
  return CopyTo(value, out);
}

absl::Status ParseLabels(absl::string_view value, Settings& s) {
  std::map<std::string, std::string> labels;
  for (absl::string_view entry : absl::StrSplit(value, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) return Reason("empty label (want key:value,key2:value2)");
    // Split at the first ':', as Kong does: values may contain ':'.
    const size_t colon = entry.find(':');
    if (colon == absl::string_view::npos) {
      return Reason(absl::StrCat("label ", Quote(entry), " has no ':' (want key:value)"));
    }
    std::string key(entry.substr(0, colon));
    if (labels.contains(key)) return Reason(absl::StrCat("label key ", Quote(key), " given twice"));
    labels.emplace(std::move(key), std::string(entry.substr(colon + 1)));
  }
  s.labels = std::move(labels);
  return absl::OkStatus();
}

// RFC 3986 §2.1 percent-decoding; nullopt for a '%' not followed by two hex digits.
std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !absl::ascii_isxdigit(s[i + 1]) || !absl::ascii_isxdigit(s[i + 2])) {
      return std::nullopt;
    }
    const std::string byte = absl::HexStringToBytes(s.substr(i + 1, 2));
    out.append(byte);
    i += 2;
  }
  return out;
}

// http://[user:password@]host[:port] or https://..., as Kong's proxy_server. The messages never
// repeat the user info: it holds the proxy password.
absl::Status ParseProxyServer(absl::string_view value, Settings& s) {
  constexpr absl::string_view kWant = "want http://[user:password@]host[:port] or https://...";
  ProxyServer proxy;
  if (absl::ConsumePrefix(&value, "http://")) {
    proxy.scheme = ProxyServer::Scheme::kHttp;
    proxy.address.port = 80;
  } else if (absl::ConsumePrefix(&value, "https://")) {
    proxy.scheme = ProxyServer::Scheme::kHttps;
    proxy.address.port = 443;
  } else {
    return Reason(kWant);
  }
  const size_t authority_end = value.find_first_of("/?#");
  absl::string_view authority = value.substr(0, authority_end);
  if (authority_end != absl::string_view::npos && value.substr(authority_end) != "/") {
    return Reason(absl::StrCat("a proxy url has no path, query or fragment; ", kWant));
  }
  // The last '@' ends the user info, so an unencoded '@' in the password still works.
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return Reason(absl::StrCat("the user info must be user:password; ", kWant));
    }
    std::optional<std::string> user = PercentDecode(userinfo.substr(0, colon));
    std::optional<std::string> password = PercentDecode(userinfo.substr(colon + 1));
    if (!user.has_value() || !password.has_value()) {
      return Reason("bad percent-encoding in the user info");
    }
    if (user->empty()) return Reason(absl::StrCat("the user name is empty; ", kWant));
    proxy.username = *std::move(user);
    proxy.password = *std::move(password);
  }
  if (absl::Status st = ParseHostPort(authority, PortRule::kOptional, 1, proxy.address); !st.ok()) {
    return st;
  }
  s.proxy_server = std::move(proxy);
  return absl::OkStatus();
}

// Reads a --plugins @file: entries one a line or comma-separated; blank lines and text after '#'
// are ignored.
absl::StatusOr<std::vector<std::string>> ReadPluginFile(const std::string& path) {
  constexpr size_t kMaxBytes = 1 << 20;
  absl::StatusOr<std::string> contents = ReadFileCapped(path, kMaxBytes);
  // A file we cannot use is a bad flag value, whatever the cause.
  if (!contents.ok()) return Reason(contents.status().message());
  std::vector<std::string> entries;
  for (absl::string_view line : absl::StrSplit(*contents, '\n')) {
    line = line.substr(0, line.find('#'));
    for (absl::string_view entry : absl::StrSplit(line, ',')) {
      entry = absl::StripAsciiWhitespace(entry);
      if (!entry.empty()) entries.emplace_back(entry);
    }
  }
  return entries;
}

// "bundled" (Kong's bundled plugins at --node-version), "off" (none), or name[:version] entries,
// which may be mixed with "bundled" and then override a bundled plugin of the same name. A name
// without a version is advertised at --node-version, as Kong advertises the plugins it ships.
// Needs s.node_version, so --node-version comes before --plugins in kFlags.
absl::Status ParsePlugins(absl::string_view value, Settings& s) {
  std::vector<std::string> entries;
  if (absl::ConsumePrefix(&value, "@")) {
    absl::StatusOr<std::vector<std::string>> from_file = ReadPluginFile(std::string(value));
    if (!from_file.ok()) return from_file.status();
    entries = *std::move(from_file);
  } else {
    for (absl::string_view entry : absl::StrSplit(value, ',')) {
      entry = absl::StripAsciiWhitespace(entry);
      if (entry.empty()) return Reason("empty entry (want name[:version],...)");
      entries.emplace_back(entry);
    }
  }
  if (entries.size() == 1 && entries[0] == "off") {
    s.plugins.clear();
    return absl::OkStatus();
  }

  bool bundled = false;
  std::map<std::string, Plugin> by_lower_name;  // Sorted by lowercase name, as basic_info wants.
  for (const std::string& entry : entries) {
    if (entry == "off") return Reason("off cannot be combined with other entries");
    if (entry == "bundled") {
      bundled = true;
      continue;
    }
    const size_t colon = entry.find(':');
    Plugin plugin{entry.substr(0, colon), s.node_version};
    if (colon != std::string::npos) {
      plugin.version = entry.substr(colon + 1);
      if (plugin.version.empty()) {
        return Reason(absl::StrCat("plugin ", Quote(entry), " has an empty version"));
      }
    }
    if (!by_lower_name.emplace(absl::AsciiStrToLower(plugin.name), plugin).second) {
      return Reason(absl::StrCat("plugin ", Quote(plugin.name), " given twice"));
    }
  }
  if (bundled) {
    // emplace keeps an explicit entry over the bundled one.
    for (Plugin& p : BundledPlugins(s.node_version)) {
      by_lower_name.emplace(absl::AsciiStrToLower(p.name), std::move(p));
    }
  }
  s.plugins.clear();
  for (auto& [lower_name, plugin] : by_lower_name) s.plugins.push_back(std::move(plugin));
  return absl::OkStatus();
}

absl::Status ParseLogLevel(absl::string_view value, Settings& s) {
  absl::StatusOr<log::Level> level = log::ParseLevel(value);
  if (!level.ok()) return Reason("want debug, info, warn or error");
  s.log_level = *level;
  return absl::OkStatus();
}

absl::Status ParseLogFormat(absl::string_view value, Settings& s) {
  absl::StatusOr<log::Format> format = log::ParseFormat(value);
  if (!format.ok()) return Reason("want text or json");
  s.log_format = *format;
  return absl::OkStatus();
}

// Every setting, once. The order is the order of the help text, and the order values are parsed
// in: a parser may read a field set by an earlier entry (--plugins reads --node-version).
constexpr FlagDef kFlags[] = {
    {"config", "path", "",
     "YAML file of settings, keyed by flag name: cluster-control-plane: cp.example.com:8005.\n"
     "A list takes a YAML list (grpc-listen: [unix:///run/tether.sock, 127.0.0.1:50051]), and\n"
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
    {"cluster-max-inflated", "bytes", "1GiB",
     "Largest config after decompression; at least --cluster-max-payload.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.max_inflated_bytes); }},
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
    {"node-version", "version", "3.10.0",
     "Kong version reported to the CP, major.minor.patch with an optional suffix. The CP refuses\n"
     "another major or a newer minor than its own.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.node_version); }},
    {"plugins", "list|@file", "bundled",
     "Plugins reported to the CP: name[:version] entries, comma-separated, or @file with one\n"
     "entry a line. bundled stands for Kong's bundled plugins; off for none. A version left out\n"
     "is --node-version. The CP withholds config that uses a plugin missing here.",
     ParsePlugins, ValueDisplay::kShow, FlagKind::kSingle, ValueShape::kList},

    // --- Local ---
    {"data-dir", "path", "/var/lib/tether", "Directory for the node id and the config cache.",
     [](absl::string_view v, Settings& s) { return CopyTo(v, s.data_dir); }},
    {"grpc-listen", "address", "",
     "Where the gRPC API listens; repeat the flag for several addresses (the environment variable\n"
     "takes a comma-separated list). unix:///path for a unix socket (mode 0660), or ip:port for\n"
     "TCP: 127.0.0.1:50051, [::1]:50051 (port 0 picks a free port). A non-loopback address needs\n"
     "--grpc-allow-non-loopback. Default: unix://<data-dir>/tether.sock.",
     ParseGrpcListen, ValueDisplay::kShow, FlagKind::kRepeatable},
    {"snapshot-history-bytes", "bytes", "64MiB",
     "How much past config (inflated size) tether keeps so that a subscriber reconnecting with\n"
     "a recent hash gets a delta instead of the whole config; at most 16 configs. 0 keeps none.",
     [](absl::string_view v, Settings& s) { return ParseBytesTo(v, s.snapshot_history_bytes); }},
    {"grpc-allow-non-loopback", "", "false",
     "Allow --grpc-listen on TCP addresses other than loopback. The API has no authentication\n"
     "and serves the whole config, so only do this on a network only trusted proxies reach.",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.grpc_allow_non_loopback); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"log-level", "level", "info", "debug, info, warn or error.", ParseLogLevel},
    {"log-format", "text|json", "text",
     "text: one human-readable line per event. json: one JSON object per line with time, level,\n"
     "component, message and the event's fields, for log collectors (use it on Kubernetes).",
     ParseLogFormat},

    // --- Config cache and start-up ---
    {"startup-policy", "serve-cache|wait-for-cp", "serve-cache",
     "serve-cache: serve the cached config at once while the CP is unreachable (like Kong).\n"
     "wait-for-cp: stay not ready until a config arrives from the CP.",
     [](absl::string_view v, Settings& s) {
       if (v == "serve-cache") {
         s.startup_policy = StartupPolicy::kServeCache;
       } else if (v == "wait-for-cp") {
         s.startup_policy = StartupPolicy::kWaitForCp;
       } else {
         return Reason("want serve-cache or wait-for-cp");
       }
       return absl::OkStatus();
     }},
    {"max-cache-age", "duration", "0s",
     "Refuse to serve a cached config saved longer ago than this; 0s accepts any age.",
     [](absl::string_view v, Settings& s) { return ParseDurationTo(v, s.max_cache_age); }},
    {"guard-empty-config", "", "false",
     "Refuse a pushed config with no services and no routes while the current one has some\n"
     "(a CP started before its database migrations has pushed empty configs).",
     [](absl::string_view v, Settings& s) { return ParseBoolTo(v, s.guard_empty_config); },
     ValueDisplay::kShow, FlagKind::kSwitch},
    {"cert-check-interval", "duration", "10s",
     "How often the cluster certificate, key and CA files are checked for rotation.",
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

constexpr absl::string_view kConfigFlag = "config";

const FlagDef* FindFlag(absl::string_view name) {
  for (const FlagDef& def : kFlags) {
    if (def.name == name) return &def;
  }
  return nullptr;
}

// Kong settings with the same meaning whose names do not start with cluster_.
constexpr absl::string_view kOtherKongSettings[] = {"proxy-server", "proxy-server-ssl-verify"};

// --foo-bar -> TETHER_FOO_BAR; --cluster-foo (and the Kong settings above) also ->
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

// The values of one flag and where they came from, for error messages.
struct SourcedValues {
  // One value, except for a kRepeatable flag given several times or by a list in the environment.
  std::vector<std::string> values;
  // Empty for the command line; else "from TETHER_X", "from KONG_X", "from <file>:<line>" or
  // "default".
  std::string origin;
};

// Flag name -> its values on the command line, in order.
using GivenFlags = absl::flat_hash_map<std::string, std::vector<std::string>>;

// Flag name -> its values in the --config file.
using FileValues = absl::flat_hash_map<std::string, SourcedValues>;

// "<path>:<line>"; yaml-cpp counts lines from 0.
std::string FileLine(absl::string_view path, const YAML::Mark& mark) {
  return absl::StrCat(path, ":", mark.line + 1);
}

// The values one YAML node gives a flag, as if typed on the command line. The reasons never quote
// the node: it may hold a secret.
absl::StatusOr<std::vector<std::string>> YamlValues(const FlagDef& def, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (node.Scalar().empty()) return Reason("needs a value");
      return std::vector<std::string>{node.Scalar()};
    case YAML::NodeType::Sequence: {
      if (def.kind != FlagKind::kRepeatable && def.shape == ValueShape::kScalar) {
        return Reason("want a single value, not a list");
      }
      std::vector<std::string> items;
      for (const YAML::Node& item : node) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          return Reason(absl::StrCat("line ", item.Mark().line + 1,
                                     ": want each list item to be a plain value"));
        }
        items.push_back(item.Scalar());
      }
      if (def.kind == FlagKind::kRepeatable) return items;
      if (items.empty()) return Reason("needs a value");
      return std::vector<std::string>{absl::StrJoin(items, ",")};
    }
    case YAML::NodeType::Map: {
      if (def.shape != ValueShape::kKeyValues) return Reason("want a single value, not a map");
      std::vector<std::string> pairs;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
          return Reason(absl::StrCat("line ", entry.first.Mark().line + 1,
                                     ": want each key and value to be a plain value"));
        }
        pairs.push_back(absl::StrCat(entry.first.Scalar(), ":", entry.second.Scalar()));
      }
      if (pairs.empty()) return Reason("needs a value");
      return std::vector<std::string>{absl::StrJoin(pairs, ",")};
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return Reason("needs a value");
}

// Reads the --config file: a YAML map of flag names to values. Errors name the file and line;
// values are never repeated in them.
absl::StatusOr<FileValues> LoadConfigFile(const std::string& path) {
  constexpr size_t kMaxBytes = 1 << 20;
  absl::StatusOr<std::string> text = ReadFileCapped(path, kMaxBytes);
  // A file we cannot use is a bad flag value, whatever the cause.
  if (!text.ok()) return Reason(text.status().message());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Reason(
        absl::StrCat(FileLine(path, e.mark), ":", e.mark.column + 1, ": not valid yaml: ", e.msg));
  }
  FileValues values;
  if (root.IsNull()) return values;  // an empty file sets nothing
  if (!root.IsMap()) {
    return Reason(
        absl::StrCat(FileLine(path, root.Mark()), ": want a map of setting names to values"));
  }
  for (const auto& entry : root) {
    const std::string where = FileLine(path, entry.first.Mark());
    if (!entry.first.IsScalar()) return Reason(absl::StrCat(where, ": want a setting name"));
    const std::string& name = entry.first.Scalar();
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      return Reason(absl::StrCat(where, ": unknown setting ", Quote(name), " (see --help)"));
    }
    if (def->apply == nullptr) {
      return Reason(absl::StrCat(where, ": ", name, " cannot be set in a config file"));
    }
    if (values.contains(name)) return Reason(absl::StrCat(where, ": ", name, " is given twice"));
    absl::StatusOr<std::vector<std::string>> v = YamlValues(*def, entry.second);
    if (!v.ok()) return Reason(absl::StrCat(where, ": ", name, ": ", v.status().message()));
    values.emplace(name, SourcedValues{*std::move(v), absl::StrCat("from ", where)});
  }
  return values;
}

// Collects --name=value and --name value pairs (a switch takes no separate value).
absl::StatusOr<GivenFlags> ScanArgs(int argc, char** argv) {
  GivenFlags given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument ", Quote(arg), " (flags start with --)"));
    }
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (def->kind == FlagKind::kSwitch) {
      // Never takes the next argument, so "--grpc-allow-non-loopback --foo" reads as expected.
      value = "true";
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    std::vector<std::string>& values = given[name];
    // Otherwise the last one wins, as with absl and Go flags, so a wrapper can append overrides.
    if (def->kind != FlagKind::kRepeatable) values.clear();
    values.push_back(std::move(value));
  }
  return given;
}

std::optional<SourcedValues> Lookup(const FlagDef& def, const GivenFlags& given,
                                    const EnvLookup& env, const FileValues& file) {
  if (auto it = given.find(def.name); it != given.end()) return SourcedValues{it->second, ""};
  for (const std::string& name : EnvNames(def.name)) {
    std::optional<std::string> v = env(name);
    if (!v.has_value() || v->empty()) continue;
    SourcedValues found{{}, absl::StrCat("from ", name)};
    if (def.kind == FlagKind::kRepeatable) {
      // An empty entry ("a,,b") is handed to the parser, which names it.
      for (absl::string_view entry : absl::StrSplit(*v, ',')) {
        found.values.emplace_back(absl::StripAsciiWhitespace(entry));
      }
    } else {
      found.values.push_back(*std::move(v));
    }
    return found;
  }
  if (auto it = file.find(def.name); it != file.end()) return it->second;
  if (!def.default_value.empty()) {
    return SourcedValues{{std::string(def.default_value)}, "default"};
  }
  return std::nullopt;
}

// "--ping-interval "30" (from TETHER_PING_INTERVAL): not a duration ..."
absl::Status WithFlagContext(const FlagDef& def, absl::string_view value, absl::string_view origin,
                             const absl::Status& st) {
  std::string context = absl::StrCat("--", def.name);
  if (def.display == ValueDisplay::kShow) absl::StrAppend(&context, " ", Quote(value));
  if (!origin.empty()) absl::StrAppend(&context, " (", origin, ")");
  return absl::Status(st.code(), absl::StrCat(context, ": ", st.message()));
}

absl::StatusOr<std::string> SystemHostname() {
  std::array<char, HOST_NAME_MAX + 1> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) {
    return absl::ErrnoToStatus(errno, "cannot get the system hostname (set --node-hostname)");
  }
  return std::string(buf.data());
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<ParseOutcome> ParseSettings(int argc, char** argv, const EnvLookup& env) {
  // Help and version win over everything else, so that they work on a broken command line.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return PrintAndExit{HelpText()};
    if (arg == "--version") return PrintAndExit{VersionText()};
    // Hidden: the README's configuration table, which a test keeps in step with the flag table.
    if (arg == "--help-markdown") return PrintAndExit{HelpMarkdown()};
  }

  absl::StatusOr<GivenFlags> given = ScanArgs(argc, argv);
  if (!given.ok()) return given.status();

  // The file comes first: it supplies values for every other setting.
  FileValues file;
  const FlagDef& config = *FindFlag(kConfigFlag);
  if (std::optional<SourcedValues> path = Lookup(config, *given, env, {}); path.has_value()) {
    absl::StatusOr<FileValues> loaded = LoadConfigFile(path->values.back());
    if (!loaded.ok()) {
      return WithFlagContext(config, path->values.back(), path->origin, loaded.status());
    }
    file = *std::move(loaded);
  }

  Settings settings;
  for (const FlagDef& def : kFlags) {
    if (def.apply == nullptr) continue;  // --config, read above
    std::optional<SourcedValues> v = Lookup(def, *given, env, file);
    if (!v.has_value()) continue;
    for (const std::string& value : v->values) {
      if (absl::Status st = def.apply(value, settings); !st.ok()) {
        return WithFlagContext(def, value, v->origin, st);
      }
    }
  }
  if (settings.grpc_listen.empty() && !settings.data_dir.empty()) {
    // The default depends on --data-dir, so the table cannot hold it.
    settings.grpc_listen.push_back(
        {GrpcListenAddress::Kind::kUnix, absl::StrCat(settings.data_dir, "/tether.sock"), {}});
  }

  if (settings.node_hostname.empty()) {
    absl::StatusOr<std::string> hostname = SystemHostname();
    if (!hostname.ok()) return hostname.status();
    // Said here because ValidateSettings cannot tell the operator where the value came from.
    if (!IsValidHost(*hostname)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "system hostname ", Quote(*hostname), " is not a valid hostname; set --node-hostname"));
    }
    settings.node_hostname = *std::move(hostname);
  }

  if (absl::Status st = ValidateSettings(settings); !st.ok()) return st;

  if (absl::Status st = EnsureDataDir(settings.data_dir); !st.ok()) return st;
  if (settings.node_id.empty()) {
    absl::StatusOr<std::string> id = LoadOrCreateNodeId(settings.data_dir);
    if (!id.ok()) return id.status();
    settings.node_id = *std::move(id);
  }
  return settings;
}

std::string HelpText() {
  std::string out =
      "usage: tether --cluster-control-plane host[:port] --cluster-cert path "
      "--cluster-cert-key path [flags]\n"
      "\n"
      "tether joins a Kong control plane as a data plane and serves its config to local "
      "proxies.\n"
      "\n"
      "Each flag --foo-bar can also be set as TETHER_FOO_BAR in the environment, or as foo-bar in\n"
      "the YAML --config file; each --cluster-* and --proxy-server* flag also by its Kong name,\n"
      "KONG_CLUSTER_*, KONG_PROXY_SERVER*. A flag beats TETHER_*, which beats KONG_*, which beats\n"
      "the config file, which beats the default. Durations look like 500ms, 2s or 1m; byte counts\n"
      "may end in KiB, MiB or GiB; switches take true or false (also on, off).\n"
      "\n"
      "flags:\n";
  for (const FlagDef& def : kFlags) {
    absl::StrAppend(&out, "  --", def.name, def.value_name.empty() ? "" : " ", def.value_name,
                    def.kind == FlagKind::kRepeatable ? " (repeatable)" : "", "\n");
    for (absl::string_view line : absl::StrSplit(def.help, '\n')) {
      absl::StrAppend(&out, "      ", line, "\n");
    }
    if (!def.default_value.empty()) {
      absl::StrAppend(&out, "      default: ", def.default_value, "\n");
    }
    absl::StrAppend(&out, "      env: ", absl::StrJoin(EnvNames(def.name), ", "), "\n");
  }
  absl::StrAppend(&out,
                  "  --help\n"
                  "      Print this help and exit.\n"
                  "  --version\n"
                  "      Print the version and exit.\n");
  return out;
}

std::string HelpMarkdown() {
  // One row a line, so pipes and line breaks in the help must not end a cell.
  const auto cell = [](absl::string_view text) {
    return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}});
  };
  std::string out =
      "| Flag | Environment | Default | Description |\n"
      "|---|---|---|---|\n";
  for (const FlagDef& def : kFlags) {
    std::vector<std::string> env = EnvNames(def.name);
    for (std::string& name : env) name = absl::StrCat("`", name, "`");
    absl::StrAppend(
        &out, "| `--", def.name, def.value_name.empty() ? "" : " ", cell(def.value_name), "`",
        def.kind == FlagKind::kRepeatable ? " (repeatable)" : "", " | ", absl::StrJoin(env, " "),
        " | ", def.default_value.empty() ? "" : absl::StrCat("`", def.default_value, "`"), " | ",
        cell(def.help), " |\n");
  }
  return out;
}

absl::string_view TetherVersion() { return TETHER_VERSION; }

std::string VersionText() {
  return absl::StrCat("tether ", TETHER_VERSION, " (default --node-version ",
                      FindFlag("node-version")->default_value, ")\n");
}

}  // namespace tether::settings
