// The status board: observers through handles, readiness from one definition, and counters that
// outlive what they count.
#include "sidecar/status/status_board.h"

#include <vector>

#include "gtest/gtest.h"

namespace tether::status {
namespace {

TEST(StatusBoardTest, ObserversSeeEachChangeUntilTheirHandleGoes) {
  StatusBoard board;
  std::vector<uint64_t> seen;
  auto handle = board.AddObserver([&](uint64_t version) { seen.push_back(version); });
  board.RecordIgnored();
  board.SetDraining();
  board.SetDraining();  // no change, no call
  handle.Reset();
  board.RecordIgnored();
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(board.version(), 3u);
}

TEST(StatusBoardTest, ReadinessFollowsConfigSessionAndFailure) {
  StatusBoard board;
  EXPECT_FALSE(board.GetReadiness().ready);
  board.RecordApplied(std::make_shared<config::Snapshot>(), absl::Now());
  EXPECT_TRUE(board.GetReadiness().ready);

  // A session that stopped while tether is not draining is not ready, config or not.
  ConnectionInfo stopped;
  stopped.state = ConnectionState::kStopped;
  board.SetConnection(stopped);
  EXPECT_FALSE(board.GetReadiness().ready);
  EXPECT_EQ(board.GetReadiness().reason, "control plane session stopped");

  board.RecordFailure("config pipeline failed: boom");
  board.RecordFailure("second failure, not kept");
  EXPECT_EQ(board.GetReadiness().reason, "config pipeline failed: boom");
  board.SetDraining();
  EXPECT_FALSE(board.GetReadiness().ready);
}

TEST(StatusBoardTest, CountsFailuresOncePerEndedConnectionByCause) {
  StatusBoard board;
  ConnectionInfo info;
  info.state = ConnectionState::kConnected;
  board.SetConnection(info);
  info.state = ConnectionState::kDisconnected;
  info.last_cause = FailureCause::kEndedAfterBasicInfo;
  info.last_error = absl::UnavailableError("read: Connection reset by peer");
  board.SetConnection(info);
  info.retry_in = absl::Seconds(3);  // a later publish in the same state: not a new failure
  board.SetConnection(info);
  const Totals totals = board.Get().totals;
  EXPECT_EQ(totals.connection_failures[static_cast<size_t>(FailureCause::kEndedAfterBasicInfo)],
            1u);
  EXPECT_EQ(ConnectionFailuresWithReason(totals, "closed"), 1u);
}

TEST(StatusBoardTest, NacksAndCacheFailuresAreCountedAfterTheSubscriberLeaves) {
  StatusBoard board;
  SubscriberRecord record;
  record.client_id = "proxy";
  const SubscriberId id = board.AddSubscriber(record);
  board.RecordNack(id, "h1", "bad route");
  board.RecordAck(id, "h2");
  board.RemoveSubscriber(id);
  board.RecordNack(id, "h3", "gone: ignored");
  board.RecordCacheWriteFailure();
  const StatusView view = board.Get();
  EXPECT_TRUE(view.subscribers.empty());
  EXPECT_EQ(view.totals.nacks, 1u);
  EXPECT_EQ(view.totals.cache_write_failures, 1u);
}

// UpdatesSent, which the heap trimmer polls on every change, counts what Get() counts, and
// keeps counting the updates of subscribers that left.
TEST(StatusBoardTest, UpdatesSentCountsEveryWholeUpdate) {
  StatusBoard board;
  const SubscriberId a = board.AddSubscriber(SubscriberRecord{});
  const SubscriberId b = board.AddSubscriber(SubscriberRecord{});
  EXPECT_EQ(board.UpdatesSent(), 0u);
  board.RecordSent(a, "h1");
  board.RecordSent(b, "h1");
  board.RemoveSubscriber(a);
  board.RecordSent(a, "h2");  // gone: ignored
  board.RecordSent(b, "h2");
  EXPECT_EQ(board.UpdatesSent(), 3u);
  EXPECT_EQ(board.Get().totals.updates_sent, 3u);
}

}  // namespace
}  // namespace tether::status

namespace tether::status {
namespace {

config::SnapshotPtr WithHash(const std::string& hash) {
  auto s = std::make_shared<config::Snapshot>();
  s->config_hash = hash;
  return s;
}

// --report-hash=acked: the newest hash every subscriber has acked, in apply order; a NACK keeps
// a subscriber on what it acked before; no subscriber means the applied hash.
TEST(AckedHashTest, TheNewestHashEverySubscriberAcked) {
  StatusBoard board;
  EXPECT_EQ(AckedHash(board.Get()), std::nullopt);
  for (const char* h : {"h1", "h2", "h3"}) board.RecordApplied(WithHash(h), absl::Now());
  EXPECT_EQ(AckedHash(board.Get()), "h3");  // no subscriber

  const SubscriberId a = board.AddSubscriber(SubscriberRecord());
  const SubscriberId b = board.AddSubscriber(SubscriberRecord());
  EXPECT_EQ(AckedHash(board.Get()), std::nullopt);  // nothing acked yet: keep what was reported
  board.RecordAck(a, "h3");
  EXPECT_EQ(AckedHash(board.Get()), "h3");  // b has acked nothing yet
  board.RecordAck(b, "h2");
  EXPECT_EQ(AckedHash(board.Get()), "h2");
  board.RecordNack(b, "h3", "refused");
  EXPECT_EQ(AckedHash(board.Get()), "h2");
  board.RecordAck(b, "h3");
  EXPECT_EQ(AckedHash(board.Get()), "h3");
  board.RemoveSubscriber(a);
  board.RemoveSubscriber(b);
  EXPECT_EQ(AckedHash(board.Get()), "h3");
}

}  // namespace
}  // namespace tether::status
