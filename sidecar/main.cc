// tether: a Kong hybrid-mode data-plane sidecar. Thin edge: settings from flags and environment,
// app::Run until SIGTERM or SIGINT (or a failed part, which exits non-zero).
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <variant>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sidecar/app/run.h"
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

  // POST /shutdown and a failing part take the SIGTERM path: the signal is pending for the whole
  // process, and only this thread takes it.
  app::RunHooks hooks;
  hooks.request_stop = [] { kill(getpid(), SIGTERM); };
  hooks.wait_for_stop = [&signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    return std::string(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  };
  return app::Run(s, hooks);
}
