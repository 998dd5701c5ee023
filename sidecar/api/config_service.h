// ConfigService: tether.v1.ConfigService. Watch streams the config to subscribers (full, delta,
// filtered by entity type, resumable, acked); GetConfig sends one full update and ends.
//
// Why this shape (after gRPC's health WatchReactor and Envoy's delta xDS):
//  1. One reactor per stream, no thread per stream. Responses use the generated raw methods, so
//     the serialised chunks of an Update (update_builder.h) are written as they are and shared by
//     every subscriber sending the same update: fan-out does not cost subscribers x config size.
//  2. Updates are built (their rows laid out in chunks) on the service's own fan-out worker
//     thread, never on a gRPC callback thread or the decode thread, and cached (UpdateCache) by
//     (base, target, filter). A chunk's bytes are written when the first stream takes it, so
//     that a large update is never whole in memory.
//  3. A slow or stuck subscriber holds back nobody: each stream has at most one update in flight
//     and one pending target snapshot; a newer snapshot replaces the pending one, and in DELTA
//     mode the next delta is computed from the last snapshot fully sent to that stream.
//  4. A subscriber is woken only when the entity types it asked for changed.
//
// Subscribe rules: the first request must be `subscribe` (else INVALID_ARGUMENT). The current
// snapshot is then sent in full, unless resume_hash names it (nothing until the next change) or,
// in DELTA mode, names a snapshot the store still holds (SnapshotStore::Find; the delta from it).
// Acks and nacks are recorded in the StatusBoard. A client that half-closes ends the stream (OK
// once subscribed): it can no longer ack.
//
// The parts: request_validation.h (the request rules), subscriber_cursor.h (where each stream
// stands: sent, pending, in flight), watch_reactor.h (a Watch stream on gRPC), config_fanout.h
// (the worker, the stream registry and the cache); GetConfig's reactor is in the .cc.
//
// Lifecycle: constructed and registered with a grpc::ServerBuilder by api::Server. BeginShutdown
// ends every stream with UNAVAILABLE "tether is shutting down" and refuses new ones; Stop, after
// the gRPC server has shut down, joins the worker. The destructor calls both.
//
// Threading: thread-safe. Reactions run on gRPC's callback threads and never wait for I/O: they
// take a stream's own mutex or the worker's queue mutex briefly, and the first stream to take a
// chunk writes it (a copy of at most the chunk budget; others taking it meanwhile wait for it).
// The store observer only flags the worker. The worker thread owns the update cache.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <limits>
#include <memory>

#include "sidecar/api/unix_listener.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/api/update_cache.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/status/status_board.h"
#include "tether/v1/config.grpc.pb.h"

namespace tether::api {

class ConfigFanout;

struct ConfigServiceOptions {
  size_t max_chunk_bytes = kDefaultMaxChunkBytes;
  size_t update_cache_bytes = kDefaultUpdateCacheBytes;
  // Watch streams beyond this are refused with RESOURCE_EXHAUSTED (api::Server passes
  // --grpc-max-subscribers).
  size_t max_subscribers = std::numeric_limits<size_t>::max();
  // Names the unix clients in status (api::Server's listeners fill it); null: gRPC's peer as is.
  const UnixPeerNames* peer_names = nullptr;
};

class ConfigService final
    : public v1::ConfigService::WithRawCallbackMethod_Watch<
          v1::ConfigService::WithRawCallbackMethod_GetConfig<v1::ConfigService::Service>> {
 public:
  // Observes `store` from now on; `store` and `status` must outlive the service.
  ConfigService(config::SnapshotStore& store, status::StatusBoard& status,
                ConfigServiceOptions options);
  ~ConfigService() override;

  ConfigService(const ConfigService&) = delete;
  ConfigService& operator=(const ConfigService&) = delete;

  // Ends every stream with UNAVAILABLE and finishes new ones at once. Idempotent; any thread.
  void BeginShutdown();
  // BeginShutdown, then joins the fan-out worker. Call after grpc::Server::Shutdown returned.
  // Idempotent.
  void Stop();

  // The update cache's counters, as of the last update handed to a stream.
  UpdateCache::Stats StatsForTest() const;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Watch(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* GetConfig(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;

 private:
  // Reactors point to it raw: gRPC ends them all (OnDone) before its Shutdown returns, which is
  // before the service goes away.
  std::unique_ptr<ConfigFanout> fanout_;
  const UnixPeerNames* const peer_names_;
  // Dropped first: no publish reaches fanout_ once it goes.
  config::SnapshotStore::Observers::Handle publish_observer_;
};

}  // namespace tether::api
