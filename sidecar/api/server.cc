#include "sidecar/api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sidecar/api/config_service.h"
#include "sidecar/api/status_service.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/log.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";
// Threads for synchronous handlers (server reflection), which a flood could otherwise multiply.
constexpr int kMaxSyncThreads = 16;

// Serves server reflection from one builder, or not. Linking grpc++_reflection registers its
// plugin for every builder in the process (a static initializer), so the option takes it out
// and adds it back only where it is wanted.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    const std::string name = grpc::reflection::ProtoServerReflectionPlugin().name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    if (enabled_)
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }

 private:
  const bool enabled_;
};

}  // namespace

// Drives the default health service from status::ReadinessOf: SERVING exactly while /readyz
// would say ready (a config is loaded and tether is not draining).
//
// Threading: thread-safe. mu_ guards health_ and serving_; health_ is used only under mu_, so
// Detach makes sure no call reaches it once the gRPC server may be destroyed.
class Server::HealthSwitch {
 public:
  // From the status service's worker, after each batch of status changes.
  void Set(bool serving) {
    MutexLock lock(&mu_);
    if (serving == serving_) return;
    serving_ = serving;
    ApplyLocked();
  }

  void Attach(grpc::HealthCheckServiceInterface* health, bool serving) {
    MutexLock lock(&mu_);
    health_ = health;
    serving_ = serving;
    ApplyLocked();
  }

  // Everything NOT_SERVING and frozen (the default service ignores later changes), then
  // forgotten.
  void Detach() {
    MutexLock lock(&mu_);
    if (health_ != nullptr) health_->Shutdown();
    health_ = nullptr;
  }

 private:
  void ApplyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (health_ == nullptr) return;
    health_->SetServingStatus("", serving_);
    health_->SetServingStatus(v1::ConfigService::service_full_name(), serving_);
  }

  Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options,
                                                       config::SnapshotStore& store,
                                                       status::StatusBoard& status) {
  if (options.listen.empty()) return absl::InvalidArgumentError("no grpc listen address");
  std::unique_ptr<Server> server(new Server());
  std::shared_ptr<grpc::ServerCredentials> tcp_credentials = grpc::InsecureServerCredentials();
  if (options.tls.has_value()) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls =
        MakeMutualTlsCredentials(*options.tls);
    if (!tls.ok()) return tls.status();
    tcp_credentials = *std::move(tls);
  }
  // Unix sockets are bound here and served through UnixListener; TCP ones by gRPC itself.
  std::vector<int> ports(options.listen.size(), 0);
  std::vector<std::string> tcp_uris;
  grpc::ServerBuilder builder;
  for (size_t i = 0; i < options.listen.size(); ++i) {
    const ListenAddress& a = options.listen[i];
    if (a.kind == ListenAddress::Kind::kUnix) {
      absl::StatusOr<std::unique_ptr<UnixListener>> listener = UnixListener::Bind(a.path);
      if (!listener.ok()) return listener.status();
      server->unix_listeners_.push_back(*std::move(listener));
    } else {
      tcp_uris.push_back(JoinHostPort(a.host, a.port));
      builder.AddListeningPort(tcp_uris.back(), tcp_credentials, &ports[i]);
    }
  }

  server->health_ = std::make_unique<HealthSwitch>();
  ConfigServiceOptions config_options;
  if (options.max_chunk_bytes > 0) config_options.max_chunk_bytes = options.max_chunk_bytes;
  config_options.update_cache_bytes = options.update_cache_bytes;
  config_options.max_subscribers = options.max_subscribers;
  config_options.peer_names = &server->unix_peer_names_;
  server->config_service_ = std::make_unique<ConfigService>(store, status, config_options);
  StatusContext context;
  context.ping_interval = options.ping_interval;
  context.control_plane_url = options.control_plane_url;
  server->status_service_ = std::make_unique<StatusService>(
      status, std::move(context),
      [health = server->health_.get()](const status::Readiness& r) { health->Set(r.ready); });

  // A process-wide switch that the builder reads.
  grpc::EnableDefaultHealthCheckService(true);
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  grpc::ResourceQuota quota("tether-api");
  quota.Resize(options.memory_quota_bytes);
  // Only synchronous services (reflection) take threads from it; the rest run on callbacks.
  quota.SetMaxThreads(kMaxSyncThreads);
  builder.SetResourceQuota(quota);
  builder.RegisterService(server->config_service_.get());
  builder.RegisterService(server->status_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", absl::StrJoin(tcp_uris, ", "),
                                               " (see grpc's log above)"));
  }
  AllowedPeers peers = std::move(options.unix_peers);
  if (peers.uids.empty()) peers.uids.push_back(::geteuid());
  if (peers.gids.empty()) peers.gids.push_back(::getegid());
  auto unix_listener = server->unix_listeners_.begin();
  for (size_t i = 0; i < options.listen.size(); ++i) {
    const ListenAddress& a = options.listen[i];
    if (a.kind == ListenAddress::Kind::kUnix) {
      (*unix_listener)
          ->Start(server->server_.get(), &server->unix_peer_names_, peers,
                  [&status](status::PeerRefusal why) { status.RecordGrpcPeerRefused(why); });
      ++unix_listener;
      server->addresses_.push_back(absl::StrCat("unix://", a.path));
    } else if (ports[i] == 0) {
      server->Shutdown(absl::ZeroDuration());
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", JoinHostPort(a.host, a.port)));
    } else {
      server->addresses_.push_back(JoinHostPort(a.host, ports[i]));
    }
  }
  // The default health service starts with "" SERVING; correct it before anyone is likely to
  // have asked (a probe in between this and BuildAndStart would see SERVING).
  // Later changes reach it through the status service's worker.
  server->health_->Attach(server->server_->GetHealthCheckService(), status.GetReadiness().ready);
  log::Info(kLog, "grpc api listening", {{"addresses", absl::StrJoin(server->addresses_, ",")}});
  return server;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

UpdateCache::Stats Server::ConfigStatsForTest() const { return config_service_->StatsForTest(); }

bool Server::Shutdown(absl::Duration timeout) {
  MutexLock lock(&shutdown_mu_);
  if (shut_down_) return clean_shutdown_;
  shut_down_ = true;
  const absl::Time deadline = absl::Now() + timeout;
  if (health_) health_->Detach();
  // Streams are told first, so that they end with a clear status rather than as cancelled.
  if (config_service_) config_service_->BeginShutdown();
  if (status_service_) status_service_->BeginShutdown();
  // Before the server: no connection may be handed to a server shutting down.
  for (const std::unique_ptr<UnixListener>& listener : unix_listeners_) listener->Stop();
  if (server_) {
    // Waits for every call to end; cancels the rest at the deadline (a stuck client's last write
    // never completes on its own).
    server_->Shutdown(absl::ToChronoTime(deadline));
  }
  if (config_service_) config_service_->Stop();
  clean_shutdown_ = absl::Now() <= deadline;
  if (server_) log::Info(kLog, "grpc api stopped", {{"clean", clean_shutdown_ ? "true" : "false"}});
  return clean_shutdown_;
}

}  // namespace tether::api
