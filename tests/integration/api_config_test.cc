// tether.v1.ConfigService end to end: real gRPC clients (generated stubs, default limits) over a
// unix socket and TCP loopback, fed by tether's App connected to an in-process tether-devcp.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/integration/api_harness.h"

namespace tether::api_test {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A small config with three types.
ConfigModel SmallModel() {
  ConfigModel m;
  for (int i = 0; i < 3; ++i) m.Put("services", Id(i), "a");
  for (int i = 10; i < 14; ++i) m.Put("routes", Id(i), "a");
  for (int i = 20; i < 22; ++i) m.Put("consumers", Id(i), "a");
  return m;
}

class ApiConfigTest : public ApiTest {};

// Over the unix socket, a FULL subscriber to every type first gets the CP's config as one full
// update: same hash, every entity byte for byte, every type listed; GetConfig returns the same.
TEST_F(ApiConfigTest, FullUpdateOverUnixSocketEqualsCpConfig) {
  ConfigModel model = SmallModel();
  StartApp();
  const std::string hash = Push(model);

  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("full-client"));
  std::optional<Update> update = watch.Next();
  ASSERT_TRUE(update);
  EXPECT_EQ(update->hash(), hash);
  EXPECT_TRUE(update->full());
  EXPECT_EQ(update->head().base_hash(), "");
  EXPECT_EQ(update->head().source(), v1::SOURCE_CONTROL_PLANE);
  EXPECT_GT(update->head().received_at().seconds(), 0);
  EXPECT_THAT(update->head().entity_types(), ElementsAre("consumers", "routes", "services"));
  EXPECT_EQ(update->head().hashes().at("config"), hash);
  EXPECT_EQ(update->head().metadata().at("_format_version"), "\"3.0\"");
  Mirror mirror;
  mirror.Apply(*update);
  EXPECT_EQ(mirror.entities, Expected(model));

  const Update got = GetConfig();
  Mirror from_get;
  from_get.Apply(got);
  EXPECT_EQ(from_get.hash, hash);
  EXPECT_EQ(from_get.entities, Expected(model));
}

// TCP loopback serves the same API; a DELTA subscriber then gets only what changed, and every
// delta applies to the state it holds.
TEST_F(ApiConfigTest, DeltaUpdatesOverTcpCarryOnlyChanges) {
  ConfigModel model = SmallModel();
  StartApp();
  Push(model);
  WatchStream watch(Tcp());
  ASSERT_TRUE(watch.Subscribe("delta-client", {}, v1::MODE_DELTA));
  Mirror mirror;
  std::optional<Update> first = watch.Next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->full());
  mirror.Apply(*first);

  model.Put("routes", Id(10), "b");
  model.Remove("consumers", Id(21));
  const std::string hash = Push(model);
  std::optional<Update> delta = watch.Next();
  ASSERT_TRUE(delta);
  EXPECT_FALSE(delta->full());
  EXPECT_EQ(delta->hash(), hash);
  EXPECT_EQ(delta->head().base_hash(), first->hash());
  EXPECT_EQ(delta->upserts(), 1u);
  ASSERT_EQ(delta->head().removals_size(), 1);
  EXPECT_EQ(delta->head().removals(0).id(), Id(21));
  mirror.Apply(*delta);
  EXPECT_EQ(mirror.entities, Expected(model));
}

