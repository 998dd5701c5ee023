// tether-load: the end-to-end benchmark. For each preset and subscriber count it runs the built
// tether-devcp and tether as real processes, subscribes N real gRPC clients over tether's unix
// socket, pushes one change at a time through tether-devcp, and measures what BENCHMARKS.md
// reports: push-to-last-subscriber latency, tether's CPU per update, its peak RSS during an
// update against its RSS just before, and its idle CPU and RSS.
//
// Progress goes to stderr; the results are a markdown table on stdout, one row per run.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/config_generator.h"
#include "bench/load/harness.h"
#include "bench/load/memory_run.h"
#include "bench/load/proc_stats.h"
#include "bench/load/subscribers.h"
#include "client/lib/client.h"
#include "sidecar/common/command_line.h"

namespace tether::bench {
namespace {

constexpr char kUsage[] = R"(usage: tether-load [flags]

Runs tether-devcp and tether, subscribes N gRPC clients to tether over its unix socket, pushes
one change at a time, and prints a markdown table of latency, CPU and memory per run.

  --scenario NAME       latency (the default: the table above) or memory (what tether holds
                        for one config, 2 FULL and 8 DELTA subscribers, 3 changes, then a
                        decompression bomb; see bench/load/memory_run.h)
  --presets LIST        small,medium,large (default all three)
  --subscribers LIST    subscriber counts (default 1,10,100,1000)
  --pushes N            changes pushed per run (default 5)
  --idle DURATION       idle window measured after the pushes (default 60s; 0s skips it)
  --mode delta|full     how subscribers take updates after the first (default delta)
  --tether PATH         the tether binary (default: the one built with this tool)
  --devcp PATH          the tether-devcp binary (default: the one built with this tool)
  --cert FILE           cluster certificate (default: Kong's test fixture)
  --key FILE            its key
  --work-dir DIR        where configs, tether's data dir and its socket go (default: a new
                        directory under /tmp, removed afterwards)
  --timeout DURATION    longest wait for any one step (default 300s)
  --help                this text
)";

struct Flags {
  std::vector<Preset> presets = {std::begin(kPresets), std::end(kPresets)};
  std::vector<size_t> subscribers = {1, 10, 100, 1000};
  size_t pushes = 5;
  absl::Duration idle = absl::Seconds(60);
  v1::Mode mode = v1::MODE_DELTA;
  std::string tether = TETHER_BINARY;
  std::string devcp = TETHER_DEVCP_BINARY;
  std::string cert = TETHER_FIXTURES_DIR "/certs/kong_clustering.crt";
  std::string key = TETHER_FIXTURES_DIR "/certs/kong_clustering.key";
  std::string work_dir;
  absl::Duration timeout = absl::Seconds(300);
  bool memory = false;
  bool help = false;
};

absl::Status ParseValue(absl::string_view name, absl::string_view value, Flags& flags) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " \"", value, "\" is not valid"));
  };
  if (name == "scenario") {
    if (value != "latency" && value != "memory") return bad();
    flags.memory = value == "memory";
  } else if (name == "presets") {
    flags.presets.clear();
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      std::optional<Preset> preset = ParsePreset(item);
      if (!preset.has_value()) return bad();
      flags.presets.push_back(*preset);
    }
  } else if (name == "subscribers") {
    flags.subscribers.clear();
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      size_t count = 0;
      if (!absl::SimpleAtoi(item, &count) || count == 0) return bad();
      flags.subscribers.push_back(count);
    }
  } else if (name == "pushes") {
    if (!absl::SimpleAtoi(value, &flags.pushes) || flags.pushes == 0) return bad();
  } else if (name == "idle" || name == "timeout") {
    absl::Duration& slot = name == "idle" ? flags.idle : flags.timeout;
    if (!absl::ParseDuration(value, &slot) || slot < absl::ZeroDuration()) return bad();
  } else if (name == "mode") {
    if (value != "delta" && value != "full") return bad();
    flags.mode = value == "delta" ? v1::MODE_DELTA : v1::MODE_FULL;
  } else if (name == "tether") {
    flags.tether = std::string(value);
  } else if (name == "devcp") {
    flags.devcp = std::string(value);
  } else if (name == "cert") {
    flags.cert = std::string(value);
  } else if (name == "key") {
    flags.key = std::string(value);
  } else if (name == "work-dir") {
    flags.work_dir = std::string(value);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  }
  return absl::OkStatus();
}

