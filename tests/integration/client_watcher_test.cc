// The client library against the real thing: tether's App (CP session, store, gRPC API on a unix
// socket in the test's data dir) fed by an in-process tether-devcp, and ConfigWatcher / Client
// over real gRPC channels. Every wait is on an event (a watcher callback or a status change)
// under a generous deadline; nothing sleeps.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/lib/client.h"
#include "client/lib/config_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/app/app.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using client::ConfigWatcher;
using client::MirrorPtr;
using client::UpdateInfo;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

std::string ExampleConfig() {
  return testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json"));
}

std::string Serialize(const rapidjson::Document& doc) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return buffer.GetString();
}

// The example config changed in four entities: services[0].retries bumped (upsert), a consumer
// added (upsert), the last route and the plugin pointing at it removed (removals).
std::string ChangedExampleConfig() {
  rapidjson::Document doc;
  doc.Parse(ExampleConfig().c_str());
  auto& alloc = doc.GetAllocator();
  rapidjson::Value& service = doc["services"][0];
  service["retries"].SetInt(service["retries"].GetInt() + 1);
  rapidjson::Value consumer(rapidjson::kObjectType);
  consumer.AddMember("id", "0b5a4e7c-6a0e-4f8e-9d2f-1d8c0a3b9e01", alloc);
  consumer.AddMember("username", "added-by-test", alloc);
  consumer.AddMember("created_at", 1718000999, alloc);
  doc["consumers"].PushBack(consumer, alloc);
  rapidjson::Value& routes = doc["routes"];
  const std::string removed = routes[routes.Size() - 1]["id"].GetString();
  routes.PopBack();
  rapidjson::Value& plugins = doc["plugins"];
  for (auto it = plugins.Begin(); it != plugins.End();) {
    const bool on_route = it->HasMember("route") && (*it)["route"].IsString() &&
                          (*it)["route"].GetString() == removed;
    it = on_route ? plugins.Erase(it) : it + 1;
  }
  return Serialize(doc);
}

// The example config plus `services` generated services of about 2 KiB each.
std::string LargeConfig(int services) {
  rapidjson::Document doc;
  doc.Parse(ExampleConfig().c_str());
  auto& alloc = doc.GetAllocator();
  const std::string padding(2000, 'x');
  for (int i = 0; i < services; ++i) {
    rapidjson::Value service(rapidjson::kObjectType);
    const std::string id = absl::StrCat("10000000-0000-4000-8000-", absl::Dec(i, absl::kZeroPad12));
    service.AddMember("id", rapidjson::Value(id.c_str(), alloc), alloc);
    service.AddMember("name", rapidjson::Value(absl::StrCat("bulk-", i).c_str(), alloc), alloc);
    service.AddMember("host", "bulk.internal", alloc);
    service.AddMember("port", 80, alloc);
    service.AddMember("protocol", "http", alloc);
    rapidjson::Value tags(rapidjson::kArrayType);
    tags.PushBack(rapidjson::Value(padding.c_str(), alloc), alloc);
    service.AddMember("tags", tags, alloc);
    doc["services"].PushBack(service, alloc);
  }
  return Serialize(doc);
}

// Whether `mirror` holds exactly `snapshot`'s entities of the given types (all when empty). Reports
// each difference by (type, id) rather than dumping both configs.
void ExpectMirrorMatches(const client::Mirror& mirror, const config::Snapshot& snapshot,
                         const std::set<std::string>& types = {}) {
  EXPECT_EQ(mirror.config_hash, snapshot.config_hash);
  std::map<std::pair<std::string, std::string>, std::string> want;
  for (const auto& [type, collection] : snapshot.types) {
    if (!types.empty() && types.count(type) == 0) continue;
    for (const config::Entity& e : collection->items)
      want[{type, std::string(e.id)}] = std::string(e.json);
  }
  std::map<std::pair<std::string, std::string>, std::string> held;
  for (const auto& [type, rows] : mirror.entities) {
    for (const auto& [id, json] : rows) held[{type, id}] = json;
  }
  for (const auto& [key, json] : want) {
    auto it = held.find(key);
    if (it == held.end()) {
      ADD_FAILURE() << "mirror lacks " << key.first << "/" << key.second;
    } else if (it->second != json) {
      ADD_FAILURE() << key.first << "/" << key.second << " is " << it->second << ", want " << json;
    }
  }
  for (const auto& [key, json] : held) {
    if (want.count(key) == 0)
      ADD_FAILURE() << "mirror has extra " << key.first << "/" << key.second;
  }
  EXPECT_EQ(mirror.metadata, snapshot.metadata);
}

