// Shared pieces of the gRPC API integration tests: tether's App fed by an in-process tether-devcp,
// real gRPC channels over a unix socket and TCP loopback, a Watch client that reads whole updates,
// an independent mirror that applies them, and configs built from a small mutable model.
//
// Every wait is on an event (a status change, the next stream message) bounded by a deadline on
// the call or the wait; nothing sleeps.
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sidecar/app/app.h"
#include "tests/testing/testing.h"
#include "tether/v1/config.grpc.pb.h"
#include "tether/v1/status.grpc.pb.h"
#include "tools/devcp/control_plane.h"

namespace tether::api_test {

inline constexpr absl::Duration kWait = absl::Seconds(60);

inline std::chrono::system_clock::time_point Deadline(absl::Duration d = kWait) {
  return absl::ToChronoTime(absl::Now() + d);
}

// A channel with its own connection (gRPC would otherwise share one subchannel between channels
// to the same target, and a stuck stream's flow control would then be shared too).
enum class Window {
  kDefault,
  // A fixed 64 KiB HTTP/2 stream window (no BDP growth): a client that does not read stalls the
  // server's write as soon as a message exceeds it, which makes "stuck" cheap and deterministic.
  kSmall,
};

inline std::shared_ptr<grpc::Channel> NewChannel(const std::string& target,
                                                 Window window = Window::kDefault) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (window == Window::kSmall) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
  }
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// The entities of a config: type -> id -> compact JSON row. Ordered, so a model renders to the
// same JSON every time.
using Entities = std::map<std::string, std::map<std::string, std::string>>;

// A Kong config (flat CP form) that tests mutate and push.
struct ConfigModel {
  Entities entities;
  std::map<std::string, std::string> metadata = {{"_format_version", "\"3.0\""}};

  std::string ToJson() const {
    std::vector<std::string> parts;
    for (const auto& [key, json] : metadata) parts.push_back(absl::StrCat("\"", key, "\":", json));
    for (const auto& [type, rows] : entities) {
      std::vector<std::string> items;
      for (const auto& [id, json] : rows) items.push_back(json);
      parts.push_back(absl::StrCat("\"", type, "\":[", absl::StrJoin(items, ","), "]"));
    }
    return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
  }

  // Adds or replaces a row of `type` with id `id`, its content varied by `tag`, padded with
  // `padding` bytes of text.
  void Put(const std::string& type, const std::string& id, const std::string& tag,
           size_t padding = 0) {
    entities[type][id] = absl::StrCat(R"({"id":")", id, R"(","name":")", type, "-", tag,
                                      R"(","comment":")", std::string(padding, 'x'), R"("})");
  }
  void Remove(const std::string& type, const std::string& id) {
    entities[type].erase(id);
    if (entities[type].empty()) entities.erase(type);
  }
};

// A UUID-shaped id from a number, so ids are valid anywhere Kong expects one.
inline std::string Id(int n) {
  std::string digits = absl::StrCat(n);
  return absl::StrCat("00000000-0000-4000-8000-", std::string(12 - digits.size(), '0'), digits);
}

// One update: its chunks, in order.
struct Update {
  std::vector<v1::WatchResponse> chunks;

  const v1::WatchResponse& head() const { return chunks.front(); }
  const std::string& hash() const { return head().config_hash(); }
  bool full() const { return head().full(); }
  size_t upserts() const {
    size_t n = 0;
    for (const auto& c : chunks) n += c.upserts_size();
    return n;
  }
  std::vector<std::string> UpsertTypes() const {
    std::vector<std::string> types;
    for (const auto& c : chunks) {
      for (const auto& e : c.upserts()) types.push_back(e.type());
    }
    return types;
  }
};

// An independent client-side mirror: applies full updates and deltas as config.proto says.
struct Mirror {
  std::string hash;
  Entities entities;

  // Checks the update applies to what is held, then applies it.
  void Apply(const Update& update) {
    ASSERT_FALSE(update.chunks.empty());
    for (size_t i = 0; i < update.chunks.size(); ++i) {
      const v1::WatchResponse& c = update.chunks[i];
      EXPECT_EQ(c.config_hash(), update.hash());
      EXPECT_EQ(c.chunk_index(), i);
      EXPECT_EQ(c.last_chunk(), i + 1 == update.chunks.size());
      EXPECT_EQ(c.full(), update.full());
    }
    if (update.full()) {
      entities.clear();
    } else {
      EXPECT_EQ(update.head().base_hash(), hash) << "delta does not apply to the held state";
    }
    Entities next = entities;
    for (const auto& c : update.chunks) {
      for (const auto& r : c.removals()) {
        EXPECT_EQ(next[r.type()].erase(r.id()), 1u) << r.type() << "/" << r.id();
      }
      for (const auto& e : c.upserts()) next[e.type()][e.id()] = e.json();
    }
    // Keep exactly the listed types (a full update lists every subscribed type present).
    Entities kept;
    for (const std::string& type : update.head().entity_types()) kept[type] = next[type];
    entities = std::move(kept);
    hash = update.hash();
  }
};