// Accepts `--name value` and `--name=value`.
absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  const CommandLineHandlers handlers = {
      // Every flag takes a value; ParseValue names the unknown ones.
      .kind = [](absl::string_view) { return FlagKind::kValue; },
      .flag = [&](absl::string_view name,
                  absl::string_view value) { return ParseValue(name, value, flags); },
  };
  if (absl::Status status = ReadCommandLine(argc, argv, handlers, flags.help); !status.ok()) {
    return status;
  }
  return flags;
}

struct RunResult {
  Preset preset;
  size_t entities = 0;
  size_t subscribers = 0;
  size_t json_bytes = 0;
  std::vector<double> latency_ms;
  std::vector<double> cpu_seconds;
  uint64_t steady_rss = 0;        // before the first push, holding the first config
  double peak_ratio = 0;          // max over pushes of VmHWM during it / VmRSS just before it
  uint64_t peak_rss = 0;          // max VmHWM over the pushes
  uint64_t rss_after_pushes = 0;  // holding the last config and its predecessors (history)
  std::optional<double> idle_cpu_percent;
  uint64_t idle_rss = 0;
};

absl::StatusOr<RunResult> Run(const Flags& flags, Preset preset, size_t subscribers,
                              const std::string& dir) {
  RunResult result;
  result.preset = preset;
  result.subscribers = subscribers;
  const ConfigShape shape = PresetShape(preset);
  result.entities = shape.EntityCount();
  std::filesystem::create_directories(dir);
  const std::string config_path = dir + "/kong-config.json";
  const std::string first = GenerateConfigTable(shape, 0);
  result.json_bytes = first.size();
  if (absl::Status written = WriteFileAtomically(config_path, first); !written.ok()) {
    return written;
  }

  absl::StatusOr<std::unique_ptr<Stack>> stack =
      Stack::Start(StackOptions{flags.tether, flags.devcp, flags.cert, flags.key, flags.timeout},
                   dir, config_path);
  if (!stack.ok()) return stack.status();
  DevcpLog& devcp_log = (*stack)->devcp_log();
  const auto first_config = devcp_log.AwaitConfig(1, flags.timeout);
  const pid_t pid = (*stack)->tether_pid();
  const auto tether_failed = [&](const absl::Status& status) {
    return (*stack)->TetherFailed(status);
  };

  // One subscriber takes the whole config as a new proxy would; the others then join holding
  // it, as proxies restarted with a saved mirror do, so that setting up 1000 subscribers of the
  // large config does not take 1000 full copies.
  const std::string& target = (*stack)->target();
  SubscriberPool pool(target);
  pool.Add(1, flags.mode, "");
  absl::StatusOr<SteadyTime> synced = pool.AwaitAll(first_config->first, flags.timeout);
  if (!synced.ok()) return tether_failed(synced.status());
  Progress(absl::StrFormat(
      "%s, %d subscribers: tether started and served the first config in "
      "%.0f ms",
      PresetName(preset), subscribers, Milliseconds(*synced - (*stack)->started())));
  if (subscribers > 1) {
    pool.Add(subscribers - 1, flags.mode, first_config->first);
    absl::StatusOr<std::unique_ptr<client::Client>> status_client = client::Client::Create(target);
    if (!status_client.ok()) return status_client.status();
    // tether's status lists a subscriber once it has processed its subscribe.
    const absl::Time deadline = absl::Now() + flags.timeout;
    for (;;) {
      absl::StatusOr<v1::Status> status = (*status_client)->GetStatus(flags.timeout);
      if (!status.ok()) return tether_failed(status.status());
      if (static_cast<size_t>(status->subscribers_size()) >= subscribers) break;
      if (absl::Now() > deadline) {
        return tether_failed(absl::DeadlineExceededError(
            absl::StrCat(status->subscribers_size(), " of ", subscribers, " subscribers joined")));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  absl::StatusOr<double> cpu = AwaitQuiet(pid, flags.timeout);
  if (!cpu.ok()) return tether_failed(cpu.status());
  absl::StatusOr<Memory> memory = ReadMemory(pid);
  if (!memory.ok()) return memory.status();
  result.steady_rss = memory->rss_bytes;

  for (size_t push = 1; push <= flags.pushes; ++push) {
    const std::string next = GenerateConfigTable(shape, push);
    cpu = AwaitQuiet(pid, flags.timeout);
    if (!cpu.ok()) return tether_failed(cpu.status());
    const double cpu_before = *cpu;
    if (absl::Status reset = ResetPeakRss(pid); !reset.ok()) return reset;
    absl::StatusOr<Memory> before = ReadMemory(pid);
    if (!before.ok()) return before.status();

    if (absl::Status written = WriteFileAtomically(config_path, next); !written.ok()) {
      return written;
    }
    const auto pushed = devcp_log.AwaitConfig(push + 1, flags.timeout);
    if (!pushed.has_value()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "tether-devcp did not push the change; its output:\n", (*stack)->devcp().Tail()));
    }
    absl::StatusOr<SteadyTime> last = pool.AwaitAll(pushed->first, flags.timeout);
    if (!last.ok()) return tether_failed(last.status());
    cpu = AwaitQuiet(pid, flags.timeout);
    if (!cpu.ok()) return tether_failed(cpu.status());
    absl::StatusOr<Memory> after = ReadMemory(pid);
    if (!after.ok()) return after.status();

    result.latency_ms.push_back(Milliseconds(*last - pushed->second));
    result.cpu_seconds.push_back(*cpu - cpu_before);
    result.peak_rss = std::max(result.peak_rss, after->peak_rss_bytes);
    result.peak_ratio = std::max(result.peak_ratio, static_cast<double>(after->peak_rss_bytes) /
                                                        static_cast<double>(before->rss_bytes));
    result.rss_after_pushes = after->rss_bytes;
    Progress(
        absl::StrFormat("  push %d: last of %d subscribers after %.1f ms; tether CPU %.2f s, "
                        "RSS %s -> peak %s",
                        push, subscribers, result.latency_ms.back(), result.cpu_seconds.back(),
                        Megabytes(before->rss_bytes), Megabytes(after->peak_rss_bytes)));
  }

  if (flags.idle > absl::ZeroDuration()) {
    absl::StatusOr<double> idle_start = CpuSeconds(pid);
    const absl::Time start = absl::Now();
    absl::SleepFor(flags.idle);
    absl::StatusOr<double> idle_end = CpuSeconds(pid);
    const absl::Duration elapsed = absl::Now() - start;
    memory = ReadMemory(pid);
    if (!idle_start.ok() || !idle_end.ok() || !memory.ok()) {
      return tether_failed(absl::UnavailableError("tether went away while idle"));
    }
    result.idle_cpu_percent = 100.0 * (*idle_end - *idle_start) / absl::ToDoubleSeconds(elapsed);
    result.idle_rss = memory->rss_bytes;
  }
  if ((*stack)->tether_exited()) return tether_failed(absl::InternalError("tether exited"));
  return result;
}

void PrintHeader() {
  std::printf(
      "| preset | entities | subscribers | push to last subscriber p50 / p99 | tether CPU per "
      "update | RSS holding the config | peak RSS during an update (x RSS before it) | RSS after "
      "the pushes | idle CPU | idle RSS |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
}

void PrintRow(const RunResult& r) {
  double cpu_total = 0;
  for (double seconds : r.cpu_seconds) cpu_total += seconds;
  const std::string idle_cpu =
      r.idle_cpu_percent.has_value() ? absl::StrFormat("%.3f %%", *r.idle_cpu_percent) : "-";
  const std::string idle_rss = r.idle_cpu_percent.has_value() ? Megabytes(r.idle_rss) : "-";
  std::printf("| %s | %zu | %zu | %.1f / %.1f ms | %.3f s | %s | %s (%.2fx) | %s | %s | %s |\n",
              std::string(PresetName(r.preset)).c_str(), r.entities, r.subscribers,
              Percentile(r.latency_ms, 0.5), Percentile(r.latency_ms, 0.99),
              cpu_total / static_cast<double>(r.cpu_seconds.size()),
              Megabytes(r.steady_rss).c_str(), Megabytes(r.peak_rss).c_str(), r.peak_ratio,
              Megabytes(r.rss_after_pushes).c_str(), idle_cpu.c_str(), idle_rss.c_str());
  std::fflush(stdout);
}

// 1000 subscribers need 1000 sockets here and in tether (which inherits the limit).
void RaiseFileLimit(size_t subscribers) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 2 * subscribers + 256) {
    Progress(absl::StrCat("warning: ulimit -n is ", limit.rlim_cur, "; ", subscribers,
                          " subscribers need about ", 2 * subscribers + 256));
  }
}

