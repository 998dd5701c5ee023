#include "tests/testing/log_capture.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace tether::testing {
namespace {

size_t CountLinesWith(absl::string_view text, absl::string_view needle) {
  size_t n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, needle)) ++n;
  }
  return n;
}

}  // namespace

LogCapture::LogCapture() {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  // Non-blocking, so that Lines can take whatever is in the pipe without waiting for more.
  EXPECT_EQ(::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(::pipe2(stop_fd_, O_CLOEXEC), 0);
  read_fd_ = pipe_fds[0];
  std::fflush(stderr);
  saved_stderr_ = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  EXPECT_GE(saved_stderr_, 0);
  EXPECT_EQ(::dup2(pipe_fds[1], STDERR_FILENO), STDERR_FILENO);
  ::close(pipe_fds[1]);
  reader_ = std::thread([this] { Drain(); });
}

LogCapture::~LogCapture() {
  std::fflush(stderr);
  ::dup2(saved_stderr_, STDERR_FILENO);
  ::close(saved_stderr_);
  // A child process may still hold the write end, so the reader is told to stop rather than
  // waiting for end of file; it reads what is buffered first.
  EXPECT_EQ(::write(stop_fd_[1], "x", 1), 1);
  reader_.join();
  ::close(read_fd_);
  ::close(stop_fd_[0]);
  ::close(stop_fd_[1]);
}

void LogCapture::Drain() {
  while (true) {
    pollfd fds[2] = {{read_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    MutexLock lock(&mu_);
    ReadAvailableLocked();
    if (fds[1].revents & POLLIN) return;
  }
}

void LogCapture::ReadAvailableLocked() const {
  char buf[4096];
  ssize_t n;
  while ((n = ::read(read_fd_, buf, sizeof(buf))) > 0) text_.append(buf, static_cast<size_t>(n));
}

std::vector<std::string> LogCapture::Lines() const {
  MutexLock lock(&mu_);
  // Whatever was written before this call is in text_ or still in the pipe.
  ReadAvailableLocked();
  std::vector<std::string> lines = absl::StrSplit(text_, '\n');
  lines.pop_back();  // what follows the last newline: empty, or a line still being written
  return lines;
}

std::vector<std::string> LogCapture::LinesWith(absl::string_view needle) const {
  std::vector<std::string> found;
  for (std::string& line : Lines()) {
    if (absl::StrContains(line, needle)) found.push_back(std::move(line));
  }
  return found;
}

bool LogCapture::WaitForLines(absl::string_view needle, size_t count,
                              absl::Duration timeout) const {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return CountLinesWith(text_.substr(0, text_.rfind('\n') + 1), needle) >= count;
      },
      timeout);
}

}  // namespace tether::testing
