// TextWindow: a reconfigure message inflated a piece at a time, as RapidJSON reads it, holding in
// memory only the text the reader still needs.
//
// Why: every push is the whole config while the config it replaces is still held. Inflated whole,
// the new message sits next to the old config at full size until the decode ends, which is most
// of a change's peak. Read through a window, it never is whole: the reader copies out the rows
// that changed (message_reader.h), and the window moves on.
//
// The window holds the text from the pinned offset (the start of the row being read), else from
// the parser's position, to the end of what has been inflated and checked (ValidateJsonPiece);
// the parser sees a NUL there, which is the end of the text once it has ended, or at the first
// error. Offsets are from the start of the message; views into the window last until it moves.
//
// Errors come in the order a whole-buffer decode found them: Drain inflates and checks whatever
// the parser left, then the inflate's error wins over the text's, which wins over the parser's.
//
// Threading: belongs to the decoder's thread.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rapidjson/reader.h"
#include "sidecar/config/inflate.h"

namespace tether::config {

class TextWindow {
 public:
  // Bytes past the NUL that ends the window, which scans may read but never use.
  static constexpr size_t kPaddingBytes = 16;

  // RapidJSON's input stream concept. RapidJSON copies a stream while it reads a string or a
  // number, so a handler's reference is then still at the value's start; Tell() stays right
  // even when the window moved meanwhile, because offsets do not depend on where it is.
  class Stream {
   public:
    using Ch = char;
    explicit Stream(TextWindow& window);

    Ch Peek() const { return *p_; }
    Ch Take() {
      const Ch c = *p_++;
      if (p_ >= end_) window_->Refill(*this);
      return c;
    }
    size_t Tell() const { return base_ + static_cast<size_t>(p_ - data_); }

    // What RapidJSON does a character at a time through Peek and Take, over the window's bytes
    // directly (as it does for its own string stream): whitespace, and the runs of a string up to
    // its next quote, backslash or control character, which `copy(data, size)` takes.
    void SkipWhitespace() {
      for (;;) {
        while (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t') ++p_;
        if (p_ < end_ || !MoreAfterEnd()) return;
      }
    }
    template <typename Copy>
    void ScanUnescaped(Copy copy) {
      for (;;) {
        const char* const q = StringRunEnd(p_);
        if (q > p_) copy(p_, static_cast<size_t>(q - p_));
        p_ = q;
        if (p_ < end_ || !MoreAfterEnd()) return;
      }
    }

    // Reads on until the window holds the text up to `end` (the stream stays where it is):
    // false if the text ends or fails first.
    bool Reaches(size_t end) {
      for (size_t held = Held(); held < end;) {
        window_->Refill(*this);
        if (Held() == held) return false;
        held = Held();
      }
      return true;
    }
    // Moves the stream on to `offset`, which the window holds (Reaches), without parsing what it
    // passes: for a handler that knows what those bytes are.
    void SkipTo(size_t offset) { p_ = data_ + (offset - base_); }

    // The write side, which only an in-situ parse uses.
    Ch* PutBegin() {
      RAPIDJSON_ASSERT(false);
      return nullptr;
    }
    void Put(Ch) { RAPIDJSON_ASSERT(false); }
    void Flush() {}
    size_t PutEnd(Ch*) {
      RAPIDJSON_ASSERT(false);
      return 0;
    }

   private:
    friend class TextWindow;
    // The first quote, backslash or control character from `p` on; the NUL after the window
    // stops it too. Sixteen bytes at a time where SSE2 is (every x86-64), reading at most
    // kPaddingBytes - 1 past that NUL.
    static const char* StringRunEnd(const char* p) {
#if defined(__SSE2__)
      const __m128i quote = _mm_set1_epi8('"');
      const __m128i backslash = _mm_set1_epi8('\\');
      const __m128i control = _mm_set1_epi8(0x1F);
      for (;; p += 16) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
            _mm_cmpeq_epi8(_mm_max_epu8(bytes, control), control));
        if (const int mask = _mm_movemask_epi8(special); mask != 0) {
          return p + __builtin_ctz(static_cast<unsigned>(mask));
        }
      }
#else
      while (static_cast<unsigned char>(*p) >= 0x20 && *p != '"' && *p != '\\') ++p;
      return p;
#endif
    }
    // The offset the checked text ends at.
    size_t Held() const { return base_ + static_cast<size_t>(end_ - data_); }
    // At the window's end: refills, and says whether there is more.
    bool MoreAfterEnd() {
      window_->Refill(*this);
      return p_ < end_;
    }