// `model`'s entities restricted to `types` (empty: all), as a mirror would hold them.
inline Entities Expected(const ConfigModel& model, const std::vector<std::string>& types = {}) {
  Entities out;
  for (const auto& [type, rows] : model.entities) {
    if (!types.empty() && std::find(types.begin(), types.end(), type) == types.end()) continue;
    out[type] = rows;
  }
  return out;
}

// A Watch stream with the generated stub and gRPC's default limits (4 MiB receive).
class WatchStream {
 public:
  explicit WatchStream(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::ConfigService::NewStub(channel)) {
    context_.set_deadline(Deadline());
    stream_ = stub_->Watch(&context_);
  }

  bool Subscribe(const std::string& client_id, const std::vector<std::string>& types = {},
                 v1::Mode mode = v1::MODE_FULL, const std::string& resume_hash = "") {
    v1::WatchRequest request;
    v1::Subscribe* s = request.mutable_subscribe();
    s->set_client_id(client_id);
    for (const std::string& t : types) s->add_entity_types(t);
    s->set_mode(mode);
    s->set_resume_hash(resume_hash);
    return stream_->Write(request);
  }
  bool Ack(const std::string& hash) {
    v1::WatchRequest request;
    request.mutable_ack()->set_config_hash(hash);
    return stream_->Write(request);
  }
  bool Nack(const std::string& hash, const std::string& error) {
    v1::WatchRequest request;
    request.mutable_nack()->set_config_hash(hash);
    request.mutable_nack()->set_error(error);
    return stream_->Write(request);
  }
  bool Write(const v1::WatchRequest& request) { return stream_->Write(request); }
  bool WritesDone() { return stream_->WritesDone(); }

  // The next whole update; nullopt when the stream ended (see Finish) or the call's deadline
  // passed.
  std::optional<Update> Next() {
    Update update;
    v1::WatchResponse message;
    while (stream_->Read(&message)) {
      update.chunks.push_back(message);
      if (message.last_chunk()) return update;
    }
    return std::nullopt;
  }

  // The status the server ended the stream with (after Next returned nullopt).
  grpc::Status Finish() { return stream_->Finish(); }

  grpc::ClientContext& context() { return context_; }

 private:
  std::unique_ptr<v1::ConfigService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
};

// Base fixture: a devcp, an App listening on a unix socket in a temp dir and on 127.0.0.1:0.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    devcp::Options o;
    o.cert_path = testing::Fixture("certs/kong_clustering.crt");
    o.key_path = testing::Fixture("certs/kong_clustering.key");
    auto cp = devcp::ControlPlane::Create(o);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
    socket_path_ = data_dir_.path() + "/api.sock";
  }

  void StartApp(const std::vector<std::string>& extra_flags = {}) {
    std::vector<std::string> flags = {"--grpc-listen=unix://" + socket_path_,
                                      "--grpc-listen=127.0.0.1:0"};
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    settings_ = testing::TestSettings(cp_->port(), data_dir_.path(), flags);
    auto app = app::App::Create(settings_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    app_->Start();
    ASSERT_EQ(app_->grpc().addresses().size(), 2u);
    unix_target_ = app_->grpc().addresses()[0];
    tcp_target_ = app_->grpc().addresses()[1];
  }

  void TearDown() override {
    if (app_) {
      EXPECT_TRUE(app_->Stop(kWait));
    }
    if (cp_) cp_->Stop();
  }

  // Pushes `model` from the CP and waits until tether applied it; returns its hash.
  std::string Push(const ConfigModel& model) {
    auto hash = cp_->SetConfig(model.ToJson());
    EXPECT_TRUE(hash.ok()) << hash.status();
    if (!hash.ok()) return "";
    AwaitStatus([&](const status::StatusView& v) {
      return v.config.current && v.config.current->config_hash == *hash;
    });
    return *hash;
  }

  status::StatusView AwaitStatus(const std::function<bool(const status::StatusView&)>& pred) {
    auto [view, held] = app_->status().WaitFor(pred, kWait);
    EXPECT_TRUE(held) << "status did not reach the expected state";
    return view;
  }

  // Returns once tether's fan-out worker has finished everything queued before this call (a
  // GetConfig is built by a worker task that runs after them).
  void Barrier() {
    auto stub = v1::ConfigService::NewStub(Unix());
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->GetConfig(&context, v1::GetConfigRequest());
    v1::WatchResponse message;
    while (reader->Read(&message)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }

  // GetConfig over the unix socket, every chunk.
  Update GetConfig() {
    auto stub = v1::ConfigService::NewStub(Unix());
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->GetConfig(&context, v1::GetConfigRequest());
    Update got;
    v1::WatchResponse message;
    while (reader->Read(&message)) got.chunks.push_back(message);
    EXPECT_TRUE(reader->Finish().ok());
    return got;
  }

  std::shared_ptr<grpc::Channel> Unix() { return NewChannel(unix_target_); }
  std::shared_ptr<grpc::Channel> Tcp() { return NewChannel(tcp_target_); }

  testing::TempDir data_dir_;
  std::string socket_path_;
  settings::Settings settings_;
  std::unique_ptr<devcp::ControlPlane> cp_;
  std::unique_ptr<app::App> app_;
  std::string unix_target_;
  std::string tcp_target_;
};

}  // namespace tether::api_test
