// ConfigWatcher against a scripted ConfigService peer: a real gRPC server on a unix socket that
// sends what each step of the protocol needs, including an update tether itself would never send
// (a delta that does not apply), and records every request the watcher makes. What it checks:
// acks, the nack of an update that cannot be assembled, the resubscribe without resume_hash that
// follows it, and the resume with the held hash after an ordinary disconnect.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

// Acks, nack of an unassemblable update, resubscribe without resume_hash, resume with the held
// hash after a disconnect; updates and errors reach the callbacks in order.
TEST(ClientScriptedPeerTest, NacksResubscribesAndResumes) {
  testing::TempDir dir;
  const std::string target = absl::StrCat("unix://", dir.path(), "/scripted.sock");
  ScriptedService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(target, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
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

}  // namespace
}  // namespace tether
