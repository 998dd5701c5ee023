// tetherctl: look at a running tether from a shell. Thin edge over the client library
// (client/lib): flags in (flags.h), one call per command here, its result printed for people or
// as JSON (output.h).
//
// Threading: main's thread does everything, except `watch`, whose updates arrive on the watcher's
// thread and whose stop signals are taken by a thread of their own.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/flags.h"
#include "client/cli/output.h"
#include "client/lib/client.h"
#include "client/lib/config_watcher.h"

namespace tether::ctl {
namespace {

namespace v1 = ::tether::v1;
using client::MirrorPtr;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// `wait`'s default bound: long enough for a first config from a distant CP, short enough that a
// pod whose sidecar cannot get one fails visibly.
constexpr absl::Duration kDefaultWaitTimeout = absl::Seconds(60);

// Prints why a call failed and returns the exit code for it. The message may come from tether,
// so it is escaped like the rest of the human output.
int Fail(const Args& args, const absl::Status& status) {
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
    std::fprintf(stderr, "tetherctl: cannot reach tether at %s: %s\n", args.addr.c_str(),
                 Printable(status.message()).c_str());
  } else {
    std::fprintf(stderr, "tetherctl: tether at %s: %s: %s\n", args.addr.c_str(),
                 absl::StatusCodeToString(status.code()).c_str(),
                 Printable(status.message()).c_str());
  }
  return kExitError;
}

int RunStatus(const Args& args, const client::Client& tether) {
  if (args.watch) {
    int exit_code = kExitOk;
    absl::Status watched = tether.WatchStatus([&](const v1::Status& status) {
      if (args.json) {
        absl::StatusOr<std::string> json = ProtoJson(status, /*pretty=*/false);
        if (!json.ok()) {
          std::fprintf(stderr, "tetherctl: %s\n", std::string(json.status().message()).c_str());
          exit_code = kExitError;
          return false;
        }
        std::fputs(json->c_str(), stdout);
      } else {
        const absl::Time now = absl::Now();
        std::printf("--- %s\n%s\n",
                    absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()).c_str(),
                    HumanStatus(status, now).c_str());
      }
      std::fflush(stdout);
      return true;
    });
    if (!watched.ok()) return Fail(args, watched);
    return exit_code;
  }
  absl::StatusOr<v1::Status> status = tether.GetStatus(args.timeout);
  if (!status.ok()) return Fail(args, status.status());
  if (args.json) {
    absl::StatusOr<std::string> json = ProtoJson(*status, /*pretty=*/true);
    if (!json.ok()) {
      std::fprintf(stderr, "tetherctl: %s\n", std::string(json.status().message()).c_str());
      return kExitError;
    }
    std::printf("%s\n", json->c_str());
  } else {
    std::fputs(HumanStatus(*status, absl::Now()).c_str(), stdout);
  }
  return kExitOk;
}

int RunGet(const Args& args, const client::Client& tether) {
  absl::StatusOr<MirrorPtr> mirror = tether.GetConfig(args.types, args.timeout);
  if (!mirror.ok()) return Fail(args, mirror.status());
  if (args.json) {
    absl::StatusOr<std::string> json = ConfigJson(**mirror);
    if (!json.ok()) {
      std::fprintf(stderr, "tetherctl: get: %s\n", std::string(json.status().message()).c_str());
      return kExitError;
    }
    std::printf("%s\n", json->c_str());
    return kExitOk;
  }
  std::fputs(HumanConfig(**mirror).c_str(), stdout);
  return kExitOk;
}

// How `watch` ends: a stop signal (exit 0) or a failure before any update (exit 1).
struct WatchEnd {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status error ABSL_GUARDED_BY(mu);

  void Finish(absl::Status status) {
    absl::MutexLock lock(&mu);
    if (done) return;
    done = true;
    error = std::move(status);
  }
};