// What a watcher reported, in order, and a way to wait for it.
class WatchLog {
 public:
  struct Update {
    MirrorPtr mirror;
    UpdateInfo info;
  };

  // Callbacks that record into this log; on_update answers with `verdict` (OK when unset).
  client::WatcherCallbacks Callbacks(std::function<absl::Status(const MirrorPtr&)> verdict = {}) {
    client::WatcherCallbacks callbacks;
    callbacks.on_update = [this, verdict](const MirrorPtr& mirror, const UpdateInfo& info) {
      absl::MutexLock lock(&mu_);
      updates_.push_back({mirror, info});
      return verdict ? verdict(mirror) : absl::OkStatus();
    };
    callbacks.on_error = [this](const absl::Status& error, absl::Duration) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(error);
    };
    return callbacks;
  }

  // The first `n` updates, once they arrived (fails the test after kWait).
  std::vector<Update> AwaitUpdates(size_t n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return updates_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait))
        << "waited for " << n << " updates, got " << updates_.size();
    return updates_;
  }

  std::vector<absl::Status> AwaitErrors(size_t n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return errors_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait))
        << "waited for " << n << " errors, got " << errors_.size();
    return errors_;
  }

  std::vector<Update> updates() {
    absl::MutexLock lock(&mu_);
    return updates_;
  }

  // "hash full | hash delta from base, ..." for failure messages.
  std::string Describe() {
    absl::MutexLock lock(&mu_);
    std::string out;
    for (const Update& u : updates_) {
      absl::StrAppend(&out, out.empty() ? "" : ", ", u.mirror->config_hash,
                      u.info.full ? " full" : absl::StrCat(" delta from ", u.info.base_hash));
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  std::vector<Update> updates_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
};

class ClientTest : public ::testing::Test {
 protected:
  void StartCp() {
    devcp::Options o;
    o.cert_path = testing::Fixture("certs/kong_clustering.crt");
    o.key_path = testing::Fixture("certs/kong_clustering.key");
    auto cp = devcp::ControlPlane::Create(o);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
  }

  std::string SetConfig(const std::string& json) {
    auto hash = cp_->SetConfig(json);
    EXPECT_TRUE(hash.ok()) << hash.status();
    return hash.ok() ? *hash : "";
  }

  // The App with its gRPC API on the default socket, unix://<data dir>/tether.sock.
  void StartApp() {
    auto app = app::App::Create(testing::TestSettings(cp_->port(), data_dir_.path()));
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    app_->Start();
  }

  void StopApp() {
    ASSERT_TRUE(app_->Stop(kWait));
    app_.reset();
  }

  std::string Target() const { return absl::StrCat("unix://", data_dir_.path(), "/tether.sock"); }

  client::WatcherOptions Options(client::Mode mode = client::Mode::kFull) const {
    client::WatcherOptions o;
    o.target = Target();
    o.client_id = "test-proxy";
    o.mode = mode;
    o.backoff_min = absl::Milliseconds(10);
    o.backoff_max = absl::Milliseconds(100);
    return o;
  }

  std::unique_ptr<ConfigWatcher> Watch(client::WatcherOptions options,
                                       client::WatcherCallbacks callbacks) {
    auto watcher = ConfigWatcher::Create(std::move(options), std::move(callbacks));
    EXPECT_TRUE(watcher.ok()) << watcher.status();
    return watcher.ok() ? *std::move(watcher) : nullptr;
  }

  std::unique_ptr<client::Client> Client() const {
    auto c = client::Client::Create(Target());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  config::SnapshotPtr AwaitSnapshot(const std::string& hash) {
    auto [view, held] = app_->status().WaitFor(
        [&](const status::StatusView& v) {
          return v.config.current && v.config.current->config_hash == hash;
        },
        kWait);
    EXPECT_TRUE(held) << "tether never applied " << hash;
    return view.config.current;
  }

  // The subscriber named `client_id` once `pred` holds for it.
  status::SubscriberRecord AwaitSubscriber(
      const std::function<bool(const status::SubscriberRecord&)>& pred,
      const std::string& client_id = "test-proxy") {
    status::SubscriberRecord found;
    auto [view, held] = app_->status().WaitFor(
        [&](const status::StatusView& v) {
          for (const auto& [id, sub] : v.subscribers) {
            if (sub.client_id == client_id && pred(sub)) {
              found = sub;
              return true;
            }
          }
          return false;
        },
        kWait);
    EXPECT_TRUE(held) << "no subscriber " << client_id << " in the expected state";
    return found;
  }

  void TearDown() override {
    if (app_) {
      EXPECT_TRUE(app_->Stop(kWait));
    }
    if (cp_) cp_->Stop();
  }

  testing::TempDir data_dir_;
  std::unique_ptr<devcp::ControlPlane> cp_;
  std::unique_ptr<app::App> app_;
};

// FULL mode: the first update is the whole config, equal to tether's snapshot, and mirror()
// returns it.
TEST_F(ClientTest, WatcherReceivesFullConfig) {
  StartCp();
  const std::string hash = SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(), log.Callbacks());
  const auto updates = log.AwaitUpdates(1);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_TRUE(updates[0].info.full);
  EXPECT_EQ(updates[0].info.removals, 0u);
  ExpectMirrorMatches(*updates[0].mirror, *AwaitSnapshot(hash));
  EXPECT_EQ(updates[0].info.upserts, updates[0].mirror->EntityCount());
  EXPECT_EQ(updates[0].mirror->source, v1::SOURCE_CONTROL_PLANE);
  EXPECT_EQ(watcher->mirror(), updates[0].mirror);
}

// DELTA mode: after a change on the CP the next update is a delta from the first hash with
// exactly the changed entities, and the mirror it yields equals tether's new snapshot.
TEST_F(ClientTest, WatcherGetsDeltaAfterChange) {
  StartCp();
  const std::string first = SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(client::Mode::kDelta), log.Callbacks());
  log.AwaitUpdates(1);
  const std::string second = SetConfig(ChangedExampleConfig());
  const auto updates = log.AwaitUpdates(2);
  ASSERT_EQ(updates.size(), 2u);
  const UpdateInfo& info = updates[1].info;
  EXPECT_FALSE(info.full);
  EXPECT_EQ(info.base_hash, first);
  EXPECT_EQ(info.upserts, 2u);   // the service, the new consumer
  EXPECT_EQ(info.removals, 2u);  // the route, its plugin
  EXPECT_EQ(updates[1].mirror->config_hash, second);
  ExpectMirrorMatches(*updates[1].mirror, *AwaitSnapshot(second));
}

