// Exporter: --write-config and --on-change-exec, Vault Agent's and consul-template's "render a
// file, run a command" loop for proxies that read a file rather than the gRPC API.
//
// Every config the store publishes (and the one it holds at start, e.g. the disk cache) is
// written to the file, then handed to the hook. Both stages are LatestWinsWorkers: a config that
// arrives while the file is written or the hook runs replaces one still waiting, so the file and
// the hook follow the newest config, one write and one run at a time, and neither ever delays
// the pipeline or the subscribers (the store's observer only submits).
//
// The hook is a subscriber like a Watch stream: it joins the status board as client_id
// "on-change-exec", each run is a sent update, exit 0 its ACK and anything else a NACK naming
// why, so status, metrics and --report-hash=acked count it. A config whose file could not be
// written is NACKed without running the hook (it would read the previous file).
//
// Threading: constructed and destroyed on the app's thread; the file is written on the writer
// worker's thread and the hook runs on the hook worker's.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/export/hook_runner.h"
#include "sidecar/status/status_board.h"

namespace tether::exporter {

struct ExportOptions {
  std::string config_path;             // --write-config; empty writes no file
  std::set<std::string> config_types;  // --write-config-types; empty means every type
  std::optional<HookCommand> hook;     // --on-change-exec; its config_path is set here
};

class Exporter {
 public:
  // Starts following `store` at once (exporting its current config, if any).
  Exporter(ExportOptions options, config::SnapshotStore& store, status::StatusBoard& board);
  // Stops: a hook run under way is killed, a pending write or run dropped.
  ~Exporter();

  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

 private:
  // Exports the store's current config unless it is the one exported last.
  void Export();
  void RunHook(const std::string& config_hash);

  const std::string config_path_;
  const std::set<std::string> config_types_;
  config::SnapshotStore& store_;
  status::StatusBoard& board_;
  config::SnapshotPtr exported_;        // writer_'s thread only
  std::unique_ptr<HookRunner> runner_;  // null without a hook
  status::SubscriberId hook_id_ = 0;
  // Declared before writer_, which submits to it: destroyed after it.
  std::unique_ptr<LatestWinsWorker<std::string>> hook_worker_;
  // The submitted value only wakes the worker; Export reads the store's current config, so a
  // wake-up that raced a publish never exports an older config after a newer one.
  LatestWinsWorker<bool> writer_;
  config::SnapshotStore::Observers::Handle observer_;  // last: dropped first
};

}  // namespace tether::exporter
