#include "bench/load/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_join.h"
#include "sidecar/common/spawn.h"

namespace tether::bench {
namespace {

constexpr size_t kTailLines = 50;

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                        LineCallback on_line) {
  absl::StatusOr<SpawnedChild> child = SpawnWithOutputPipe(argv);
  if (!child.ok()) return child.status();
  return std::unique_ptr<Process>(new Process(child->pid, child->output_fd, std::move(on_line)));
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
