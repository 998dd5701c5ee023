#include "sidecar/config/inflate.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tether::config {
namespace {

// 15 = 32 KiB window (the largest, what the CP's deflate uses); +32 = detect gzip or zlib.
constexpr int kAutoDetectWindowBits = 15 + 32;
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
// the cap allows, so a lying trailer cannot make us allocate past it.
size_t InitialOutputBytes(absl::string_view compressed, size_t limit) {
  return std::min(
      TrailerSize(compressed).value_or(std::max(kMinInitialBytes, compressed.size() * 4)), limit);
}

// The fast path: libdeflate inflates a whole gzip member in one call, about 1.7 times as fast as
// zlib (BENCHMARKS.md), into a buffer of the size its trailer states. It needs that size up front,
// so it takes only frames whose trailer is plausible and within `max_bytes`; and it gives up
// (nullopt) on anything but one member that fills the buffer exactly and passes its CRC, leaving
// such a frame, and the precise error, to the streaming zlib path. A trailer that lies costs a
// second pass, never memory beyond the cap.
std::optional<std::string> InflateWhole(absl::string_view compressed, size_t max_bytes) {
  const std::optional<size_t> size = TrailerSize(compressed);
  if (!size.has_value() || *size > max_bytes) return std::nullopt;
  // libdeflate skips a header CRC (FHCRC) without checking it, where zlib refuses a wrong one.
  // Kong's CP never sets it; a frame that does goes the zlib way, to be checked.
  constexpr unsigned char kHeaderCrcFlag = 0x02;
  if ((static_cast<unsigned char>(compressed[3]) & kHeaderCrcFlag) != 0) return std::nullopt;
  const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> decompressor(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (decompressor == nullptr) return std::nullopt;
  std::string out(*size, '\0');
  size_t consumed = 0;
  size_t produced = 0;
  const libdeflate_result rc =
      libdeflate_gzip_decompress_ex(decompressor.get(), compressed.data(), compressed.size(),
                                    out.data(), out.size(), &consumed, &produced);
  if (rc != LIBDEFLATE_SUCCESS || consumed != compressed.size() || produced != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string ZlibMessage(const z_stream& stream, int rc) {
  return stream.msg != nullptr ? std::string(stream.msg) : absl::StrCat("zlib code ", rc);
}

}  // namespace

struct Inflater::Stream {
  Stream() = default;
  ~Stream() {
    if (initialized) inflateEnd(&z);
  }
  z_stream z{};
  bool initialized = false;
};

Inflater::Inflater(absl::string_view compressed, size_t max_bytes)
    : compressed_(compressed), max_bytes_(max_bytes), stream_(std::make_unique<Stream>()) {
  if (compressed.empty()) {
    error_ = absl::InvalidArgumentError("inflate: empty input");
    return;
  }
  const int rc = inflateInit2(&stream_->z, kAutoDetectWindowBits);
  stream_->initialized = rc == Z_OK;
  if (rc != Z_OK) {
    error_ = rc == Z_MEM_ERROR
                 ? absl::ResourceExhaustedError("inflate: out of memory")
                 : absl::InternalError(absl::StrCat("inflate: init failed, code ", rc));
  }
}

Inflater::~Inflater() = default;

absl::Status Inflater::Fail(absl::Status status) {
  error_ = std::move(status);
  return error_;
}

absl::StatusOr<size_t> Inflater::Read(char* out, size_t size) {
  if (!error_.ok()) return error_;
  if (ended_) return 0;
  z_stream& z = stream_->z;
  size_t written = 0;
  // z_stream counts in uInt, so buffers above 4 GiB go in slices.
  while (written < size) {
    const size_t in_chunk = std::min<size_t>(compressed_.size() - consumed_, UINT_MAX);
    const size_t out_chunk = std::min<size_t>(size - written, UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed_.data() + consumed_));
    z.avail_in = static_cast<uInt>(in_chunk);
    z.next_out = reinterpret_cast<Bytef*>(out + written);
    z.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&z, Z_NO_FLUSH);
    consumed_ += in_chunk - z.avail_in;
    written += out_chunk - z.avail_out;
    produced_ += out_chunk - z.avail_out;
    if (produced_ > max_bytes_) {
      return Fail(absl::ResourceExhaustedError(
          absl::StrCat("inflate: output exceeds the ", max_bytes_, "-byte limit")));
    }
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        if (consumed_ != compressed_.size()) {
          return Fail(absl::InvalidArgumentError(
              absl::StrCat("inflate: ", compressed_.size() - consumed_,
                           " unexpected bytes after the compressed data")));
        }
        ended_ = true;
        return written;
      case Z_BUF_ERROR:
        // No progress with room left in the output: the input ran out.
        if (z.avail_out != 0) {
          return Fail(absl::InvalidArgumentError("inflate: truncated compressed data"));
        }
        break;
      case Z_MEM_ERROR:
        return Fail(absl::ResourceExhaustedError("inflate: out of memory"));
      case Z_NEED_DICT:
        return Fail(
            absl::InvalidArgumentError("inflate: compressed data needs a preset dictionary"));
      default:  // Z_DATA_ERROR, Z_STREAM_ERROR
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("inflate: corrupt compressed data: ", ZlibMessage(z, rc))));
    }
    // Input all consumed without the stream ending and without filling the output: truncated.
    if (consumed_ == compressed_.size() && z.avail_out != 0) {
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
  if (std::optional<std::string> whole = InflateWhole(compressed, max_bytes); whole.has_value()) {
    return *std::move(whole);
  }
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