// Deltas compose: over a randomised sequence of configs (upserts, changes, removals, types that
// appear and vanish), applying every update to the first full one gives exactly the latest
// config, for an unfiltered and a filtered subscriber alike.
TEST_F(ApiConfigTest, DeltasComposeOverRandomSequences) {
  std::mt19937 rng(20240611);
  ConfigModel model = SmallModel();
  StartApp();
  Push(model);
  WatchStream all(Unix());
  WatchStream routes(Tcp());
  ASSERT_TRUE(all.Subscribe("all", {}, v1::MODE_DELTA));
  ASSERT_TRUE(routes.Subscribe("routes", {"routes", "upstreams"}, v1::MODE_DELTA));
  Mirror all_mirror, routes_mirror;
  auto first_all = all.Next();
  auto first_routes = routes.Next();
  ASSERT_TRUE(first_all && first_routes);
  all_mirror.Apply(*first_all);
  routes_mirror.Apply(*first_routes);

  const std::vector<std::string> types = {"services", "routes", "consumers", "upstreams"};
  for (int step = 0; step < 25; ++step) {
    SCOPED_TRACE(step);
    const std::string old_routes_hash = routes_mirror.hash;
    const Entities old_routes = Expected(model, {"routes", "upstreams"});
    const auto old_metadata = model.metadata;
    const int changes = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < changes; ++c) {
      const std::string& type = types[rng() % types.size()];
      const std::string id = Id(static_cast<int>(rng() % 12));
      // The first change always writes a new row version, so every step is a new config.
      if (c > 0 && rng() % 3 == 0) {
        model.Remove(type, id);
      } else {
        model.Put(type, id, absl::StrCat("s", step, "c", c));
      }
    }
    // Metadata belongs to the whole config: a change to it reaches every subscriber.
    if (step == 10) model.metadata["_comment"] = "\"changed\"";
    const std::string hash = Push(model);
    auto update = all.Next();
    ASSERT_TRUE(update);
    EXPECT_EQ(update->hash(), hash);
    all_mirror.Apply(*update);
    EXPECT_EQ(all_mirror.entities, Expected(model));
    if (Expected(model, {"routes", "upstreams"}) != old_routes || model.metadata != old_metadata) {
      auto filtered = routes.Next();
      ASSERT_TRUE(filtered);
      EXPECT_EQ(filtered->head().base_hash(), old_routes_hash);
      routes_mirror.Apply(*filtered);
      EXPECT_EQ(routes_mirror.entities, Expected(model, {"routes", "upstreams"}));
    }
  }
}

// A subscriber filtered to routes is not woken by a consumers-only change: the next message it
// receives is the later change that touches routes.
TEST_F(ApiConfigTest, FilteredSubscriberIsNotWokenByOtherTypes) {
  for (v1::Mode mode : {v1::MODE_FULL, v1::MODE_DELTA}) {
    SCOPED_TRACE(v1::Mode_Name(mode));
    ConfigModel model = SmallModel();
    model.Put("consumers", Id(29), v1::Mode_Name(mode));  // a fresh hash for each round
    if (!app_) StartApp();
    Push(model);
    WatchStream watch(Unix());
    ASSERT_TRUE(watch.Subscribe("routes-only", {"routes"}, mode));
    auto first = watch.Next();
    ASSERT_TRUE(first);
    EXPECT_THAT(first->UpsertTypes(), Each(std::string("routes")));
    EXPECT_EQ(first->upserts(), 4u);
    EXPECT_THAT(first->head().entity_types(), ElementsAre("routes"));
    EXPECT_EQ(first->head().hashes().count("consumers"), 0u);
    EXPECT_EQ(first->head().hashes().count("routes"), 1u);

    model.Put("consumers", Id(20), "changed");
    const std::string consumers_hash = Push(model);
    model.Put("routes", Id(11), "changed");
    const std::string routes_hash = Push(model);
    auto next = watch.Next();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->hash(), routes_hash) << "woken by the consumers change " << consumers_hash;
    EXPECT_EQ(next->full(), mode == v1::MODE_FULL);
    EXPECT_THAT(next->UpsertTypes(), Each(std::string("routes")));
    if (mode == v1::MODE_DELTA) {
      EXPECT_EQ(next->head().base_hash(), first->hash());
      EXPECT_EQ(next->upserts(), 1u);
    }
  }
}

// Resume with the current hash: nothing is sent until the next change (FULL: a full update;
// DELTA: a delta from the resumed hash).
TEST_F(ApiConfigTest, ResumeWithCurrentHashSendsNothingUntilNextChange) {
  ConfigModel model = SmallModel();
  StartApp();
  const std::string current = Push(model);
  WatchStream full(Unix());
  WatchStream delta(Unix());
  ASSERT_TRUE(full.Subscribe("full", {}, v1::MODE_FULL, current));
  ASSERT_TRUE(delta.Subscribe("delta", {}, v1::MODE_DELTA, current));
  // Both are registered once the board lists them; only then is the next config pushed.
  AwaitStatus([](const status::StatusView& v) { return v.subscribers.size() == 2; });
  model.Put("services", Id(1), "b");
  const std::string next_hash = Push(model);
  auto f = full.Next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->hash(), next_hash);
  EXPECT_TRUE(f->full());
  auto d = delta.Next();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hash(), next_hash);
  EXPECT_FALSE(d->full());
  EXPECT_EQ(d->head().base_hash(), current);
  EXPECT_EQ(d->upserts(), 1u);
}

