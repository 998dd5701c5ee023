// tether: a Kong hybrid-mode data-plane sidecar. Thin edge: settings from flags and environment,
// build the App, run until SIGTERM or SIGINT, stop within a deadline.
#include <csignal>
#include <cstdio>
#include <variant>

#include "absl/time/time.h"
#include "sidecar/app/app.h"
#include "sidecar/common/log.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/validate.h"

namespace {

// Bounds the whole shutdown (close frame included), well within Kubernetes' default 30 s grace.
constexpr absl::Duration kStopDeadline = absl::Seconds(10);

}  // namespace

int main(int argc, char** argv) {
  using namespace tether;
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
  const settings::Settings& s = std::get<settings::Settings>(*parsed);
  if (absl::Status valid = settings::ValidateSettings(s); !valid.ok()) {
    std::fprintf(stderr, "tether: %s\n", std::string(valid.message()).c_str());
    return 2;
  }
  log::SetLevel(s.log_level);

  // Signals are taken synchronously by this thread only: block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<app::App>> app = app::App::Create(s);
  if (!app.ok()) {
    log::Error("main", "cannot start", {{"err", app.status().message()}});
    return 1;
  }
  (*app)->Start();
  int signal = 0;
  sigwait(&signals, &signal);
  log::Info("main", "stopping", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  const bool clean = (*app)->Stop(kStopDeadline);
  log::Info("main", clean ? "stopped" : "stopped after the deadline");
  return clean ? 0 : 1;
}
