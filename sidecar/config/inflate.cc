#include "sidecar/config/inflate.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tether::config {
namespace {

// First output allocation when the input gives no better hint.
constexpr size_t kMinInitialBytes = size_t{64} << 10;
// deflate cannot expand data more than ~1032-fold, so a gzip trailer claiming more is a lie.
constexpr size_t kMaxDeflateRatio = 1032;

}  // namespace

std::optional<size_t> TrailerSize(absl::string_view compressed) {
  const bool gzip = compressed.size() >= 18 && static_cast<unsigned char>(compressed[0]) == 0x1f &&
                    static_cast<unsigned char>(compressed[1]) == 0x8b;
  if (!gzip) return std::nullopt;
  const auto* trailer =
      reinterpret_cast<const unsigned char*>(compressed.data()) + compressed.size() - 4;
  const size_t isize = size_t{trailer[0]} | size_t{trailer[1]} << 8 | size_t{trailer[2]} << 16 |
                       size_t{trailer[3]} << 24;
  if (isize == 0 || isize / kMaxDeflateRatio > compressed.size()) return std::nullopt;
  return isize;
}

namespace {

// A first output size: the gzip trailer's ISIZE (uncompressed size mod 2^32) when plausible, so a
// normal frame inflates without reallocation; else a small multiple of the input. Never more than
// the cap allows, so a lying trailer cannot make us allocate past it. One byte more than the
// trailer states: ISA-L reads the trailer only with room left in the output, and with none it
// would take a second buffer twice the size to see the end.
size_t InitialOutputBytes(absl::string_view compressed, size_t limit) {
  const std::optional<size_t> stated = TrailerSize(compressed);
  return std::min(
      stated.has_value() ? *stated + 1 : std::max(kMinInitialBytes, compressed.size() * 4), limit);
}

absl::Status IsalError(int rc) {
  switch (rc) {
    case ISAL_NEED_DICT:
      return absl::InvalidArgumentError("inflate: compressed data needs a preset dictionary");
    case ISAL_INVALID_WRAPPER:
      return absl::InvalidArgumentError(
          "inflate: corrupt compressed data: not a gzip or zlib header");
    case ISAL_UNSUPPORTED_METHOD:
      return absl::InvalidArgumentError(
          "inflate: corrupt compressed data: a compression method other than deflate");
    case ISAL_INCORRECT_CHECKSUM:
      return absl::InvalidArgumentError(
          "inflate: corrupt compressed data: a checksum or the length does not match");
    default:  // ISAL_INVALID_BLOCK, ISAL_INVALID_SYMBOL, ISAL_INVALID_LOOKBACK
      return absl::InvalidArgumentError(absl::StrCat(
          "inflate: corrupt compressed data: invalid deflate data (ISA-L code ", rc, ")"));
  }
}

}  // namespace

// 85 KiB, mostly buffers that isal_inflate_init leaves alone: not zeroed
// (make_unique_for_overwrite), which would cost a small message's inflate about a tenth of its
// time.
struct Inflater::Stream {
  inflate_state state;
};

Inflater::Inflater(absl::string_view compressed, size_t max_bytes)
    : compressed_(compressed),
      max_bytes_(max_bytes),
      stream_(std::make_unique_for_overwrite<Stream>()) {
  if (compressed.empty()) {
    error_ = absl::InvalidArgumentError("inflate: empty input");
    return;
  }
  inflate_state& state = stream_->state;
  isal_inflate_init(&state);
  // As zlib's automatic header detection (windowBits + 32), which Kong's DP uses: gzip by its
  // magic bytes, anything else must have zlib's wrapper.
  const bool gzip = compressed.size() >= 2 && static_cast<unsigned char>(compressed[0]) == 0x1f &&
                    static_cast<unsigned char>(compressed[1]) == 0x8b;
  state.crc_flag = gzip ? ISAL_GZIP : ISAL_ZLIB;
}

Inflater::~Inflater() = default;

absl::Status Inflater::Fail(absl::Status status) {
  error_ = std::move(status);
  return error_;
}

