#include "protocol/gzip.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace tether::protocol {
namespace {

// Inflates with plain zlib (gzip only), independent of tether's inflate.
std::string Gunzip(const std::string& compressed, size_t expected_size) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(expected_size + 1, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  EXPECT_EQ(stream.avail_in, 0u);
  out.resize(out.size() - stream.avail_out);
  inflateEnd(&stream);
  return out;
}

// The output is an RFC 1952 gzip member (magic 1f 8b, deflate) that zlib inflates back.
TEST(GzipTest, ProducesGzipThatRoundTrips) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += "{\"id\":" + std::to_string(i % 977) + "},";
  const std::string compressed = Gzip(data);
  ASSERT_GE(compressed.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  EXPECT_EQ(compressed[2], 8);  // CM = deflate
  EXPECT_LT(compressed.size(), data.size() / 5);
  EXPECT_EQ(Gunzip(compressed, data.size()), data);
}

// Empty input still yields a complete gzip member.
TEST(GzipTest, CompressesEmptyInput) {
  const std::string compressed = Gzip("");
  EXPECT_EQ(Gunzip(compressed, 0), "");
}

// Incompressible input fits too (the output buffer is sized by deflateBound).
TEST(GzipTest, CompressesIncompressibleInput) {
  std::string data(1 << 20, '\0');
  uint32_t state = 12345;
  for (char& c : data) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  EXPECT_EQ(Gunzip(Gzip(data), data.size()), data);
}

}  // namespace
}  // namespace tether::protocol
