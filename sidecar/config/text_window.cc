#include "sidecar/config/text_window.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "sidecar/config/json_parse.h"

namespace tether::config {
namespace {

// The window's first size, and the least it reads at once; it doubles when a pinned row needs
// more. Small enough to stay in the cache, large enough that refills are rare.
constexpr size_t kInitialWindowBytes = size_t{256} << 10;
constexpr size_t kMinReadBytes = size_t{64} << 10;
// A message expected to be smaller is inflated whole: holding it costs little, and starting a
// thread to inflate ahead would cost more than the overlap saves.
constexpr size_t kMinBytesForWindow = size_t{1} << 20;

}  // namespace

TextWindow::Stream::Stream(TextWindow& window)
    : window_(&window),
      data_(window.buffer_.data()),
      p_(data_),
      end_(data_ + window.valid_),
      base_(window.base_) {
  if (p_ >= end_) window.Refill(*this);
}

TextWindow::TextWindow(absl::string_view compressed, size_t max_bytes, size_t size_hint) {
  if (size_hint >= kMinBytesForWindow) {
    inflater_.emplace(compressed, max_bytes);
    buffer_.resize(kInitialWindowBytes);
    return;
  }
  // The whole text is one piece, the last.
  ended_ = true;
  absl::StatusOr<std::string> text = Inflate(compressed, max_bytes);
  if (!text.ok()) {
    inflate_error_ = text.status();
    buffer_.resize(kPaddingBytes);
    return;
  }
  inflated_ = text->size();
  const size_t last_two = text->size() - std::min<size_t>(text->size(), 2);
  text_error_ = CheckJsonTextEnd(absl::string_view(*text).substr(last_two), last_two);
  if (text_error_.ok()) text_error_ = ValidateJsonPiece(*text, 0, /*last=*/true, valid_);
  buffer_ = *std::move(text);
  buffer_.resize(buffer_.size() + kPaddingBytes);
  buffer_[valid_] = '\0';
}

void TextWindow::Refill(Stream& stream) {
  const size_t position = std::min(stream.Tell(), base_ + valid_);
  if (ended_ || !inflate_error_.ok() || !text_error_.ok()) {
    // Nothing more will come: the stream stays on the NUL.
    stream.p_ = buffer_.data() + (position - base_);
    return;
  }
  // What the reader may still look at: the row it pinned, else the byte it just took (the '{' a
  // row it is about to pin starts at).
  size_t keep = position > base_ ? position - 1 : base_;
  if (pin_.has_value()) keep = std::min(keep, *pin_);
  const size_t drop = keep - base_;
  if (drop > 0) {
    std::memmove(buffer_.data(), buffer_.data() + drop, valid_ - drop);
    base_ = keep;
    valid_ -= drop;
  }
  if (buffer_.size() - valid_ < kMinReadBytes) buffer_.resize(buffer_.size() * 2);
  ReadPiece();
  buffer_[valid_] = '\0';
  stream.data_ = buffer_.data();
  stream.base_ = base_;
  stream.p_ = buffer_.data() + (position - base_);
  stream.end_ = buffer_.data() + valid_;
}

void TextWindow::ReadPiece() {
  while (!ended_ && inflate_error_.ok() && text_error_.ok()) {
    // The carried bytes go back where they were, in front of the new ones. The padding stays
    // free: the NUL, and what scans may read past it.
    std::memcpy(buffer_.data() + valid_, carry_.data(), carry_.size());
    const size_t start = valid_ + carry_.size();
    absl::StatusOr<size_t> read =
        inflater_->Read(buffer_.data() + start, buffer_.size() - kPaddingBytes - start);
    if (!read.ok()) {
      inflate_error_ = read.status();
      return;
    }
    const absl::string_view fresh(buffer_.data() + start, *read);
    const absl::string_view fresh_tail =
        fresh.substr(fresh.size() - std::min<size_t>(fresh.size(), 2));
    last_bytes_.append(fresh_tail.data(), fresh_tail.size());
    last_bytes_.erase(0, last_bytes_.size() - std::min<size_t>(last_bytes_.size(), 2));
    const absl::string_view piece(buffer_.data() + valid_, carry_.size() + *read);
    ended_ = *read == 0;
    if (ended_) {
      // Then the piece is only what was carried.
      const size_t text_bytes = base_ + valid_ + piece.size();
      text_error_ = CheckJsonTextEnd(last_bytes_, text_bytes - last_bytes_.size());
    }
    size_t checked = 0;
    if (text_error_.ok()) text_error_ = ValidateJsonPiece(piece, base_ + valid_, ended_, checked);
    carry_.assign(piece.data() + checked, piece.size() - checked);
    valid_ += checked;
    if (checked > 0) return;
  }
}

void TextWindow::Drain() {
  // Checks go on after a text error (an inflate error found later still wins), without keeping
  // any text.
  while (!ended_ && inflate_error_.ok()) {
    pin_.reset();
    base_ += valid_;
    valid_ = 0;
    if (!text_error_.ok()) {
      absl::StatusOr<size_t> read = inflater_->Read(buffer_.data(), buffer_.size() - kPaddingBytes);
      if (!read.ok()) inflate_error_ = read.status();
      ended_ = read.ok() && *read == 0;
      continue;
    }
    ReadPiece();
  }
  buffer_[valid_] = '\0';
}

}  // namespace tether::config
