// Run: tether's life after its settings are known - build the App, start it, wait until it is
// time to stop, drain and stop within a deadline - and the exit code that says how it went.
//
// Why apart from main: main owns the process (signals, argv); this owns the policy, so a test
// can run it in-process and see the exit code: 0 after a requested stop that finished in time,
// 1 when a part failed (fail loudly) or the stop overran its deadline.
//
// Threading: Run blocks its caller; the RunHooks run on the threads named below.
#pragma once

#include <functional>
#include <string>

#include "sidecar/app/app.h"
#include "sidecar/settings/settings.h"

namespace tether::app {

struct RunHooks {
  // Blocks until a stop is requested (main: sigwait) and says why ("SIGTERM").
  std::function<std::string()> wait_for_stop;
  // Makes wait_for_stop return; called from the ops thread (POST /shutdown) or a failing part.
  std::function<void()> request_stop;
  // Called on Run's thread once the App runs (tests: to reach into it).
  std::function<void(App&)> on_started;
};

int Run(const settings::Settings& settings, const RunHooks& hooks);

}  // namespace tether::app
