#include "sidecar/config/disk_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/testing.h"

namespace tether::config {
namespace {

using ::testing::HasSubstr;

CachedConfig Example() {
  CachedConfig c;
  c.frame = std::string("\x1f\x8b\x08\x00 binary \0 frame", 20);
  c.config_hash = "0123456789abcdef0123456789abcdef";
  c.hashes = {{"config", c.config_hash}, {"routes", "00000000000000000000000000000000"}};
  c.received_at = absl::FromUnixMillis(1718000000123);
  c.cp_timestamp = 1718000000.125;
  return c;
}

std::string Slurp(const std::string& path) { return testing::ReadFile(path); }

void Spill(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// What was written is read back exactly, and the file is private to tether.
TEST(DiskCacheTest, RoundTrip) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  absl::StatusOr<CachedConfig> read = cache.Read();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->frame, Example().frame);
  EXPECT_EQ(read->config_hash, Example().config_hash);
  EXPECT_EQ(read->hashes, Example().hashes);
  EXPECT_EQ(read->received_at, Example().received_at);
  EXPECT_EQ(read->cp_timestamp, Example().cp_timestamp);
  EXPECT_GT(read->written_at, Example().received_at);
  struct stat st;
  ASSERT_EQ(stat(cache.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST(DiskCacheTest, MissingIsNotFound) {
  testing::TempDir dir;
  EXPECT_TRUE(absl::IsNotFound(DiskCache(dir.path()).Read().status()));
}

// A newer write replaces the older one whole.
TEST(DiskCacheTest, WriteReplaces) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  CachedConfig next = Example();
  next.frame = "another frame";
  next.config_hash = "fedcba9876543210fedcba9876543210";
  ASSERT_TRUE(cache.Write(next).ok());
  absl::StatusOr<CachedConfig> read = cache.Read();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->frame, "another frame");
  EXPECT_EQ(read->config_hash, next.config_hash);
}

// Any flipped byte, anywhere in the file, makes it unusable rather than wrong.
TEST(DiskCacheTest, EveryCorruptedByteIsDetected) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  const std::string good = Slurp(cache.path());
  for (size_t i = 0; i < good.size(); ++i) {
    SCOPED_TRACE(i);
    std::string bad = good;
    bad[i] ^= 0x40;
    Spill(cache.path(), bad);
    EXPECT_TRUE(absl::IsDataLoss(cache.Read().status()));
  }
}

// A torn write (any prefix of the file) is detected.
TEST(DiskCacheTest, EveryTruncationIsDetected) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  const std::string good = Slurp(cache.path());
  for (size_t n = 0; n < good.size(); ++n) {
    SCOPED_TRACE(n);
    Spill(cache.path(), good.substr(0, n));
    EXPECT_TRUE(absl::IsDataLoss(cache.Read().status()));
  }
}

TEST(DiskCacheTest, ForeignFileIsDataLoss) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  Spill(cache.path(), "{\"some\":\"json\"}");
  absl::Status st = cache.Read().status();
  EXPECT_TRUE(absl::IsDataLoss(st));
  EXPECT_THAT(std::string(st.message()), HasSubstr("not a tether config cache"));
}

// A corrupt cache is moved aside, kept for inspection, and no longer read.
TEST(DiskCacheTest, MoveAside) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  Spill(cache.path(), "garbage");
  absl::StatusOr<std::string> aside = cache.MoveAside();
  ASSERT_TRUE(aside.ok()) << aside.status();
  EXPECT_THAT(*aside, HasSubstr("config.cache.corrupt-"));
  EXPECT_EQ(Slurp(*aside), "garbage");
  EXPECT_TRUE(absl::IsNotFound(cache.Read().status()));
}

// A data dir another user can write to may hold a planted cache: it is neither read nor written.
TEST(DiskCacheTest, DirWritableByOthersIsRefused) {
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  for (mode_t mode : {0777, 0770, 0702}) {
    ASSERT_EQ(::chmod(dir.path().c_str(), mode), 0);
    const absl::Status read = cache.Read().status();
    EXPECT_TRUE(absl::IsFailedPrecondition(read)) << read;
    EXPECT_THAT(std::string(read.message()), HasSubstr("writable by group or others")) << mode;
    EXPECT_TRUE(absl::IsFailedPrecondition(cache.Write(Example())));
  }
  ASSERT_EQ(::chmod(dir.path().c_str(), 0750), 0);  // readable by the group is fine
  EXPECT_TRUE(cache.Read().ok());
}

TEST(DiskCacheTest, DirOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the dir away";
  testing::TempDir dir;
  DiskCache cache(dir.path());
  ASSERT_TRUE(cache.Write(Example()).ok());
  ASSERT_EQ(::chown(dir.path().c_str(), 12345, 12345), 0);
  const absl::Status read = cache.Read().status();
  EXPECT_TRUE(absl::IsFailedPrecondition(read)) << read;
  EXPECT_THAT(std::string(read.message()), HasSubstr("owned by uid 12345"));
  ASSERT_EQ(::chown(dir.path().c_str(), ::geteuid(), ::getegid()), 0);  // so TempDir can clean up
}

// The temp file is created exclusively under an unpredictable name: a symlink planted where the
// old pid-named temp file went is not followed, and the file it points to keeps its bytes and mode.
TEST(DiskCacheTest, WriteDoesNotFollowASymlinkAtTheTempPath) {
  testing::TempDir dir, outside;
  const std::string victim = outside.path() + "/victim";
  Spill(victim, "precious");
  ASSERT_EQ(::chmod(victim.c_str(), 0644), 0);
  DiskCache cache(dir.path());
  const std::string tmp = cache.path() + ".tmp." + std::to_string(::getpid());
  ASSERT_EQ(::symlink(victim.c_str(), tmp.c_str()), 0);
  ASSERT_TRUE(cache.Write(Example()).ok());
  EXPECT_EQ(Slurp(victim), "precious");
  struct stat st;
  ASSERT_EQ(::stat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644);
  ASSERT_EQ(::lstat(cache.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(cache.Read().ok());
}

}  // namespace
}  // namespace tether::config
