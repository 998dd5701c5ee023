// Process: a binary (tether, tether-devcp) the load tool runs, with each line it writes to stdout
// or stderr handed to a callback together with the time it arrived.
//
// Why arrival times: the load tool dates a config push by the moment tether-devcp's "config set"
// line reaches it, on the same monotonic clock as the subscribers' receive times, so the
// latency it reports needs no clock shared between processes.
//
// Threading: thread-safe. One reader thread per process owns the pipe and runs the callback; the
// destructor stops the process (SIGTERM, then SIGKILL after a grace period) and joins it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/mutex.h"

namespace tether::bench {

using SteadyTime = std::chrono::steady_clock::time_point;

class Process {
 public:
  // Called on the reader thread, for each line without its newline.
  using LineCallback = std::function<void(absl::string_view line, SteadyTime arrived)>;

  // Runs argv[0] with `argv`, stdin from /dev/null, stdout and stderr into one pipe, and this
  // process's environment minus TETHER_* and KONG_* (settings come from flags only).
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                        LineCallback on_line);
  ~Process();

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // The last lines it wrote (at most 50), for error messages.
  std::string Tail() const;
  // Whether it has exited (reaping it if so).
  bool Exited();
  // SIGTERM, then SIGKILL if it has not exited within `grace`. Idempotent.
  void Stop(absl::Duration grace);

 private:
  Process(pid_t pid, int output_fd, LineCallback on_line);
  void Read();

  const pid_t pid_;
  const int output_fd_;
  const LineCallback on_line_;
  mutable Mutex mu_;
  std::deque<std::string> tail_ ABSL_GUARDED_BY(mu_);
  bool reaped_ = false;  // the caller's thread only
  std::thread reader_;   // last: starts after the members it uses
};

}  // namespace tether::bench
