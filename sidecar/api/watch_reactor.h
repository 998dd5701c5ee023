// WatchReactor: one tether.v1.ConfigService/Watch stream, as a gRPC callback reactor. It reads
// the client's requests (subscribe, then acks and nacks), writes the updates the fan-out worker
// builds for it, and records the subscriber in the StatusBoard.
//
// Why thin: where the stream stands (sent, pending, in flight) is the SubscriberCursor's, and
// the request rules are request_validation's; this class only connects them to gRPC's callbacks
// and to the ConfigFanout. Responses are raw ByteBuffers, the serialised chunks of an Update
// shared with every other stream sending it (ChunkReader).
//
// Threading: thread-safe. mu_ guards finishing, the cursor and the chunk being written. Reactions
// run on gRPC threads; Initialise, Offer, TakePending, StartUpdate and FinishInternal on the
// fan-out worker. No StatusBoard call is made under mu_.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sidecar/api/config_fanout.h"
#include "sidecar/api/log_throttle.h"
#include "sidecar/api/subscriber_cursor.h"
#include "sidecar/common/mutex.h"
#include "tether/v1/config.pb.h"

namespace tether::api {

// A subscriber that keeps NACKing gets a warn line for its first NACK, then at most one per this.
inline constexpr absl::Duration kNackLogInterval = absl::Seconds(10);

class WatchReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                           public Stream,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  WatchReactor(ConfigFanout* fanout, std::string peer) : fanout_(fanout), peer_(std::move(peer)) {}

  // Starts reading, or finishes at once with `admitted`'s code and message when the fan-out
  // refused the stream (shutting down, too many subscribers).
  void Start(const absl::Status& admitted);
  void FinishForShutdown() override;

  // Worker: SubscriberCursor's, under mu_; StartUpdate also writes the first chunk.
  bool Initialise();
  bool Offer(const config::SnapshotPtr& target);
  std::optional<SubscriberCursor::Plan> TakePending();
  void StartUpdate(config::SnapshotPtr target, UpdatePtr update);
  // Worker: the build failed; the stream cannot continue consistently.
  void FinishInternal(absl::string_view what);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Read path only (no read is in flight while these run). Return the status to finish with,
  // or OK to carry on.
  grpc::Status Handle(const v1::WatchRequest& request);
  grpc::Status Subscribe(const v1::Subscribe& subscribe);

  void WriteChunkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ConfigFanout* const fanout_;
  const std::string peer_;
  grpc::ByteBuffer request_;                // read path only
  LogThrottle nack_log_{kNackLogInterval};  // read path only

  // Written once by Subscribe (read path) before the worker learns of the stream; read by the
  // read path, the write path and OnDone, which come after.
  std::string client_id_;
  status::SubscriberId id_ = 0;

  Mutex mu_;
  SubscriberCursor cursor_ ABSL_GUARDED_BY(mu_);  // closed once the stream is finished
  // The chunk being written, held until its write is done; null between updates, so that an idle
  // stream holds no chunk.
  ChunkPtr chunk_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether::api
