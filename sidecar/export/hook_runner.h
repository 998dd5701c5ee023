// HookRunner: runs --on-change-exec once for a config, bounded in time and output.
//
// The command runs without a shell (argv from command_split.h), stdin from /dev/null, in a
// process group of its own so that a timeout ends it and everything it started
// (kill(-pgid, SIGKILL)); a command that exits in time may leave background processes behind,
// as a shell's `cmd &` would. Its stdout and stderr go to tether's log line by line, bounded;
// the last lines of stderr go into the error that becomes the hook's NACK in status.
//
// Threading: Run is called from one thread at a time (the exporter's hook worker); Cancel from
// any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sidecar/status/totals.h"

namespace tether::exporter {

struct HookCommand {
  std::vector<std::string> argv;  // never empty
  absl::Duration timeout = absl::Seconds(30);
  // TETHER_CONFIG_PATH in the command's environment; empty leaves it out.
  std::string config_path;
};

struct HookResult {
  status::HookOutcome outcome = status::HookOutcome::kOk;
  // Empty when ok: "exited with status 2", "killed by signal 9 (Killed)", "timed out after
  // 30s", then the last lines of stderr; at most kMaxErrorBytes.
  std::string error;
  static constexpr size_t kMaxErrorBytes = 1024;
};

class HookRunner {
 public:
  explicit HookRunner(HookCommand command);
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Runs the command with TETHER_CONFIG_HASH=config_hash and waits for it to exit (or kills its
  // process group at the timeout). nullopt when Cancel ended it (or came before).
  std::optional<HookResult> Run(const std::string& config_hash);

  // Ends a run under way (killing its process group) and makes later runs return at once.
  void Cancel();

 private:
  const HookCommand command_;
  // Written by Cancel, polled by Run: a self-pipe, so that a run waiting in poll wakes at once.
  int cancel_pipe_[2] = {-1, -1};
};

}  // namespace tether::exporter
