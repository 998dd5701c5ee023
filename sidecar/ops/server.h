// Server: tether's ops HTTP/1.1 listener (--ops-listen), for the kubelet, Prometheus and
// Kubernetes Jobs:
//   GET  /livez     200 while every watched loop runs a heartbeat within its bound; 503 naming
//                   the loops that did not (a stuck loop must get the container restarted).
//   GET  /readyz    200 while status::ReadinessOf says ready, 503 otherwise; the body is its
//                   one-line reason ("draining: ...", "no config yet: connecting ...").
//   GET  /metrics   Prometheus text format (metrics.h).
//   POST /shutdown  calls on_shutdown, which main turns into the same graceful stop as SIGTERM,
//                   so a Job can end its sidecar. 202. Only with the header "X-Tether-Shutdown: 1",
//                   from peer 127.0.0.1 or ::1, and without Origin or Sec-Fetch-Site (browsers
//                   send those); 403 otherwise.
// Anything else is 404, or 405 for a known path with another method. It may listen on a
// non-loopback address, because kubelet probes arrive on the pod IP; it serves no config.
//
// Why its own io_context and thread: /livez has to tell a stuck loop from a live one, so it
// cannot run on a loop it watches (a blocked CP loop would hang the probe instead of failing it
// with the loop's name), and it must keep answering ("draining") while App::Stop closes the gRPC
// API and the CP session. One thread is plenty for probes and scrapes, and it keeps Beast in this
// one translation unit.
//
// Limits, because the port may be reachable from the pod network: 8 KiB of headers, 4 KiB of
// body, read_timeout for a whole request (from accept or the last answer: a silent or trickling
// client is closed after it) and at most max_connections at once. A connection past the limit
// closes the oldest one still waiting for its request, so idle connections cannot lock the
// kubelet out; only when every connection is busy answering is the new one closed on accept.
//
// Lifecycle: Create binds (Unavailable when it cannot) and starts serving; Stop (idempotent, also
// run by the destructor) closes the listener and abandons the connections in flight.
//
// Threading: thread-safe. Create, address() and Stop may be called from any thread except the
// ops thread. Requests are handled on the ops thread: WatchedLoop::post and on_shutdown run there
// and must not block. `status` must outlive the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/status/status_board.h"

namespace tether::ops {

// An event loop (or worker, see common/worker_heartbeat.h) that /livez checks.
struct WatchedLoop {
  // Names the loop in /livez's answer, e.g. "control-plane-io".
  std::string name;
  // Runs `beat` on the loop. At most one beat per loop is outstanding; one that never runs (the
  // loop stopped) keeps the loop reported as stuck.
  std::function<void(std::function<void()> beat)> post;
  // A beat that has not run this long after it was posted means the loop is stuck.
  absl::Duration timeout = absl::Seconds(2);
};

struct ServerOptions {
  // An IP address (IPv6 without brackets) and a port; 0 picks a free port (see address()).
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::vector<WatchedLoop> loops;
  // POST /shutdown as above; called once. Null: /shutdown answers 503.
  std::function<void()> on_shutdown;
  size_t max_connections = 32;
  // Probes and scrapes send their request at once; see Limits above.
  absl::Duration read_timeout = absl::Seconds(2);
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options,
                                                        const status::StatusBoard& status);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address, "127.0.0.1:8100" or "[::1]:8100", with the chosen port where 0 was asked.
  const std::string& address() const;
  uint16_t port() const;

  void Stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::ops
