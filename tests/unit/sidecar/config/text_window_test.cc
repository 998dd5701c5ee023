#include "sidecar/config/text_window.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"

namespace tether::config {
namespace {

using ::testing::HasSubstr;

constexpr size_t kKiB = 1024;

// Size hints that inflate the message whole, and a piece at a time ahead of the parser.
constexpr size_t kHints[] = {0, size_t{64} << 20};

// Everything the stream hands out, taken a byte at a time; at each '{' the byte just taken is
// pinned and must still be there, with what follows it, however the window moved meanwhile.
std::string TakeAll(TextWindow& window, const std::string& text) {
  TextWindow::Stream stream(window);
  std::string out;
  while (stream.Peek() != '\0') {
    const char c = stream.Take();
    out.push_back(c);
    if (c != '{') continue;
    const size_t begin = stream.Tell() - 1;
    window.Pin(begin);
    for (int i = 0; i < 300 && stream.Peek() != '\0'; ++i) out.push_back(stream.Take());
    EXPECT_EQ(window.Text(begin, stream.Tell()), text.substr(begin, stream.Tell() - begin));
    window.Unpin();
  }
  EXPECT_EQ(stream.Tell(), out.size());
  return out;
}

// A pinned row survives every refill, including one that happens on the very byte that starts it
// (a '{' last before the end of an inflated piece), and multi-byte sequences cut by a piece's end
// are no error.
TEST(TextWindowTest, HandsOutTheTextWithPinnedRowsWhole) {
  // Blocks of 4 KiB of 1- to 4-byte sequences, each block ending in a '{': every piece boundary
  // falls on one.
  const char* const sequences[] = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  std::string text;
  for (size_t i = 0; text.size() < 3 * kKiB * kKiB; ++i) {
    const size_t block_end = text.size() + 4 * kKiB - 1;
    while (text.size() + 4 <= block_end) text += sequences[(text.size() * 7 + i) % 4];
    text.resize(block_end, ' ');
    text += '{';
  }
  const std::string compressed = protocol::Gzip(text);
  for (size_t hint : kHints) {
    SCOPED_TRACE(hint);
    TextWindow window(compressed, 64 * kKiB * kKiB, hint);
    EXPECT_TRUE(TakeAll(window, text) == text);
    EXPECT_TRUE(window.inflate_error().ok()) << window.inflate_error();
    EXPECT_TRUE(window.text_error().ok()) << window.text_error();
    EXPECT_EQ(window.inflated(), text.size());
  }
}

// The parser sees the text end at the first bad byte; Drain finds an inflate error further on,
// which wins, as a decode of the whole inflated text would have found it first.
TEST(TextWindowTest, ErrorsStopTheTextWhereTheyAre) {
  std::string text(2 * kKiB * kKiB, 'a');
  text[700001] = '\0';
  const std::string compressed = protocol::Gzip(text);
  std::string corrupt = compressed;
  corrupt[corrupt.size() - 6] ^= 0x01;  // the CRC, checked at the end
  for (size_t hint : kHints) {
    SCOPED_TRACE(hint);
    TextWindow window(compressed, 64 * kKiB * kKiB, hint);
    EXPECT_EQ(TakeAll(window, text).size(), 700001u);
    window.Drain();
    EXPECT_TRUE(window.inflate_error().ok()) << window.inflate_error();
    EXPECT_THAT(window.text_error().message(), HasSubstr("offset 700001: nul byte"));

    TextWindow bad(corrupt, 64 * kKiB * kKiB, hint);
    TakeAll(bad, text);
    bad.Drain();
    EXPECT_THAT(bad.inflate_error().message(),
                HasSubstr("a checksum or the length does not match"));
  }
}

}  // namespace
}  // namespace tether::config
