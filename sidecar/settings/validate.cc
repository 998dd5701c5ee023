#include "sidecar/settings/validate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sidecar/settings/value_parsers.h"

namespace tether::settings {
namespace {

// Kong's cluster_max_payload floor (kong/conf_loader/parse.lua; kong-protocol.md §1.3).
constexpr int64_t kMinMaxPayloadBytes = 4194304;

// Kong's label rules (kong/conf_loader/parse.lua, validate_labels, after Kong AIP-129).
constexpr size_t kMaxLabels = 10;
constexpr size_t kMaxLabelPartSize = 63;
constexpr absl::string_view kReservedLabelPrefixes[] = {"kong", "konnect", "insomnia", "mesh",
                                                        "kic"};

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

bool IsDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// Kong's check_hostname (kong/tools/ip.lua) without the optional port.
bool IsValidHostname(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  const std::vector<absl::string_view> labels = absl::StrSplit(name, '.');
  for (size_t i = 0; i < labels.size(); ++i) {
    // Only the last label may be empty: "example.com." is a valid FQDN, "a..b" is not.
    if (labels[i].empty() && i + 1 != labels.size()) return false;
    if (absl::EndsWith(labels[i], "-")) return false;
  }
  return true;
}

// A Kong label key or value: [a-z0-9]([\w.:-]*[a-z0-9])?, case-insensitive.
bool IsValidLabelPart(absl::string_view s) {
  if (s.empty() || !absl::ascii_isalnum(s.front()) || !absl::ascii_isalnum(s.back())) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != ':' && c != '-') return false;
  }
  return true;
}

bool IsValidPluginName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool IsPositiveFinite(absl::Duration d) {
  return d > absl::ZeroDuration() && d != absl::InfiniteDuration();
}

