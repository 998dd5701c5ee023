// api::Server with its services against a store and a status board fed by hand (no control
// plane): fan-out sharing, the update cache's bounds under a filter flood, per-client limits
// (truncation, the subscriber cap), DELTA catch-up after a stall, shutdown statuses, health at
// start and listener preparation. Real gRPC clients over a unix socket in a temp dir.
#include "sidecar/api/server.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/api/request_validation.h"
#include "tests/unit/sidecar/api/snapshots.h"
#include "tether/v1/config.grpc.pb.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether::api {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kWait = absl::Seconds(60);

std::chrono::system_clock::time_point Deadline() { return absl::ToChronoTime(absl::Now() + kWait); }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "tether_api_XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

enum class Window {
  kDefault,
  // A fixed 64 KiB HTTP/2 stream window: a client that does not read stalls any larger write.
  kSmall,
};

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target,
                                          Window window = Window::kDefault) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
  if (window == Window::kSmall) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  }
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

struct Update {
  std::vector<v1::WatchResponse> chunks;
  const v1::WatchResponse& head() const { return chunks.front(); }
  std::set<std::string> UpsertIds() const {
    std::set<std::string> ids;
    for (const auto& c : chunks) {
      for (const auto& e : c.upserts()) ids.insert(e.id());
    }
    return ids;
  }
};

class Watch {
 public:
  explicit Watch(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::ConfigService::NewStub(channel)) {
    context_.set_deadline(Deadline());
    stream_ = stub_->Watch(&context_);
  }
  bool Subscribe(const std::string& id, std::vector<std::string> types = {},
                 v1::Mode mode = v1::MODE_FULL) {
    v1::WatchRequest r;
    r.mutable_subscribe()->set_client_id(id);
    for (const auto& t : types) r.mutable_subscribe()->add_entity_types(t);
    r.mutable_subscribe()->set_mode(mode);
    return stream_->Write(r);
  }
  bool Nack(const std::string& hash, const std::string& error) {
    v1::WatchRequest r;
    r.mutable_nack()->set_config_hash(hash);
    r.mutable_nack()->set_error(error);
    return stream_->Write(r);
  }
  bool NextChunk(v1::WatchResponse* chunk) { return stream_->Read(chunk); }
  std::optional<Update> Next() {
    Update u;
    v1::WatchResponse m;
    while (stream_->Read(&m)) {
      u.chunks.push_back(m);
      if (m.last_chunk()) return u;
    }
    return std::nullopt;
  }
  grpc::Status Finish() { return stream_->Finish(); }

 private:
  std::unique_ptr<v1::ConfigService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
};

// `rows` services padded to `padding` bytes each, plus the routes given.
config::SnapshotPtr Config(int rows, size_t padding, const std::vector<std::string>& routes) {
  std::vector<std::string> services;
  for (int i = 0; i < rows; ++i) {
    services.push_back(testing::Row(absl::StrCat("s", i), "svc", padding));
  }
  return testing::Decode(absl::StrCat(R"({"services":[)", absl::StrJoin(services, ","),
                                      R"(],"routes":[)", absl::StrJoin(routes, ","), "]}"));
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    socket_ = dir_.path() + "/t.sock";
    if (options.listen.empty()) {
      options.listen.push_back({ListenAddress::Kind::kUnix, socket_, "", 0});
    }
    auto server = Server::Create(std::move(options), store_, board_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    target_ = server_->addresses()[0];
  }
  void TearDown() override {
    if (server_) server_->Shutdown(kWait);
  }

  // Returns once the fan-out worker has finished everything queued before this call: GetConfig's
  // build is a worker task that runs after them.
  void Barrier() {
    auto stub = v1::ConfigService::NewStub(NewChannel(target_));
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->GetConfig(&context, v1::GetConfigRequest());
    v1::WatchResponse m;
    while (reader->Read(&m)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }

  TempDir dir_;
  std::string socket_;
  config::SnapshotStore store_;
  status::StatusBoard board_;
  std::unique_ptr<Server> server_;
  std::string target_;
};

// Subscribers with the same needs share one built update: six subscribers, two distinct filters,
// two builds.
TEST_F(ServerTest, SubscribersWithSameNeedsShareOneBuild) {
  Start();
  store_.Publish(Config(3, 0, {testing::Row("r1", "a")}));
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < 6; ++i) {
    watches.push_back(std::make_unique<Watch>(NewChannel(target_)));
    ASSERT_TRUE(watches.back()->Subscribe(
        absl::StrCat("w", i),
        i % 2 == 0 ? std::vector<std::string>{"routes"} : std::vector<std::string>{}));
  }
  for (auto& w : watches) ASSERT_TRUE(w->Next());
  const UpdateCache::Stats stats = server_->ConfigStatsForTest();
  EXPECT_EQ(stats.full_builds, 2u);
  EXPECT_EQ(stats.hits, 4u);
}