// Resume in DELTA mode with an older hash the store still holds: the first update is the delta
// from it. With a hash the server never saw, or in FULL mode, it is a full update.
TEST_F(ApiConfigTest, ResumeWithHeldHashSendsDeltaAndUnknownHashSendsFull) {
  ConfigModel model = SmallModel();
  StartApp();
  const std::string old_hash = Push(model);
  model.Put("routes", Id(12), "b");
  model.Remove("services", Id(0));
  const std::string current = Push(model);

  WatchStream held(Unix());
  ASSERT_TRUE(held.Subscribe("held", {}, v1::MODE_DELTA, old_hash));
  auto d = held.Next();
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->full());
  EXPECT_EQ(d->head().base_hash(), old_hash);
  EXPECT_EQ(d->hash(), current);
  EXPECT_EQ(d->upserts(), 1u);
  EXPECT_EQ(d->head().removals_size(), 1);

  WatchStream unknown(Unix());
  ASSERT_TRUE(unknown.Subscribe("unknown", {}, v1::MODE_DELTA, "0123456789abcdef0123456789abcdef"));
  auto u = unknown.Next();
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->full());
  EXPECT_EQ(u->hash(), current);

  WatchStream full_mode(Unix());
  ASSERT_TRUE(full_mode.Subscribe("full-mode", {}, v1::MODE_FULL, old_hash));
  auto f = full_mode.Next();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->full());
}

// A config whose JSON exceeds 4 MiB reaches a client with gRPC's default 4 MiB receive limit, in
// several chunks that each stay under it; Watch and GetConfig both deliver it whole.
TEST_F(ApiConfigTest, ConfigOverFourMiBArrivesInChunksUnderTheLimit) {
  ConfigModel model;
  for (int i = 0; i < 600; ++i) model.Put("services", Id(i), "big", 10 * 1024);
  ASSERT_GT(model.ToJson().size(), 6u * 1000 * 1000);
  StartApp();
  const std::string hash = Push(model);

  WatchStream watch(Tcp());
  ASSERT_TRUE(watch.Subscribe("big"));
  auto update = watch.Next();
  ASSERT_TRUE(update) << watch.Finish().error_message();
  EXPECT_GE(update->chunks.size(), 2u);
  for (const auto& chunk : update->chunks) EXPECT_LT(chunk.ByteSizeLong(), 4u << 20);
  Mirror mirror;
  mirror.Apply(*update);
  EXPECT_EQ(mirror.hash, hash);
  EXPECT_EQ(mirror.entities, Expected(model));

  const Update got = GetConfig();
  EXPECT_GE(got.chunks.size(), 2u);
  Mirror from_get;
  from_get.Apply(got);
  EXPECT_EQ(from_get.entities, Expected(model));
}

// A subscriber that never reads does not hold others up: while its first update cannot finish
// (2 MiB against a 64 KiB window), another subscriber receives three newer configs. When it
// finally reads, it gets the update that was in flight, then only the newest config: the ones in
// between were replaced, never queued.
TEST_F(ApiConfigTest, StuckSubscriberDoesNotDelayOthers) {
  ConfigModel model;
  for (int i = 0; i < 200; ++i) model.Put("services", Id(i), "v0", 10 * 1024);
  StartApp();
  Push(model);

  // A raw client: subscribes, then reads nothing, so flow control stalls its first update.
  WatchStream stuck(NewChannel(unix_target_, Window::kSmall));
  ASSERT_TRUE(stuck.Subscribe("stuck"));
  AwaitStatus([](const status::StatusView& v) { return v.subscribers.size() == 1; });
  WatchStream live(Tcp());
  ASSERT_TRUE(live.Subscribe("live", {"routes"}, v1::MODE_DELTA));
  auto live_first = live.Next();
  ASSERT_TRUE(live_first);

  std::string last_hash;
  for (int round = 1; round <= 3; ++round) {
    model.Put("routes", Id(100), absl::StrCat("v", round));
    last_hash = Push(model);
    auto update = live.Next();
    ASSERT_TRUE(update);
    EXPECT_EQ(update->hash(), last_hash);
  }
  Barrier();  // the stuck stream has been offered the newest config too
  auto stuck_record = [this]() -> status::SubscriberRecord {
    for (const auto& [id, sub] : app_->status().Get().subscribers) {
      if (sub.client_id == "stuck") return sub;
    }
    ADD_FAILURE() << "no stuck subscriber";
    return {};
  };
  EXPECT_EQ(stuck_record().last_sent_hash, "") << "the stuck subscriber's update completed";

  // What was in flight (the first config, or a later one if the stream only started then), then
  // the newest, and nothing else.
  std::vector<Update> received;
  while (received.empty() || received.back().hash() != last_hash) {
    auto update = stuck.Next();
    ASSERT_TRUE(update);
    received.push_back(*update);
  }
  EXPECT_LE(received.size(), 2u);
  AwaitStatus([&](const status::StatusView& v) {
    for (const auto& [id, sub] : v.subscribers) {
      if (sub.client_id == "stuck") return sub.updates_sent == received.size();
    }
    return false;
  });
  Mirror mirror;
  mirror.Apply(received.back());
  EXPECT_EQ(mirror.entities, Expected(model));
}