// FULL mode: a change brings a full update again.
TEST_F(ClientTest, FullModeGetsFullUpdatesAfterChange) {
  StartCp();
  SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(client::Mode::kFull), log.Callbacks());
  log.AwaitUpdates(1);
  const std::string second = SetConfig(ChangedExampleConfig());
  const auto updates = log.AwaitUpdates(2);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_TRUE(updates[1].info.full);
  EXPECT_EQ(updates[1].info.removals, 0u);
  ExpectMirrorMatches(*updates[1].mirror, *AwaitSnapshot(second));
}

// A filtered watcher holds only its types.
TEST_F(ClientTest, FilteredWatcherHoldsOnlyItsTypes) {
  StartCp();
  const std::string hash = SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  client::WatcherOptions options = Options();
  options.entity_types = {"routes", "services"};
  auto watcher = Watch(options, log.Callbacks());
  const auto updates = log.AwaitUpdates(1);
  ASSERT_EQ(updates.size(), 1u);
  std::set<std::string> types;
  for (const auto& [type, rows] : updates[0].mirror->entities) types.insert(type);
  EXPECT_EQ(types, (std::set<std::string>{"routes", "services"}));
  ExpectMirrorMatches(*updates[0].mirror, *AwaitSnapshot(hash), {"routes", "services"});
}

// Each applied update is acked, and a refused one nacked with the proxy's error; tether's status
// shows both, through the API as well.
TEST_F(ClientTest, AcksAndNacksShowInStatus) {
  StartCp();
  const std::string first = SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(client::Mode::kDelta), log.Callbacks([&](const MirrorPtr& m) {
    return m->config_hash == first ? absl::OkStatus()
                                   : absl::FailedPreconditionError("proxy refused it");
  }));
  AwaitSubscriber([&](const status::SubscriberRecord& s) { return s.acked_hash == first; });
  auto tether = Client();
  auto status = tether->GetStatus(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->subscribers_size(), 1);
  EXPECT_EQ(status->subscribers(0).client_id(), "test-proxy");
  EXPECT_EQ(status->subscribers(0).acked_hash(), first);
  EXPECT_EQ(status->subscribers(0).mode(), v1::MODE_DELTA);

  const std::string second = SetConfig(ChangedExampleConfig());
  AwaitSubscriber([&](const status::SubscriberRecord& s) { return s.nacked_hash == second; });
  status = tether->GetStatus(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->subscribers_size(), 1);
  EXPECT_EQ(status->subscribers(0).nacked_hash(), second);
  EXPECT_EQ(status->subscribers(0).nack_error(), "proxy refused it");
  EXPECT_EQ(status->subscribers(0).acked_hash(), first);
}