    TextWindow* window_;
    const char* data_;  // the window's first byte, at offset base_
    const char* p_;
    const char* end_;  // the NUL after the checked text
    size_t base_;
  };

  // Reads `compressed`, which must outlive the window, inflating at most `max_bytes`. A message
  // that `size_hint` (what it is expected to inflate to) says is small is inflated whole at once;
  // a larger one a piece at a time, on a helper thread ahead of the parser.
  TextWindow(absl::string_view compressed, size_t max_bytes, size_t size_hint);

  // Keeps the text from `offset` on (at or before the parser's position) until Unpin.
  void Pin(size_t offset) { pin_ = offset; }
  void Unpin() { pin_.reset(); }
  // The text at [begin, end), which the window holds (from the pin, or the parser's position).
  absl::string_view Text(size_t begin, size_t end) const {
    return absl::string_view(buffer_.data() + (begin - base_), end - begin);
  }
  // The byte at `offset`, or NUL past what has been checked.
  char At(size_t offset) const { return offset < base_ + valid_ ? buffer_[offset - base_] : '\0'; }

  // Inflates and checks whatever the parser did not read, so that its errors are known.
  void Drain();
  // The first error of the inflate, then of the text (not UTF-8, a NUL, cut off by the end).
  const absl::Status& inflate_error() const { return inflate_error_; }
  const absl::Status& text_error() const { return text_error_; }
  // Bytes inflated so far: the message's size once the parser or Drain reached the end.
  size_t inflated() const { return inflater_.has_value() ? inflater_->produced() : inflated_; }

 private:
  // Moves the window on so that the stream, at its end, can go on.
  void Refill(Stream& stream);
  // Inflates at least one more checked byte after valid_, unless the text has ended or failed.
  void ReadPiece();

  std::optional<InflateAhead> inflater_;  // null when inflated whole
  size_t inflated_ = 0;                   // ... then its size
  // [0, valid_): checked text from offset base_; then a NUL, and kPaddingBytes in all.
  std::string buffer_;
  size_t base_ = 0;
  size_t valid_ = 0;
  // Inflated bytes not yet checked (a sequence the last piece may have cut off), at most three.
  std::string carry_;
  std::string last_bytes_;  // the text's last two bytes so far
  std::optional<size_t> pin_;
  bool ended_ = false;
  absl::Status inflate_error_;
  absl::Status text_error_;
};

}  // namespace tether::config

namespace rapidjson {
// Lets RapidJSON keep the stream in registers while it scans a string or a number.
template <>
struct StreamTraits<tether::config::TextWindow::Stream> {
  enum { copyOptimization = 1 };
};

// RapidJSON's hooks for its own string streams' fast scans, for this one.
template <>
inline void SkipWhitespace(tether::config::TextWindow::Stream& is) {
  is.SkipWhitespace();
}
template <>
template <>
inline void GenericReader<UTF8<>, UTF8<>, CrtAllocator>::ScanCopyUnescapedString(
    tether::config::TextWindow::Stream& is, StackStream<char>& os) {
  is.ScanUnescaped([&os](const char* data, size_t size) {
    std::memcpy(os.Push(static_cast<SizeType>(size)), data, size);
  });
}
}  // namespace rapidjson