// GetConfig with `types` to the end; its chunks.
std::vector<v1::WatchResponse> GetConfig(const std::string& target,
                                         const std::vector<std::string>& types) {
  auto stub = v1::ConfigService::NewStub(NewChannel(target));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::GetConfigRequest request;
  for (const auto& t : types) request.add_entity_types(t);
  auto reader = stub->GetConfig(&context, request);
  std::vector<v1::WatchResponse> chunks;
  v1::WatchResponse m;
  while (reader->Read(&m)) chunks.push_back(m);
  EXPECT_TRUE(reader->Finish().ok());
  return chunks;
}

// A flood of GetConfig calls, each naming made-up types beside a real one, leaves nothing in the
// update cache: the filters all select `services` (shared with a subscriber that kept it), and
// one-shot results are not kept. Then subscribers with distinct filters under a small budget
// leave the cache within it, the evictions counted on the board.
TEST_F(ServerTest, FilterFloodLeavesTheUpdateCacheBounded) {
  const auto v1 = Config(50, 1024, {testing::Row("r1", "a", 1024)});
  const size_t services_bytes =
      BuildFullUpdate(v1, config::TypeFilter({"services"}))->chunks.held_bytes();
  const size_t budget = services_bytes + services_bytes / 2;
  ServerOptions options;
  options.update_cache_bytes = budget;
  Start(std::move(options));
  store_.Publish(v1);

  for (int i = 0; i < 40; ++i) {
    const auto chunks = GetConfig(target_, {"services", absl::StrCat("junk", i)});
    ASSERT_FALSE(chunks.empty());
    EXPECT_THAT(chunks[0].entity_types(), ::testing::ElementsAre("services"));
  }
  UpdateCache::Stats stats = server_->ConfigStatsForTest();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);

  Watch services(NewChannel(target_));
  ASSERT_TRUE(services.Subscribe("services", {"services"}));
  ASSERT_TRUE(services.Next());
  const uint64_t hits = server_->ConfigStatsForTest().hits;
  for (int i = 0; i < 40; ++i) {
    ASSERT_FALSE(GetConfig(target_, {"services", absl::StrCat("junk", i)}).empty());
  }
  stats = server_->ConfigStatsForTest();
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, services_bytes);
  EXPECT_EQ(stats.hits, hits + 40);

  std::vector<std::unique_ptr<Watch>> watches;
  for (const std::vector<std::string>& types : std::vector<std::vector<std::string>>{
           {"routes"}, {}, {"routes", "services"}, {"services"}}) {
    watches.push_back(std::make_unique<Watch>(NewChannel(target_)));
    ASSERT_TRUE(watches.back()->Subscribe("filtered", types));
    ASSERT_TRUE(watches.back()->Next());
  }
  stats = server_->ConfigStatsForTest();
  EXPECT_LE(stats.bytes, budget);
  EXPECT_GE(stats.evictions, 2u);
  EXPECT_EQ(board_.Get().totals.update_cache_evictions, stats.evictions);
}

// A client cannot make status or logs grow with what it sends: an oversize client_id and NACK
// error are cut (at a character boundary, so status still serialises) before they are stored.
TEST_F(ServerTest, OversizeClientIdAndNackErrorAreTruncated) {
  Start();
  store_.Publish(Config(1, 0, {}));
  std::string long_text;
  while (long_text.size() < 20000) long_text += "caf\u00e9-";  // 2-byte characters throughout
  Watch watch(NewChannel(target_));
  ASSERT_TRUE(watch.Subscribe(long_text));
  auto first = watch.Next();
  ASSERT_TRUE(first);
  ASSERT_TRUE(watch.Nack(first->head().config_hash(), long_text));
  auto [view, held] = board_.WaitFor(
      [](const status::StatusView& v) {
        return !v.subscribers.empty() && !v.subscribers.begin()->second.nack_error.empty();
      },
      kWait);
  ASSERT_TRUE(held);

  auto stub = v1::StatusService::NewStub(NewChannel(target_));
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::Status status;
  ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  ASSERT_EQ(status.subscribers_size(), 1);
  const v1::SubscriberStatus& s = status.subscribers(0);
  const std::string marker = absl::StrCat("...[", long_text.size(), " bytes]");
  EXPECT_LE(s.client_id().size(), kMaxClientIdBytes);
  EXPECT_GT(s.client_id().size(), kMaxClientIdBytes - 8);
  EXPECT_THAT(s.client_id(), ::testing::StartsWith("caf\u00e9-"));
  EXPECT_THAT(s.client_id(), ::testing::EndsWith(marker));
  EXPECT_LE(s.nack_error().size(), kMaxNackErrorBytes);
  EXPECT_GT(s.nack_error().size(), kMaxNackErrorBytes - 8);
  EXPECT_THAT(s.nack_error(), ::testing::EndsWith(marker));
  EXPECT_EQ(s.nacked_hash(), first->head().config_hash());
}