int RunWatch(const Args& args) {
  // Stop signals go to one thread of ours: block them before any thread starts so that every
  // thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Shared with the signal thread, which stays blocked in sigwait (detached) when an error ends
  // the watch first.
  auto end = std::make_shared<WatchEnd>();
  std::thread([end, stop_signals] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    end->Finish(absl::OkStatus());
  }).detach();

  client::WatcherOptions options;
  options.target = args.addr;
  options.tls = args.tls;
  options.client_id = absl::StrCat("tetherctl/", getpid());
  options.entity_types = args.types;
  options.mode = args.delta ? client::Mode::kDelta : client::Mode::kFull;
  client::WatcherCallbacks callbacks;
  bool updated = false;  // only the watcher's thread touches it
  callbacks.on_update = [&updated](const MirrorPtr& mirror, const client::UpdateInfo& info) {
    updated = true;
    std::printf("%s\n", UpdateLine(*mirror, info, absl::Now()).c_str());
    std::fflush(stdout);
    return absl::OkStatus();
  };
  callbacks.on_error = [&updated, end](const absl::Status& error, absl::Duration retry_in) {
    // Before the first update an error most likely means a wrong --addr: say so and stop.
    // Afterwards the watcher rides out tether restarts.
    if (!updated) {
      end->Finish(error);
      return;
    }
    std::fprintf(stderr, "tetherctl: %s (retrying in %s)\n", Printable(error.message()).c_str(),
                 absl::FormatDuration(retry_in).c_str());
  };
  absl::StatusOr<std::unique_ptr<client::ConfigWatcher>> watcher =
      client::ConfigWatcher::Create(std::move(options), std::move(callbacks));
  if (!watcher.ok()) return Fail(args, watcher.status());

  absl::Status error;
  {
    absl::MutexLock lock(&end->mu);
    end->mu.Await(absl::Condition(&end->done));
    error = end->error;
  }
  (*watcher)->Stop();
  if (!error.ok()) return Fail(args, error);
  return kExitOk;
}

int RunHealth(const Args& args, const client::Client& tether) {
  absl::StatusOr<client::HealthStatus> health = tether.CheckHealth(args.service, args.timeout);
  if (!health.ok()) return Fail(args, health.status());
  std::printf("%s\n", std::string(client::HealthStatusName(*health)).c_str());
  return *health == client::HealthStatus::kServing ? kExitOk : kExitError;
}

// Retries the standard health check until SERVING, which tether answers exactly while /readyz
// would say ready. A channel failure is retried like NOT_SERVING: the sidecar may not have
// created its socket yet.
int RunWait(const Args& args, const client::Client& tether) {
  // Between attempts; the client's channel reconnects at least this often too (at most 1 s).
  constexpr absl::Duration kRetryInterval = absl::Milliseconds(200);
  constexpr absl::Duration kAttemptTimeout = absl::Seconds(2);
  const absl::Duration limit = args.timeout_given ? args.timeout : kDefaultWaitTimeout;
  const absl::Time deadline = absl::Now() + limit;
  std::string last = "no answer";
  for (absl::Duration left = limit; left > absl::ZeroDuration(); left = deadline - absl::Now()) {
    absl::StatusOr<client::HealthStatus> health =
        tether.CheckHealth("", std::min(left, kAttemptTimeout));
    if (health.ok() && *health == client::HealthStatus::kServing) {
      std::printf("ready\n");
      return kExitOk;
    }
    last = health.ok() ? std::string(client::HealthStatusName(*health))
                       : Printable(health.status().message());
    absl::SleepFor(std::min(kRetryInterval, deadline - absl::Now()));
  }
  std::fprintf(stderr, "tetherctl: tether at %s not ready after %s (last: %s)\n", args.addr.c_str(),
               absl::FormatDuration(limit).c_str(), last.c_str());
  return kExitError;
}

int Main(int argc, char** argv) {
  absl::StatusOr<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "tetherctl: %s\n(see tetherctl --help)\n",
                 std::string(args.status().message()).c_str());
    return kExitUsage;
  }
  if (args->help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (args->command == "watch") return RunWatch(*args);
  absl::StatusOr<std::unique_ptr<client::Client>> tether =
      client::Client::Create(args->addr, args->tls);
  if (!tether.ok()) return Fail(*args, tether.status());
  if (args->command == "status") return RunStatus(*args, **tether);
  if (args->command == "get") return RunGet(*args, **tether);
  if (args->command == "wait") return RunWait(*args, **tether);
  return RunHealth(*args, **tether);
}

}  // namespace
}  // namespace tether::ctl

int main(int argc, char** argv) { return tether::ctl::Main(argc, argv); }
