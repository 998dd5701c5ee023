#include "sidecar/api/status_proto.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/api/proto_convert.h"

namespace tether::api {
namespace {

// proto_convert.h's overloads beside this file's own ToProto.
using api::ToProto;

// Connected this many ping intervals without a config: the CP is likely withholding it (§3.4).
constexpr int kWithholdIntervals = 2;

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(d / absl::Nanoseconds(1)));
}

v1::ConnectionState ToProto(status::ConnectionState state) {
  switch (state) {
    case status::ConnectionState::kConnecting:
      return v1::CONNECTION_STATE_CONNECTING;
    case status::ConnectionState::kConnected:
      return v1::CONNECTION_STATE_CONNECTED;
    case status::ConnectionState::kDisconnected:
      return v1::CONNECTION_STATE_DISCONNECTED;
    case status::ConnectionState::kStopped:
      return v1::CONNECTION_STATE_STOPPED;
  }
  return v1::CONNECTION_STATE_UNSPECIFIED;
}

void FillControlPlane(const status::ConnectionInfo& c, const StatusContext& context, absl::Time now,
                      v1::ControlPlaneStatus* out) {
  out->set_address(c.address);
  out->set_state(ToProto(c.state));
  if (c.state == status::ConnectionState::kConnected && IsSet(c.connected_since)) {
    SetTimestamp(c.connected_since, out->mutable_connected_since());
  }
  if (IsSet(c.last_pong_at)) SetTimestamp(c.last_pong_at, out->mutable_last_pong_at());
  if (c.last_ping_rtt > absl::ZeroDuration()) SetDuration(c.last_ping_rtt, out->mutable_ping_rtt());
  out->set_reconnect_count(c.reconnects);
  out->set_last_error(std::string(c.last_error.message()));
  out->set_hint(ConnectionHint(c, context.ping_interval, now));
  out->set_peer(c.peer);
  out->set_attempts(c.attempts);
  if (c.state == status::ConnectionState::kDisconnected) {
    SetDuration(c.retry_in, out->mutable_retry_in());
  }
  out->set_frames_received(c.frames_received);
  out->set_url(context.control_plane_url);
  if (IsSet(c.cert_not_after)) SetTimestamp(c.cert_not_after, out->mutable_cert_not_after());
  out->set_cert_subject(c.cert_subject);
  out->set_cert_rotations(c.cert_rotations);
  out->set_cert_error(std::string(c.cert_error.message()));
  if (c.last_cause != status::FailureCause::kNone) {
    out->set_last_error_cause(std::string(status::FailureCauseName(c.last_cause)));
  }
  out->set_node_version(c.node_version);
}

void FillConfig(const status::ConfigRecord& record, v1::ConfigStatus* out) {
  out->set_rejection_count(record.rejections);
  out->set_reported_hash(record.reported_hash);
  out->set_reported_because(record.reported_because);
  out->set_apply_count(record.applies);
  out->set_same_hash_count(record.same_hash);
  if (record.last_rejection) {
    v1::Rejection* rejection = out->mutable_last_rejection();
    rejection->set_config_hash(record.last_rejection->config_hash);
    rejection->set_reason(record.last_rejection->reason);
    if (IsSet(record.last_rejection->at)) {
      SetTimestamp(record.last_rejection->at, rejection->mutable_at());
    }
  }
  const config::SnapshotPtr& s = record.current;
  if (s == nullptr) {
    out->set_hash(std::string(protocol::kEmptyConfigHash));
    return;
  }
  out->set_hash(s->config_hash);
  for (const auto& [key, hash] : s->hashes) (*out->mutable_hashes())[key] = hash;
  out->set_source(ToProto(s->source));
  if (IsSet(s->received_at)) SetTimestamp(s->received_at, out->mutable_received_at());
  if (IsSet(record.applied_at)) SetTimestamp(record.applied_at, out->mutable_applied_at());
  if (s->cp_timestamp.has_value() && std::isfinite(*s->cp_timestamp)) {
    SetTimestamp(absl::FromUnixMicros(static_cast<int64_t>(*s->cp_timestamp * 1e6)),
                 out->mutable_cp_timestamp());
  }
  for (const auto& [type, collection] : s->types) {
    (*out->mutable_entity_counts())[type] = collection->items.size();
  }
  out->set_compressed_bytes(s->compressed_bytes);
  out->set_decoded_bytes(s->decoded_bytes);
  SetDuration(s->decode_duration, out->mutable_decode_duration());
}

void FillNode(const status::NodeInfo& node, const status::ConnectionInfo& connection,
              v1::NodeStatus* out) {
  out->set_node_id(node.node_id);
  out->set_hostname(node.hostname);
  // The session knows the version in use; the node's is the flag's ("auto").
  out->set_version(connection.node_version.empty() ? node.version : connection.node_version);
  out->set_version_source(connection.node_version_source);
  for (const auto& [key, value] : node.labels) (*out->mutable_labels())[key] = value;
  out->set_tether_version(node.tether_version);
}

