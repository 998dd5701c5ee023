#include "bench/load/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/load/proc_stats.h"

namespace tether::bench {
namespace {

// The value of `key=` in a log line in tether's text format, or "".
absl::string_view LogField(absl::string_view line, absl::string_view key) {
  const size_t at = line.find(absl::StrCat(" ", key, "="));
  if (at == absl::string_view::npos) return "";
  absl::string_view value = line.substr(at + key.size() + 2);
  return value.substr(0, value.find(' '));
}

}  // namespace

void Progress(const std::string& message) {
  std::fprintf(stderr, "tether-load: %s\n", message.c_str());
  std::fflush(stderr);
}

double Milliseconds(SteadyTime::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string Megabytes(uint64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) return absl::UnavailableError(absl::StrCat("rename ", temp, ": ", error.message()));
  return absl::OkStatus();
}

// Clock ticks are 10 ms, so a quarter second without one means tether is idle.
absl::StatusOr<double> AwaitQuiet(pid_t pid, absl::Duration timeout) {
  absl::StatusOr<double> before = CpuSeconds(pid);
  const absl::Time deadline = absl::Now() + timeout;
  while (before.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
    absl::StatusOr<double> after = CpuSeconds(pid);
    if (!after.ok() || *after == *before) return after;
    before = after;
  }
  if (!before.ok()) return before.status();
  return absl::DeadlineExceededError("tether did not go idle");
}

void DevcpLog::OnLine(absl::string_view line, SteadyTime arrived) {
  MutexLock lock(&mu_);
  if (absl::StrContains(line, " devcp: listening ")) {
    absl::string_view address = LogField(line, "address");
    int port = 0;
    if (absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) port_ = port;
  } else if (absl::StrContains(line, " devcp: config set ")) {
    configs_.emplace_back(std::string(LogField(line, "config_hash")), arrived);
  }
}

std::optional<int> DevcpLog::AwaitPort(absl::Duration timeout) {
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return port_.has_value(); },
                       timeout);
  return port_;
}

std::optional<std::pair<std::string, SteadyTime>> DevcpLog::AwaitConfig(size_t n,
                                                                        absl::Duration timeout) {
  MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return configs_.size() >= n; },
                            timeout)) {
    return std::nullopt;
  }
  return configs_[n - 1];
}

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(const StackOptions& options,
                                                    const std::string& dir,
                                                    const std::string& config_path,
                                                    const std::string& frame_path) {
  std::unique_ptr<Stack> stack(new Stack());
  std::vector<std::string> devcp_argv = {options.devcp, "--listen", "127.0.0.1:0", "--mtls",
                                         "shared",      "--cert",   options.cert,  "--key",
                                         options.key,   "--config", config_path};
  if (!frame_path.empty()) {
    devcp_argv.insert(devcp_argv.end(), {"--raw-frame", frame_path});
  }
  DevcpLog* log = &stack->devcp_log_;
  absl::StatusOr<std::unique_ptr<Process>> devcp = Process::Start(
      devcp_argv,
      [log](absl::string_view line, SteadyTime arrived) { log->OnLine(line, arrived); });
  if (!devcp.ok()) return devcp.status();
  stack->devcp_ = *std::move(devcp);
  const std::optional<int> port = log->AwaitPort(options.timeout);
  if (!port.has_value() || !log->AwaitConfig(1, options.timeout).has_value()) {
    return absl::UnavailableError(
        absl::StrCat("tether-devcp did not start; its output:\n", stack->devcp_->Tail()));
  }

  const std::string socket = dir + "/tether.sock";
  absl::StatusOr<std::unique_ptr<Process>> tether = Process::Start(
      {options.tether, "--cluster-control-plane", absl::StrCat("127.0.0.1:", *port),
       "--cluster-mtls", "shared", "--cluster-cert", options.cert, "--cluster-cert-key",
       options.key, "--data-dir", dir + "/data", "--grpc-listen", "unix://" + socket,
       "--ops-listen", "127.0.0.1:0", "--drain-time", "0s"},
      [](absl::string_view, SteadyTime) {});
  if (!tether.ok()) return tether.status();
  stack->tether_ = *std::move(tether);
  stack->started_ = std::chrono::steady_clock::now();
  stack->target_ = "unix://" + socket;
  // Subscribing before tether listens would time gRPC's reconnect backoff, not tether.
  const absl::Time deadline = absl::Now() + options.timeout;
  while (!std::filesystem::exists(socket)) {
    if (stack->tether_->Exited() || absl::Now() > deadline) {
      return stack->TetherFailed(absl::UnavailableError("tether did not open its socket"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return stack;
}

absl::Status Stack::TetherFailed(const absl::Status& status) const {
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), "; tether's output:\n", tether_->Tail()));
}

}  // namespace tether::bench
