// What the control plane (server.cc) knows of a DP connection: the frames it queues to DPs and
// the four things it asks of a session. The Beast implementation is DpSession (dp_session.h),
// so that only the session's own files compile Beast's websocket.
//
// Threading: everything here runs on the CP's io thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sidecar/common/asio.h"
#include "tools/devcp/control_plane.h"

namespace tether::devcp {

// One frame queued to DPs, shared by every connection it goes to. Immutable.
struct Outgoing {
  enum class Kind { kConfig, kRaw };
  Kind kind = Kind::kRaw;
  std::string bytes;
  std::string config_hash;                      // kConfig
  std::vector<std::string> configured_plugins;  // kConfig: what §3.4 gates on
  // kRaw: when set, the payload goes one byte per this after the first (PushRawFrameSlowly).
  absl::Duration drip = absl::ZeroDuration();
};
using OutgoingPtr = std::shared_ptr<const Outgoing>;

// One DP connection, from TCP accept to close. Registered with the CP by StartSession and
// unregistered (ControlPlane::Impl::Unregister) when it ends.
class Session {
 public:
  virtual ~Session() = default;
  // Queues `frame` if the DP is past basic_info, applying the §3.4 gate to configs.
  virtual void Push(const OutgoingPtr& frame) = 0;
  // Ends the connection with an empty close frame (§5); before the upgrade, just closes.
  virtual void Close(std::string reason) = 0;
  // Ends the connection abruptly: the TCP socket is closed with no close frame.
  virtual void Drop(std::string reason) = 0;
  // The CP was frozen: give the DP a full deadline again, and release the gate.
  virtual void Unfreeze() = 0;
};

// Starts serving `socket` (TLS, upgrade, basic_info, then pings and pushes) on the io thread.
std::shared_ptr<Session> StartSession(ControlPlane::Impl& cp, uint64_t connection,
                                      net::ip::tcp::socket socket);

}  // namespace tether::devcp
