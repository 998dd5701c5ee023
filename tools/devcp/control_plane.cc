// ControlPlane's public face: option checks, and each method handed to the io thread of
// ControlPlane::Impl (server.h). The sockets are in server.cc, dp_session.cc and dp_upgrade.cc.
#include "tools/devcp/control_plane.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protocol/gzip.h"
#include "protocol/reconfigure.h"
#include "sidecar/common/log.h"
#include "tools/devcp/io_helpers.h"
#include "tools/devcp/rules.h"
#include "tools/devcp/server.h"

namespace tether::devcp {

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlPlane::~ControlPlane() { Stop(); }

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(Options options) {
  if (options.cert_path.empty() || options.key_path.empty()) {
    return absl::InvalidArgumentError("a certificate and a key are required");
  }
  if (options.mtls == MtlsMode::kPki && options.ca_cert_path.empty()) {
    return absl::InvalidArgumentError("pki mode requires a CA certificate");
  }
  if (!ParseKongVersion(options.version).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("version \"", options.version, "\" is not a Kong version (x.y.z)"));
  }
  if (options.ping_wait <= absl::ZeroDuration() ||
      options.handshake_timeout <= absl::ZeroDuration() ||
      options.basic_info_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ping_wait, handshake_timeout and basic_info_timeout must be positive");
  }
  if (options.max_payload_bytes == 0) {
    return absl::InvalidArgumentError("max_payload_bytes must be positive");
  }
  absl::StatusOr<std::unique_ptr<Impl>> impl = Impl::Start(std::move(options));
  if (!impl.ok()) return impl.status();
  return std::unique_ptr<ControlPlane>(new ControlPlane(*std::move(impl)));
}

uint16_t ControlPlane::port() const { return impl_->port(); }

void ControlPlane::Stop() { impl_->Stop(); }

absl::StatusOr<std::string> ControlPlane::SetConfig(absl::string_view config_table_json) {
  absl::StatusOr<protocol::Reconfigure> message =
      protocol::BuildReconfigure(config_table_json, absl::Now());
  if (!message.ok()) return message.status();
  auto frame = std::make_shared<Outgoing>();
  frame->kind = Outgoing::Kind::kConfig;
  frame->bytes = protocol::Gzip(message->message_json);
  frame->config_hash = message->config_hash;
  frame->configured_plugins = std::move(message->configured_plugins);
  if (!impl_->RunOnIo([&] { impl_->SetConfig(frame); })) {
    return absl::FailedPreconditionError("control plane is stopped");
  }
  log::Info(kComponent, "config set",
            {{"config_hash", frame->config_hash},
             {"json_bytes", message->message_json.size()},
             {"gzip_bytes", frame->bytes.size()}});
  return frame->config_hash;
}

void ControlPlane::PushMessage(absl::string_view message_json) {
  auto frame = std::make_shared<Outgoing>();
  frame->bytes = protocol::Gzip(message_json);
  impl_->RunOnIo([&] { impl_->Broadcast(frame); });
}

void ControlPlane::PushRawFrame(std::string bytes) {
  PushRawFrameSlowly(std::move(bytes), absl::ZeroDuration());
}

void ControlPlane::PushRawFrameSlowly(std::string bytes, absl::Duration per_byte) {
  auto frame = std::make_shared<Outgoing>();
  frame->bytes = std::move(bytes);
  frame->drip = per_byte;
  impl_->RunOnIo([&] { impl_->Broadcast(frame); });
}

void ControlPlane::Freeze() {
  impl_->RunOnIo([&] { impl_->SetFrozen(true); });
}

void ControlPlane::Unfreeze() {
  impl_->RunOnIo([&] { impl_->SetFrozen(false); });
}

void ControlPlane::CloseAll() {
  impl_->RunOnIo([&] { impl_->CloseAll("closed by CloseAll"); });
}

void ControlPlane::DropAll() {
  impl_->RunOnIo([&] { impl_->DropAll("dropped by DropAll"); });
}

std::vector<Event> ControlPlane::Events() const { return impl_->events().Events(); }

std::optional<Event> ControlPlane::WaitForEvent(const EventPredicate& predicate,
                                                absl::Duration timeout) const {
  return impl_->events().WaitFor(predicate, 1, timeout);
}

std::optional<Event> ControlPlane::WaitForEventCount(const EventPredicate& predicate, size_t n,
                                                     absl::Duration timeout) const {
  return impl_->events().WaitFor(predicate, n, timeout);
}

}  // namespace tether::devcp
