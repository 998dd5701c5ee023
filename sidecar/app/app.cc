#include "sidecar/app/app.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/log.h"
#include "sidecar/cp/basic_info.h"
#include "sidecar/export/command_split.h"
#include "sidecar/settings/bundled_plugins.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/node_identity.h"

namespace tether::app {
namespace {

cp::SessionOptions SessionOptionsFrom(const settings::Settings& s) {
  cp::SessionOptions o;
  o.host = s.control_plane.host;
  o.port = s.control_plane.port;
  o.tls.mode = s.mtls;
  o.tls.cert_path = s.cert_path;
  o.tls.key_path = s.key_path;
  o.tls.ca_cert_path = s.ca_cert_path.value_or("");
  o.tls.server_name = s.server_name.value_or("");
  o.node_id = s.node_id;
  o.node_hostname = s.node_hostname;
  o.node_version = s.node_version;
  o.negotiate_version = s.node_version == settings::kAutoNodeVersion;
  if (o.negotiate_version) o.remembered_minor = settings::LoadRememberedKongMinor(s.data_dir);
  o.basic_info = [selection = s.plugin_selection, labels = s.labels](absl::string_view version) {
    std::vector<cp::PluginInfo> plugins;
    for (settings::Plugin& p : settings::ResolvePlugins(selection, version)) {
      plugins.push_back({std::move(p.name), std::move(p.version)});
    }
    return cp::BuildBasicInfo(std::move(plugins), labels);
  };
  o.max_payload_bytes = static_cast<size_t>(s.max_payload_bytes);
  o.connect_timeout = s.connect_timeout;
  o.ping_interval = s.ping_interval;
  o.ping_timeout = s.ping_timeout;
  o.backoff.min = s.backoff_min;
  o.backoff.max = s.backoff_max;
  if (s.cluster_use_proxy && s.proxy_server.has_value()) {
    const settings::ProxyServer& p = *s.proxy_server;
    o.proxy = cp::ProxyOptions{p.scheme == settings::ProxyServer::Scheme::kHttps
                                   ? cp::ProxyOptions::Scheme::kHttps
                                   : cp::ProxyOptions::Scheme::kHttp,
                               p.address.host,
                               p.address.port,
                               p.username,
                               p.password,
                               s.proxy_server_ssl_verify};
  }
  o.cert_check_interval = s.cert_check_interval;
  return o;
}

api::ServerOptions GrpcOptionsFrom(const settings::Settings& s, std::string control_plane_url) {
  api::ServerOptions o;
  for (const settings::GrpcListenAddress& a : s.grpc_listen) {
    api::ListenAddress l;
    switch (a.kind) {
      case settings::GrpcListenAddress::Kind::kUnix:
        l.kind = api::ListenAddress::Kind::kUnix;
        l.path = a.path;
        break;
      case settings::GrpcListenAddress::Kind::kTcp:
        l.kind = api::ListenAddress::Kind::kTcp;
        l.host = a.tcp.host;
        l.port = a.tcp.port;
        break;
    }
    o.listen.push_back(std::move(l));
  }
  if (!s.grpc_tls_cert_path.empty()) {
    o.tls = api::TlsFiles{s.grpc_tls_cert_path, s.grpc_tls_key_path, s.grpc_client_ca_path,
                          s.cert_check_interval};
  }
  o.unix_peers.uids.assign(s.grpc_allowed_uids.begin(), s.grpc_allowed_uids.end());
  o.unix_peers.gids.assign(s.grpc_allowed_gids.begin(), s.grpc_allowed_gids.end());
  o.update_cache_bytes = static_cast<size_t>(s.grpc_update_cache_bytes);
  o.max_subscribers = static_cast<size_t>(s.grpc_max_subscribers);
  o.max_streams_per_connection = static_cast<int>(s.grpc_max_streams_per_connection);
  o.memory_quota_bytes = static_cast<size_t>(s.grpc_memory_quota_bytes);
  o.reflection = s.grpc_reflection;
  o.ping_interval = s.ping_interval;
  o.control_plane_url = std::move(control_plane_url);
  return o;
}

// /livez bounds. The CP loop runs only short handlers (a read chunk, a ping, a TLS step), so two
// seconds without a heartbeat means it is stuck (a probe with a shorter timeoutSeconds fails by
// timing out instead). Decoding a huge config may take many seconds, and a restart mid-decode
// would only decode it again.
constexpr absl::Duration kIoLoopStuckAfter = absl::Seconds(2);
constexpr absl::Duration kDecoderStuckAfter = absl::Minutes(2);

ops::ServerOptions OpsOptionsFrom(const settings::Settings& s, net::io_context& io,
                                  WorkerHeartbeat& decoder, std::function<void()> on_shutdown) {
  ops::ServerOptions o;
  o.host = s.ops_listen.host;
  o.port = s.ops_listen.port;
  o.on_shutdown = std::move(on_shutdown);
  o.loops.push_back({"control-plane-io",
                     [&io](std::function<void()> beat) { net::post(io, std::move(beat)); },
                     kIoLoopStuckAfter});
  o.loops.push_back({"config-decoder",
                     [&decoder](std::function<void()> beat) { decoder.Post(std::move(beat)); },
                     kDecoderStuckAfter});
  return o;
}

// InvalidArgument when --on-change-exec cannot be split into a command.
absl::StatusOr<exporter::ExportOptions> ExportOptionsFrom(const settings::Settings& s) {
  exporter::ExportOptions o;
  o.config_path = s.write_config;
  o.config_types.insert(s.write_config_types.begin(), s.write_config_types.end());
  if (!s.on_change_exec.empty()) {
    absl::StatusOr<std::vector<std::string>> argv = exporter::SplitCommandLine(s.on_change_exec);
    if (!argv.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--on-change-exec: ", argv.status().message()));
    }
    o.hook = exporter::HookCommand{*std::move(argv), s.on_change_timeout, ""};
  }
  return o;
}

}  // namespace

App::App(size_t snapshot_history_bytes, AppCallbacks callbacks)
    : callbacks_(std::move(callbacks)),
      store_(config::SnapshotStore::kDefaultHistory, snapshot_history_bytes),
      io_(std::make_unique<net::io_context>(1)) {}

App::~App() { Stop(absl::Seconds(5)); }

void App::Fail(absl::string_view part, const absl::Status& why) {
  if (failed_.exchange(true)) return;
  log::Error("app", "a long-running part ended unexpectedly: draining and exiting",
             {{"part", part}, {"err", why.message()}});
  status_.RecordFailure(absl::StrCat(part, " failed: ", why.message()));
  if (callbacks_.on_part_failed) callbacks_.on_part_failed();
}

absl::StatusOr<std::unique_ptr<App>> App::Create(const settings::Settings& settings,
                                                 AppCallbacks callbacks) {
  std::unique_ptr<App> app(
      new App(static_cast<size_t>(settings.snapshot_history_bytes), std::move(callbacks)));
  App* self = app.get();
  pipeline::ApplierOptions applier_options;
  applier_options.limits.max_inflated_bytes = static_cast<size_t>(settings.max_inflated_bytes);
  applier_options.limits.max_entities = static_cast<size_t>(settings.max_entities);
  applier_options.limits.max_types = static_cast<size_t>(settings.max_entity_types);
  applier_options.limits.max_metadata_bytes = static_cast<size_t>(settings.max_metadata_bytes);
  applier_options.guard_empty_config = settings.guard_empty_config;

  // The cache is always written, so switching to serve-cache later finds a recent one; with
  // wait-for-cp it is not read, and the CP is told we hold nothing.
  app->cache_ = std::make_unique<pipeline::ConfigCache>(
      settings.data_dir, [self] { self->status_.RecordCacheWriteFailure(); });
  app->applier_ = std::make_unique<pipeline::ConfigApplier>(applier_options, app->store_,
                                                            app->status_, app->cache_.get());
  cp::SessionOptions session_options = SessionOptionsFrom(settings);
  if (settings.startup_policy == settings::StartupPolicy::kServeCache) {
    if (config::SnapshotPtr cached =
            app->cache_->Load(applier_options.limits, settings.max_cache_age)) {
      session_options.initial_config_hash = cached->config_hash;
      app->store_.Publish(cached);
    }
  } else {
    log::Info("cache", "not serving the cached config (--startup-policy=wait-for-cp)");
  }
  // After the cache is published, so that a cached config is exported at start too.
  if (!settings.write_config.empty() || !settings.on_change_exec.empty()) {
    absl::StatusOr<exporter::ExportOptions> export_options = ExportOptionsFrom(settings);
    if (!export_options.ok()) return export_options.status();
    app->exporter_ =
        std::make_unique<exporter::Exporter>(*std::move(export_options), app->store_, app->status_);
  }
  app->trim_on_sent_ = app->status_.AddObserver([self](uint64_t) {
    // Observers run on every status change (pongs, acks); a trim is due only when another whole
    // update has gone out.
    const uint64_t sent = self->status_.UpdatesSent();
    if (self->updates_sent_seen_.exchange(sent) != sent) self->heap_trimmer_.Poke();
  });
  app->pipeline_ = std::make_unique<pipeline::Pipeline>(
      [applier = app->applier_.get(), trimmer = &app->heap_trimmer_](pipeline::Frame frame) {
        std::optional<std::string> applied = applier->Apply(std::move(frame));
        // Whatever came of it, the decode freed its buffers (and an applied config will free
        // the previous one's and its updates' once they are sent).
        trimmer->Poke();
        return applied;
      },
      [self, acked = settings.report_hash == settings::ReportHash::kAcked](std::string hash) {
        // With --report-hash=acked the reporter decides what the pings carry.
        if (acked) return;
        self->status_.SetReportedHash(hash, "applied");
        self->session_->SetAppliedHash(std::move(hash));
      },
      [self](const absl::Status& why) { self->Fail("config pipeline", why); });

  cp::SessionCallbacks session_callbacks;
  session_callbacks.on_frame = [pipeline = app->pipeline_.get()](std::string frame,
                                                                 absl::Time received_at) {
    pipeline->Submit(pipeline::Frame{std::move(frame), received_at});
  };
  session_callbacks.on_frame_refused = [applier = app->applier_.get()](const absl::Status& s) {
    applier->Refused(s);
  };
  session_callbacks.on_change = [self](const status::ConnectionInfo& info) {
    self->status_.SetConnection(info);
  };
  session_callbacks.on_version_accepted = [data_dir = settings.data_dir](const std::string& v) {
    if (absl::Status st = settings::RememberKongVersion(data_dir, v); !st.ok()) {
      log::Warn("cp", "cannot remember the Kong version for the next start",
                {{"err", st.message()}});
    }
  };
  session_callbacks.on_unexpected_end = [self](const absl::Status& why) {
    self->Fail("control plane session", why);
  };
  absl::StatusOr<std::unique_ptr<cp::Session>> session =
      cp::Session::Create(*app->io_, std::move(session_options), std::move(session_callbacks));
  if (!session.ok()) return session.status();
  app->session_ = *std::move(session);
  if (settings.report_hash == settings::ReportHash::kAcked) {
    app->acked_reporter_ = std::make_unique<pipeline::AckedHashReporter>(
        app->status_,
        [self](std::string hash) { self->session_->SetAppliedHash(std::move(hash)); });
  }

  app->status_.SetNode(status::NodeInfo{settings.node_id, settings.node_hostname,
                                        settings.node_version, settings.labels,
                                        std::string(settings::TetherVersion())});
  absl::StatusOr<std::unique_ptr<api::Server>> grpc = api::Server::Create(
      GrpcOptionsFrom(settings, app->session_->Url()), app->store_, app->status_);
  if (!grpc.ok()) return grpc.status();
  app->grpc_ = *std::move(grpc);
  absl::StatusOr<std::unique_ptr<ops::Server>> ops =
      ops::Server::Create(OpsOptionsFrom(settings, *app->io_, app->pipeline_->heartbeat(),
                                         app->callbacks_.on_shutdown_request),
                          app->status_);
  if (!ops.ok()) return ops.status();
  app->ops_ = *std::move(ops);
  // Set last: an App that failed to build is destroyed at once, without a drain.
  app->drain_time_ = settings.drain_time;
  log::Info("app", "tether configured",
            {{"control_plane", app->session_->Url()},
             {"mtls", settings.mtls == MtlsMode::kShared ? "shared" : "pki"},
             {"node_id", settings.node_id},
             {"plugins", settings.plugins.size()}});
  return app;
}

void App::Start() {
  if (io_thread_.joinable()) return;
  // The work guard keeps run() going while the session waits in backoff with nothing queued.
  io_thread_ = std::thread([io = io_.get()] {
    auto guard = net::make_work_guard(*io);
    io->run();
  });
  session_->Start();
}

bool App::Stop(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto left = [deadline] { return std::max(deadline - absl::Now(), absl::ZeroDuration()); };
  bool clean = true;
  if (!drained_) {
    drained_ = true;
    // /readyz and gRPC health follow the board, so both say draining from here; subscribers keep
    // their streams (and new configs) while their proxies drain in turn.
    status_.SetDraining();
    const absl::Duration drain = std::min(drain_time_, timeout);
    if (drain > absl::ZeroDuration()) {
      log::Info("app", "draining", {{"drain_time", absl::FormatDuration(drain)}});
      absl::SleepFor(drain);
    }
  }
  // Streams first: proxies learn tether is going away while it still holds the config.
  if (grpc_) clean = grpc_->Shutdown(left() / 2);
  if (session_) clean = session_->Stop(left()) && clean;
  // After the session, so no frame arrives behind it; a decode under way finishes first.
  if (pipeline_) pipeline_->Stop();
  io_->stop();
  if (io_thread_.joinable()) io_thread_.join();
  // After the pipeline, so no config can be applied (and queued for saving) behind the flush.
  if (cache_) cache_->Stop();
  // After the pipeline too: a hook run under way is killed, none starts after.
  exporter_.reset();
  if (ops_) ops_->Stop();
  return clean && absl::Now() <= deadline;
}

void App::PostToIoForTest(std::function<void()> task) { net::post(*io_, std::move(task)); }

}  // namespace tether::app
