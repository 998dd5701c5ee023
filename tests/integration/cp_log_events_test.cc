// What the CP session and the config applier log over a healthy connection: lifecycle events once
// each at info, never a line per ping (style: no per-message info logs on hot paths).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using devcp::EventKind;
using devcp::OfKind;
using ::testing::IsEmpty;
using testing::kWait;
using ::testing::SizeIs;

class CpLogEventsTest : public testing::AppTest {};

// Over six pings with their pongs, the connection and the applied config are one line each.
TEST_F(CpLogEventsTest, ConnectAndApplyAreLoggedOnceNotPerPing) {
  testing::LogCapture logs;
  StartCp();
  auto hash =
      cp_->SetConfig(testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json")));
  ASSERT_TRUE(hash.ok()) << hash.status();
  StartApp({"--ping-interval=100ms", "--ping-timeout=10s"});
  AwaitAppliedHash(*hash);
  ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kPing, 1), 6, kWait));
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.last_pong_at != absl::InfinitePast();
  });
  EXPECT_THAT(logs.LinesWith(" info cp: connected to control plane"), SizeIs(1));
  EXPECT_THAT(logs.LinesWith(" info config: config applied"), SizeIs(1));
  EXPECT_THAT(logs.LinesWith(" cp: ping"), IsEmpty());
  EXPECT_THAT(logs.LinesWith(" cp: pong"), IsEmpty());
}

}  // namespace
}  // namespace tether
