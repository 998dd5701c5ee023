// MakeChannel (see channel.h).
#include "client/lib/channel.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tether::client {
namespace {

// gRPC's file watcher would only log an unreadable file and fail each handshake; say it now.
absl::Status CheckReadable(absl::string_view what, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("tls ", what, " is not set"));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls ", what, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const std::optional<TlsOptions>& tls,
                                                           absl::Duration reconnect_min,
                                                           absl::Duration reconnect_max) {
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff starts at 1 s and grows to 120 s: a sidecar that restarts would
  // be found again only after that, whatever our stream-level backoff says.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(reconnect_min)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(reconnect_max)));
  if (!tls.has_value()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  for (const auto& [what, path] :
       {std::pair<absl::string_view, const std::string&>{"certificate", tls->cert_path},
        {"key", tls->key_path},
        {"ca", tls->ca_path}}) {
    if (absl::Status st = CheckReadable(what, path); !st.ok()) return st;
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls->key_path, tls->cert_path, tls->ca_path,
      static_cast<unsigned int>(absl::ToInt64Seconds(kTlsRefreshInterval)));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  if (!tls->server_name.empty()) args.SetSslTargetNameOverride(tls->server_name);
  return grpc::CreateCustomChannel(target, grpc::experimental::TlsCredentials(options), args);
}

}  // namespace tether::client
