// See config_generator.h. The JSON vocabulary is in json_row.h, plugin configs and
// healthchecks in nested_objects.cc.
#include "bench/config_generator.h"

#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/json_row.h"
#include "bench/nested_objects.h"
#include "protocol/gzip.h"
#include "protocol/reconfigure.h"

namespace tether::bench {
namespace {

// Timestamps of generated rows: June 2024, like deploy/examples/kong-config.json.
constexpr int64_t kEpoch = 1718000000;
// The reconfigure message's timestamp, fixed so that frames are reproducible.
constexpr int64_t kFrameTimestamp = kEpoch + 86400;

// Salts that keep the ids and keys of different collections apart.
enum class Salt : uint64_t {
  kWorkspace = 1,
  kCluster,
  kCertificate,
  kSni,
  kService,
  kRoute,
  kConsumer,
  kKeyauth,
  kKeyauthKey,
  kUpstream,
  kTarget,
  kPlugin,
  kPem,
};

// SplitMix64: a fixed, well-mixed function of its input, so every id is reproducible and ids of
// different rows do not collide in practice.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

uint64_t Random(Salt salt, uint64_t index, uint64_t word = 0) {
  return Mix(Mix(Mix(static_cast<uint64_t>(salt)) ^ index) ^ word);
}

// A version 4 UUID, as Kong generates for primary keys.
std::string Uuid(Salt salt, uint64_t index) {
  const uint64_t hi = Random(salt, index, 0);
  const uint64_t lo = Random(salt, index, 1);
  char text[37];
  std::snprintf(text, sizeof(text),
                "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
                (hi >> 16) & 0xffff, hi & 0xfff, 0x8000 | ((lo >> 48) & 0x3fff),
                lo & 0xffffffffffff);
  return text;
}

std::string Hex(Salt salt, uint64_t index, size_t chars) {
  std::string out;
  for (uint64_t word = 0; out.size() < chars; ++word) {
    char text[17];
    std::snprintf(text, sizeof(text), "%016" PRIx64, Random(salt, index, word));
    out += text;
  }
  out.resize(chars);
  return out;
}

// PEM-shaped text of `body_bytes` base64 characters in 64-column lines. The decoder and the
// proxies' transport never look inside, so only the size and the character mix matter.
std::string Pem(absl::string_view label, uint64_t index, size_t body_bytes) {
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < body_bytes; ++i) {
    out += kBase64[Random(Salt::kPem, index, i) & 63];
    if (i % 64 == 63 || i + 1 == body_bytes) out += '\n';
  }
  absl::StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

// How often each route has been edited by `revision` (see the header: revision r edits route
// (r - 1) % routes).
uint64_t Edits(size_t route, size_t routes, uint64_t revision) {
  return revision / routes + (route < revision % routes ? 1 : 0);
}

// One writer per collection, each writing row `i` as Kong 3.x exports it.

void WorkspaceRow(JsonWriter& w) {
  Row(w)
      .Str("id", Uuid(Salt::kWorkspace, 0))
      .Str("name", "default")
      .Str("comment", "default workspace")
      .Object("config", [](Row&) {})
      .Object("meta", [](Row&) {})
      .Stamps(kEpoch, kEpoch);
}

void ClusterIdRow(JsonWriter& w) {
  Row(w)
      .Str("key", "cluster_id")
      .Str("value", Uuid(Salt::kCluster, 0))
      .Int("created_at", kEpoch)
      .Null("updated_at");
}

void ConsumerRow(JsonWriter& w, size_t i) {
  Row row(w);
  row.Str("id", Uuid(Salt::kConsumer, i)).Stamps(kEpoch + 30, kEpoch + 30);
  row.Str("username", absl::StrCat("user-", i));
  if (i % 3 == 0) {
    row.Str("custom_id", absl::StrCat("cust-", i));
  } else {
    row.Null("custom_id");
  }
  if (i % 4 == 0) {
    row.Strs("tags", {"tier-gold"});
  } else {
    row.Null("tags");
  }
}

void CertificateRow(JsonWriter& w, size_t i) {
  Row(w)
      .Str("id", Uuid(Salt::kCertificate, i))
      .Stamps(kEpoch + 50, kEpoch + 50)
      .Str("cert", Pem("CERTIFICATE", 2 * i, 600))
      .Str("key", Pem("PRIVATE KEY", 2 * i + 1, 240))
      .Null("cert_alt")
      .Null("key_alt")
      .Null("tags");
}

void ServiceRow(JsonWriter& w, const ConfigShape& shape, size_t i) {
  Row row(w);
  row.Str("id", Uuid(Salt::kService, i)).Stamps(kEpoch + 10, kEpoch + 10);
  row.Str("name", absl::StrCat("svc-", i)).Int("retries", 5);
  const bool tls = i % 4 == 1;
  row.Str("protocol", tls ? "https" : "http");
  // Some services point at an upstream by name, as Kong resolves host to an upstream.
  if (shape.upstreams > 0 && i % 10 == 0) {
    row.Str("host", absl::StrCat("upstream-", (i / 10) % shape.upstreams));
  } else {
    row.Str("host", absl::StrCat("svc-", i, ".internal"));
  }
  row.Int("port", tls ? 443 : 8080);
  if (i % 2 == 0) {
    row.Str("path", "/v1");
  } else {
    row.Null("path");
  }
  row.Int("connect_timeout", 60000).Int("write_timeout", 60000).Int("read_timeout", 60000);
  if (i % 3 == 0) {
    row.Strs("tags", {absl::StrCat("team-", i % 17)});
  } else {
    row.Null("tags");
  }
  row.Null("client_certificate").Null("tls_verify").Null("tls_verify_depth");
  row.Null("ca_certificates").Bool("enabled", true);
}

void RouteRow(JsonWriter& w, const ConfigShape& shape, uint64_t revision, size_t i) {
  const uint64_t edits = Edits(i, shape.routes, revision);
  const size_t service = i % shape.services;
  Row row(w);
  row.Str("id", Uuid(Salt::kRoute, i))
      .Stamps(kEpoch + 20, kEpoch + 20 + static_cast<int64_t>(edits));
  row.Str("name", absl::StrCat("route-", i)).Strs("protocols", {"http", "https"});
  if (i % 3 == 0) {
    row.Strs("methods", {"GET", "POST"});
  } else {
    row.Null("methods");
  }
  row.Strs("hosts", {absl::StrCat("api-", i % 50, ".example.com")});
  const std::string path = edits == 0 ? absl::StrCat("/svc-", service, "/r", i)
                                      : absl::StrCat("/svc-", service, "/r", i, "/v", edits);
  row.Strs("paths", {path}).Null("headers").Int("https_redirect_status_code", 426);
  row.Int("regex_priority", 0).Bool("strip_path", true).Str("path_handling", "v0");
  row.Bool("preserve_host", false).Bool("request_buffering", true).Bool("response_buffering", true);
  row.Null("snis").Null("sources").Null("destinations").Null("tags");
  row.Str("service", Uuid(Salt::kService, service));
}

void SniRow(JsonWriter& w, size_t i) {
  Row(w)
      .Str("id", Uuid(Salt::kSni, i))
      .Stamps(kEpoch + 51, kEpoch + 51)
      .Str("name", absl::StrCat("api-", i, ".example.com"))
      .Null("tags")
      .Str("certificate", Uuid(Salt::kCertificate, i));
}

void UpstreamRow(JsonWriter& w, size_t i) {
  Row(w)
      .Str("id", Uuid(Salt::kUpstream, i))
      .Stamps(kEpoch + 60, kEpoch + 60)
      .Str("name", absl::StrCat("upstream-", i))
      .Str("algorithm", "round-robin")
      .Str("hash_on", "none")
      .Str("hash_fallback", "none")
      .Null("hash_on_header")
      .Null("hash_fallback_header")
      .Null("hash_on_cookie")
      .Str("hash_on_cookie_path", "/")
      .Null("hash_on_query_arg")
      .Null("hash_fallback_query_arg")
      .Null("hash_on_uri_capture")
      .Null("hash_fallback_uri_capture")
      .Int("slots", 10000)
      .Object("healthchecks", HealthChecks)
      .Null("tags")
      .Null("host_header")
      .Null("client_certificate")
      .Bool("use_srv_name", false);
}

void TargetRow(JsonWriter& w, const ConfigShape& shape, size_t i) {
  // Kong stores target timestamps with milliseconds (§7.3 example: 1718000061.123).
  const double stamp = static_cast<double>(kEpoch + 61) + static_cast<double>(i % 1000) / 1000.0;
  Row(w)
      .Str("id", Uuid(Salt::kTarget, i))
      .Double("created_at", stamp)
      .Double("updated_at", stamp)
      .Str("upstream", Uuid(Salt::kUpstream, i % shape.upstreams))
      .Str("target",
           absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255, ":8080"))
      .Int("weight", 100)
      .Null("tags");
}

// Plugin 0 is global prometheus (metrics, as most deployments have); the others cycle through
// kPluginCycle on services or routes.
void PluginRow(JsonWriter& w, const ConfigShape& shape, size_t i) {
  Row row(w);
  row.Str("id", Uuid(Salt::kPlugin, i));
  if (i == 0) {
    row.Str("name", "prometheus").Null("instance_name").Stamps(kEpoch + 70, kEpoch + 70);
    row.Null("route").Null("service").Null("consumer");
    row.Object("config", [](Row& c) {
      c.Bool("per_consumer", false)
          .Bool("status_code_metrics", true)
          .Bool("latency_metrics", true)
          .Bool("bandwidth_metrics", false)
          .Bool("upstream_health_metrics", true);
    });
  } else {
    const PluginKind kind = kPluginCycle[(i - 1) % std::size(kPluginCycle)];
    // Each kind walks its own targets, so no two plugins of one name share a service or route.
    const size_t nth = (i - 1) / std::size(kPluginCycle);
    row.Str("name", PluginName(kind)).Null("instance_name").Stamps(kEpoch + 70, kEpoch + 70);
    if (OnRoute(kind)) {
      row.Str("route", Uuid(Salt::kRoute, nth % shape.routes)).Null("service");
    } else {
      row.Null("route").Str("service", Uuid(Salt::kService, nth % shape.services));
    }
    row.Null("consumer").Object("config", [&](Row& c) { PluginConfig(kind, i, c); });
  }
  row.Strs("protocols", {"grpc", "grpcs", "http", "https"}).Bool("enabled", true);
  row.Null("tags").Null("ordering");
}

void KeyauthCredentialRow(JsonWriter& w, const ConfigShape& shape, size_t i) {
  Row(w)
      .Str("id", Uuid(Salt::kKeyauth, i))
      .Int("created_at", kEpoch + 40)
      .Str("consumer", Uuid(Salt::kConsumer, i % shape.consumers))
      .Str("key", Hex(Salt::kKeyauthKey, i, 32))
      .Null("tags")
      .Null("ttl");
}

}  // namespace