// Acks and nacks are recorded per subscriber and shown by GetStatus.
TEST_F(ApiConfigTest, AckAndNackAreVisibleInGetStatus) {
  ConfigModel model = SmallModel();
  StartApp();
  const std::string hash = Push(model);
  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("acker", {"services"}, v1::MODE_DELTA));
  ASSERT_TRUE(watch.Next());
  ASSERT_TRUE(watch.Ack(hash));
  AwaitStatus([&](const status::StatusView& v) {
    return v.subscribers.size() == 1 && v.subscribers.begin()->second.acked_hash == hash;
  });

  auto stub = v1::StatusService::NewStub(Unix());
  auto get = [&] {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    v1::Status status;
    EXPECT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
    return status;
  };
  v1::Status status = get();
  ASSERT_EQ(status.subscribers_size(), 1);
  const v1::SubscriberStatus& sub = status.subscribers(0);
  EXPECT_EQ(sub.client_id(), "acker");
  EXPECT_EQ(sub.mode(), v1::MODE_DELTA);
  EXPECT_THAT(sub.entity_types(), ElementsAre("services"));
  EXPECT_EQ(sub.last_sent_hash(), hash);
  EXPECT_EQ(sub.acked_hash(), hash);
  EXPECT_EQ(sub.updates_sent(), 1u);
  // The unix listener names who connected (gRPC alone would say "fd:N").
  EXPECT_THAT(sub.peer(), HasSubstr("unix:"));
  EXPECT_THAT(sub.peer(), HasSubstr(absl::StrCat("(pid ", getpid(), ", uid ", getuid())));
  EXPECT_GT(sub.connected_since().seconds(), 0);

  ASSERT_TRUE(watch.Nack(hash, "route r1 has no service"));
  AwaitStatus([&](const status::StatusView& v) {
    return v.subscribers.begin()->second.nack_error == "route r1 has no service";
  });
  status = get();
  EXPECT_EQ(status.subscribers(0).nacked_hash(), hash);
  EXPECT_EQ(status.subscribers(0).nack_error(), "route r1 has no service");

  // Leaving removes the record.
  watch.context().TryCancel();
  AwaitStatus([](const status::StatusView& v) { return v.subscribers.empty(); });
}

// Requests break the protocol: a first request other than subscribe, a second subscribe, an
// empty request, a bad entity type name: each ends the stream with INVALID_ARGUMENT.
TEST_F(ApiConfigTest, ProtocolViolationsEndWithInvalidArgument) {
  StartApp();
  struct Case {
    std::string name;
    std::vector<v1::WatchRequest> requests;
    std::string message;
  };
  v1::WatchRequest subscribe;
  subscribe.mutable_subscribe()->set_client_id("c");
  v1::WatchRequest ack;
  ack.mutable_ack()->set_config_hash("x");
  v1::WatchRequest bad_type;
  bad_type.mutable_subscribe()->add_entity_types("routes,services");
  const std::vector<Case> cases = {
      {"ack first", {ack}, "the first request must be subscribe"},
      {"empty first", {v1::WatchRequest()}, "the first request must be subscribe"},
      {"subscribe twice", {subscribe, subscribe}, "subscribe may be sent only once per stream"},
      {"empty after subscribe", {subscribe, v1::WatchRequest()}, "empty request"},
      {"bad type name", {bad_type}, "must be 1 to 64 letters, digits, _, - or ."},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WatchStream watch(Unix());
    for (const auto& r : c.requests) watch.Write(r);
    EXPECT_FALSE(watch.Next());
    const grpc::Status status = watch.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

// A client that half-closes can no longer ack, so its stream ends: OK once subscribed (as after
// the client library's nack), INVALID_ARGUMENT when it never subscribed.
TEST_F(ApiConfigTest, HalfCloseEndsTheStream) {
  StartApp();
  const std::string hash = Push(SmallModel());
  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("closer"));
  ASSERT_TRUE(watch.Next());
  ASSERT_TRUE(watch.Nack(hash, "cannot apply"));
  ASSERT_TRUE(watch.WritesDone());
  EXPECT_FALSE(watch.Next());
  EXPECT_TRUE(watch.Finish().ok());

  WatchStream silent(Unix());
  ASSERT_TRUE(silent.WritesDone());
  EXPECT_FALSE(silent.Next());
  EXPECT_EQ(silent.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Before any config, GetConfig is FAILED_PRECONDITION and a subscriber waits: its first update is
// the first config.
TEST_F(ApiConfigTest, BeforeAnyConfigGetConfigFailsAndWatchWaits) {
  StartApp();
  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("early"));
  AwaitStatus([](const status::StatusView& v) { return v.subscribers.size() == 1; });
  auto stub = v1::ConfigService::NewStub(Unix());
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto reader = stub->GetConfig(&context, v1::GetConfigRequest());
  v1::WatchResponse message;
  EXPECT_FALSE(reader->Read(&message));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  const std::string hash = Push(SmallModel());
  auto first = watch.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->hash(), hash);
  EXPECT_TRUE(first->full());
}

// Stop ends open streams with UNAVAILABLE "tether is shutting down", removes the socket file,
// and the App stops within its deadline.
TEST_F(ApiConfigTest, ShutdownEndsStreamsWithUnavailable) {
  StartApp();
  Push(SmallModel());
  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("bye"));
  ASSERT_TRUE(watch.Next());
  ASSERT_TRUE(app_->Stop(kWait));
  EXPECT_FALSE(watch.Next());
  const grpc::Status status = watch.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "tether is shutting down");
  struct stat st {};
  EXPECT_NE(::stat(socket_path_.c_str(), &st), 0);
}