// Watch streams beyond max_subscribers are refused with RESOURCE_EXHAUSTED and counted; the
// subscribers already served carry on, and GetConfig is not a subscriber.
TEST_F(ServerTest, SubscriberCapRefusesWithResourceExhausted) {
  ServerOptions options;
  options.max_subscribers = 2;
  Start(std::move(options));
  store_.Publish(Config(1, 0, {}));
  std::vector<std::unique_ptr<Watch>> served;
  for (int i = 0; i < 2; ++i) {
    served.push_back(std::make_unique<Watch>(NewChannel(target_)));
    ASSERT_TRUE(served.back()->Subscribe(absl::StrCat("served", i)));
    ASSERT_TRUE(served.back()->Next());
  }
  for (int i = 0; i < 3; ++i) {
    Watch refused(NewChannel(target_));
    refused.Subscribe("refused");  // may fail: the server may have finished the stream already
    EXPECT_FALSE(refused.Next());
    const grpc::Status s = refused.Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(s.error_message(), HasSubstr("--grpc-max-subscribers"));
  }
  EXPECT_EQ(board_.Get().totals.subscribers_refused, 3u);
  EXPECT_EQ(board_.Get().subscribers.size(), 2u);
  EXPECT_FALSE(GetConfig(target_, {}).empty());
  store_.Publish(Config(2, 0, {}));
  for (auto& w : served) EXPECT_TRUE(w->Next());
}

// A DELTA subscriber whose first update (2 MiB in 256 KiB chunks, against a 64 KiB window) is
// stalled by flow control misses two configs. When it reads again it gets the rest of the update
// in flight, then one delta from the snapshot it fully received to the newest, carrying both
// changes (the middle config is never sent).
TEST_F(ServerTest, StalledDeltaSubscriberCatchesUpFromLastFullySent) {
  ServerOptions options;
  options.max_chunk_bytes = 256 * 1024;
  Start(std::move(options));
  const auto v1 = Config(200, 10 * 1024, {testing::Row("rA", "1"), testing::Row("rB", "1")});
  const auto v2 = Config(200, 10 * 1024, {testing::Row("rA", "2"), testing::Row("rB", "1")});
  const auto v3 = Config(200, 10 * 1024, {testing::Row("rA", "2"), testing::Row("rB", "3")});
  store_.Publish(v1);

  Watch stalled(NewChannel(target_, Window::kSmall));
  ASSERT_TRUE(stalled.Subscribe("stalled", {}, v1::MODE_DELTA));
  // Its first chunk proves the v1 update is in flight; the rest cannot pass the window.
  v1::WatchResponse first_chunk;
  ASSERT_TRUE(stalled.NextChunk(&first_chunk));
  EXPECT_EQ(first_chunk.config_hash(), v1->config_hash);
  EXPECT_FALSE(first_chunk.last_chunk());
  store_.Publish(v2);
  store_.Publish(v3);
  Barrier();  // the worker has offered v3 to the stalled stream

  auto rest = stalled.Next();
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->head().config_hash(), v1->config_hash);
  EXPECT_GE(rest->chunks.size(), 3u);
  auto next = stalled.Next();
  ASSERT_TRUE(next);
  EXPECT_FALSE(next->head().full());
  EXPECT_EQ(next->head().base_hash(), v1->config_hash);
  EXPECT_EQ(next->head().config_hash(), v3->config_hash);
  EXPECT_THAT(next->UpsertIds(), UnorderedElementsAre("rA", "rB"));
}

