// See nested_objects.h.
#include "bench/nested_objects.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace tether::bench {

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

}  // namespace tether::bench
