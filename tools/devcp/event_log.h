// EventLog: what tether-devcp saw and did, per connection, for tests to await.
//
// Why: tests of a data plane need to know that the CP received a ping, pushed a config or
// closed a connection, without sleeping. The ControlPlane records one Event per step of every
// connection; a test blocks in WaitFor until a matching event exists (or a deadline passes).
//
// Threading: thread-safe; mu_ guards events_ (tether::Mutex, which TSan can see). Record is
// called on the CP's io thread, the readers from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/mutex.h"

namespace tether::devcp {

enum class EventKind {
  // The connection ended before the websocket was up (TLS, HTTP request, certificate digest,
  // query parameters, timeout), or the DP's Kong version was refused after basic_info.
  kHandshakeRejected,
  // The websocket upgrade succeeded (101 sent).
  kConnected,
  // The first data frame arrived; recorded before it is validated.
  kBasicInfo,
  // A valid 32-byte ping arrived (after basic_info).
  kPing,
  // A frame broke the protocol; the CP closes the connection next.
  kInvalidFrame,
  // A reconfigure frame from SetConfig was written to the socket.
  kConfigPushed,
  // A config push was skipped for this DP (§3.4); the connection stays up.
  kConfigWithheld,
  // A PushMessage or PushRawFrame frame was written to the socket.
  kRawPushed,
  // The connection is gone. Exactly one per accepted connection, always its last event.
  kClosed,
};
absl::string_view EventKindName(EventKind kind);

// Who ended a connection (kClosed).
enum class Closer { kNone, kControlPlane, kDataPlane };
absl::string_view CloserName(Closer closer);

struct Event {
  EventKind kind = EventKind::kClosed;
  // 1, 2, ... in accept order; the same for every event of one connection.
  uint64_t connection = 0;
  // When the CP recorded it (for kPing: when the ping was read).
  absl::Time time;
  // The remote address "ip:port"; set on every event.
  std::string peer;
  // kHandshakeRejected: the HTTP status answered (400, 404); 444 (nginx's convention, as Kong's
  // ngx.exit(444)) when the CP closed without any response; 0 when no HTTP exchange was
  // involved (TLS failure, timeout, or the version check after basic_info).
  int http_status = 0;
  // kHandshakeRejected, kInvalidFrame, kClosed: Kong's log message or a short cause.
  // kConfigWithheld and a version rejection: Kong's sync_status value, e.g.
  // "plugin_set_incompatible" or "kong_version_incompatible".
  std::string reason;
  // kConfigWithheld and version rejections: the human message ("configured key-auth plugin is
  // missing from data plane").
  std::string detail;
  // kConnected: the upgrade's query values (empty when absent).
  std::string node_id;
  std::string node_hostname;
  std::string node_version;
  // kConnected: the subject of the client certificate the DP presented ("/CN=...").
  std::string client_subject;
  // kBasicInfo: the frame's raw text. kPing: the ping payload.
  std::string payload;
  // kConfigPushed and kConfigWithheld: the config's hash.
  std::string config_hash;
  // kConfigPushed and kRawPushed: the frame's size on the wire (gzipped).
  size_t frame_bytes = 0;
  // kClosed.
  Closer closed_by = Closer::kNone;
};
std::ostream& operator<<(std::ostream& os, const Event& event);

using EventPredicate = std::function<bool(const Event&)>;
// Matches `kind`, on connection `connection` when that is not 0.
EventPredicate OfKind(EventKind kind, uint64_t connection = 0);

class EventLog {
 public:
  // `max_events` 0 keeps everything; otherwise the oldest events are dropped beyond it (a
  // long-running tether-devcp would otherwise grow by every ping).
  explicit EventLog(size_t max_events = 0) : max_events_(max_events) {}

  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  void Record(Event event);
  std::vector<Event> Events() const;
  // The `nth` (1-based) event in log order that matches `predicate`, waiting up to `timeout`
  // for it to be recorded; nullopt on timeout (or for `nth` 0). Counts only events still kept.
  // `predicate` runs on the calling thread.
  std::optional<Event> WaitFor(const EventPredicate& predicate, size_t nth,
                               absl::Duration timeout) const;

 private:
  // Runs `predicate` on the caller's thread, never inside another thread's Record.
  std::optional<Event> FindLocked(const EventPredicate& predicate, size_t nth) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_events_;
  mutable Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether::devcp