// A FULL subscriber stalled in the middle of a large update still gets that config whole and
// intact after newer configs replaced it and the store let it go: the chunks not yet written are
// written from the snapshot the stream and its update keep alive (under ASan, a chunk written
// from freed text fails).
TEST_F(ServerTest, StalledSubscriberGetsTheConfigItWasSendingAfterTheStoreDroppedIt) {
  ServerOptions options;
  options.max_chunk_bytes = 256 * 1024;
  Start(std::move(options));
  constexpr int kServices = 200;
  constexpr size_t kPadding = 10 * 1024;
  config::SnapshotPtr old_config = Config(kServices, kPadding, {testing::Row("rA", "1")});
  const std::string old_hash = old_config->config_hash;
  const std::weak_ptr<const config::Snapshot> old_alive = old_config;
  store_.Publish(std::move(old_config));

  Watch stalled(NewChannel(target_, Window::kSmall));
  ASSERT_TRUE(stalled.Subscribe("stalled"));
  Update old_update;
  old_update.chunks.emplace_back();
  ASSERT_TRUE(stalled.NextChunk(&old_update.chunks[0]));
  ASSERT_FALSE(old_update.chunks[0].last_chunk());
  std::string newest_hash;
  for (size_t i = 0; i <= config::SnapshotStore::kDefaultHistory; ++i) {
    config::SnapshotPtr newer = Config(1, 0, {testing::Row("rA", absl::StrCat("v", i))});
    newest_hash = newer->config_hash;
    store_.Publish(std::move(newer));
  }
  Barrier();
  ASSERT_EQ(store_.Find(old_hash), nullptr);
  EXPECT_FALSE(old_alive.expired());  // only the stream sending it holds it

  auto rest = stalled.Next();
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->head().config_hash(), old_hash);
  old_update.chunks.insert(old_update.chunks.end(), rest->chunks.begin(), rest->chunks.end());
  EXPECT_GE(old_update.chunks.size(), 4u);
  size_t services = 0;
  for (const v1::WatchResponse& chunk : old_update.chunks) {
    for (const v1::Entity& entity : chunk.upserts()) {
      if (entity.type() != "services") continue;
      EXPECT_EQ(entity.json(), testing::Row(entity.id(), "svc", kPadding));
      ++services;
    }
  }
  EXPECT_EQ(services, static_cast<size_t>(kServices));
  auto next = stalled.Next();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->head().config_hash(), newest_hash);
  EXPECT_TRUE(next->head().full());
}

// Shutdown ends streams with UNAVAILABLE "tether is shutting down": Watch and WatchStatus.
TEST_F(ServerTest, ShutdownEndsEveryStreamWithUnavailable) {
  Start();
  store_.Publish(Config(1, 0, {}));
  Watch subscribed(NewChannel(target_));
  ASSERT_TRUE(subscribed.Subscribe("a"));
  ASSERT_TRUE(subscribed.Next());
  auto status_stub = v1::StatusService::NewStub(NewChannel(target_));
  grpc::ClientContext status_context;
  status_context.set_deadline(Deadline());
  auto status_reader = status_stub->WatchStatus(&status_context, v1::WatchStatusRequest());
  v1::Status status;
  ASSERT_TRUE(status_reader->Read(&status));
  EXPECT_TRUE(server_->Shutdown(kWait));

  EXPECT_FALSE(subscribed.Next());
  grpc::Status s = subscribed.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "tether is shutting down");
  while (status_reader->Read(&status)) {
  }
  s = status_reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "tether is shutting down");
}

// A snapshot published before the server exists: health is SERVING from the start, and a
// subscriber gets it at once.
TEST_F(ServerTest, SnapshotPublishedBeforeStartIsServed) {
  const auto v1 = Config(2, 0, {});
  store_.Publish(v1);
  Start();
  Watch watch(NewChannel(target_));
  ASSERT_TRUE(watch.Subscribe("late"));
  auto first = watch.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->head().config_hash(), v1->config_hash);
}

// Requests bigger than the receive limit are refused by gRPC (RESOURCE_EXHAUSTED).
TEST_F(ServerTest, OversizedRequestIsRefused) {
  ServerOptions options;
  options.max_receive_message_bytes = 1024;
  Start(std::move(options));
  Watch watch(NewChannel(target_));
  ASSERT_TRUE(watch.Subscribe(std::string(4096, 'c')));
  EXPECT_FALSE(watch.Next());
  EXPECT_EQ(watch.Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// Listener preparation refuses what it must not touch, each with its reason.
TEST_F(ServerTest, UnixPathProblemsAreStartUpErrors) {
  const std::string file = dir_.path() + "/not-a-socket";
  std::ofstream(file) << "data";
  struct Case {
    std::string path;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {file, "a file that is not a socket is in the way"},
           {dir_.path() + "/missing/t.sock", "does not exist"},
       }) {
    SCOPED_TRACE(c.path);
    ServerOptions options;
    options.listen.push_back({ListenAddress::Kind::kUnix, c.path, "", 0});
    auto server = Server::Create(std::move(options), store_, board_);
    ASSERT_FALSE(server.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(server.status()));
    EXPECT_THAT(std::string(server.status().message()), HasSubstr(c.message));
  }
  EXPECT_EQ(std::ifstream(file).rdbuf()->sgetc(), 'd') << "the file was touched";
}

}  // namespace
}  // namespace tether::api
