// LogCapture: redirects the process's stderr (where tether::log writes) into a pipe for its
// lifetime, so tests can read back exactly the lines the logging facade produced.
//
// Why the file descriptor and not a hook in the facade: the test then sees the bytes spdlog really
// writes, and the facade needs no test-only seam.
//
// Threading: thread-safe. Construct and destroy on the test thread; a reader thread drains the
// pipe, and Lines/WaitForLines may be called while other threads log.
#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/mutex.h"

namespace tether::testing {

class LogCapture {
 public:
  LogCapture();
  ~LogCapture();  // Restores stderr; lines written afterwards are not captured.
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Every complete line written since construction, without the trailing newline.
  std::vector<std::string> Lines() const;
  // The lines that contain `needle`.
  std::vector<std::string> LinesWith(absl::string_view needle) const;
  // Waits until at least `count` lines contain `needle`; returns whether they did before
  // `timeout`.
  bool WaitForLines(absl::string_view needle, size_t count, absl::Duration timeout) const;

 private:
  void Drain();
  void ReadAvailableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int saved_stderr_ = -1;
  int read_fd_ = -1;
  int stop_fd_[2] = {-1, -1};  // the destructor writes here to end the reader

  mutable Mutex mu_;
  // The pipe is read with mu_ held, by the reader thread and by Lines, so bytes stay in order.
  mutable std::string text_ ABSL_GUARDED_BY(mu_);

  std::thread reader_;  // last: starts once every other member is ready
};

}  // namespace tether::testing
