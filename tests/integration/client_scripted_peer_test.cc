// ConfigWatcher against a scripted ConfigService peer: a real gRPC server on a unix socket that
// sends what each step of the protocol needs, including an update tether itself would never send
// (a delta that does not apply), and records every request the watcher makes. What it checks:
// acks, the nack of an update that cannot be assembled, the resubscribe without resume_hash that
// follows it, and the resume with the held hash after an ordinary disconnect; and that the
// watcher's stream does not wait on gRPC's shared callback threads.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/lib/config_watcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/testing.h"
#include "tether/v1/config.grpc.pb.h"

namespace tether {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);
const std::string kHash1(32, '1');
const std::string kHash2(32, '2');
const std::string kUnknownBase(32, 'f');
const std::string kBadDelta(32, '9');

using Stream = grpc::ServerReaderWriter<v1::WatchResponse, v1::WatchRequest>;

// One update of `services` rows "a" and "b" as `chunks` chunks (1 or 2).
std::vector<v1::WatchResponse> FullUpdate(const std::string& hash, int chunks) {
  std::vector<v1::WatchResponse> out(chunks);
  for (int i = 0; i < chunks; ++i) {
    out[i].set_config_hash(hash);
    out[i].set_full(true);
    out[i].set_chunk_index(i);
    out[i].add_entity_types("services");
    out[i].set_source(v1::SOURCE_CONTROL_PLANE);
  }
  for (const char* id : {"a", "b"}) {
    v1::Entity* e = out[id[0] == 'a' ? 0 : chunks - 1].add_upserts();
    e->set_type("services");
    e->set_id(id);
    e->set_json(absl::StrCat(R"({"id":")", id, R"(","hash":")", hash, R"("})"));
  }
  out.back().set_last_chunk(true);
  return out;
}

// A plaintext server for `service` on `target` (a unix socket); null if it could not start.
std::unique_ptr<grpc::Server> Serve(grpc::Service* service, const std::string& target) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target, grpc::InsecureServerCredentials());
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// A scripted ConfigService: stream N runs step N of the test's script. Every request received is
// recorded with its stream's index.
class ScriptedService final : public v1::ConfigService::Service {
 public:
  struct Received {
    int stream;
    v1::WatchRequest request;
  };

  grpc::Status Watch(grpc::ServerContext*, Stream* stream) override {
    int index;
    {
      absl::MutexLock lock(&mu_);
      index = streams_++;
    }
    auto read = [&]() -> bool {
      v1::WatchRequest request;
      if (!stream->Read(&request)) return false;
      absl::MutexLock lock(&mu_);
      received_.push_back({index, std::move(request)});
      return true;
    };
    auto send = [&](const std::vector<v1::WatchResponse>& chunks) {
      for (const auto& c : chunks) stream->Write(c);
    };
    if (!read()) return grpc::Status::CANCELLED;  // subscribe
    switch (index) {
      case 0: {
        send(FullUpdate(kHash1, 1));
        read();  // ack kHash1
        v1::WatchResponse delta;
        delta.set_config_hash(kBadDelta);
        delta.set_base_hash(kUnknownBase);
        delta.add_entity_types("services");
        delta.set_last_chunk(true);
        send({delta});
        read();  // nack kBadDelta
        // The watcher half-closes after its nack; end the stream as tether would.
        while (read()) {
        }
        return grpc::Status::OK;
      }
      case 1:
        send(FullUpdate(kHash2, 2));
        read();  // ack kHash2
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "scripted peer going away");
      default:
        while (read()) {  // until the watcher stops
        }
        return grpc::Status::CANCELLED;
    }
  }

  std::vector<Received> AwaitReceived(size_t n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&arrived), kWait))
        << "waited for " << n << " requests, got " << received_.size();
    return received_;
  }

 private:
  absl::Mutex mu_;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
};

