// tether: a Kong hybrid-mode data-plane sidecar. Thin edge: settings from flags and environment,
// build the App, run until SIGTERM or SIGINT, stop within a deadline.
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <variant>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sidecar/app/app.h"
#include "sidecar/common/log.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/node_identity.h"

namespace {

// Blocks this large or larger (a big config's text, its inflated frame, serialised updates) are
// mmapped, so they go back to the OS when freed. glibc's default raises the threshold to the
// largest block freed so far, after which such blocks come from heaps it keeps: with a
// 127k-entity config, RSS after five updates was 378 MB by default and 255 MB with this
// (BENCHMARKS.md).
constexpr int kMmapThresholdBytes = 4 << 20;

// Bounds the shutdown after the drain (close frame included): with the default --drain-time of
// 5 s, 15 s in all, well within Kubernetes' default 30 s grace.
constexpr absl::Duration kStopDeadline = absl::Seconds(10);

}  // namespace

int main(int argc, char** argv) {
  using namespace tether;
  // Debian builds abseil without NDEBUG, so every absl::Mutex lock (gRPC's too) would run its
  // debug deadlock detector, which records each lock in a global graph; tether fans updates out
  // through gRPC's locks on every subscriber's path. Tests keep the detector.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  absl::StatusOr<settings::ParseOutcome> parsed =
      settings::ParseSettings(argc, argv, settings::ProcessEnv());
  if (!parsed.ok()) {
    std::fprintf(stderr, "tether: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (const auto* print = std::get_if<settings::PrintAndExit>(&*parsed)) {
    std::fputs(print->text.c_str(), stdout);
    return 0;
  }
  settings::Settings& s = std::get<settings::Settings>(*parsed);
  if (absl::Status prepared = settings::PrepareNode(s); !prepared.ok()) {
    std::fprintf(stderr, "tether: %s\n", std::string(prepared.message()).c_str());
    return 2;
  }
  log::SetLevel(s.log_level);
  log::SetFormat(s.log_format);

  // A write to a peer or pipe that has gone (a log collector restarting, a proxy's socket)
  // returns EPIPE to its caller instead of killing the sidecar.
  std::signal(SIGPIPE, SIG_IGN);
  // Signals are taken synchronously by this thread only: block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // POST /shutdown takes the SIGTERM path: the signal is pending for the whole process, and only
  // this thread takes it.
  absl::StatusOr<std::unique_ptr<app::App>> app =
      app::App::Create(s, [] { kill(getpid(), SIGTERM); });
  if (!app.ok()) {
    log::Error("main", "cannot start", {{"err", app.status().message()}});
    return 1;
  }
  (*app)->Start();
  int signal = 0;
  sigwait(&signals, &signal);
  log::Info("main", "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  const bool clean = (*app)->Stop(s.drain_time + kStopDeadline);
  log::Info("main", clean ? "stopped" : "stopped after the deadline");
  return clean ? 0 : 1;
}
