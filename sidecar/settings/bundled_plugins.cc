#include "sidecar/settings/bundled_plugins.h"

#include <algorithm>
#include <climits>
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
  // Bundled with Kong Enterprise only. A Kong CP ignores plugins in basic_info that it does not
  // know (kong/clustering/compat/init.lua checks only the CP's own plugins against the DP's list),
  // so advertising these to an open-source CP is harmless, and an Enterprise CP then does not
  // withhold config that uses them (plugin_set_incompatible).
  bool enterprise = false;
  // The last 3.x minor that bundled it.
  int until_minor = INT_MAX;
};
constexpr bool kEnterprise = true;

// Open-source names from BUNDLED_PLUGINS in Kong's kong/constants.lua at 3.10.0 (Kong/kong
// 22246ef, the commit kong-protocol.md describes), since_minor from the same file at the tags
// 3.0.0 ... 3.9.0. Enterprise names and minors from Kong's plugin hub documentation
// (docs.konghq.com, app/_hub/kong-inc/*/versions.yml: minimum_version, maximum_version; plugins
// from 2.x count as 3.0), up to 3.10. Kept sorted by name, the order basic_info uses.
constexpr BundledPlugin kBundled[] = {
    {"acl", 0},
    {"acme", 0},
    {"ai-azure-content-safety", 7, kEnterprise},
    {"ai-prompt-decorator", 6},
    {"ai-prompt-guard", 6},
    {"ai-prompt-template", 6},
    {"ai-proxy", 6},
    {"ai-proxy-advanced", 8, kEnterprise},
    {"ai-rag-injector", 10, kEnterprise},
    {"ai-rate-limiting-advanced", 7, kEnterprise},
    {"ai-request-transformer", 6},
    {"ai-response-transformer", 6},
    {"ai-sanitizer", 10, kEnterprise},
    {"ai-semantic-cache", 8, kEnterprise},
    {"ai-semantic-prompt-guard", 8, kEnterprise},
    {"app-dynamics", 1, kEnterprise},
    {"application-registration", 0, kEnterprise, 4},
    {"aws-lambda", 0},
    {"azure-functions", 0},
    {"basic-auth", 0},
    {"bot-detection", 0},
    {"canary", 0, kEnterprise},
    {"confluent", 8, kEnterprise},
    {"confluent-consume", 10, kEnterprise},
    {"correlation-id", 0},
    {"cors", 0},
    {"datadog", 0},
    {"degraphql", 0, kEnterprise},
    {"exit-transformer", 0, kEnterprise},
    {"file-log", 0},
    {"forward-proxy", 0, kEnterprise},
    {"graphql-proxy-cache-advanced", 0, kEnterprise},
    {"graphql-rate-limiting-advanced", 0, kEnterprise},
    {"grpc-gateway", 0},
    {"grpc-web", 0},
    {"header-cert-auth", 8, kEnterprise},
    {"hmac-auth", 0},
    {"http-log", 0},
    {"injection-protection", 9, kEnterprise},
    {"ip-restriction", 0},
    {"jq", 0, kEnterprise},
    {"json-threat-protection", 8, kEnterprise},
    {"jwe-decrypt", 1, kEnterprise},
    {"jwt", 0},
    {"kafka-consume", 10, kEnterprise},
    {"kafka-log", 0, kEnterprise},
    {"kafka-upstream", 0, kEnterprise},
    {"key-auth", 0},
    {"key-auth-enc", 0, kEnterprise},
    {"ldap-auth", 0},
    {"ldap-auth-advanced", 0, kEnterprise},
    {"loggly", 0},
    {"mocking", 0, kEnterprise},
    {"mtls-auth", 0, kEnterprise},
    {"oas-validation", 1, kEnterprise},
    {"oauth2", 0},
    {"oauth2-introspection", 0, kEnterprise},
    {"opa", 0, kEnterprise},
    {"openid-connect", 0, kEnterprise},
    {"opentelemetry", 0},
    {"post-function", 0},
    {"pre-function", 0},
    {"prometheus", 0},
    {"proxy-cache", 0},
    {"proxy-cache-advanced", 0, kEnterprise},
    {"rate-limiting", 0},
    {"rate-limiting-advanced", 0, kEnterprise},
    {"redirect", 9},
    {"request-callout", 10, kEnterprise},
    {"request-size-limiting", 0},
    {"request-termination", 0},
    {"request-transformer", 0},
    {"request-transformer-advanced", 0, kEnterprise},
    {"request-validator", 0, kEnterprise},
    {"response-ratelimiting", 0},
    {"response-transformer", 0},
    {"response-transformer-advanced", 0, kEnterprise},
    {"route-by-header", 0, kEnterprise},
    {"route-transformer-advanced", 0, kEnterprise},
    {"saml", 1, kEnterprise},
    {"service-protection", 9, kEnterprise},
    {"session", 0},
    {"standard-webhooks", 8},
    {"statsd", 0},
    {"statsd-advanced", 0, kEnterprise},
    {"syslog", 0},
    {"tcp-log", 0},
    {"tls-handshake-modifier", 0, kEnterprise},
    {"tls-metadata-headers", 0, kEnterprise},
    {"udp-log", 0},
    {"upstream-oauth", 8, kEnterprise},
    {"upstream-timeout", 0, kEnterprise},
    {"vault-auth", 0, kEnterprise},
    {"websocket-size-limit", 0, kEnterprise},
    {"websocket-validator", 0, kEnterprise},
    {"xml-threat-protection", 1, kEnterprise},
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
    if (p.since_minor <= minor && minor <= p.until_minor)
      plugins.push_back({p.name, std::string(node_version)});
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
