// Small POSIX file helpers: reading a bounded file, replacing one atomically
// and telling whether a key file is exposed.
//
// Threading: thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether {

// Reads the whole file, refusing one larger than max_bytes (ResourceExhausted).
// Errors come from errno (NotFound for a missing file) and read "cannot read
// <path>: <reason>".
absl::StatusOr<std::string> ReadFileCapped(const std::string& path, size_t max_bytes);

// Replaces path with contents, mode `mode`, through a new <path>.tmp.<random>,
// fsync and rename, so a reader sees the old file or the whole new one, never a
// part.
// The contents may come in parts, written one after the other, so that a large file need not be
// assembled in memory first.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::initializer_list<absl::string_view> parts, mode_t mode);
inline absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                        mode_t mode) {
  return WriteFileAtomically(path, {contents}, mode);
}

// Whether the file's mode lets its group or others read it: for a private key, a warning
// (false when it cannot be stat'ed: reading it fails loudly elsewhere).
bool ReadableByOthers(const std::string& path);

}  // namespace tether
