#include "sidecar/api/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
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
// Owner and group read and write: a proxy in the same group may connect, others may not.
constexpr mode_t kSocketMode = 0660;
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

std::string ListenUri(const ListenAddress& a) {
  return a.kind == ListenAddress::Kind::kUnix ? absl::StrCat("unix://", a.path)
                                              : JoinHostPort(a.host, a.port);
}

// gRPC itself unlinks any socket file at the path before binding, which would silently steal the
// path from a tether still serving there. So: no file, fine; a socket nobody accepts on (left
// over by a crash), removed; a live socket or anything else, refused.
absl::Status PrepareUnixPath(const std::string& path) {
  const std::string shown = absl::StrCat("unix://", path);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(parent, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown, ": directory ", parent.string(), " does not exist"));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown, ": ", std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grpc listen ", shown, ": a file that is not a socket is in the way; remove it"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("grpc listen ", shown, ": socket: ", std::strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int connect_errno = errno;
  ::close(fd);
  if (connected == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown,
                     ": another process serves this socket (is tether already running?)"));
  }
  if (connect_errno != ECONNREFUSED) {
    return absl::FailedPreconditionError(absl::StrCat("grpc listen ", shown,
                                                      ": cannot tell whether "
                                                      "the socket is in use: ",
                                                      std::strerror(connect_errno)));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grpc listen ", shown, ": cannot remove the stale socket: ", std::strerror(errno)));
  }
  log::Info(kLog, "removed stale socket", {{"path", path}});
  return absl::OkStatus();
}

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
  for (const ListenAddress& a : options.listen) {
    if (a.kind != ListenAddress::Kind::kUnix) continue;
    if (absl::Status st = PrepareUnixPath(a.path); !st.ok()) return st;
  }

  server->health_ = std::make_unique<HealthSwitch>();
  ConfigServiceOptions config_options;
  if (options.max_chunk_bytes > 0) config_options.max_chunk_bytes = options.max_chunk_bytes;
  config_options.update_cache_bytes = options.update_cache_bytes;
  config_options.max_subscribers = options.max_subscribers;
  server->config_service_ = std::make_unique<ConfigService>(store, status, config_options);
  StatusContext context;
  context.ping_interval = options.ping_interval;
  context.control_plane_url = options.control_plane_url;
  server->status_service_ = std::make_unique<StatusService>(
      status, std::move(context),
      [health = server->health_.get()](const status::Readiness& r) { health->Set(r.ready); });

  // A process-wide switch that the builder reads.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(options.reflection));
  std::vector<int> ports(options.listen.size(), 0);
  std::vector<std::string> uris;
  for (size_t i = 0; i < options.listen.size(); ++i) {
    uris.push_back(ListenUri(options.listen[i]));
    builder.AddListeningPort(uris.back(), grpc::InsecureServerCredentials(), &ports[i]);
  }
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
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", absl::StrJoin(uris, ", "), " (see grpc's log above)"));
  }
  for (size_t i = 0; i < options.listen.size(); ++i) {
    const ListenAddress& a = options.listen[i];
    if (ports[i] == 0) {
      server->Shutdown(absl::ZeroDuration());
      return absl::UnavailableError(absl::StrCat("cannot listen on ", uris[i]));
    }
    if (a.kind == ListenAddress::Kind::kUnix) {
      server->unix_paths_.push_back(a.path);
      server->addresses_.push_back(uris[i]);
      if (::chmod(a.path.c_str(), kSocketMode) != 0) {
        const std::string err = std::strerror(errno);
        server->Shutdown(absl::ZeroDuration());
        return absl::UnavailableError(absl::StrCat("grpc listen ", uris[i], ": chmod: ", err));
      }
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
  if (server_) {
    // Waits for every call to end; cancels the rest at the deadline (a stuck client's last write
    // never completes on its own).
    server_->Shutdown(absl::ToChronoTime(deadline));
  }
  if (config_service_) config_service_->Stop();
  clean_shutdown_ = absl::Now() <= deadline;
  for (const std::string& path : unix_paths_) {
    // gRPC may already have removed it.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      log::Warn(kLog, "cannot remove socket", {{"path", path}, {"err", std::strerror(errno)}});
    }
  }
  if (server_) log::Info(kLog, "grpc api stopped", {{"clean", clean_shutdown_ ? "true" : "false"}});
  return clean_shutdown_;
}

}  // namespace tether::api