// Opens the file to prove it is a readable regular file, without reading it: it may hold a key.
absl::Status CheckReadableFile(absl::string_view flag, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Invalid(absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return Invalid(absl::StrCat(flag, " ", path, ": not a regular file"));
  return absl::OkStatus();
}

absl::Status ValidateControlPlane(const Settings& s) {
  if (s.control_plane.host.empty()) {
    return Invalid("--cluster-control-plane is required (host:port of the kong control plane)");
  }
  if (!IsValidHost(s.control_plane.host)) {
    return Invalid(absl::StrCat("--cluster-control-plane host ", Quote(s.control_plane.host),
                                " is not a valid hostname or ip address"));
  }
  if (s.control_plane.port == 0) return Invalid("--cluster-control-plane port must not be 0");
  return absl::OkStatus();
}

absl::Status ValidateProxy(const Settings& s) {
  if (!s.proxy_server.has_value()) {
    if (s.cluster_use_proxy) return Invalid("--cluster-use-proxy needs --proxy-server");
    return absl::OkStatus();
  }
  // Only the host: the rest of the url may hold the proxy password.
  if (!IsValidHost(s.proxy_server->address.host)) {
    return Invalid(absl::StrCat("--proxy-server host ", Quote(s.proxy_server->address.host),
                                " is not a valid hostname or ip address"));
  }
  if (s.proxy_server->address.port == 0) return Invalid("--proxy-server port must not be 0");
  return absl::OkStatus();
}

absl::Status ValidateTls(const Settings& s) {
  if (s.cert_path.empty()) return Invalid("--cluster-cert is required");
  if (s.key_path.empty()) return Invalid("--cluster-cert-key is required");
  if (absl::Status st = CheckReadableFile("--cluster-cert", s.cert_path); !st.ok()) return st;
  if (absl::Status st = CheckReadableFile("--cluster-cert-key", s.key_path); !st.ok()) return st;
  switch (s.mtls) {
    case MtlsMode::kPki:
      if (!s.ca_cert_path.has_value()) {
        return Invalid("--cluster-mtls pki requires --cluster-ca-cert");
      }
      if (absl::Status st = CheckReadableFile("--cluster-ca-cert", *s.ca_cert_path); !st.ok()) {
        return st;
      }
      if (s.server_name.has_value() && !IsValidHost(*s.server_name)) {
        return Invalid(absl::StrCat("--cluster-server-name ", Quote(*s.server_name),
                                    " is not a valid hostname"));
      }
      break;
    case MtlsMode::kShared:
      // Kong ignores both in shared mode (kong-protocol.md §1.2). Refusing them beats an
      // operator believing a setting is in effect when it is not.
      if (s.ca_cert_path.has_value()) {
        return Invalid(
            "--cluster-ca-cert is only used with --cluster-mtls pki (shared mode trusts "
            "--cluster-cert)");
      }
      if (s.server_name.has_value()) {
        return Invalid(
            "--cluster-server-name is only used with --cluster-mtls pki (shared mode always "
            "verifies kong_clustering)");
      }
      break;
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelPart(absl::string_view what, absl::string_view part) {
  if (part.empty() || part.size() > kMaxLabelPartSize) {
    return Invalid(absl::StrCat("--cluster-dp-labels ", what, " ", Quote(part), " must have 1 to ",
                                kMaxLabelPartSize, " characters"));
  }
  if (!IsValidLabelPart(part)) {
    return Invalid(absl::StrCat("--cluster-dp-labels ", what, " ", Quote(part),
                                " must start and end with a letter or digit and contain only "
                                "letters, digits and _ . : -"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const Settings& s) {
  if (s.labels.size() > kMaxLabels) {
    return Invalid(absl::StrCat("--cluster-dp-labels has ", s.labels.size(), " labels, at most ",
                                kMaxLabels, " are allowed"));
  }
  for (const auto& [key, value] : s.labels) {
    if (absl::Status st = ValidateLabelPart("key", key); !st.ok()) return st;
    for (absl::string_view prefix : kReservedLabelPrefixes) {
      if (absl::StartsWithIgnoreCase(key, prefix)) {
        return Invalid(absl::StrCat("--cluster-dp-labels key ", Quote(key),
                                    " must not start with kong, konnect, insomnia, mesh or kic"));
      }
    }
    if (absl::Status st = ValidateLabelPart("value", value); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ValidateLimits(const Settings& s) {
  if (s.max_payload_bytes < kMinMaxPayloadBytes) {
    return Invalid(absl::StrCat("--cluster-max-payload ", s.max_payload_bytes, " must be at least ",
                                kMinMaxPayloadBytes, " (4 MiB), as in kong"));
  }
  // Inflating never shrinks a config, so a smaller cap would refuse configs the CP may send.
  if (s.max_inflated_bytes < s.max_payload_bytes) {
    return Invalid(absl::StrCat("--cluster-max-inflated ", s.max_inflated_bytes,
                                " must be at least --cluster-max-payload ", s.max_payload_bytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateTimers(const Settings& s) {
  const struct {
    absl::string_view flag;
    absl::Duration value;
  } durations[] = {
      {"--connect-timeout", s.connect_timeout},   {"--ping-interval", s.ping_interval},
      {"--ping-timeout", s.ping_timeout},         {"--reconnect-backoff-min", s.backoff_min},
      {"--reconnect-backoff-max", s.backoff_max}, {"--cert-check-interval", s.cert_check_interval},
  };
  for (const auto& d : durations) {
    if (!IsPositiveFinite(d.value)) {
      return Invalid(
          absl::StrCat(d.flag, " ", absl::FormatDuration(d.value), " must be positive and finite"));
    }
  }
  // The CP answers each ping; waiting no longer than one interval would time out before the next
  // ping could even be sent (kong-protocol.md §4.1: 30 s and 45 s).
  if (s.ping_timeout <= s.ping_interval) {
    return Invalid(absl::StrCat("--ping-timeout ", absl::FormatDuration(s.ping_timeout),
                                " must exceed --ping-interval ",
                                absl::FormatDuration(s.ping_interval)));
  }
  if (s.max_cache_age < absl::ZeroDuration()) {
    return Invalid(absl::StrCat("--max-cache-age ", absl::FormatDuration(s.max_cache_age),
                                " must not be negative"));
  }
  if (s.backoff_max < s.backoff_min) {
    return Invalid(absl::StrCat("--reconnect-backoff-max ", absl::FormatDuration(s.backoff_max),
                                " must be at least --reconnect-backoff-min ",
                                absl::FormatDuration(s.backoff_min)));
  }
  return absl::OkStatus();
}

absl::Status ValidateNode(const Settings& s) {
  if (!s.node_id.empty() && !IsValidUuid(s.node_id)) {
    return Invalid(absl::StrCat("--node-id ", Quote(s.node_id),
                                " is not a uuid (want e.g. 9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f)"));
  }
  // Empty until PrepareNode fills in the system's hostname.
  if (!s.node_hostname.empty() && !IsValidHost(s.node_hostname)) {
    const std::vector<absl::string_view> host_port =
        absl::StrSplit(s.node_hostname, absl::MaxSplits(':', 1));
    if (host_port.size() == 2 && IsValidHost(host_port[0]) && IsDigits(host_port[1])) {
      return Invalid(
          absl::StrCat("--node-hostname ", Quote(s.node_hostname), " must not have a port"));
    }
    return Invalid(absl::StrCat("--node-hostname ", Quote(s.node_hostname),
                                " is not a valid hostname or ip address"));
  }
  if (s.node_version != kAutoNodeVersion && !IsValidKongVersion(s.node_version)) {
    return Invalid(absl::StrCat("--node-version ", Quote(s.node_version),
                                " must look like 3.10.0 (major.minor.patch, optional suffix), or "
                                "be auto"));
  }
  for (size_t i = 0; i < s.plugins.size(); ++i) {
    const Plugin& p = s.plugins[i];
    if (!IsValidPluginName(p.name)) {
      return Invalid(absl::StrCat("--plugins name ", Quote(p.name),
                                  " must be non-empty letters, digits, - and _"));
    }
    if (!IsValidKongVersion(p.version)) {
      return Invalid(absl::StrCat("--plugins ", p.name, " version ", Quote(p.version),
                                  " must look like 3.10.0 (major.minor.patch, optional suffix)"));
    }
    if (i > 0) {
      const std::string prev = absl::AsciiStrToLower(s.plugins[i - 1].name);
      const std::string cur = absl::AsciiStrToLower(p.name);
      if (prev == cur) return Invalid(absl::StrCat("--plugins lists ", p.name, " twice"));
      // ParseSettings sorts; this guards a Settings built by hand, since basic_info needs order.
      if (prev > cur) return Invalid("--plugins must be sorted by lowercase name");
    }
  }
  return absl::OkStatus();
}

// An IP address literal in 127.0.0.0/8 or ::1. Hostnames are not accepted for --grpc-listen, so
// what is checked here is what gets bound.
bool IsLoopbackIp(const std::string& host) {
  in_addr addr4{};
  if (::inet_pton(AF_INET, host.c_str(), &addr4) == 1) {
    return (ntohl(addr4.s_addr) >> 24) == 127;
  }
  in6_addr addr6{};
  return ::inet_pton(AF_INET6, host.c_str(), &addr6) == 1 && IN6_IS_ADDR_LOOPBACK(&addr6);
}

bool IsIpLiteral(const std::string& host) {
  in_addr addr4{};
  in6_addr addr6{};
  return ::inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

// Mutual TLS needs all three files: a server certificate without a client CA would admit anyone.
absl::Status ValidateGrpcTls(const Settings& s) {
  const std::pair<absl::string_view, const std::string*> files[] = {
      {"--grpc-tls-cert", &s.grpc_tls_cert_path},
      {"--grpc-tls-key", &s.grpc_tls_key_path},
      {"--grpc-client-ca", &s.grpc_client_ca_path}};
  const size_t given = std::count_if(std::begin(files), std::end(files),
                                     [](const auto& f) { return !f.second->empty(); });
  if (given == 0) return absl::OkStatus();
  if (given != std::size(files)) {
    return Invalid(
        "--grpc-tls-cert, --grpc-tls-key and --grpc-client-ca go together: give all "
        "three or none");
  }
  for (const auto& [flag, path] : files) {
    if (absl::Status st = CheckReadableFile(flag, *path); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status ValidateGrpc(const Settings& s) {
  // sun_path holds the path and its terminating NUL.
  constexpr size_t kMaxUnixPath = sizeof(sockaddr_un{}.sun_path) - 1;
  if (s.grpc_listen.empty()) return Invalid("--grpc-listen needs at least one address");
  if (absl::Status st = ValidateGrpcTls(s); !st.ok()) return st;
  const bool tls = !s.grpc_tls_cert_path.empty();
  bool has_tcp = false;
  for (size_t i = 0; i < s.grpc_listen.size(); ++i) {
    const GrpcListenAddress& a = s.grpc_listen[i];
    const std::string shown = FormatGrpcListen(a);
    switch (a.kind) {
      case GrpcListenAddress::Kind::kUnix:
        if (!absl::StartsWith(a.path, "/")) {
          return Invalid(absl::StrCat("--grpc-listen ", Quote(shown), " must be an absolute path"));
        }
        if (a.path.size() > kMaxUnixPath) {
          return Invalid(absl::StrCat("--grpc-listen ", Quote(shown), ": the path has ",
                                      a.path.size(), " bytes, a unix socket allows at most ",
                                      kMaxUnixPath));
        }
        break;
      case GrpcListenAddress::Kind::kTcp:
        if (!IsIpLiteral(a.tcp.host)) {
          return Invalid(absl::StrCat("--grpc-listen host ", Quote(a.tcp.host),
                                      " must be an ip address (e.g. 127.0.0.1:50051 or "
                                      "[::1]:50051), or use unix:///path"));
        }
        if (!tls && !s.grpc_allow_non_loopback && !IsLoopbackIp(a.tcp.host)) {
          return Invalid(absl::StrCat(
              "--grpc-listen ", Quote(shown),
              " is not a loopback address: without --grpc-tls-cert the api has no authentication "
              "and serves the whole config (use a unix socket or mutual TLS, or pass "
              "--grpc-allow-non-loopback)"));
        }
        has_tcp = true;
        break;
    }
    for (size_t j = 0; j < i; ++j) {
      if (s.grpc_listen[j] == a) {
        return Invalid(absl::StrCat("--grpc-listen ", Quote(shown), " is given twice"));
      }
    }
  }
  if (tls && !has_tcp) {
    return Invalid("--grpc-tls-cert applies to TCP listeners and --grpc-listen gives none");
  }
  return absl::OkStatus();
}

absl::Status ValidateOps(const Settings& s) {
  if (!IsIpLiteral(s.ops_listen.host)) {
    return Invalid(absl::StrCat("--ops-listen host ", Quote(s.ops_listen.host),
                                " must be an ip address (e.g. 127.0.0.1:8100, or the pod ip)"));
  }
  if (s.drain_time < absl::ZeroDuration()) {
    return Invalid(
        absl::StrCat("--drain-time ", absl::FormatDuration(s.drain_time), " must not be negative"));
  }
  return absl::OkStatus();
}

absl::Status ValidateExport(const Settings& s) {
  if (s.on_change_timeout <= absl::ZeroDuration()) {
    return Invalid(absl::StrCat("--on-change-timeout ", absl::FormatDuration(s.on_change_timeout),
                                " must be positive"));
  }
  if (!s.write_config_types.empty() && s.write_config.empty()) {
    return Invalid("--write-config-types needs --write-config");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? id[i] != '-' : !absl::ascii_isxdigit(id[i])) return false;
  }
  return true;
}

bool IsValidHost(absl::string_view host) {
  const std::string h(host);
  if (absl::StrContains(host, ':')) {
    in6_addr addr6{};
    return ::inet_pton(AF_INET6, h.c_str(), &addr6) == 1;
  }
  // Kong treats digits and dots as an IPv4 address, so "1.2.3" is not a hostname.
  if (!host.empty() && host.find_first_not_of("0123456789.") == absl::string_view::npos) {
    in_addr addr4{};
    return ::inet_pton(AF_INET, h.c_str(), &addr4) == 1;
  }
  return IsValidHostname(host);
}

bool IsValidKongVersion(absl::string_view version) {
  // ^\d+\.\d+\.\d+
  absl::string_view rest = version;
  for (int part = 0; part < 3; ++part) {
    size_t n = 0;
    while (n < rest.size() && absl::ascii_isdigit(rest[n])) ++n;
    if (n == 0) return false;
    rest.remove_prefix(n);
    if (part < 2) {
      if (rest.empty() || rest.front() != '.') return false;
      rest.remove_prefix(1);
    }
  }
  // The suffix ("-enterprise-version", ".1") goes into the URL unencoded (§1.1), so keep it to
  // characters that mean nothing special in a query string.
  for (char c : rest) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return !absl::StrContains(version, "..");
}

absl::Status ValidateSettings(const Settings& settings) {
  for (auto check : {ValidateControlPlane, ValidateProxy, ValidateTls, ValidateLabels,
                     ValidateLimits, ValidateTimers, ValidateNode, ValidateOps, ValidateExport}) {
    if (absl::Status st = check(settings); !st.ok()) return st;
  }
  if (settings.data_dir.empty()) return Invalid("--data-dir must not be empty");
  return ValidateGrpc(settings);
}

}  // namespace tether::settings
