// ChildProcess: a built binary (tether, tetherctl) run by a test, with its output captured line
// by line so the test can await what it logs, signal it and await its exit, all under deadlines.
//
// Why: the drain and `tetherctl wait` tests exercise the real binaries' signal handling and exit
// codes, which an in-process App cannot show.
//
// Threading: thread-safe. A reader thread owns the pipe; mu_ guards what it collected. The
// destructor kills (SIGKILL) and reaps a child that is still running; the kernel kills it when
// the thread that started it ends first (PR_SET_PDEATHSIG), so start children from the test's
// thread, which lives as long as the test process.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/mutex.h"

namespace tether::testing {

class ChildProcess {
 public:
  // Runs argv[0] with `argv`, stdin from /dev/null, stdout and stderr into one pipe, and the
  // test's environment without TETHER_* and KONG_* variables.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv);
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The first output line containing `needle`, waiting up to `timeout`; nullopt if none came.
  std::optional<std::string> AwaitLine(absl::string_view needle, absl::Duration timeout) const;
  // Everything written so far.
  std::string Output() const;

  void Signal(int signal) const;
  // The exit status (WEXITSTATUS, or 128 + the signal that killed it) once the child has exited,
  // waiting up to `timeout`; nullopt if it still runs.
  std::optional<int> AwaitExit(absl::Duration timeout);

 private:
  ChildProcess(pid_t pid, int output_fd);
  void Read();

  const pid_t pid_;
  const int output_fd_;
  mutable Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int> exit_status_;  // the caller's thread only
  std::thread reader_;              // last: starts after the members it uses
};

}  // namespace tether::testing
