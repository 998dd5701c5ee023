#include "sidecar/common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace tether {
namespace {

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and returns close's result, which matters after a write.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<std::string> ReadFileCapped(const std::string& path, size_t max_bytes) {
  const std::string what = absl::StrCat("cannot read ", path);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, what);
  std::string contents;
  std::array<char, 4096> buf;
  while (true) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, what);
    if (n == 0) break;
    contents.append(buf.data(), static_cast<size_t>(n));
    if (contents.size() > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, " is larger than the ", max_bytes, " bytes allowed"));
    }
  }
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 std::initializer_list<absl::string_view> parts, mode_t mode) {
  // mkostemp creates the file exclusively (O_EXCL) under a random name: a file
  // or symlink planted where a predictable name would go is never opened,
  // truncated or chmod-ed.
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  auto fail = [&tmp](absl::string_view step) {
    const absl::Status st = absl::ErrnoToStatus(errno, absl::StrCat("cannot ", step, " ", tmp));
    ::unlink(tmp.c_str());
    return st;
  };
  if (fd.get() < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a temp file for ", path));
  }
  if (::fchmod(fd.get(), mode) != 0) return fail("set the mode of");
  for (absl::string_view contents : parts) {
    while (!contents.empty()) {
      const ssize_t n = ::write(fd.get(), contents.data(), contents.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("write");
      contents.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (::fsync(fd.get()) != 0) return fail("sync");
  if (fd.Close() != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  // Make the rename durable too. If this fails the file is still correct; a
  // crash could at worst bring back the old one, so it is not an error.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
  return absl::OkStatus();
}

bool ReadableByOthers(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

}  // namespace tether
