#include "bench/load/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace tether::bench {
namespace {

constexpr size_t kTailLines = 50;

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                        LineCallback on_line) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  // gRPC's sockets in this process must not leak into the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
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
  return std::unique_ptr<Process>(new Process(pid, pipe_fds[0], std::move(on_line)));
}

Process::Process(pid_t pid, int output_fd, LineCallback on_line)
    : pid_(pid), output_fd_(output_fd), on_line_(std::move(on_line)), reader_([this] { Read(); }) {}

Process::~Process() {
  Stop(absl::Seconds(10));
  // The pipe ends once the child is gone (neither binary leaves children behind).
  reader_.join();
  ::close(output_fd_);
}

void Process::Read() {
  char buf[4096];
  std::string partial;
  while (true) {
    const ssize_t n = ::read(output_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    const SteadyTime arrived = std::chrono::steady_clock::now();
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = partial.find('\n', start)) != std::string::npos; start = end + 1) {
      const absl::string_view line(partial.data() + start, end - start);
      on_line_(line, arrived);
      MutexLock lock(&mu_);
      tail_.emplace_back(line);
      if (tail_.size() > kTailLines) tail_.pop_front();
    }
    partial.erase(0, start);
  }
}

std::string Process::Tail() const {
  MutexLock lock(&mu_);
  return absl::StrJoin(tail_, "\n");
}

bool Process::Exited() {
  if (reaped_) return true;
  int status = 0;
  reaped_ = ::waitpid(pid_, &status, WNOHANG) == pid_;
  return reaped_;
}

void Process::Stop(absl::Duration grace) {
  if (Exited()) return;
  // A pidfd becomes readable when the process exits, so the grace period is a wait, not a poll.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  ::kill(pid_, SIGTERM);
  if (pidfd >= 0) {
    pollfd exit_event = {pidfd, POLLIN, 0};
    ::poll(&exit_event, 1, static_cast<int>(absl::ToInt64Milliseconds(grace)));
    ::close(pidfd);
  }
  if (Exited()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
}

}  // namespace tether::bench