// The unix socket is mode 0660; a stale socket file left by a crash is replaced; a socket a live
// server still answers on is refused at start-up.
TEST_F(ApiConfigTest, UnixSocketModeStaleFileAndLiveConflict) {
  // A stale socket: bound, then closed without unlinking.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  StartApp();
  struct stat st {};
  ASSERT_EQ(::stat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto second = app::App::Create(settings_);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("another process serves"));
  // The first one still serves.
  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("still-there"));
  Push(SmallModel());
  EXPECT_TRUE(watch.Next());
}

// --report-hash=acked: the CP sees the config the subscribers acked, not the one tether applied.
// With no subscriber it sees the applied one; a NACK keeps it on the previous config across
// several pings; the ACK moves it within one ping.
TEST_F(ApiConfigTest, ReportHashAckedFollowsWhatSubscribersAcked) {
  const auto ping_with = [](std::string hash) -> devcp::EventPredicate {
    return [hash](const devcp::Event& e) {
      return e.kind == devcp::EventKind::kPing && e.payload == hash;
    };
  };
  ConfigModel model = SmallModel();
  StartApp({"--report-hash=acked"});
  const std::string first = Push(model);
  ASSERT_TRUE(cp_->WaitForEvent(ping_with(first), kWait));

  WatchStream watch(Unix());
  ASSERT_TRUE(watch.Subscribe("proxy", {}, v1::MODE_DELTA));
  ASSERT_TRUE(watch.Next());
  ASSERT_TRUE(watch.Ack(first));
  model.Put("services", Id(9), "b");
  const std::string second = Push(model);
  ASSERT_TRUE(watch.Next());
  ASSERT_TRUE(watch.Nack(second, "cannot apply"));
  AwaitStatus([&](const status::StatusView& v) {
    return v.config.current != nullptr && v.config.current->config_hash == second &&
           !v.subscribers.empty() && v.subscribers.begin()->second.nacked_hash == second;
  });
  // Pings go out every second (TestSettings): three more still carry the first hash.
  const auto pings_with = [&](const std::string& hash) {
    size_t n = 0;
    for (const devcp::Event& e : cp_->Events()) n += ping_with(hash)(e);
    return n;
  };
  const size_t before = pings_with(first);
  ASSERT_TRUE(cp_->WaitForEventCount(ping_with(first), before + 3, kWait));
  EXPECT_EQ(pings_with(second), 0u);
  EXPECT_EQ(app_->status().Get().config.reported_hash, first);

  ASSERT_TRUE(watch.Ack(second));
  EXPECT_TRUE(cp_->WaitForEvent(ping_with(second), kWait));
  const status::StatusView view =
      AwaitStatus([&](const status::StatusView& v) { return v.config.reported_hash == second; });
  EXPECT_EQ(view.config.reported_because, "acked by every subscriber");
}

}  // namespace
}  // namespace tether::api_test