// tether restarts holding the same config: the watcher reconnects and resumes with its hash, and
// tether sends nothing for it. The next change then arrives as a delta from that hash, and as
// the watcher's second update only: no full resend came in between.
TEST_F(ClientTest, ResumesAfterRestartWithoutResend) {
  StartCp();
  const std::string first = SetConfig(ExampleConfig());
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(client::Mode::kDelta), log.Callbacks());
  log.AwaitUpdates(1);
  AwaitSubscriber([&](const status::SubscriberRecord& s) { return s.acked_hash == first; });

  StopApp();
  const auto errors = log.AwaitErrors(1);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnavailable) << errors[0];
  StartApp();
  AwaitSnapshot(first);
  AwaitSubscriber([](const status::SubscriberRecord&) { return true; });

  const std::string second = SetConfig(ChangedExampleConfig());
  const auto updates = log.AwaitUpdates(2);
  ASSERT_GE(updates.size(), 2u);
  ASSERT_EQ(updates[1].mirror->config_hash, second) << log.Describe();
  EXPECT_FALSE(updates[1].info.full);
  EXPECT_EQ(updates[1].info.base_hash, first);
  ExpectMirrorMatches(*updates[1].mirror, *AwaitSnapshot(second));
  const status::SubscriberRecord sub =
      AwaitSubscriber([&](const status::SubscriberRecord& s) { return s.acked_hash == second; });
  // tether's count for this stream: the delta only.
  EXPECT_EQ(sub.updates_sent, 1u);
  EXPECT_EQ(log.updates().size(), 2u) << log.Describe();
}

// A watcher started before tether reports that it cannot connect, keeps retrying, and receives
// the config once tether is up.
TEST_F(ClientTest, ConnectsOnceTetherStarts) {
  WatchLog log;
  auto watcher = Watch(Options(), log.Callbacks());
  const auto errors = log.AwaitErrors(2);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnavailable) << errors[0];
  EXPECT_THAT(std::string(errors[0].message()), HasSubstr("watch: "));
  StartCp();
  const std::string hash = SetConfig(ExampleConfig());
  StartApp();
  const auto updates = log.AwaitUpdates(1);
  ASSERT_EQ(updates.size(), 1u);
  ExpectMirrorMatches(*updates[0].mirror, *AwaitSnapshot(hash));
}

// A config whose JSON is larger than gRPC's 4 MiB default message limit arrives in several
// chunks, and the watcher (default limits) assembles it.
TEST_F(ClientTest, ReceivesConfigLargerThanDefaultMessageLimit) {
  StartCp();
  const std::string json = LargeConfig(3000);
  ASSERT_GT(json.size(), 5u << 20);
  const std::string hash = SetConfig(json);
  StartApp();
  WatchLog log;
  auto watcher = Watch(Options(), log.Callbacks());
  const auto updates = log.AwaitUpdates(1);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_GT(updates[0].info.chunks, 1u);
  ExpectMirrorMatches(*updates[0].mirror, *AwaitSnapshot(hash));
}

// Stop during a backoff wait (an hour here) returns at once, and the subscription ends: tether
// no longer lists the subscriber after Stop while connected.
TEST_F(ClientTest, StopIsPromptInBackoffAndWhileConnected) {
  WatchLog log;
  client::WatcherOptions options = Options();
  options.backoff_min = absl::Hours(1);
  options.backoff_max = absl::Hours(1);
  auto idle = Watch(options, log.Callbacks());
  log.AwaitErrors(1);
  const absl::Time start = absl::Now();
  idle->Stop();
  EXPECT_LT(absl::Now() - start, kWait);

  StartCp();
  SetConfig(ExampleConfig());
  StartApp();
  WatchLog connected_log;
  auto connected = Watch(Options(), connected_log.Callbacks());
  connected_log.AwaitUpdates(1);
  AwaitSubscriber([](const status::SubscriberRecord&) { return true; });
  connected->Stop();
  connected->Stop();  // idempotent
  auto [view, gone] = app_->status().WaitFor(
      [](const status::StatusView& v) { return v.subscribers.empty(); }, kWait);
  EXPECT_TRUE(gone);
}

