#include "tests/testing/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "sidecar/common/spawn.h"

namespace tether::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv) {
  // The destructor stops the child when a test fails, but a test process that dies without
  // running destructors (a crash, a sanitizer's abort, ctest's SIGKILL on timeout) would leave it
  // running. setpriv (util-linux, essential in Debian) sets PR_SET_PDEATHSIG, which posix_spawn
  // cannot, and then execs argv in the same process, so pid_ is argv[0]'s.
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  absl::StatusOr<SpawnedChild> child = SpawnWithOutputPipe(wrapped);
  if (!child.ok()) return child.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(child->pid, child->output_fd));
}

ChildProcess::ChildProcess(pid_t pid, int output_fd)
    : pid_(pid), output_fd_(output_fd), reader_([this] { Read(); }) {}

ChildProcess::~ChildProcess() {
  if (!exit_status_.has_value()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  reader_.join();
  ::close(output_fd_);
}

void ChildProcess::Read() {
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(output_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    MutexLock lock(&mu_);
    if (n <= 0) {
      eof_ = true;
      return;
    }
    output_.append(buf, static_cast<size_t>(n));
  }
}

std::optional<std::string> ChildProcess::AwaitLine(absl::string_view needle,
                                                   absl::Duration timeout) const {
  std::optional<std::string> found;
  auto scan = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (absl::string_view line : absl::StrSplit(output_, '\n')) {
      if (absl::StrContains(line, needle)) {
        found = std::string(line);
        return true;
      }
    }
    return eof_;
  };
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(scan, timeout);
  return found;
}

std::string ChildProcess::Output() const {
  MutexLock lock(&mu_);
  return output_;
}

void ChildProcess::Signal(int signal) const { ::kill(pid_, signal); }

std::optional<int> ChildProcess::AwaitExit(absl::Duration timeout) {
  if (exit_status_.has_value()) return exit_status_;
  {
    // The pipe reaches its end when the child exits (neither binary leaves children behind).
    MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return eof_; }, timeout)) {
      return std::nullopt;
    }
  }
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_status_;
}

}  // namespace tether::testing
