#include "tools/devcp/event_log.h"

#include <utility>

#include "absl/strings/escaping.h"

namespace tether::devcp {

absl::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kHandshakeRejected:
      return "handshake_rejected";
    case EventKind::kConnected:
      return "connected";
    case EventKind::kBasicInfo:
      return "basic_info";
    case EventKind::kPing:
      return "ping";
    case EventKind::kInvalidFrame:
      return "invalid_frame";
    case EventKind::kConfigPushed:
      return "config_pushed";
    case EventKind::kConfigWithheld:
      return "config_withheld";
    case EventKind::kRawPushed:
      return "raw_pushed";
    case EventKind::kClosed:
      return "closed";
  }
  return "unknown";
}

absl::string_view CloserName(Closer closer) {
  switch (closer) {
    case Closer::kNone:
      return "none";
    case Closer::kControlPlane:
      return "control_plane";
    case Closer::kDataPlane:
      return "data_plane";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, const Event& event) {
  os << "{" << EventKindName(event.kind) << " connection=" << event.connection;
  if (!event.peer.empty()) os << " peer=" << event.peer;
  if (event.http_status != 0) os << " http_status=" << event.http_status;
  if (!event.reason.empty()) os << " reason=\"" << absl::CHexEscape(event.reason) << "\"";
  if (!event.detail.empty()) os << " detail=\"" << absl::CHexEscape(event.detail) << "\"";
  if (!event.node_id.empty()) os << " node_id=" << event.node_id;
  if (!event.node_hostname.empty()) os << " node_hostname=" << event.node_hostname;
  if (!event.node_version.empty()) os << " node_version=" << event.node_version;
  if (!event.payload.empty()) os << " payload=\"" << absl::CHexEscape(event.payload) << "\"";
  if (!event.config_hash.empty()) os << " config_hash=" << event.config_hash;
  if (event.frame_bytes != 0) os << " frame_bytes=" << event.frame_bytes;
  if (event.closed_by != Closer::kNone) os << " closed_by=" << CloserName(event.closed_by);
  return os << "}";
}

EventPredicate OfKind(EventKind kind, uint64_t connection) {
  return [kind, connection](const Event& event) {
    return event.kind == kind && (connection == 0 || event.connection == connection);
  };
}

void EventLog::Record(Event event) {
  // Unlocking wakes every WaitFor to look again.
  MutexLock lock(&mu_);
  events_.push_back(std::move(event));
  if (max_events_ != 0 && events_.size() > max_events_) events_.pop_front();
}

std::vector<Event> EventLog::Events() const {
  MutexLock lock(&mu_);
  return std::vector<Event>(events_.begin(), events_.end());
}

std::optional<Event> EventLog::WaitFor(const EventPredicate& predicate, size_t nth,
                                       absl::Duration timeout) const {
  if (nth == 0) return std::nullopt;
  std::optional<Event> found;
  MutexLock lock(&mu_);
  // The condition runs on this thread with mu_ held (tether::Mutex::Await).
  mu_.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        found = FindLocked(predicate, nth);
        return found.has_value();
      },
      timeout);
  return found;
}

std::optional<Event> EventLog::FindLocked(const EventPredicate& predicate, size_t nth) const {
  size_t matches = 0;
  for (const Event& event : events_) {
    if (predicate(event) && ++matches == nth) return event;
  }
  return std::nullopt;
}

}  // namespace tether::devcp
