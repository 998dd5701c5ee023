#include "sidecar/app/app.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/log.h"
#include "sidecar/cp/basic_info.h"
#include "sidecar/settings/flags.h"

namespace tether::app {
namespace {

cp::SessionOptions SessionOptionsFrom(const settings::Settings& s) {
  cp::SessionOptions o;
  o.host = s.control_plane.host;
  o.port = s.control_plane.port;
  o.tls.mode = s.mtls == settings::MtlsMode::kShared ? cp::MtlsMode::kShared : cp::MtlsMode::kPki;
  o.tls.cert_path = s.cert_path;
  o.tls.key_path = s.key_path;
  o.tls.ca_cert_path = s.ca_cert_path.value_or("");
  o.tls.server_name = s.server_name.value_or("");
  o.node_id = s.node_id;
  o.node_hostname = s.node_hostname;
  o.node_version = s.node_version;
  std::vector<cp::PluginInfo> plugins;
  plugins.reserve(s.plugins.size());
  for (const settings::Plugin& p : s.plugins) plugins.push_back({p.name, p.version});
  o.basic_info = cp::BuildBasicInfo(std::move(plugins), s.labels);
  o.max_payload_bytes = static_cast<size_t>(s.max_payload_bytes);
  o.connect_timeout = s.connect_timeout;
  o.ping_interval = s.ping_interval;
  o.ping_timeout = s.ping_timeout;
  o.backoff.min = s.backoff_min;
  o.backoff.max = s.backoff_max;
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
  o.ping_interval = s.ping_interval;
  o.control_plane_url = std::move(control_plane_url);
  return o;
}

}  // namespace

App::App() : io_(std::make_unique<net::io_context>(1)) {}

App::~App() { Stop(absl::Seconds(5)); }

absl::StatusOr<std::unique_ptr<App>> App::Create(const settings::Settings& settings) {
  std::unique_ptr<App> app(new App());
  config::DecodeLimits limits;
  limits.max_inflated_bytes = static_cast<size_t>(settings.max_inflated_bytes);
  app->applier_ = std::make_unique<ConfigApplier>(limits, app->store_, app->status_);

  cp::SessionCallbacks callbacks;
  ConfigApplier* applier = app->applier_.get();
  status::StatusBoard* status = &app->status_;
  callbacks.on_frame = [applier](cp::Frame frame) { return applier->Apply(std::move(frame)); };
  callbacks.on_frame_refused = [applier](const absl::Status& s) { applier->Refused(s); };
  callbacks.on_change = [status](const cp::ConnectionInfo& info) { status->SetConnection(info); };
  absl::StatusOr<std::unique_ptr<cp::Session>> session =
      cp::Session::Create(*app->io_, SessionOptionsFrom(settings), std::move(callbacks));
  if (!session.ok()) return session.status();
  app->session_ = *std::move(session);

  app->status_.SetNode(status::NodeInfo{settings.node_id, settings.node_hostname,
                                        settings.node_version, settings.labels,
                                        std::string(settings::TetherVersion())});
  absl::StatusOr<std::unique_ptr<api::Server>> grpc = api::Server::Create(
      GrpcOptionsFrom(settings, app->session_->Url()), app->store_, app->status_);
  if (!grpc.ok()) return grpc.status();
  app->grpc_ = *std::move(grpc);
  log::Info("app", "tether configured",
            {{"control_plane", app->session_->Url()},
             {"mtls", settings.mtls == settings::MtlsMode::kShared ? "shared" : "pki"},
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
  bool clean = true;
  // Streams first: proxies learn tether is going away while it still holds the config.
  if (grpc_) clean = grpc_->Shutdown(timeout / 2);
  if (session_) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    clean = session_->Stop(left) && clean;
  }
  io_->stop();
  if (io_thread_.joinable()) io_thread_.join();
  return clean && absl::Now() <= deadline;
}

}  // namespace tether::app