void FillSubscriber(const status::SubscriberRecord& r, v1::SubscriberStatus* out) {
  out->set_client_id(r.client_id);
  out->set_peer(r.peer);
  for (const std::string& type : r.entity_types) out->add_entity_types(type);
  out->set_mode(r.mode == status::SubscriberMode::kDelta ? v1::MODE_DELTA : v1::MODE_FULL);
  out->set_last_sent_hash(r.last_sent_hash);
  out->set_acked_hash(r.acked_hash);
  out->set_nacked_hash(r.nacked_hash);
  out->set_nack_error(r.nack_error);
  if (IsSet(r.connected_since)) SetTimestamp(r.connected_since, out->mutable_connected_since());
  out->set_updates_sent(r.updates_sent);
}

}  // namespace

std::string ConnectionHint(const status::ConnectionInfo& c, absl::Duration ping_interval,
                           absl::Time now) {
  switch (c.state) {
    case status::ConnectionState::kStopped:
      return "";
    case status::ConnectionState::kConnected:
      if (!c.config_received && IsSet(c.connected_since) &&
          now - c.connected_since >= kWithholdIntervals * ping_interval) {
        return "connected but no config: the control plane may be withholding config because a "
               "configured plugin is missing from --plugins (or it has no config to send yet)";
      }
      return "";
    case status::ConnectionState::kConnecting:
    case status::ConnectionState::kDisconnected:
      break;
  }
  // Why the last connection or attempt ended.
  switch (c.last_cause) {
    case status::FailureCause::kServerUntrusted:
      return "tether does not trust the control plane's certificate: with --cluster-mtls shared, "
             "--cluster-cert must be the control plane's own cluster certificate; with pki, "
             "--cluster-ca-cert must have issued it and --cluster-server-name must match it";
    case status::FailureCause::kClientCertRefused:
      return "the control plane refused tether's client certificate: with --cluster-mtls pki it "
             "must be issued by the CA the control plane trusts (cluster_ca_cert); with shared it "
             "must be the control plane's own cluster certificate";
    case status::FailureCause::kRefused:
      return absl::StrCat("nothing listens at ", c.address,
                          ": check --cluster-control-plane (the control plane's cluster listener, "
                          "port 8005 by default) and that the control plane runs");
    case status::FailureCause::kDns:
      return absl::StrCat("cannot resolve ", c.address, ": check --cluster-control-plane and DNS");
    case status::FailureCause::kNoPong:
      return "the control plane stopped answering pings: a network problem between tether and "
             "the control plane, or an overloaded control plane";
    case status::FailureCause::kFrameTooSlow:
      return "a config from the control plane arrived too slowly (under 64 KiB/s after "
             "--ping-timeout): a congested or throttled link, or a middlebox holding the "
             "connection open; the current config stays until one arrives in time";
    case status::FailureCause::kTimeout:
      return absl::StrCat(c.address,
                          " does not complete a connection in time (--connect-timeout): a "
                          "firewall dropping packets, or an address that is not the control "
                          "plane's cluster listener");
    case status::FailureCause::kUpgradeRefused:
      return "the control plane ended the websocket upgrade: with --cluster-mtls shared it does "
             "this when --cluster-cert is not its own cluster certificate; check also that "
             "--cluster-control-plane is its cluster listener";
    case status::FailureCause::kCpBusy:
      return "the control plane is busy (http 429 or 503): tether waits at least as long as its "
             "Retry-After asks before the next attempt";
    case status::FailureCause::kEndedAfterBasicInfo:
      // Kong's CP closes at once when the node's major differs or its minor is newer (§2).
      if (c.node_version_source == "negotiating") {
        return absl::StrCat(
            "finding the control plane's Kong version (--node-version=auto): it "
            "refused ",
            c.node_version, ", a lower minor is tried next");
      }
      return absl::StrCat(
          "the control plane closed the connection right after basic_info: it may refuse this "
          "node's Kong version (tether advertised ",
          c.node_version.empty() ? "none" : c.node_version,
          "; Kong accepts its own major and at most its own minor): set --node-version to the "
          "control plane's version or an older minor of the same major, or to auto");
    case status::FailureCause::kNone:
    case status::FailureCause::kUnreachable:
    case status::FailureCause::kCredentials:
    case status::FailureCause::kTls:
    case status::FailureCause::kProxy:
    case status::FailureCause::kClosedByCp:
    case status::FailureCause::kConnectionLost:
    case status::FailureCause::kRotation:
    case status::FailureCause::kVersionProbe:
    case status::FailureCause::kInternal:
      break;
  }
  return "";
}

v1::Status ToProto(const status::StatusView& view, const StatusContext& context, absl::Time now) {
  v1::Status out;
  FillControlPlane(view.connection, context, now, out.mutable_control_plane());
  FillConfig(view.config, out.mutable_config());
  FillNode(view.node, view.connection, out.mutable_node());
  for (const auto& [id, subscriber] : view.subscribers) {
    FillSubscriber(subscriber, out.add_subscribers());
  }
  return out;
}

}  // namespace tether::api
