// AckedHashReporter: --report-hash=acked. Keeps the hash the pings carry at the newest config
// every connected subscriber has ACKed (status::AckedHash), so that the CP's own view of this
// data plane means "the proxies applied it", and a NACK leaves it on the previous config.
//
// Why a worker: it follows the status board, whose observers must only note a change; each batch
// of changes (acks, nacks, subscribers coming and going, applies) is judged once, here, and a
// change of the acked hash reaches the session at once (it pings with it right away).
//
// Threading: thread-safe to construct and destroy from the app's thread; `report` runs on the
// reporter's worker thread.
#pragma once

#include <functional>
#include <string>

#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/status/status_board.h"

namespace tether::pipeline {

class AckedHashReporter {
 public:
  // `report` is the session's SetAppliedHash.
  AckedHashReporter(status::StatusBoard& board, std::function<void(std::string)> report);
  ~AckedHashReporter();

 private:
  void Judge();

  status::StatusBoard& board_;
  const std::function<void(std::string)> report_;
  std::string reported_;  // worker thread only
  // The submitted value only wakes the worker; Judge reads the board's current view.
  LatestWinsWorker<uint64_t> worker_;
  status::StatusBoard::Observers::Handle observer_;  // last: dropped first
};

}  // namespace tether::pipeline
