#include "sidecar/app/run.h"

#include "sidecar/common/log.h"

namespace tether::app {
namespace {

// Bounds the shutdown after the drain (close frame included): with the default --drain-time of
// 5 s, 15 s in all, well within Kubernetes' default 30 s grace.
constexpr absl::Duration kStopDeadline = absl::Seconds(10);

}  // namespace

int Run(const settings::Settings& settings, const RunHooks& hooks) {
  absl::StatusOr<std::unique_ptr<App>> app =
      App::Create(settings, AppCallbacks{.on_shutdown_request = hooks.request_stop,
                                         .on_part_failed = hooks.request_stop});
  if (!app.ok()) {
    log::Error("main", "cannot start", {{"err", app.status().message()}});
    return 1;
  }
  (*app)->Start();
  if (hooks.on_started) hooks.on_started(**app);
  const std::string why = hooks.wait_for_stop();
  const bool failed = (*app)->failed();
  log::Info("main", failed ? "stopping after a part failed" : "stopping", {{"signal", why}});
  const bool clean = (*app)->Stop(settings.drain_time + kStopDeadline);
  log::Info("main", clean ? "stopped" : "stopped after the deadline",
            {{"exit_code", failed || !clean ? 1 : 0}});
  return failed || !clean ? 1 : 0;
}

}  // namespace tether::app
