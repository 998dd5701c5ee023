// ConfigWatcher: what a proxy links to follow tether's config. It keeps one Watch stream open,
// assembles its chunks into immutable Mirrors (mirror.h), acknowledges every update, and survives
// sidecar restarts by reconnecting with backoff and resuming with the hash it holds, so a restart
// that changed nothing costs no resend. The one-shot calls tools need are in client.h.
//
// Example (a proxy):
//   client::WatcherOptions options;
//   options.client_id = "my-proxy@" + pod_name;
//   options.mode = client::Mode::kDelta;
//   client::WatcherCallbacks callbacks;
//   callbacks.on_update = [&](const client::MirrorPtr& mirror, const client::UpdateInfo&) {
//     return proxy.Apply(*mirror);  // OK acks, an error nacks
//   };
//   callbacks.on_error = [](const absl::Status& error, absl::Duration retry_in) { ... };
//   absl::StatusOr<std::unique_ptr<client::ConfigWatcher>> watcher =
//       client::ConfigWatcher::Create(std::move(options), std::move(callbacks));
//
// Threading: thread-safe (see the class). It never runs user code on gRPC's threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/lib/channel.h"
#include "client/lib/mirror.h"

namespace tether::client {

// How updates after the first arrive (tether.v1.Mode). Either way on_update gets a whole mirror.
enum class Mode {
  // Every update is a full snapshot of the subscribed types.
  kFull,
  // Updates after the first carry only what changed; the watcher applies them to its mirror.
  kDelta,
};

struct WatcherOptions {
  // A gRPC target: "unix:///path/tether.sock", or "host:PORT" for TCP (with `tls` unless tether
  // serves plaintext on loopback).
  std::string target = std::string(kDefaultTarget);
  // Mutual TLS to tether's TCP listeners (--grpc-tls-cert); none: plaintext.
  std::optional<TlsOptions> tls;
  // Names this client in tether's status and logs, e.g. "envoy-filter@pod-1". Required.
  std::string client_id;
  // Entity types to receive ("services", "routes", ...); empty means all.
  std::vector<std::string> entity_types;
  Mode mode = Mode::kFull;
  // Delay before reconnecting after the stream ended: uniform in [d/2, d] where d starts at
  // backoff_min and doubles on each consecutive failure up to backoff_max. A stream that
  // delivered an update resets it. Invariant: 0 < backoff_min <= backoff_max.
  absl::Duration backoff_min = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(10);
  // A mirror the proxy kept from an earlier run (optional). The first subscribe resumes from it:
  // no resend when tether still holds that config, a delta in kDelta mode when tether still holds
  // it in its history, a full update otherwise.
  MirrorPtr resume_from;
};

// What one update changed, as tether sent it.
struct UpdateInfo {
  // True: the update replaced the mirror. False: a delta applied to the mirror at base_hash.
  bool full = true;
  std::string base_hash;  // empty for full updates
  size_t upserts = 0;
  size_t removals = 0;
  size_t chunks = 0;
};

struct WatcherCallbacks {
  // Required. A new mirror, after each complete update, in stream order. Return OK once the proxy
  // applied it (the watcher acks), or an error when it could not (the watcher nacks with the
  // error's message; tether shows it in its status). Either way the mirror stays the watcher's
  // state: the next update is relative to it.
  //
  // While on_update runs the watcher reads no further updates, so tether coalesces the changes
  // made meanwhile into the next one (a slow proxy skips intermediate configs, never queues them).
  std::function<absl::Status(const MirrorPtr& mirror, const UpdateInfo& info)> on_update;
  // Optional. The stream failed (tether unreachable, restarted, or sent an update that could not
  // be assembled); the watcher starts the next one by itself after `retry_in`. Codes follow the
  // gRPC status (Unavailable for connection failures); InvalidArgument for an inconsistent update,
  // which the watcher nacks before resubscribing for a full update. Messages name the call
  // ("watch: ..."), not the target.
  std::function<void(const absl::Status& error, absl::Duration retry_in)> on_error;
};

// Subscribes to tether's config and keeps the subscription up until Stop. Owned by the proxy.
//
// Threading: thread-safe. Create, Stop, mirror() and the destructor may be called from any
// thread. The watcher owns two threads: its sequence, on which every callback runs, one at a time,
// and its completion-queue thread, which blocks in the queue's Next(), assembles chunks, writes
// acks and nacks, and hands complete updates over. No user code runs on gRPC's own threads.
//
// Why a completion queue rather than gRPC's callback API (ClientBidiReactor): with gRPC 1.51 on
// Linux the callback API's reactions run on a few shared "nexting" threads (two on up to five
// cores) that wait at most 1 s for an event and, after an idle second, sleep 100 ms without
// polling, so an update tether wrote could sit unread in the socket for up to 100 ms
// (BENCHMARKS.md, "The small preset's p99"). The completion-queue thread never stops polling, and
// other users of the callback API in the process cannot hold the watcher up.
//
// Lifecycle: Create connects in the background and returns at once; callbacks start on the
// watcher's thread. Stop (also run by the destructor) is idempotent and returns once the stream
// has ended (its Finish completed), no callback is running and both threads are done. Stop may be
// called from a callback: it then returns without waiting, and no further callback starts; the
// destructor may run inside a callback too.
class ConfigWatcher {
 public:
  // InvalidArgument for bad options (empty target or client_id, no on_update, bad backoff,
  // unreadable TLS files).
  static absl::StatusOr<std::unique_ptr<ConfigWatcher>> Create(WatcherOptions options,
                                                               WatcherCallbacks callbacks);
  ~ConfigWatcher();

  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  void Stop();

  // The mirror last passed to on_update (resume_from, or an empty mirror, before the first).
  // Never null.
  MirrorPtr mirror() const;

  // Internal; named here so that the stream in config_watcher.cc can report to it.
  class Impl;

 private:
  ConfigWatcher(std::shared_ptr<Impl> impl, std::thread thread);

  // Shared with the watcher's thread, which may outlive this object when it is destroyed from a
  // callback.
  const std::shared_ptr<Impl> impl_;
  absl::Mutex join_mu_;
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace tether::client