// Serves one update, then another once the test notifies send_second.
class TwoUpdatesService final : public v1::ConfigService::Service {
 public:
  grpc::Status Watch(grpc::ServerContext*, Stream* stream) override {
    v1::WatchRequest request;
    if (!stream->Read(&request)) return grpc::Status::CANCELLED;  // subscribe
    for (const auto& chunk : FullUpdate(kHash1, 1)) stream->Write(chunk);
    stream->Read(&request);  // ack kHash1
    send_second.WaitForNotification();
    for (const auto& chunk : FullUpdate(kHash2, 1)) stream->Write(chunk);
    while (stream->Read(&request)) {  // until the watcher stops
    }
    return grpc::Status::CANCELLED;
  }

  absl::Notification send_second;
};

// Occupies gRPC's shared callback threads (two to sixteen in gRPC 1.51, by core count): sixteen
// callback-API calls, each of whose completion blocks its thread until Release.
class CallbackThreadsBlocker {
 public:
  explicit CallbackThreadsBlocker(const std::string& target)
      : stub_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())) {
    const grpc::Slice empty("");
    for (Call& call : calls_) {
      call.request = grpc::ByteBuffer(&empty, 1);  // a default one is no message
      // No such method: the peer answers Unimplemented at once.
      stub_.UnaryCall(&call.context, "/tether.test.None/Block", grpc::StubOptions(), &call.request,
                      &call.response, [this](const grpc::Status&) {
                        absl::MutexLock lock(&mu_);
                        ++blocked_;
                        mu_.Await(absl::Condition(&released_));
                        ++done_;
                      });
    }
  }

  ~CallbackThreadsBlocker() {
    Release();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* done) { return *done == static_cast<int>(kCalls); }, &done_));
  }

  // True once at least two threads (gRPC's fewest) are blocked. Where gRPC runs two (up to five
  // cores) that is all of them; with more, a watcher that needs them might slip through before
  // every thread is held, so the test can miss a regression there but never fails a good watcher.
  bool AwaitBlocked() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* blocked) { return *blocked >= 2; }, &blocked_),
                                kWait);
  }

  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  static constexpr size_t kCalls = 16;
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };

  grpc::GenericStub stub_;
  std::array<Call, kCalls> calls_;
  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_ ABSL_GUARDED_BY(mu_) = 0;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
};

// Acks, nack of an unassemblable update, resubscribe without resume_hash, resume with the held
// hash after a disconnect; updates and errors reach the callbacks in order.
TEST(ClientScriptedPeerTest, NacksResubscribesAndResumes) {
  testing::TempDir dir;
  const std::string target = absl::StrCat("unix://", dir.path(), "/scripted.sock");
  ScriptedService service;
  std::unique_ptr<grpc::Server> server = Serve(&service, target);
  ASSERT_NE(server, nullptr);

  absl::Mutex mu;
  std::vector<client::MirrorPtr> updates;
  std::vector<absl::Status> errors;
  client::WatcherOptions options;
  options.target = target;
  options.client_id = "scripted";
  options.mode = client::Mode::kDelta;
  options.backoff_min = absl::Milliseconds(10);
  options.backoff_max = absl::Milliseconds(100);
  client::WatcherCallbacks callbacks;
  callbacks.on_update = [&](const client::MirrorPtr& mirror, const client::UpdateInfo&) {
    absl::MutexLock lock(&mu);
    updates.push_back(mirror);
    return absl::OkStatus();
  };
  callbacks.on_error = [&](const absl::Status& error, absl::Duration) {
    absl::MutexLock lock(&mu);
    errors.push_back(error);
  };
  auto watcher = client::ConfigWatcher::Create(options, callbacks);
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  // stream 0: subscribe, ack, nack; stream 1: subscribe, ack; stream 2: subscribe.
  const auto received = service.AwaitReceived(6);
  (*watcher)->Stop();
  server->Shutdown(absl::ToChronoTime(absl::Now() + kWait));
  ASSERT_EQ(received.size(), 6u);

  EXPECT_EQ(received[0].stream, 0);
  ASSERT_TRUE(received[0].request.has_subscribe());
  EXPECT_EQ(received[0].request.subscribe().client_id(), "scripted");
  EXPECT_EQ(received[0].request.subscribe().mode(), v1::MODE_DELTA);
  EXPECT_EQ(received[0].request.subscribe().resume_hash(), "");
  EXPECT_EQ(received[1].request.ack().config_hash(), kHash1);
  ASSERT_TRUE(received[2].request.has_nack());
  EXPECT_EQ(received[2].request.nack().config_hash(), kBadDelta);
  EXPECT_THAT(received[2].request.nack().error(), HasSubstr(kUnknownBase));

  // After the nack: a new stream without resume_hash, so the peer sends a full update.
  EXPECT_EQ(received[3].stream, 1);
  ASSERT_TRUE(received[3].request.has_subscribe());
  EXPECT_EQ(received[3].request.subscribe().resume_hash(), "");
  EXPECT_EQ(received[4].request.ack().config_hash(), kHash2);

  // After an ordinary disconnect: resume with the held hash.
  EXPECT_EQ(received[5].stream, 2);
  ASSERT_TRUE(received[5].request.has_subscribe());
  EXPECT_EQ(received[5].request.subscribe().resume_hash(), kHash2);

  absl::MutexLock lock(&mu);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0]->config_hash, kHash1);
  EXPECT_EQ(updates[1]->config_hash, kHash2);
  EXPECT_EQ(updates[1]->entities.at("services").at("b"),
            absl::StrCat(R"({"id":"b","hash":")", kHash2, R"("})"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kInvalidArgument) << errors[0];
  EXPECT_THAT(std::string(errors[0].message()), HasSubstr("nacked, resubscribing"));
  EXPECT_EQ(errors[1].code(), absl::StatusCode::kUnavailable) << errors[1];
  EXPECT_THAT(std::string(errors[1].message()), HasSubstr("scripted peer going away"));
}

