// What every tether-load scenario shares: tether-devcp and tether started as real processes on a
// config file, what tether-devcp's log says, and how to tell tether has gone quiet.
//
// Threading: Stack and DevcpLog are thread-safe where noted; the rest are pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/load/process.h"
#include "sidecar/common/mutex.h"

namespace tether::bench {

// Progress on stderr, "tether-load: <message>".
void Progress(const std::string& message);
double Milliseconds(SteadyTime::duration d);
std::string Megabytes(uint64_t bytes);
// Nearest-rank percentile of `values` (not empty).
double Percentile(std::vector<double> values, double p);

// Writes by rename, so tether-devcp (which polls the file) never reads half of it.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes);

// Waits until tether has used no CPU for a while (its decode, fan-out, acks and disk cache write
// are done) and returns its CPU seconds then.
absl::StatusOr<double> AwaitQuiet(pid_t pid, absl::Duration timeout);

// What tether-devcp's log says: its port, and each config it made current with the time the
// line arrived (its "config set" line comes right after the frame is queued to every DP).
// Thread-safe: lines arrive on the process's reader thread.
class DevcpLog {
 public:
  void OnLine(absl::string_view line, SteadyTime arrived);
  std::optional<int> AwaitPort(absl::Duration timeout);
  // The `n`th (1-based) config set, waiting up to `timeout`.
  std::optional<std::pair<std::string, SteadyTime>> AwaitConfig(size_t n, absl::Duration timeout);

 private:
  Mutex mu_;
  std::optional<int> port_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, SteadyTime>> configs_ ABSL_GUARDED_BY(mu_);
};

struct StackOptions {
  std::string tether;
  std::string devcp;
  std::string cert;
  std::string key;
  absl::Duration timeout;
};

// tether-devcp serving `config_path` (and, once it exists, pushing `frame_path` as it is), and
// tether connected to it with its gRPC API on a unix socket in `dir`.
class Stack {
 public:
  // Returns once tether-devcp set the first config and tether opened its socket.
  static absl::StatusOr<std::unique_ptr<Stack>> Start(const StackOptions& options,
                                                      const std::string& dir,
                                                      const std::string& config_path,
                                                      const std::string& frame_path = "");

  DevcpLog& devcp_log() { return devcp_log_; }
  Process& devcp() { return *devcp_; }
  pid_t tether_pid() const { return tether_->pid(); }
  bool tether_exited() { return tether_->Exited(); }
  // "unix://<socket>"
  const std::string& target() const { return target_; }
  // When tether was started.
  SteadyTime started() const { return started_; }
  // `status` with tether's last lines appended.
  absl::Status TetherFailed(const absl::Status& status) const;

 private:
  Stack() = default;

  DevcpLog devcp_log_;  // first: the devcp process reports into it until it is stopped
  std::unique_ptr<Process> devcp_;
  std::unique_ptr<Process> tether_;
  std::string target_;
  SteadyTime started_;
};

}  // namespace tether::bench
