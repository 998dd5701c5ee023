#include "tests/testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace tether::testing {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  // Asio does not open its sockets close-on-exec: a test's in-process CP must not leak into the
  // child (its listener would outlive the CP's Stop there).
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // The settings under test come from argv only.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "TETHER_") && !absl::StartsWith(*e, "KONG_")) env.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return absl::InternalError(absl::StrCat("spawn ", argv[0], ": ", std::strerror(rc)));
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pipe_fds[0]));
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
