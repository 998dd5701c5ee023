// The last-known-good cache and the start-up policy, end to end: a real App saves what devcp
// pushed, and a restarted App (same data dir) serves it, or refuses it, before any CP is reached.
#include <openssl/sha.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/config/disk_cache.h"
#include "tests/testing/app_fixture.h"

namespace tether {
namespace {

using ::testing::HasSubstr;
using testing::kWait;

std::string ExampleConfig() {
  return testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json"));
}

// The example config with every service and route (and what hangs off them) removed: what a CP
// started before its database migrations pushes.
std::string EmptiedConfig() {
  rapidjson::Document doc;
  doc.Parse(ExampleConfig().c_str());
  for (const char* type : {"services", "routes", "plugins", "snis", "targets", "upstreams"}) {
    doc.RemoveMember(type);
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return out.GetString();
}

int Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

// Rewrites the cache's written_at as a forger would, checksum included: the header JSON holds it
// as unix nanoseconds, and a time in the next decades has as many digits as now.
void ForgeWrittenAt(const std::string& path, absl::Time written_at) {
  std::string file = testing::ReadFile(path);
  const std::string key = "\"written_at\":";
  const size_t at = file.find(key) + key.size();
  const size_t end = file.find_first_not_of("0123456789", at);
  const std::string forged = std::to_string(absl::ToUnixNanos(written_at));
  ASSERT_EQ(forged.size(), end - at);
  file.replace(at, forged.size(), forged);
  const size_t body = file.size() - SHA256_DIGEST_LENGTH;
  SHA256(reinterpret_cast<const unsigned char*>(file.data()), body,
         reinterpret_cast<unsigned char*>(file.data() + body));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << file;
}

bool Connected(const status::StatusView& v) {
  return v.connection.state == status::ConnectionState::kConnected;
}

class ConfigCacheTest : public testing::AppTest {
 protected:
  // devcp serves the example config; tether applies it, saves it, and stops (flushing the save).
  void ApplyAndStop() {
    StartCp();
    auto hash = cp_->SetConfig(ExampleConfig());
    ASSERT_TRUE(hash.ok()) << hash.status();
    hash_ = *hash;
    StartApp();
    AwaitAppliedHash(hash_);
    ASSERT_TRUE(app_->Stop(kWait));
    app_.reset();
  }

  // A new App on the same data dir, pointed at a port where nothing listens.
  void RestartWithCpDown(const std::vector<std::string>& extra_flags = {}) {
    cp_->Stop();
    StartAppAt(refusing_.port(), extra_flags);
  }

  std::string CachePath() const { return data_dir_.path() + "/" + config::DiskCache::kFileName; }

  std::string hash_;
  testing::RefusingPort refusing_;
};

TEST_F(ConfigCacheTest, RestartServesCacheWhileCpIsUnreachable) {
  ApplyAndStop();
  EXPECT_EQ(Mode(CachePath()), 0600);
  EXPECT_EQ(Mode(data_dir_.path()), 0700);

  RestartWithCpDown();
  // Served from Create on, before the session has even tried the CP.
  const status::StatusView view = app_->status().Get();
  ASSERT_TRUE(view.config.current);
  EXPECT_EQ(view.config.current->config_hash, hash_);
  EXPECT_EQ(view.config.current->source, config::Source::kDiskCache);
  EXPECT_EQ(view.config.current->EntityCount(), 24u);
  EXPECT_TRUE(status::ReadinessOf(view).ready);

  // And it stays served while the CP keeps refusing.
  const status::StatusView failed =
      AwaitStatus([](const status::StatusView& v) { return !v.connection.last_error.ok(); });
  EXPECT_EQ(failed.config.current->config_hash, hash_);
  EXPECT_TRUE(status::ReadinessOf(failed).ready);
}

TEST_F(ConfigCacheTest, CpSendingTheCachedHashConfirmsItWithoutChangingIt) {
  ApplyAndStop();
  StartAppAt(cp_->port());
  // The first ping already carries the cached hash, as Kong's DP does after a restart.
  ASSERT_TRUE(cp_->WaitForEvent(testing::PingWith(hash_), kWait));
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.config.current && v.config.current->source == config::Source::kControlPlane;
  });
  EXPECT_EQ(view.config.current->config_hash, hash_);
}

TEST_F(ConfigCacheTest, WaitForCpPolicyDoesNotServeTheCache) {
  ApplyAndStop();
  RestartWithCpDown({"--startup-policy=wait-for-cp"});
  const status::StatusView failed =
      AwaitStatus([](const status::StatusView& v) { return !v.connection.last_error.ok(); });
  EXPECT_FALSE(failed.config.current);
  const status::Readiness readiness = status::ReadinessOf(failed);
  EXPECT_FALSE(readiness.ready);
  EXPECT_THAT(readiness.reason, HasSubstr("no config yet"));
  EXPECT_THAT(readiness.reason, HasSubstr("last error"));
  // The CP was told we hold nothing: pings carry zeros until a live config arrives.
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  StartCp();
  ASSERT_TRUE(cp_->SetConfig(ExampleConfig()).ok());
  StartApp({"--startup-policy=wait-for-cp"});
  AwaitAppliedHash(hash_);
  EXPECT_EQ(app_->status().Get().config.current->source, config::Source::kControlPlane);
}

TEST_F(ConfigCacheTest, MaxCacheAgeRefusesAnOlderCache) {
  ApplyAndStop();
  RestartWithCpDown({"--max-cache-age=1ns"});
  EXPECT_FALSE(app_->status().Get().config.current);
  EXPECT_FALSE(app_->status().GetReadiness().ready);
  // Not corrupt, only old: it stays in place for a later start with a looser bound.
  EXPECT_TRUE(std::filesystem::exists(CachePath()));
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  StartAppAt(refusing_.port(), {"--max-cache-age=1h"});
  ASSERT_TRUE(app_->status().Get().config.current);
}

// A written_at in the future would make any cache young enough for --max-cache-age.
TEST_F(ConfigCacheTest, CacheWrittenInTheFutureIsRefused) {
  ApplyAndStop();
  ForgeWrittenAt(CachePath(), absl::Now() + absl::Hours(1));
  ASSERT_TRUE(config::DiskCache(data_dir_.path()).Read().ok());  // intact, only from the future
  RestartWithCpDown({"--max-cache-age=24h"});
  EXPECT_FALSE(app_->status().Get().config.current);
  EXPECT_TRUE(std::filesystem::exists(CachePath()));
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  // Within the allowed clock skew it is served.
  ForgeWrittenAt(CachePath(), absl::Now() + absl::Minutes(1));
  StartAppAt(refusing_.port(), {"--max-cache-age=24h"});
  EXPECT_TRUE(app_->status().Get().config.current);
}

// Another user could have planted the cache in a world-writable data dir: tether neither serves
// it nor saves there, counts the refused saves, and still runs from the CP.
TEST_F(ConfigCacheTest, CacheInAWorldWritableDirIsNotServed) {
  ApplyAndStop();
  ASSERT_EQ(::chmod(data_dir_.path().c_str(), 0777), 0);
  RestartWithCpDown();
  EXPECT_FALSE(app_->status().Get().config.current);
  EXPECT_TRUE(std::filesystem::exists(CachePath()));  // not ours to move
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  StartCp();
  ASSERT_TRUE(cp_->SetConfig(ExampleConfig()).ok());
  StartApp();
  const status::StatusView view = AwaitStatus([this](const status::StatusView& v) {
    return v.config.current && v.config.current->config_hash == hash_ &&
           v.totals.cache_write_failures == 1;
  });
  EXPECT_EQ(view.config.current->source, config::Source::kControlPlane);
  EXPECT_TRUE(Connected(view));
}

TEST_F(ConfigCacheTest, CorruptCacheIsMovedAsideNeverServedAndNotFatal) {
  ApplyAndStop();
  {
    std::fstream f(CachePath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char c = 0;
    f.read(&c, 1);
    f.seekp(100);
    c = static_cast<char>(c ^ 0x40);
    f.write(&c, 1);
  }
  RestartWithCpDown();
  EXPECT_FALSE(app_->status().Get().config.current);
  EXPECT_FALSE(std::filesystem::exists(CachePath()));
  const std::vector<std::string> files = FilesIn(data_dir_.path());
  EXPECT_TRUE(std::any_of(files.begin(), files.end(), [](const std::string& f) {
    return absl::StartsWith(f, "config.cache.corrupt-");
  })) << ::testing::PrintToString(files);

  // Recovery: the next live config is applied and cached again.
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  StartCp();
  ASSERT_TRUE(cp_->SetConfig(ExampleConfig()).ok());
  StartApp();
  AwaitAppliedHash(hash_);
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  EXPECT_TRUE(config::DiskCache(data_dir_.path()).Read().ok());
}

TEST_F(ConfigCacheTest, GuardEmptyConfigRefusesAnEmptyPushAndKeepsTheConfig) {
  StartCp();
  auto full = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(full.ok());
  StartApp({"--guard-empty-config"});
  AwaitAppliedHash(*full);
  ASSERT_TRUE(cp_->SetConfig(EmptiedConfig()).ok());
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 1; });
  EXPECT_EQ(view.config.current->config_hash, *full);
  ASSERT_TRUE(view.config.last_rejection);
  EXPECT_THAT(view.config.last_rejection->reason, HasSubstr("--guard-empty-config"));
  EXPECT_THAT(view.config.last_rejection->reason, HasSubstr("has 7"));
  EXPECT_TRUE(Connected(view));
}

TEST_F(ConfigCacheTest, WithoutTheGuardAnEmptyPushIsApplied) {
  StartCp();
  auto full = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(full.ok());
  StartApp();
  AwaitAppliedHash(*full);
  auto empty = cp_->SetConfig(EmptiedConfig());
  ASSERT_TRUE(empty.ok());
  AwaitAppliedHash(*empty);
  EXPECT_EQ(app_->status().Get().config.rejections, 0u);
}

}  // namespace
}  // namespace tether