int Main(int argc, char** argv) {
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  if (flags.ok() && flags->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.ok()) {
    std::fprintf(stderr, "tether-load: %s\n(see --help)\n",
                 std::string(flags.status().message()).c_str());
    return 2;
  }
  RaiseFileLimit(*std::max_element(flags->subscribers.begin(), flags->subscribers.end()));
  std::string work_dir = flags->work_dir;
  const bool own_work_dir = work_dir.empty();
  if (own_work_dir) {
    char pattern[] = "/tmp/tether-load.XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      std::perror("tether-load: mkdtemp");
      return 1;
    }
    work_dir = pattern;
  }
  int exit_code = 0;
  if (flags->memory) {
    for (Preset preset : flags->presets) {
      MemoryOptions options;
      options.stack =
          StackOptions{flags->tether, flags->devcp, flags->cert, flags->key, flags->timeout};
      options.preset = preset;
      absl::StatusOr<MemoryResult> result =
          RunMemory(options, absl::StrCat(work_dir, "/memory-", PresetName(preset)));
      if (!result.ok()) {
        std::fprintf(stderr, "tether-load: memory run of %s failed: %s\n",
                     std::string(PresetName(preset)).c_str(), result.status().ToString().c_str());
        exit_code = 1;
        continue;
      }
      PrintMemoryTable(options, *result);
    }
    if (own_work_dir) std::filesystem::remove_all(work_dir);
    return exit_code;
  }
  PrintHeader();
  for (Preset preset : flags->presets) {
    for (size_t subscribers : flags->subscribers) {
      const std::string dir = absl::StrCat(work_dir, "/", PresetName(preset), "-", subscribers);
      absl::StatusOr<RunResult> result = Run(*flags, preset, subscribers, dir);
      if (!result.ok()) {
        std::fprintf(stderr, "tether-load: %s with %zu subscribers failed: %s\n",
                     std::string(PresetName(preset)).c_str(), subscribers,
                     result.status().ToString().c_str());
        exit_code = 1;
        continue;
      }
      PrintRow(*result);
    }
  }
  if (own_work_dir) std::filesystem::remove_all(work_dir);
  return exit_code;
}

}  // namespace
}  // namespace tether::bench

int main(int argc, char** argv) { return tether::bench::Main(argc, argv); }