size_t ConfigShape::EntityCount() const {
  // + the workspace and the cluster_id parameter; one sni per certificate.
  return 2 + 2 * certificates + services + routes + consumers + keyauth_credentials + upstreams +
         targets + plugins;
}

ConfigShape PresetShape(Preset preset) {
  switch (preset) {
    case Preset::kSmall:
      return ConfigShape{.certificates = 2,
                         .services = 10,
                         .routes = 15,
                         .consumers = 30,
                         .keyauth_credentials = 30,
                         .upstreams = 2,
                         .targets = 4,
                         .plugins = 6};
    case Preset::kMedium:
      return ConfigShape{.certificates = 20,
                         .services = 1000,
                         .routes = 1500,
                         .consumers = 3000,
                         .keyauth_credentials = 3000,
                         .upstreams = 200,
                         .targets = 600,
                         .plugins = 500};
    case Preset::kLarge:
      return ConfigShape{.certificates = 100,
                         .services = 10000,
                         .routes = 10000,
                         .consumers = 50000,
                         .keyauth_credentials = 50000,
                         .upstreams = 1000,
                         .targets = 3000,
                         .plugins = 3000};
  }
  return {};
}

absl::string_view PresetName(Preset preset) {
  switch (preset) {
    case Preset::kSmall:
      return "small";
    case Preset::kMedium:
      return "medium";
    case Preset::kLarge:
      return "large";
  }
  return "";
}

