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
  absl::Time last_seen;       // any frame or bytes from the CP count as life (§4.1)
  absl::Time last_ping_sent;  // for the round-trip time of the next pong
};

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
