// The value parsers of the flag table; see value_parsers.h.
#include "sidecar/settings/value_parsers.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sidecar/common/file_util.h"
#include "sidecar/common/log.h"
#include "sidecar/settings/bundled_plugins.h"

namespace tether::settings {
namespace {

absl::Status Reason(absl::string_view reason) { return absl::InvalidArgumentError(reason); }

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

}  // namespace

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

absl::Status ParseCountTo(absl::string_view value, int64_t& out) {
  int64_t n = 0;
  if (value.empty() || value.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(value, &n) || n < 1 || n > std::numeric_limits<int32_t>::max()) {
    return Reason("not a count from 1 to 2147483647");
  }
  out = n;
  return absl::OkStatus();
}

absl::Status ParseIdsTo(absl::string_view value, std::vector<uint32_t>& out) {
  out.clear();
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    uint32_t id = 0;
    if (item.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(item, &id)) {
      return Reason("not a comma-separated list of numeric ids");
    }
    out.push_back(id);
  }
  return absl::OkStatus();
}

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

// Entries may mix "bundled" with name[:version]; an explicit entry overrides a bundled plugin of
// the same name. A name without a version is advertised at --node-version, as Kong advertises the
// plugins it ships.
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
    s.plugin_selection = {};
    s.plugins.clear();
    return absl::OkStatus();
  }

  PluginSelection selection;
  std::set<std::string> lower_names;
  for (const std::string& entry : entries) {
    if (entry == "off") return Reason("off cannot be combined with other entries");
    if (entry == "bundled") {
      selection.bundled = true;
      continue;
    }
    const size_t colon = entry.find(':');
    Plugin plugin{entry.substr(0, colon), ""};
    if (colon != std::string::npos) {
      plugin.version = entry.substr(colon + 1);
      if (plugin.version.empty()) {
        return Reason(absl::StrCat("plugin ", Quote(entry), " has an empty version"));
      }
    }
    if (!lower_names.insert(absl::AsciiStrToLower(plugin.name)).second) {
      return Reason(absl::StrCat("plugin ", Quote(plugin.name), " given twice"));
    }
    selection.listed.push_back(std::move(plugin));
  }
  s.plugin_selection = std::move(selection);
  s.plugins = ResolvePlugins(s.plugin_selection, s.node_version == kAutoNodeVersion
                                                     ? NewestKnownKongVersion()
                                                     : s.node_version);
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

absl::Status ParseReportHash(absl::string_view value, Settings& s) {
  if (value == "applied") {
    s.report_hash = ReportHash::kApplied;
  } else if (value == "acked") {
    s.report_hash = ReportHash::kAcked;
  } else {
    return Reason("want applied or acked");
  }
  return absl::OkStatus();
}

absl::Status ParseWriteConfigTypes(absl::string_view value, Settings& s) {
  std::vector<std::string> types;
  for (absl::string_view type : absl::StrSplit(value, ',')) {
    type = absl::StripAsciiWhitespace(type);
    if (type.empty()) return Reason("an entity type is empty");
    types.emplace_back(type);
  }
  s.write_config_types = std::move(types);
  return absl::OkStatus();
}

absl::Status ParseStartupPolicy(absl::string_view value, Settings& s) {
  if (value == "serve-cache") {
    s.startup_policy = StartupPolicy::kServeCache;
  } else if (value == "wait-for-cp") {
    s.startup_policy = StartupPolicy::kWaitForCp;
  } else {
    return Reason("want serve-cache or wait-for-cp");
  }
  return absl::OkStatus();
}

}  // namespace tether::settings