// The watcher's stream completes on the watcher's own thread, not on gRPC's callback threads
// (which, after an idle second, sleep 100 ms at a time without polling): an update reaches
// on_update even while every callback thread is held by another user of the callback API.
TEST(ClientScriptedPeerTest, ReadsUpdatesWhileGrpcCallbackThreadsAreBusy) {
  testing::TempDir dir;
  const std::string target = absl::StrCat("unix://", dir.path(), "/scripted.sock");
  TwoUpdatesService service;
  std::unique_ptr<grpc::Server> server = Serve(&service, target);
  ASSERT_NE(server, nullptr);

  absl::Mutex mu;
  std::vector<std::string> hashes;
  client::WatcherOptions options;
  options.target = target;
  options.client_id = "scripted";
  client::WatcherCallbacks callbacks;
  callbacks.on_update = [&](const client::MirrorPtr& mirror, const client::UpdateInfo&) {
    absl::MutexLock lock(&mu);
    hashes.push_back(mirror->config_hash);
    return absl::OkStatus();
  };
  auto watcher = client::ConfigWatcher::Create(options, callbacks);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  // Bounded only so that a watcher that needs those threads fails rather than hangs.
  auto await_updates = [&](size_t n) {
    absl::MutexLock lock(&mu);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return hashes.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&arrived), kWait);
  };

  const bool first = await_updates(1);
  bool blocked = false;
  bool second = false;
  if (first) {
    CallbackThreadsBlocker blocker(target);
    blocked = blocker.AwaitBlocked();
    service.send_second.Notify();
    if (blocked) second = await_updates(2);
    blocker.Release();
  } else {
    service.send_second.Notify();
  }
  (*watcher)->Stop();
  server->Shutdown(absl::ToChronoTime(absl::Now() + kWait));
  ASSERT_TRUE(first) << "no first update";
  ASSERT_TRUE(blocked) << "gRPC's callback threads did not run the blocking calls";
  EXPECT_TRUE(second) << "the second update did not arrive while gRPC's callback threads were busy";
  absl::MutexLock lock(&mu);
  EXPECT_THAT(hashes, ::testing::ElementsAre(kHash1, kHash2));
}

}  // namespace
}  // namespace tether
