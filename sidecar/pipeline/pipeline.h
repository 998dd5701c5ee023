// Pipeline: the path from a config frame the CP session received to a published snapshot. It
// owns the decode worker (latest wins), marks it busy for /livez, runs the apply policy
// (ConfigApplier: decode, guard, publish, cache) and hands the applied hash back to the session.
//
// Why its own part: the session is the network, the applier is policy, and between them sits a
// thread with Kong's one-slot semantics (kong-protocol.md §3.6: a frame that arrives while one is
// being decoded replaces any frame still waiting). Keeping that here lets the session stay
// ignorant of config and the app stay wiring only; the latest-wins behaviour is tested here with
// a fake apply, without a socket.
//
// The one edge that runs back: the protocol needs the session to ping with the hash it applied,
// at once, so `on_applied` (the session's SetAppliedHash) is called after each apply.
//
// Threading: thread-safe. Submit and Refused may be called from any thread (the session strand);
// `apply`, `on_applied` and `on_failure` run on the pipeline's worker thread, one frame at a time.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/common/worker_heartbeat.h"

namespace tether::pipeline {

// One complete binary frame from the CP.
struct Frame {
  std::string bytes;
  absl::Time received_at;
};

class Pipeline {
 public:
  // Decodes and applies one frame; returns the config hash applied afterwards (also when the
  // frame carried the applied config), or nullopt when it was rejected or ignored.
  using Apply = std::function<std::optional<std::string>(Frame)>;
  using AppliedHashSink = std::function<void(std::string config_hash)>;
  // Called once if `apply` throws: the pipeline stops taking frames and the process should exit.
  using FailureSink = std::function<void(const absl::Status&)>;

  Pipeline(Apply apply, AppliedHashSink on_applied, FailureSink on_failure);

  // Queues `frame`, replacing one still waiting. Frames submitted after Stop are dropped.
  void Submit(Frame frame);

  // For /livez: a beat posted here runs when the current decode (if any) ends.
  WorkerHeartbeat& heartbeat() { return heartbeat_; }

  // Waits until nothing is waiting or being decoded. For tests.
  void Flush() { worker_.Flush(); }
  // Drops a waiting frame and returns once the frame being decoded (if any) is done. Idempotent.
  void Stop() { worker_.Stop(); }

 private:
  void Run(Frame frame);

  const Apply apply_;
  const AppliedHashSink on_applied_;
  const FailureSink on_failure_;
  WorkerHeartbeat heartbeat_;
  // Last: its thread calls Run, which uses every member above.
  LatestWinsWorker<Frame> worker_;
};

}  // namespace tether::pipeline
