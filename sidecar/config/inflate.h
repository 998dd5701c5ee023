// Inflate for reconfigure frames (kong-protocol.md §3.1): like Kong's data plane (zlib with
// windowBits 15+32), both gzip (what the CP sends) and zlib-wrapped data are accepted.
//
// Why a cap checked while inflating: the frame is untrusted, and a few MiB of deflate can expand
// ~1000-fold. Output stops at `max_bytes`, so a decompression bomb costs at most that much memory
// and the time to produce it.
//
// Two ways in: Inflate makes the whole text at once, and Inflater hands it out a piece at a time,
// for a reader that never needs it whole (text_window.h). Both inflate with Intel's ISA-L, which
// streams as zlib does, at more than twice its speed (BENCHMARKS.md).
//
// Threading: Inflate is a pure function, thread-safe; an Inflater or InflateAhead belongs to one
// thread (InflateAhead's helper is its own business).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/common/mutex.h"

namespace tether::config {

// The inflated bytes of one gzip or zlib stream that must span all of `compressed`.
//
// Errors: ResourceExhausted when the output would exceed `max_bytes`; InvalidArgument for empty,
// corrupt or truncated input and for bytes after the end of the stream (Kong's CP never sends
// them, and accepting them would let two different frames carry one config).
absl::StatusOr<std::string> Inflate(absl::string_view compressed, size_t max_bytes);

// The size a gzip member's trailer states when it is plausible for `compressed`, else nullopt: a
// hint only (the trailer is untrusted until the stream has been checked).
std::optional<size_t> TrailerSize(absl::string_view compressed);

// `compressed` inflated a piece at a time, with Inflate's checks: the cap as soon as the output
// passes it, and those of the stream's end once it is reached.
class Inflater {
 public:
  // `compressed` must outlive the Inflater.
  Inflater(absl::string_view compressed, size_t max_bytes);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates into out[0, size) (size > 0) and returns how many bytes it wrote: 0 only once the
  // stream has ended and passed every check. Inflate's errors; after one, every call returns it.
  absl::StatusOr<size_t> Read(char* out, size_t size);
  // Bytes inflated so far.
  size_t produced() const { return produced_; }

 private:
  struct Stream;
  absl::Status Fail(absl::Status status);

  const absl::string_view compressed_;
  const size_t max_bytes_;
  std::unique_ptr<Stream> stream_;
  size_t consumed_ = 0;  // input handed to ISA-L, which may not have read all of it yet
  size_t produced_ = 0;
  bool ended_ = false;
  absl::Status error_;
};

// An Inflater on a helper thread a few pieces ahead of its reader, so that inflating overlaps
// whatever the reader does with the text (parsing it, on the other core). Its Read is Inflater's,
// with the same errors at the same place in the text; the pieces ahead bound what it holds (well
// under a MiB).
class InflateAhead {
 public:
  // `compressed` must outlive this. Without a thread to be had, Read inflates on its caller's.
  InflateAhead(absl::string_view compressed, size_t max_bytes);
  // Stops the helper after the piece it is on.
  ~InflateAhead();
  InflateAhead(const InflateAhead&) = delete;
  InflateAhead& operator=(const InflateAhead&) = delete;

  absl::StatusOr<size_t> Read(char* out, size_t size);
  // Bytes Read has returned so far.
  size_t produced() const { return produced_; }

 private:
  struct Piece {
    std::unique_ptr<char[]> data;
    size_t size = 0;
  };
  void Run();

  Inflater inflater_;  // the helper's once it has started
  Mutex mu_;
  std::deque<Piece> ready_ ABSL_GUARDED_BY(mu_);   // inflated, in order, not yet read
  std::vector<Piece> spare_ ABSL_GUARDED_BY(mu_);  // read, for the helper to fill again
  absl::Status error_ ABSL_GUARDED_BY(mu_);        // the helper's Read failed: after ready_
  bool ended_ ABSL_GUARDED_BY(mu_) = false;        // ... or the stream ended
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The reader's.
  Piece piece_;  // being read
  size_t piece_read_ = 0;
  size_t produced_ = 0;
  std::thread helper_;  // last: starts once the rest is initialised
};

}  // namespace tether::config