// Stop called from on_update returns without waiting for itself; no callback follows, and the
// owner's later Stop and destruction complete.
TEST_F(ClientTest, StopFromCallback) {
  StartCp();
  SetConfig(ExampleConfig());
  StartApp();
  absl::Notification created, stopped_inside;
  ConfigWatcher* self = nullptr;
  client::WatcherCallbacks callbacks;
  int calls = 0;  // only the watcher's thread touches it
  callbacks.on_update = [&](const MirrorPtr&, const UpdateInfo&) {
    created.WaitForNotification();
    ++calls;
    self->Stop();
    stopped_inside.Notify();
    return absl::OkStatus();
  };
  auto watcher = Watch(Options(), std::move(callbacks));
  self = watcher.get();
  created.Notify();
  stopped_inside.WaitForNotification();
  SetConfig(ChangedExampleConfig());  // would be a second update, were the watcher running
  watcher->Stop();
  watcher.reset();
  EXPECT_EQ(calls, 1);
}

// The tool calls: status, config (all and filtered), health, and the status stream.
TEST_F(ClientTest, ClientCalls) {
  StartCp();
  const std::string hash = SetConfig(ExampleConfig());
  StartApp();
  const config::SnapshotPtr snapshot = AwaitSnapshot(hash);
  auto tether = Client();

  auto status = tether->GetStatus(kWait);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->config().hash(), hash);
  EXPECT_EQ(status->node().hostname(), "dp-test.local");

  auto mirror = tether->GetConfig({}, kWait);
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  ExpectMirrorMatches(**mirror, *snapshot);
  auto routes = tether->GetConfig({"routes"}, kWait);
  ASSERT_TRUE(routes.ok()) << routes.status();
  ExpectMirrorMatches(**routes, *snapshot, {"routes"});

  auto health = tether->CheckHealth("", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kServing);
  health = tether->CheckHealth("tether.v1.ConfigService", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kServing);
  health = tether->CheckHealth("no.such.Service", kWait);
  EXPECT_EQ(health.status().code(), absl::StatusCode::kNotFound) << health.status();

  std::vector<v1::Status> seen;
  absl::Status watched = tether->WatchStatus([&](const v1::Status& s) {
    seen.push_back(s);
    return false;
  });
  EXPECT_TRUE(watched.ok()) << watched;
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].config().hash(), hash);
}

// Before the first config: health is NOT_SERVING and GetConfig is refused.
TEST_F(ClientTest, ClientCallsBeforeFirstConfig) {
  StartCp();
  StartApp();
  auto tether = Client();
  auto health = tether->CheckHealth("", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kNotServing);
  auto mirror = tether->GetConfig({}, kWait);
  EXPECT_EQ(mirror.status().code(), absl::StatusCode::kFailedPrecondition) << mirror.status();
}

// Nothing listening: every call says Unavailable and names itself.
TEST_F(ClientTest, ClientCallsWhenTetherIsDown) {
  auto tether = Client();
  auto status = tether->GetStatus(kWait);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
  EXPECT_THAT(std::string(status.status().message()), HasSubstr("GetStatus: "));
  auto health = tether->CheckHealth("", kWait);
  EXPECT_EQ(health.status().code(), absl::StatusCode::kUnavailable) << health.status();
}

// Bad options are refused by Create, each with its reason.
TEST(ConfigWatcherCreateTest, RejectsBadOptions) {
  struct Case {
    std::string name;
    std::function<void(client::WatcherOptions&, client::WatcherCallbacks&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty target", [](auto& o, auto&) { o.target.clear(); }, "target is empty"},
      {"empty client_id", [](auto& o, auto&) { o.client_id.clear(); }, "client_id is empty"},
      {"no on_update", [](auto&, auto& c) { c.on_update = nullptr; }, "on_update"},
      {"zero backoff", [](auto& o, auto&) { o.backoff_min = absl::ZeroDuration(); }, "backoff"},
      {"max below min",
       [](auto& o, auto&) {
         o.backoff_min = absl::Seconds(2);
         o.backoff_max = absl::Seconds(1);
       },
       "backoff"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    client::WatcherOptions options;
    options.client_id = "x";
    client::WatcherCallbacks callbacks;
    callbacks.on_update = [](const MirrorPtr&, const UpdateInfo&) { return absl::OkStatus(); };
    c.edit(options, callbacks);
    auto watcher = ConfigWatcher::Create(options, callbacks);
    EXPECT_EQ(watcher.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(watcher.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace tether
