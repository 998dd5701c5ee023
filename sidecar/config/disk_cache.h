// DiskCache: the last-known-good config on disk, so that a restart serves
// config even while the control plane is unreachable (Kong's data plane does
// this with LMDB, kong-protocol.md §3.6).
//
// Why the exact frame: the cache holds the compressed reconfigure frame as
// received plus a little metadata, not a re-encoding, so loading it runs the
// same decoder and validation as a live push and the cache is as small as the
// CP's gzip made it. A SHA-256 over the whole file detects torn or corrupted
// writes; a file that fails it is never served.
//
// File layout (format version 1), all integers little-endian:
//   "TETHERC\n" | u32 version | u32 header length | header JSON | frame |
//   32-byte SHA-256 of all preceding bytes.
// The header JSON holds config_hash, hashes, received_at and written_at (unix
// nanoseconds), cp_timestamp (when known) and frame_bytes.
//
// Why the data dir must be private: whoever can write to it can plant a cache
// tether would serve as its config, or race its writes, so a dir owned by
// another uid or writable by group or others is refused for reading and writing
// alike (tether then runs without a cache).
//
// Threading: thread-compatible; the app writes from one cache-writer thread and
// reads once at start-up.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tether::config {

struct CachedConfig {
  std::string frame;  // the compressed reconfigure frame, exactly as received
  std::string config_hash;
  std::map<std::string, std::string> hashes;
  absl::Time received_at = absl::InfinitePast();
  std::optional<double> cp_timestamp;
  absl::Time written_at = absl::InfinitePast();  // set by Write
};

class DiskCache {
 public:
  inline static constexpr uint32_t kFormatVersion = 1;
  inline static constexpr char kFileName[] = "config.cache";

  // `dir` must exist (the data dir, 0700).
  explicit DiskCache(std::string dir);

  // Replaces the cached config durably: temp file (0600), fsync, rename, fsync
  // of the directory. A crash at any point leaves either the old file or the
  // new one. FailedPrecondition when the dir is not private (see above).
  absl::Status Write(CachedConfig config);

  // NotFound when there is no cache; FailedPrecondition when the dir is not
  // private; DataLoss when the file is torn, corrupt or of another format
  // version (the caller moves it aside).
  absl::StatusOr<CachedConfig> Read() const;

  // Renames the cache file to config.cache.corrupt-<unix seconds> so it is kept
  // for inspection but never read again. Returns the new path.
  absl::StatusOr<std::string> MoveAside() const;

  const std::string& path() const { return path_; }

 private:
  // OK when the dir is owned by this process's effective uid and writable by no
  // one else.
  absl::Status CheckDirIsPrivate() const;

  const std::string dir_;
  const std::string path_;
};

}  // namespace tether::config
