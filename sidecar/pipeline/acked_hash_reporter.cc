#include "sidecar/pipeline/acked_hash_reporter.h"

#include <optional>
#include <utility>

#include "sidecar/common/log.h"

namespace tether::pipeline {

AckedHashReporter::AckedHashReporter(status::StatusBoard& board,
                                     std::function<void(std::string)> report)
    : board_(board),
      report_(std::move(report)),
      worker_([this](uint64_t) { Judge(); }),
      observer_(board_.AddObserver([this](uint64_t version) { worker_.Submit(version); })) {
  worker_.Submit(0);  // the state before any change (a cached config, no subscriber)
}

AckedHashReporter::~AckedHashReporter() {
  observer_.Reset();
  worker_.Stop();
}

void AckedHashReporter::Judge() {
  const status::StatusView view = board_.Get();
  const std::optional<std::string> acked = status::AckedHash(view);
  if (!acked.has_value() || *acked == reported_) return;
  reported_ = *acked;
  log::Info("config", "reporting the config hash every subscriber acked",
            {{"config_hash", reported_}, {"subscribers", view.subscribers.size()}});
  board_.SetReportedHash(reported_, view.subscribers.empty() ? "applied (no subscriber)"
                                                             : "acked by every subscriber");
  report_(reported_);
}

}  // namespace tether::pipeline
