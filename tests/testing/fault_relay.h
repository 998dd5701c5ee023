// FaultRelay: a TCP relay on 127.0.0.1 between tether and a control plane that breaks the
// connection on demand, for fault-injection tests.
//
// Why a relay: faults such as a TCP reset, a half-open connection (peer alive at the TCP level
// but silent), a trickling peer or a frame cut off mid-way happen below TLS and websockets, where
// neither tether nor tether-devcp can fake them; a byte pump in between can.
//
// Threading: thread-safe. One pump thread owns the sockets; the controls post to it under mu_.
#pragma once

#include <cstdint>
#include <thread>
#include <vector>

#include "sidecar/common/mutex.h"

namespace tether::testing {

class FaultRelay {
 public:
  enum class Mode {
    kPass,       // forward everything
    kBlackhole,  // read and forward nothing in either direction: TCP stays up, peers hear nothing
    kTrickle,    // forward one byte per direction every 50 ms
  };

  // Listens on an ephemeral loopback port and forwards each connection to 127.0.0.1:upstream.
  explicit FaultRelay(uint16_t upstream_port);
  ~FaultRelay();
  FaultRelay(const FaultRelay&) = delete;
  FaultRelay& operator=(const FaultRelay&) = delete;

  uint16_t port() const { return port_; }

  // Applies to current and future connections.
  void SetMode(Mode mode);
  // Resets every current connection on both sides (RST, no FIN).
  void ResetAll();
  // Lets `bytes` more upstream->downstream bytes through on each current connection, then resets
  // it: the peer sees a frame cut off mid-way.
  void TruncateAfter(size_t bytes);
  // Connections accepted so far.
  int accepted() const;

 private:
  struct Pair;
  void Run();

  uint16_t upstream_port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // self-pipe: wakes the pump when a control changes
  uint16_t port_ = 0;

  mutable Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kPass;
  bool reset_requested_ ABSL_GUARDED_BY(mu_) = false;
  long truncate_after_ ABSL_GUARDED_BY(mu_) = -1;  // -1: no truncation pending
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread pump_;  // last: starts after every other member is ready
};

}  // namespace tether::testing
