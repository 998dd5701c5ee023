#include "sidecar/settings/bundled_plugins.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "protocol/constants.h"

namespace tether::settings {
namespace {

struct BundledPlugin {
  const char* name;
  // The 3.x minor that first bundled it.
  int since_minor;
};

// Names from BUNDLED_PLUGINS in Kong's kong/constants.lua at 3.10.0 (Kong/kong 22246ef, the commit
// kong-protocol.md describes); since_minor from the same file at the tags 3.0.0 ... 3.9.0.
// Kept sorted by name, the order basic_info uses.
constexpr BundledPlugin kBundled[] = {
    {"acl", 0},
    {"acme", 0},
    {"ai-prompt-decorator", 6},
    {"ai-prompt-guard", 6},
    {"ai-prompt-template", 6},
    {"ai-proxy", 6},
    {"ai-request-transformer", 6},
    {"ai-response-transformer", 6},
    {"aws-lambda", 0},
    {"azure-functions", 0},
    {"basic-auth", 0},
    {"bot-detection", 0},
    {"correlation-id", 0},
    {"cors", 0},
    {"datadog", 0},
    {"file-log", 0},
    {"grpc-gateway", 0},
    {"grpc-web", 0},
    {"hmac-auth", 0},
    {"http-log", 0},
    {"ip-restriction", 0},
    {"jwt", 0},
    {"key-auth", 0},
    {"ldap-auth", 0},
    {"loggly", 0},
    {"oauth2", 0},
    {"opentelemetry", 0},
    {"post-function", 0},
    {"pre-function", 0},
    {"prometheus", 0},
    {"proxy-cache", 0},
    {"rate-limiting", 0},
    {"redirect", 9},
    {"request-size-limiting", 0},
    {"request-termination", 0},
    {"request-transformer", 0},
    {"response-ratelimiting", 0},
    {"response-transformer", 0},
    {"session", 0},
    {"standard-webhooks", 8},
    {"statsd", 0},
    {"syslog", 0},
    {"tcp-log", 0},
    {"udp-log", 0},
    {"zipkin", 0},
};

// The 3.x minor whose list applies, or a large number for "the newest list".
int MinorForList(absl::string_view node_version) {
  constexpr int kNewest = 1 << 30;
  const std::vector<absl::string_view> parts =
      absl::StrSplit(node_version, absl::MaxSplits('.', 2));
  int major = 0;
  int minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor) || major != protocol::kKongMajor) {
    return kNewest;
  }
  return minor;
}

}  // namespace

std::vector<Plugin> BundledPlugins(absl::string_view node_version) {
  const int minor = MinorForList(node_version);
  std::vector<Plugin> plugins;
  for (const BundledPlugin& p : kBundled) {
    if (p.since_minor <= minor) plugins.push_back({p.name, std::string(node_version)});
  }
  // Already in order; sorting keeps the promise even if someone appends out of order.
  std::sort(plugins.begin(), plugins.end(), [](const Plugin& a, const Plugin& b) {
    return absl::AsciiStrToLower(a.name) < absl::AsciiStrToLower(b.name);
  });
  return plugins;
}

std::vector<Plugin> ResolvePlugins(const PluginSelection& selection,
                                   absl::string_view node_version) {
  std::map<std::string, Plugin> by_lower_name;  // sorted by lowercase name, as basic_info wants
  for (const Plugin& p : selection.listed) {
    by_lower_name.emplace(
        absl::AsciiStrToLower(p.name),
        Plugin{p.name, p.version.empty() ? std::string(node_version) : p.version});
  }
  if (selection.bundled) {
    // emplace keeps a listed entry over the bundled one.
    for (Plugin& p : BundledPlugins(node_version)) {
      by_lower_name.emplace(absl::AsciiStrToLower(p.name), std::move(p));
    }
  }
  std::vector<Plugin> plugins;
  plugins.reserve(by_lower_name.size());
  for (auto& [lower_name, plugin] : by_lower_name) plugins.push_back(std::move(plugin));
  return plugins;
}

std::string NewestKnownKongVersion() {
  return absl::StrCat(protocol::kKongMajor, ".", protocol::kNewestKnownKongMinor, ".0");
}

}  // namespace tether::settings
