// Connection: one attempt to reach the CP and, once the handshake is done, the live websocket;
// Ending: why it ended, as a typed cause and a message for people. Internal to cp/.
//
// Why a phase rather than flags: an attempt moves one way only - connecting, open, closing (a
// close frame is on its way), ended - and every coroutine working on it asks "where are we?".
// One enum answers that; a set of booleans could also say "closing but never open".
//
// Threading: every field and method on the session strand only (the coroutines that share a
// Connection all run there).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/asio.h"
#include "sidecar/cp/session.h"
#include "sidecar/cp/transport_stream.h"
#include "sidecar/status/connection.h"

namespace tether::cp {

struct Ending {
  status::FailureCause cause = status::FailureCause::kNone;
  absl::Status error;  // ok only for Ok(); a stop has kNone and a Cancelled error
  // A 429 or 503 upgrade answer's Retry-After, when it had a usable one.
  std::optional<absl::Duration> retry_after;

  bool ok() const { return error.ok(); }
  static Ending Ok() { return {}; }
};

// The failed step's name and the error, like Beast's examples' fail(): "read: end of stream".
Ending StepFailed(status::FailureCause cause, absl::string_view step, const beast::error_code& ec);

struct Connection {
  using Strand = net::strand<net::io_context::executor_type>;
  using WsStream = websocket::stream<beast::ssl_stream<TransportStream>>;
  enum class Phase { kConnecting, kOpen, kClosing, kEnded };

  Connection(const Strand& strand, ssl::context tls)
      : tls_context(std::move(tls)),
        resolver(strand),
        ws(strand, tls_context),
        watchdog(strand),
        ping_timer(strand),
        done_timer(strand) {}

  // Ends the connection once: keeps the first reason and closes everything, so that every
  // pending operation completes.
  void End(Ending why);
  bool ended() const { return phase == Phase::kEnded; }
  // Handshake done and basic_info sent, now or before it ended.
  bool established() const { return connected_at != absl::InfinitePast(); }

  ssl::context tls_context;  // before ws, which keeps a reference to it
  // An https proxy's, set while opening the tunnel; before ws, whose transport refers to it.
  std::optional<ssl::context> proxy_tls;
  net::ip::tcp::resolver resolver;
  WsStream ws;
  Timer watchdog;    // bounds resolve, connect and both handshakes
  Timer ping_timer;  // the pinger sleeps here; cancelled to wake it early
  Timer done_timer;  // the session waits here for the tasks to finish

  Phase phase = Phase::kConnecting;
  absl::string_view step = "resolve";  // the connect step under way, for the watchdog's error
  Ending close_reason;                 // kClosing: what the connection ends with
  Ending end_reason;                   // kEnded
  bool ping_now = false;               // a config was applied: ping at once
  // Anything from the CP after basic_info (a frame or a pong): Kong refuses a node version by
  // closing before sending anything, so this tells a refusal from a connection lost later.
  bool heard_from_cp = false;
  int tasks = 0;
  std::string peer;  // ip:port connected to (the proxy's, through a proxy)
  absl::Time connected_at = absl::InfinitePast();
  absl::Time last_ping_sent;  // for the round-trip time of the next pong

  // Liveness (§4.1). A pong or a complete message is life. Bytes of a message still arriving
  // are not: a CP (or middlebox) dripping them would otherwise keep a stale connection up
  // forever. Instead a message, once its first bytes are here, must complete by its deadline
  // (MessageAllowance) and must not stall for ping_timeout on the way.
  //
  // A pong sets last_seen; it does not end a message's deadline (a peer could otherwise slip
  // pongs between the fragments of a dripped message). Nothing here ever moves AliveUntil
  // earlier, so the pinger, asleep until the earlier value, needs no wake-up: it checks then.
  void NoteMessageDone(absl::Time now) {
    last_seen = now;
    message_deadline = absl::InfiniteFuture();
  }
  // Bytes of a message not yet complete arrived; `announced` is its size as far as its frames
  // tell (what arrived plus the rest of the current frame).
  void NoteMessageBytes(absl::Time now, uint64_t announced, const SessionOptions& options);
  bool receiving() const { return message_deadline != absl::InfiniteFuture(); }
  // Past this, without a pong or a complete message meanwhile, the connection is dead.
  absl::Time AliveUntil(absl::Duration ping_timeout) const;
  // Why the connection is dead at `now` (kNoPong or kFrameTooSlow), or nullopt.
  std::optional<Ending> Overdue(absl::Time now, absl::Duration ping_timeout) const;

  absl::Time last_seen;                                  // the last pong or complete message
  absl::Time message_started;                            // receiving(): its first bytes
  absl::Time message_progress;                           // receiving(): its latest bytes
  absl::Time message_deadline = absl::InfiniteFuture();  // receiving(): complete by then
};

// The slowest a message may arrive, once its first bytes have: a 16 MiB config (the largest
// --cluster-max-payload allows by default) gets 256 s on top of --ping-timeout, which passes any
// link able to run a data plane. Deliberately no flag: --ping-timeout already lengthens it.
inline constexpr uint64_t kMinMessageBytesPerSecond = 64 * 1024;

// How long a message announcing `announced` bytes may take from its first bytes: ping_timeout,
// plus its size at kMinMessageBytesPerSecond. An oversized message (discarded as it arrives)
// gets no more than one of max_payload_bytes, so a huge announced length buys no time.
absl::Duration MessageAllowance(uint64_t announced, const SessionOptions& options);

// What one attempt advertises: the version and the basic_info that goes with it.
struct Advertised {
  std::string node_version;
  std::string basic_info;
};

// Resolve, connect (through the proxy when configured), TLS, websocket upgrade and basic_info, in
// protocol order, all within options.connect_timeout. On success `c` is established (peer and
// connected_at set) and its websocket is configured for the reader and the pinger.
net::awaitable<Ending> Connect(std::shared_ptr<Connection> c, const SessionOptions& options,
                               const Advertised& advertised);

// Why an established connection's read or write failed: refused by the CP right after basic_info
// when it had sent nothing yet, otherwise closed or lost.
Ending EndingOf(const Connection& c, absl::string_view step, const beast::error_code& ec);

}  // namespace tether::cp
