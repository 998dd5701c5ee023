// --write-config and --on-change-exec (see exporter.h).
#include "sidecar/export/exporter.h"

#include <utility>

#include "absl/time/clock.h"
#include "sidecar/common/log.h"
#include "sidecar/export/config_file.h"

namespace tether::exporter {

Exporter::Exporter(ExportOptions options, config::SnapshotStore& store, status::StatusBoard& board)
    : config_path_(std::move(options.config_path)),
      config_types_(std::move(options.config_types)),
      store_(store),
      board_(board),
      writer_([this](bool) { Export(); }) {
  if (options.hook.has_value()) {
    const std::string program = options.hook->argv.front();
    options.hook->config_path = config_path_;
    runner_ = std::make_unique<HookRunner>(*std::move(options.hook));
    status::SubscriberRecord record;
    record.client_id = "on-change-exec";
    record.peer = "exec:" + program;
    record.connected_since = absl::Now();
    hook_id_ = board_.AddSubscriber(std::move(record));
    hook_worker_ = std::make_unique<LatestWinsWorker<std::string>>(
        [this](std::string hash) { RunHook(hash); });
  }
  observer_ = store_.AddObserver([this](const config::SnapshotPtr&) { writer_.Submit(true); });
  writer_.Submit(true);
}

Exporter::~Exporter() {
  observer_.Reset();
  writer_.Stop();
  if (runner_) {
    runner_->Cancel();
    hook_worker_->Stop();
    board_.RemoveSubscriber(hook_id_);
  }
}

void Exporter::Export() {
  config::SnapshotPtr snapshot = store_.Current();
  if (snapshot == nullptr || snapshot == exported_) return;
  exported_ = snapshot;
  if (!config_path_.empty()) {
    const absl::Status written = WriteConfigFile(config_path_, *snapshot, config_types_);
    board_.RecordConfigFileWrite(written.ok());
    if (!written.ok()) {
      log::Error("export", "cannot write the config file",
                 {{"path", config_path_},
                  {"config_hash", snapshot->config_hash},
                  {"err", written.message()}});
      if (runner_) {
        board_.RecordNack(hook_id_, snapshot->config_hash,
                          "config file not written: " + std::string(written.message()));
      }
      return;
    }
    log::Debug("export", "config file written",
               {{"path", config_path_}, {"config_hash", snapshot->config_hash}});
  }
  if (hook_worker_) hook_worker_->Submit(snapshot->config_hash);
}

void Exporter::RunHook(const std::string& config_hash) {
  board_.RecordSent(hook_id_, config_hash);
  const absl::Time start = absl::Now();
  std::optional<HookResult> result = runner_->Run(config_hash);
  if (!result.has_value()) return;  // tether is stopping
  board_.RecordHookRun(result->outcome);
  const std::string took = absl::FormatDuration(absl::Now() - start);
  if (result->outcome == status::HookOutcome::kOk) {
    log::Info("on-change-exec", "ran", {{"config_hash", config_hash}, {"took", took}});
    board_.RecordAck(hook_id_, config_hash);
  } else {
    log::Warn("on-change-exec", "failed: NACK",
              {{"config_hash", config_hash}, {"took", took}, {"err", result->error}});
    board_.RecordNack(hook_id_, config_hash, result->error);
  }
}

}  // namespace tether::exporter
