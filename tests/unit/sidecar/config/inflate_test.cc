#include "sidecar/config/inflate.h"

#include <zlib.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"

namespace tether::config {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMiB = size_t{1} << 20;

std::string SampleData(size_t size) {
  std::string data;
  for (size_t i = 0; data.size() < size; ++i) data += "{\"id\":\"" + std::to_string(i) + "\"},";
  data.resize(size);
  return data;
}

// zlib format (RFC 1950), which Kong's windowBits 15+32 also accepts.
std::string ZlibCompress(const std::string& data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &size,
                     reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size())),
            Z_OK);
  out.resize(size);
  return out;
}

// Gzip output inflates back to the input, for empty, small and multi-MiB data.
TEST(InflateTest, RoundTripsGzip) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{5000}, 3 * kMiB}) {
    SCOPED_TRACE(size);
    const std::string data = SampleData(size);
    absl::StatusOr<std::string> inflated = Inflate(protocol::Gzip(data), 16 * kMiB);
    ASSERT_TRUE(inflated.ok()) << inflated.status();
    EXPECT_EQ(*inflated, data);
  }
}

// A zlib-wrapped stream is accepted too (header auto-detection, as in Kong's DP).
TEST(InflateTest, AcceptsZlibWrapped) {
  const std::string data = SampleData(100000);
  absl::StatusOr<std::string> inflated = Inflate(ZlibCompress(data), kMiB);
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, data);
}

// Output of exactly max_bytes is allowed; one byte more is not.
TEST(InflateTest, CapIsInclusive) {
  const std::string data = SampleData(70000);
  const std::string compressed = protocol::Gzip(data);
  EXPECT_TRUE(Inflate(compressed, data.size()).ok());
  absl::StatusOr<std::string> over = Inflate(compressed, data.size() - 1);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.status().message(), HasSubstr("69999-byte limit"));
}

// A bomb (100 MiB of zeros in ~100 KiB) stops at the cap instead of inflating everything.
TEST(InflateTest, StopsBombAtCap) {
  const std::string bomb = protocol::Gzip(std::string(100 * kMiB, '\0'));
  ASSERT_LT(bomb.size(), kMiB);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> inflated = Inflate(bomb, kMiB);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kResourceExhausted);
  // Generous bound: producing 1 MiB takes milliseconds, all 100 MiB far longer.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

struct BadInputCase {
  const char* name;
  std::string input;
  const char* message;
};

// Input that is not one complete compressed stream is InvalidArgument, with a reason.
TEST(InflateTest, RejectsBadInput) {
  const std::string good = protocol::Gzip(SampleData(50000));
  std::string corrupt = good;
  for (size_t i = 20; i < 40; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0x01;
  // The trailer's size is what Inflate allocates first: one that understates or overstates the
  // data must fail like any corrupt trailer, not truncate or over-read.
  std::string short_size = good;
  short_size[short_size.size() - 4] = static_cast<char>(short_size[short_size.size() - 4] - 1);
  // A header CRC (FHCRC) that is wrong: checked, as zlib does.
  std::string bad_header_crc = good;
  bad_header_crc[3] = static_cast<char>(bad_header_crc[3] | 0x02);
  bad_header_crc.insert(10, "\x12\x34", 2);
  std::string long_size = good;
  long_size[long_size.size() - 3] = static_cast<char>(long_size[long_size.size() - 3] + 1);
  const BadInputCase cases[] = {
      {"empty", "", "empty input"},
      {"not compressed", "{\"type\":\"reconfigure\"}", "corrupt compressed data"},
      {"corrupt deflate data", corrupt, "corrupt compressed data"},
      {"bad crc", bad_crc, "a checksum or the length does not match"},
      {"size understated", short_size, "a checksum or the length does not match"},
      {"bad header crc", bad_header_crc, "a checksum or the length does not match"},
      {"size overstated", long_size, "a checksum or the length does not match"},
      {"truncated", good.substr(0, good.size() / 2), "truncated"},
      {"trailer missing", good.substr(0, good.size() - 4), "truncated"},
      {"header only", good.substr(0, 10), "truncated"},
      {"trailing garbage", good + "garbage", "7 unexpected bytes after the compressed data"},
      {"two members", good + good, "unexpected bytes after the compressed data"},
  };
  for (const BadInputCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> inflated = Inflate(c.input, 16 * kMiB);
    EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(inflated.status().message(), HasSubstr(c.message));
  }
}

// Every strict prefix of a valid stream fails cleanly; none is accepted or crashes.
TEST(InflateTest, RejectsEveryTruncation) {
  const std::string good = protocol::Gzip(SampleData(3000));
  for (size_t length = 0; length < good.size(); ++length) {
    SCOPED_TRACE(length);
    absl::StatusOr<std::string> inflated = Inflate(absl::string_view(good).substr(0, length), kMiB);
    EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// InflateAhead hands out the same bytes as Inflate, whatever sizes it is read in, and the same
// errors.
TEST(InflateAheadTest, ReadsWhatInflateMakes) {
  const std::string data = SampleData(3 * kMiB + 12345);
  const std::string compressed = protocol::Gzip(data);
  InflateAhead inflater(compressed, 16 * kMiB);
  std::string out;
  std::string buffer(300000, '\0');
  for (size_t i = 0;; ++i) {
    const size_t want = 1 + (i * 7919) % buffer.size();
    absl::StatusOr<size_t> read = inflater.Read(buffer.data(), want);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_LE(*read, want);
    if (*read == 0) break;
    out.append(buffer.data(), *read);
  }
  EXPECT_EQ(inflater.produced(), data.size());
  EXPECT_TRUE(out == data);

  std::string corrupt = compressed;
  corrupt[corrupt.size() - 6] ^= 0x01;  // the CRC, checked at the end
  InflateAhead bad(corrupt, 16 * kMiB);
  absl::StatusOr<size_t> read;
  size_t total = 0;
  while ((read = bad.Read(buffer.data(), buffer.size())).ok() && *read > 0) total += *read;
  // What the failing read inflated is dropped with it.
  EXPECT_LE(total, data.size());
  EXPECT_THAT(read.status().message(), HasSubstr("a checksum or the length does not match"));
}

}  // namespace
}  // namespace tether::config