std::optional<Preset> ParsePreset(absl::string_view name) {
  for (Preset preset : kPresets) {
    if (PresetName(preset) == name) return preset;
  }
  return std::nullopt;
}

std::string GenerateConfigTable(const ConfigShape& shape, uint64_t revision) {
  assert(revision == 0 || shape.routes > 0);
  assert(shape.routes == 0 || shape.services > 0);
  assert(shape.keyauth_credentials == 0 || shape.consumers > 0);
  assert(shape.targets == 0 || shape.upstreams > 0);
  assert(shape.plugins <= 1 || (shape.services > 0 && shape.routes > 0));

  rapidjson::StringBuffer buffer;
  // Rows average ~600 bytes; reserving avoids most of the regrowth copies.
  buffer.Reserve(shape.EntityCount() * 640);
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("_format_version");
  w.String("3.0");
  w.Key("_transform");
  w.Bool(false);
  // The collections in the order Kong exports them.
  Collection(w, "workspaces", 1, [&](size_t) { WorkspaceRow(w); });
  Collection(w, "parameters", 1, [&](size_t) { ClusterIdRow(w); });
  Collection(w, "consumers", shape.consumers, [&](size_t i) { ConsumerRow(w, i); });
  Collection(w, "certificates", shape.certificates, [&](size_t i) { CertificateRow(w, i); });
  Collection(w, "services", shape.services, [&](size_t i) { ServiceRow(w, shape, i); });
  Collection(w, "routes", shape.routes, [&](size_t i) { RouteRow(w, shape, revision, i); });
  Collection(w, "snis", shape.certificates, [&](size_t i) { SniRow(w, i); });
  Collection(w, "upstreams", shape.upstreams, [&](size_t i) { UpstreamRow(w, i); });
  Collection(w, "targets", shape.targets, [&](size_t i) { TargetRow(w, shape, i); });
  Collection(w, "plugins", shape.plugins, [&](size_t i) { PluginRow(w, shape, i); });
  Collection(w, "keyauth_credentials", shape.keyauth_credentials,
             [&](size_t i) { KeyauthCredentialRow(w, shape, i); });
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<std::string> MakeReconfigureFrame(absl::string_view config_table_json) {
  absl::StatusOr<protocol::Reconfigure> message =
      protocol::BuildReconfigure(config_table_json, absl::FromUnixSeconds(kFrameTimestamp));
  if (!message.ok()) return message.status();
  return protocol::Gzip(message->message_json);
}

}  // namespace tether::bench
