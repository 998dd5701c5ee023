// Running --on-change-exec (see hook_runner.h).
#include "sidecar/export/hook_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sidecar/common/log.h"

extern char** environ;

namespace tether::exporter {
namespace {

constexpr absl::string_view kComponent = "on-change-exec";
// Output bounds per run: a chatty or broken command must not flood tether's log.
constexpr size_t kMaxLineBytes = 512;
constexpr size_t kMaxLoggedLines = 100;
// Of the error: what is left after the exit reason goes to the last stderr lines.
constexpr size_t kMaxStderrTailLines = 8;

// One run's stdout and stderr, cut into lines for the log; keeps the last stderr lines.
class Output {
 public:
  // Appends what was read from `stream` (1 or 2) and logs the complete lines.
  void Add(int stream, absl::string_view data) {
    std::string& partial = partial_[stream - 1];
    for (char c : data) {
      if (c == '\n') {
        Line(stream, std::exchange(partial, {}));
      } else if (partial.size() < kMaxLineBytes) {
        partial.push_back(c);
      }
    }
  }

  // Logs the unterminated last lines and what was left out; returns the stderr tail.
  std::string Finish() {
    for (int stream : {1, 2}) {
      if (!partial_[stream - 1].empty()) Line(stream, std::exchange(partial_[stream - 1], {}));
    }
    if (dropped_ > 0) {
      log::Warn(kComponent, "output lines left out of the log", {{"lines", dropped_}});
    }
    return absl::StrJoin(tail_, "\n");
  }

 private:
  void Line(int stream, std::string line) {
    if (logged_ < kMaxLoggedLines) {
      ++logged_;
      log::Info(kComponent, line, {{"stream", stream == 1 ? "stdout" : "stderr"}});
    } else {
      ++dropped_;
    }
    if (stream != 2) return;
    tail_.push_back(std::move(line));
    if (tail_.size() > kMaxStderrTailLines) tail_.pop_front();
  }

  std::array<std::string, 2> partial_;
  std::deque<std::string> tail_;
  size_t logged_ = 0;
  size_t dropped_ = 0;
};

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads what `fd` has now into `output`; closes it (fd = -1) at end of file or on error.
void Drain(int& fd, int stream, Output& output) {
  std::array<char, 4096> buf;
  while (fd >= 0) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      output.Add(stream, absl::string_view(buf.data(), static_cast<size_t>(n)));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n == 0 || errno != EAGAIN) CloseFd(fd);
      return;
    }
  }
}

// This process's environment with TETHER_CONFIG_HASH and TETHER_CONFIG_PATH set to ours.
std::vector<std::string> Environment(const std::string& hash, const std::string& path) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "TETHER_CONFIG_HASH=") &&
        !absl::StartsWith(*e, "TETHER_CONFIG_PATH=")) {
      env.emplace_back(*e);
    }
  }
  env.push_back(absl::StrCat("TETHER_CONFIG_HASH=", hash));
  if (!path.empty()) env.push_back(absl::StrCat("TETHER_CONFIG_PATH=", path));
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts argv (searched in PATH) in a new process group, stdout and stderr into out_fd and
// err_fd, with default signal handling whatever tether's threads block or ignore. Returns the
// pid or errno.
std::pair<pid_t, int> Spawn(std::vector<std::string> argv, std::vector<std::string> env, int out_fd,
                            int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  // Not every socket of gRPC and Asio is close-on-exec.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argp = Pointers(argv);
  std::vector<char*> envp = Pointers(env);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argp[0], &actions, &attr, argp.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return {rc == 0 ? pid : -1, rc};
}

std::string ExitReason(int wstatus) {
  if (WIFEXITED(wstatus)) return absl::StrCat("exited with status ", WEXITSTATUS(wstatus));
  const int sig = WTERMSIG(wstatus);
  return absl::StrCat("killed by signal ", sig, " (", ::strsignal(sig), ")");
}

