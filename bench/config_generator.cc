#include "bench/config_generator.h"

#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <initializer_list>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "protocol/gzip.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/devcp/rules.h"

namespace tether::bench {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

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

// Row-writing helpers: a key then its value. Kept tiny so that each row below reads like the
// exported JSON.
class Row {
 public:
  explicit Row(JsonWriter& w) : w_(w) { w_.StartObject(); }
  ~Row() { w_.EndObject(); }
  Row(const Row&) = delete;
  Row& operator=(const Row&) = delete;

  Row& Str(const char* key, absl::string_view value) {
    w_.Key(key);
    w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  Row& Int(const char* key, int64_t value) {
    w_.Key(key);
    w_.Int64(value);
    return *this;
  }
  Row& Double(const char* key, double value) {
    w_.Key(key);
    w_.Double(value);
    return *this;
  }
  Row& Bool(const char* key, bool value) {
    w_.Key(key);
    w_.Bool(value);
    return *this;
  }
  Row& Null(const char* key) {
    w_.Key(key);
    w_.Null();
    return *this;
  }
  Row& Strs(const char* key, std::initializer_list<absl::string_view> values) {
    w_.Key(key);
    WriteStrings(values);
    return *this;
  }
  Row& Ints(const char* key, std::initializer_list<int> values) {
    w_.Key(key);
    w_.StartArray();
    for (int value : values) w_.Int(value);
    w_.EndArray();
    return *this;
  }
  // A nested object (plugin config, healthchecks); `fill` writes its members.
  template <typename Fill>
  Row& Object(const char* key, Fill fill) {
    w_.Key(key);
    Row nested(w_);
    fill(nested);
    return *this;
  }
  // Timestamps Kong writes on most core entities.
  Row& Stamps(int64_t created, int64_t updated) {
    return Int("created_at", created).Int("updated_at", updated);
  }

 private:
  void WriteStrings(std::initializer_list<absl::string_view> values) {
    w_.StartArray();
    for (absl::string_view value : values) {
      w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
    w_.EndArray();
  }

  JsonWriter& w_;
};

// Writes `count` rows of collection `name` (omitted when empty, as the CP omits empty ones).
template <typename WriteRow>
void Collection(JsonWriter& w, const char* name, size_t count, WriteRow write_row) {
  if (count == 0) return;
  w.Key(name);
  w.StartArray();
  for (size_t i = 0; i < count; ++i) write_row(i);
  w.EndArray();
}

// How often each route has been edited by `revision` (see the header: revision r edits route
// (r - 1) % routes).
uint64_t Edits(size_t route, size_t routes, uint64_t revision) {
  return revision / routes + (route < revision % routes ? 1 : 0);
}

void HealthChecks(Row& row) {
  row.Object("active", [](Row& active) {
    active.Str("type", "http")
        .Int("timeout", 1)
        .Int("concurrency", 10)
        .Str("http_path", "/healthz")
        .Bool("https_verify_certificate", true)
        .Null("https_sni")
        .Null("headers")
        .Object("healthy",
                [](Row& r) {
                  r.Int("interval", 5).Ints("http_statuses", {200, 302}).Int("successes", 2);
                })
        .Object("unhealthy", [](Row& r) {
          r.Int("interval", 5)
              .Ints("http_statuses", {429, 404, 500, 501, 502, 503, 504, 505})
              .Int("tcp_failures", 2)
              .Int("timeouts", 3)
              .Int("http_failures", 3);
        });
  });
  row.Object("passive", [](Row& passive) {
    passive.Str("type", "http")
        .Object("healthy",
                [](Row& r) {
                  r.Ints("http_statuses", {200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300,
                                           301, 302, 303, 304, 305, 306, 307, 308})
                      .Int("successes", 0);
                })
        .Object("unhealthy", [](Row& r) {
          r.Ints("http_statuses", {429, 500, 503})
              .Int("tcp_failures", 0)
              .Int("timeouts", 0)
              .Int("http_failures", 0);
        });
  });
  row.Int("threshold", 0);
}

// The plugins the generator attaches, in turn; all are bundled with Kong, so tether (which
// reports Kong's bundled plugins) is never refused a config for lack of one (§3.4).
enum class PluginKind { kKeyAuth, kRateLimiting, kCors, kRequestTransformer, kIpRestriction };
constexpr PluginKind kPluginCycle[] = {PluginKind::kKeyAuth, PluginKind::kRateLimiting,
                                       PluginKind::kCors, PluginKind::kRequestTransformer,
                                       PluginKind::kIpRestriction};

void PluginConfig(PluginKind kind, size_t i, Row& c) {
  switch (kind) {
    case PluginKind::kKeyAuth:
      c.Strs("key_names", {"apikey"})
          .Bool("hide_credentials", i % 2 == 0)
          .Null("anonymous")
          .Bool("key_in_header", true)
          .Bool("key_in_query", true)
          .Bool("key_in_body", false)
          .Bool("run_on_preflight", true)
          .Null("realm");
      return;
    case PluginKind::kRateLimiting:
      c.Null("second")
          .Int("minute", 60 + static_cast<int64_t>(i % 100))
          .Int("hour", 3600)
          .Null("day")
          .Null("month")
          .Null("year")
          .Str("limit_by", "consumer")
          .Null("header_name")
          .Null("path")
          .Str("policy", "local")
          .Bool("fault_tolerant", true)
          .Object("redis",
                  [](Row& r) {
                    r.Null("host")
                        .Int("port", 6379)
                        .Null("username")
                        .Null("password")
                        .Int("database", 0)
                        .Int("timeout", 2000)
                        .Bool("ssl", false)
                        .Bool("ssl_verify", false)
                        .Null("server_name");
                  })
          .Bool("hide_client_headers", false)
          .Int("error_code", 429)
          .Str("error_message", "API rate limit exceeded")
          .Int("sync_rate", -1);
      return;
    case PluginKind::kCors:
      c.Strs("origins", {"https://app.example.com", "https://admin.example.com"})
          .Strs("methods", {"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"})
          .Null("headers")
          .Null("exposed_headers")
          .Bool("credentials", true)
          .Int("max_age", 3600)
          .Bool("preflight_continue", false)
          .Bool("private_network", false);
      return;
    case PluginKind::kRequestTransformer:
      c.Null("http_method")
          .Object("remove",
                  [](Row& r) {
                    r.Strs("body", {}).Strs("headers", {"x-internal"}).Strs("querystring", {});
                  })
          .Object("rename",
                  [](Row& r) { r.Strs("body", {}).Strs("headers", {}).Strs("querystring", {}); })
          .Object("replace",
                  [](Row& r) {
                    r.Strs("body", {}).Strs("headers", {}).Strs("querystring", {}).Null("uri");
                  })
          .Object("add",
                  [i](Row& r) {
                    r.Strs("body", {})
                        .Strs("headers", {absl::StrCat("x-route-id:", i)})
                        .Strs("querystring", {});
                  })
          .Object("append",
                  [](Row& r) { r.Strs("body", {}).Strs("headers", {}).Strs("querystring", {}); });
      return;
    case PluginKind::kIpRestriction:
      c.Strs("allow", {"10.0.0.0/8", "192.168.0.0/16"})
          .Null("deny")
          .Int("status", 403)
          .Str("message", "Forbidden");
      return;
  }
}

absl::string_view PluginName(PluginKind kind) {
  switch (kind) {
    case PluginKind::kKeyAuth:
      return "key-auth";
    case PluginKind::kRateLimiting:
      return "rate-limiting";
    case PluginKind::kCors:
      return "cors";
    case PluginKind::kRequestTransformer:
      return "request-transformer";
    case PluginKind::kIpRestriction:
      return "ip-restriction";
  }
  return "";
}

bool OnRoute(PluginKind kind) {
  return kind == PluginKind::kRateLimiting || kind == PluginKind::kRequestTransformer;
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

  Collection(w, "workspaces", 1, [&](size_t) {
    Row(w)
        .Str("id", Uuid(Salt::kWorkspace, 0))
        .Str("name", "default")
        .Str("comment", "default workspace")
        .Object("config", [](Row&) {})
        .Object("meta", [](Row&) {})
        .Stamps(kEpoch, kEpoch);
  });
  Collection(w, "parameters", 1, [&](size_t) {
    Row(w)
        .Str("key", "cluster_id")
        .Str("value", Uuid(Salt::kCluster, 0))
        .Int("created_at", kEpoch)
        .Null("updated_at");
  });
  Collection(w, "consumers", shape.consumers, [&](size_t i) {
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
  });
  Collection(w, "certificates", shape.certificates, [&](size_t i) {
    Row(w)
        .Str("id", Uuid(Salt::kCertificate, i))
        .Stamps(kEpoch + 50, kEpoch + 50)
        .Str("cert", Pem("CERTIFICATE", 2 * i, 600))
        .Str("key", Pem("PRIVATE KEY", 2 * i + 1, 240))
        .Null("cert_alt")
        .Null("key_alt")
        .Null("tags");
  });
  Collection(w, "services", shape.services, [&](size_t i) {
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
  });
  Collection(w, "routes", shape.routes, [&](size_t i) {
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
    row.Bool("preserve_host", false)
        .Bool("request_buffering", true)
        .Bool("response_buffering", true);
    row.Null("snis").Null("sources").Null("destinations").Null("tags");
    row.Str("service", Uuid(Salt::kService, service));
  });
  Collection(w, "snis", shape.certificates, [&](size_t i) {
    Row(w)
        .Str("id", Uuid(Salt::kSni, i))
        .Stamps(kEpoch + 51, kEpoch + 51)
        .Str("name", absl::StrCat("api-", i, ".example.com"))
        .Null("tags")
        .Str("certificate", Uuid(Salt::kCertificate, i));
  });
  Collection(w, "upstreams", shape.upstreams, [&](size_t i) {
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
  });
  Collection(w, "targets", shape.targets, [&](size_t i) {
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
  });
  Collection(w, "plugins", shape.plugins, [&](size_t i) {
    Row row(w);
    row.Str("id", Uuid(Salt::kPlugin, i));
    if (i == 0) {
      // One global plugin, as most deployments have (metrics).
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
  });
  Collection(w, "keyauth_credentials", shape.keyauth_credentials, [&](size_t i) {
    Row(w)
        .Str("id", Uuid(Salt::kKeyauth, i))
        .Int("created_at", kEpoch + 40)
        .Str("consumer", Uuid(Salt::kConsumer, i % shape.consumers))
        .Str("key", Hex(Salt::kKeyauthKey, i, 32))
        .Null("tags")
        .Null("ttl");
  });
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::StatusOr<std::string> MakeReconfigureFrame(absl::string_view config_table_json) {
  absl::StatusOr<devcp::Reconfigure> message =
      devcp::BuildReconfigure(config_table_json, absl::FromUnixSeconds(kFrameTimestamp));
  if (!message.ok()) return message.status();
  return protocol::Gzip(message->message_json);
}

}  // namespace tether::bench
