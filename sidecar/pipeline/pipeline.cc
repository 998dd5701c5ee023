#include "sidecar/pipeline/pipeline.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sidecar/common/log.h"

namespace tether::pipeline {

Pipeline::Pipeline(Apply apply, AppliedHashSink on_applied, FailureSink on_failure)
    : apply_(std::move(apply)),
      on_applied_(std::move(on_applied)),
      on_failure_(std::move(on_failure)),
      worker_([this](Frame frame) { Run(std::move(frame)); }) {}

void Pipeline::Submit(Frame frame) {
  if (worker_.Submit(std::move(frame))) {
    log::Debug("config", "newer config frame replaced one waiting to be decoded");
  }
}

void Pipeline::Run(Frame frame) {
  std::optional<std::string> applied;
  {
    WorkerHeartbeat::BusyScope busy = heartbeat_.Busy();
    try {
      applied = apply_(std::move(frame));
    } catch (const std::exception& e) {
      // Decoding reports bad input as a Status; an exception here is a bug or memory running
      // out, after which the snapshot, the board and the cache may disagree.
      const absl::Status why =
          absl::InternalError(absl::StrCat("config pipeline failed: ", e.what()));
      log::Error("config", "config pipeline stopped", {{"err", why.message()}});
      worker_.RequestStop();
      if (on_failure_) on_failure_(why);
      return;
    }
  }
  if (applied.has_value() && on_applied_) on_applied_(*std::move(applied));
}

}  // namespace tether::pipeline
