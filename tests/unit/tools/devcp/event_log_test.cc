#include "tools/devcp/event_log.h"

#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace tether::devcp {
namespace {

Event MakeEvent(EventKind kind, uint64_t connection) {
  Event event;
  event.kind = kind;
  event.connection = connection;
  return event;
}

// WaitFor finds the nth match, in log order, among events already recorded.
TEST(EventLogTest, WaitForFindsNthMatch) {
  EventLog log;
  log.Record(MakeEvent(EventKind::kPing, 1));
  log.Record(MakeEvent(EventKind::kPing, 2));
  log.Record(MakeEvent(EventKind::kPing, 1));
  std::optional<Event> second = log.WaitFor(OfKind(EventKind::kPing, 1), 2, absl::ZeroDuration());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->connection, 1u);
  EXPECT_FALSE(log.WaitFor(OfKind(EventKind::kPing, 1), 3, absl::ZeroDuration()).has_value());
  EXPECT_FALSE(log.WaitFor(OfKind(EventKind::kClosed), 1, absl::ZeroDuration()).has_value());
}

// A waiter wakes up when another thread records the event it waits for.
TEST(EventLogTest, WaitForWakesOnRecord) {
  EventLog log;
  std::thread recorder([&log] {
    log.Record(MakeEvent(EventKind::kConnected, 7));
    log.Record(MakeEvent(EventKind::kClosed, 7));
  });
  std::optional<Event> closed = log.WaitFor(OfKind(EventKind::kClosed), 1, absl::Seconds(30));
  recorder.join();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->connection, 7u);
}

TEST(EventLogTest, KeepsAtMostMaxEvents) {
  EventLog log(2);
  for (uint64_t i = 1; i <= 3; ++i) log.Record(MakeEvent(EventKind::kPing, i));
  const std::vector<Event> events = log.Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].connection, 2u);
  EXPECT_EQ(events[1].connection, 3u);
}

TEST(EventLogTest, PrintsForTestFailures) {
  Event event = MakeEvent(EventKind::kClosed, 3);
  event.reason = "bye";
  event.closed_by = Closer::kDataPlane;
  std::ostringstream out;
  out << event;
  EXPECT_EQ(out.str(), "{closed connection=3 reason=\"bye\" closed_by=data_plane}");
}

}  // namespace
}  // namespace tether::devcp