// "<reason>; stderr: <tail>", keeping the end of the tail within kMaxErrorBytes.
std::string ErrorText(const std::string& reason, const std::string& tail) {
  if (tail.empty()) return reason.substr(0, HookResult::kMaxErrorBytes);
  std::string head = absl::StrCat(reason, "; stderr: ");
  const size_t room =
      HookResult::kMaxErrorBytes > head.size() ? HookResult::kMaxErrorBytes - head.size() : 0;
  return absl::StrCat(head, tail.size() > room ? tail.substr(tail.size() - room) : tail);
}

}  // namespace

HookRunner::HookRunner(HookCommand command) : command_(std::move(command)) {
  if (::pipe2(cancel_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    log::Error(kComponent, "cannot create a pipe", {{"err", std::strerror(errno)}});
  }
}

HookRunner::~HookRunner() {
  CloseFd(cancel_pipe_[0]);
  CloseFd(cancel_pipe_[1]);
}

void HookRunner::Cancel() {
  // The byte stays: every later poll sees it too.
  const char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(cancel_pipe_[1], &byte, 1);
}

std::optional<HookResult> HookRunner::Run(const std::string& config_hash) {
  pollfd cancelled{cancel_pipe_[0], POLLIN, 0};
  if (::poll(&cancelled, 1, 0) != 0) return std::nullopt;
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return HookResult{status::HookOutcome::kFailed, "pipe failed"};
  if (::pipe2(err, O_CLOEXEC) != 0) {
    CloseFd(out[0]);
    CloseFd(out[1]);
    return HookResult{status::HookOutcome::kFailed, "pipe failed"};
  }
  auto [pid, spawn_errno] =
      Spawn(command_.argv, Environment(config_hash, command_.config_path), out[1], err[1]);
  CloseFd(out[1]);
  CloseFd(err[1]);
  if (pid < 0) {
    CloseFd(out[0]);
    CloseFd(err[0]);
    return HookResult{
        status::HookOutcome::kFailed,
        ErrorText(absl::StrCat("cannot run ", command_.argv[0], ": ", std::strerror(spawn_errno)),
                  "")};
  }
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  // Readable once the child has exited, whether or not something still holds its pipes.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  Output output;
  const absl::Time deadline = absl::Now() + command_.timeout;
  bool exited = false;
  bool timed_out = false;
  bool cancel = false;
  while (!exited && !timed_out && !cancel) {
    std::array<pollfd, 4> fds = {pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0},
                                 pollfd{pidfd, POLLIN, 0}, pollfd{cancel_pipe_[0], POLLIN, 0}};
    const absl::Duration left = deadline - absl::Now();
    const int64_t wait_ms = absl::ToInt64Milliseconds(left + absl::Milliseconds(1));
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait_ms, 0)));
    if (rc < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) Drain(out[0], 1, output);
    if (fds[1].revents != 0) Drain(err[0], 2, output);
    exited = fds[2].revents != 0;
    cancel = fds[3].revents != 0;
    timed_out = !exited && absl::Now() >= deadline;
  }
  // The group's pgid is the child's pid, which stays ours until waitpid reaps it.
  if (!exited) ::kill(-pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  // What the child wrote before it exited; a background process it left may keep the pipes
  // open, so this does not wait for end of file.
  Drain(out[0], 1, output);
  Drain(err[0], 2, output);
  CloseFd(out[0]);
  CloseFd(err[0]);
  CloseFd(pidfd);
  const std::string tail = output.Finish();
  if (cancel) return std::nullopt;
  if (timed_out) {
    return HookResult{
        status::HookOutcome::kTimeout,
        ErrorText(absl::StrCat("timed out after ", absl::FormatDuration(command_.timeout),
                               " (process group killed)"),
                  tail)};
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return HookResult{};
  return HookResult{status::HookOutcome::kFailed, ErrorText(ExitReason(wstatus), tail)};
}

}  // namespace tether::exporter