absl::StatusOr<size_t> Inflater::Read(char* out, size_t size) {
  if (!error_.ok()) return error_;
  if (ended_) return 0;
  inflate_state& state = stream_->state;
  size_t written = 0;
  // ISA-L counts in uint32_t, so buffers above 4 GiB go in slices.
  while (written < size) {
    if (state.avail_in == 0) {
      const size_t in_chunk = std::min<size_t>(compressed_.size() - consumed_, UINT32_MAX);
      state.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(compressed_.data())) + consumed_;
      state.avail_in = static_cast<uint32_t>(in_chunk);
      consumed_ += in_chunk;
    }
    const size_t out_chunk = std::min<size_t>(size - written, UINT32_MAX);
    state.next_out = reinterpret_cast<uint8_t*>(out + written);
    state.avail_out = static_cast<uint32_t>(out_chunk);
    const int rc = isal_inflate(&state);
    written += out_chunk - state.avail_out;
    produced_ += out_chunk - state.avail_out;
    if (produced_ > max_bytes_) {
      return Fail(absl::ResourceExhaustedError(
          absl::StrCat("inflate: output exceeds the ", max_bytes_, "-byte limit")));
    }
    if (rc != ISAL_DECOMP_OK) return Fail(IsalError(rc));
    const size_t unread = compressed_.size() - consumed_ + state.avail_in;
    if (state.block_state == ISAL_BLOCK_FINISH) {
      // ISA-L has checked the trailer's checksum and length.
      if (unread != 0) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("inflate: ", unread, " unexpected bytes after the compressed data")));
      }
      ended_ = true;
      return written;
    }
    // Input all read without the stream ending and without filling the output: truncated.
    if (unread == 0 && state.avail_out != 0) {
      return Fail(absl::InvalidArgumentError("inflate: truncated compressed data"));
    }
  }
  return written;
}

namespace {
// What the helper inflates at a time, and how many such pieces it may hold unread.
constexpr size_t kPieceBytes = size_t{128} << 10;
constexpr size_t kPiecesAhead = 4;
}  // namespace

InflateAhead::InflateAhead(absl::string_view compressed, size_t max_bytes)
    : inflater_(compressed, max_bytes) {
  try {
    helper_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {
    // No thread to be had (a pids limit): Read inflates on the reader's thread.
  }
}

InflateAhead::~InflateAhead() {
  if (!helper_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  helper_.join();
}

void InflateAhead::Run() {
  for (;;) {
    Piece piece;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || ready_.size() < kPiecesAhead;
      });
      if (stopping_) return;
      if (!spare_.empty()) {
        piece = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (piece.data == nullptr) piece.data = std::make_unique<char[]>(kPieceBytes);
    absl::StatusOr<size_t> read = inflater_.Read(piece.data.get(), kPieceBytes);
    MutexLock lock(&mu_);
    if (!read.ok() || *read == 0) {
      error_ = read.status();
      ended_ = true;
      return;
    }
    piece.size = *read;
    ready_.push_back(std::move(piece));
  }
}

absl::StatusOr<size_t> InflateAhead::Read(char* out, size_t size) {
  if (!helper_.joinable()) {
    absl::StatusOr<size_t> read = inflater_.Read(out, size);
    if (read.ok()) produced_ += *read;
    return read;
  }
  if (piece_read_ == piece_.size) {
    MutexLock lock(&mu_);
    if (piece_.data != nullptr) spare_.push_back(std::move(piece_));
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !ready_.empty() || ended_; });
    if (ready_.empty()) {
      if (!error_.ok()) return error_;
      piece_ = Piece();
      piece_read_ = 0;
      return 0;
    }
    piece_ = std::move(ready_.front());
    ready_.pop_front();
    piece_read_ = 0;
  }
  const size_t n = std::min(size, piece_.size - piece_read_);
  std::memcpy(out, piece_.data.get() + piece_read_, n);
  piece_read_ += n;
  produced_ += n;
  return n;
}

absl::StatusOr<std::string> Inflate(absl::string_view compressed, size_t max_bytes) {
  Inflater inflater(compressed, max_bytes);
  // One byte of room beyond the cap tells "exactly max_bytes" from "more than max_bytes".
  const size_t limit = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
  std::string out;
  out.resize(std::max<size_t>(InitialOutputBytes(compressed, limit), 1));
  size_t produced = 0;
  while (true) {
    if (produced == out.size()) out.resize(out.size() > limit / 2 ? limit : out.size() * 2);
    absl::StatusOr<size_t> read = inflater.Read(out.data() + produced, out.size() - produced);
    if (!read.ok()) return read.status();
    if (*read == 0) break;
    produced += *read;
  }
  out.resize(produced);
  return out;
}

}  // namespace tether::config
