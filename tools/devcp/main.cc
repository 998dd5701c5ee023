// tether-devcp: a development Kong control plane on the command line (scripts/run starts it).
//
// Thin edge: flags into Options, the config file into SetConfig (again whenever the file
// changes), SIGINT/SIGTERM into Stop. Everything else is ControlPlane's.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "sidecar/common/command_line.h"
#include "sidecar/common/log.h"
#include "tools/devcp/control_plane.h"

namespace tether::devcp {
namespace {

constexpr absl::string_view kComponent = "devcp";
// How often the config file is checked for changes (mtime and size).
constexpr long kPollNanos = 500 * 1000 * 1000;

constexpr char kUsage[] = R"(usage: tether-devcp [flags]

A development Kong control plane speaking the v1 wire protocol (wss://HOST:PORT/v1/outlet)
with the open-source CP's checks. Stops cleanly on SIGINT or SIGTERM.

  --listen HOST:PORT      address to listen on (default 127.0.0.1:8005)
  --mtls shared|pki       cluster_mtls mode (default shared)
  --cert FILE             CP certificate (PEM); in shared mode also the one DPs must present
  --key FILE              CP private key (PEM)
  --ca-cert FILE          pki mode: the CA that issues DP certificates
  --version X.Y.Z         Kong version the CP claims, for the DP version check (default 3.10.0)
  --config FILE           config_table JSON (the flat CP push form) to push to every DP;
                          re-read and pushed again whenever the file changes
  --raw-frame FILE        bytes pushed as they are, as one binary frame, whenever the file
                          appears or changes (a hand-made gzip, to try a DP's limits); the
                          current config stays
  --ping-wait DURATION    close a DP that sends nothing for this long (default 45s)
  --busy N                answer the first N upgrade requests 429 with Retry-After, as a Kong
                          Enterprise CP does under a reconnect storm (default 0)
  --busy-retry-after DURATION  the Retry-After of those answers, in whole seconds (default 30s)
  --log-level LEVEL       debug, info, warn or error (default info)
  --help                  this text
)";

struct Flags {
  std::string listen = "127.0.0.1:8005";
  std::string mtls = "shared";
  std::string cert;
  std::string key;
  std::string ca_cert;
  std::string version = "3.10.0";
  std::string config;
  std::string raw_frame;
  std::string ping_wait = "45s";
  std::string busy = "0";
  std::string busy_retry_after = "30s";
  std::string log_level = "info";
  bool help = false;
};

// Accepts `--name value` and `--name=value`.
absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  const auto slot = [&flags](absl::string_view name) -> std::string* {
    if (name == "listen") return &flags.listen;
    if (name == "mtls") return &flags.mtls;
    if (name == "cert") return &flags.cert;
    if (name == "key") return &flags.key;
    if (name == "ca-cert") return &flags.ca_cert;
    if (name == "version") return &flags.version;
    if (name == "config") return &flags.config;
    if (name == "raw-frame") return &flags.raw_frame;
    if (name == "ping-wait") return &flags.ping_wait;
    if (name == "log-level") return &flags.log_level;
    if (name == "busy") return &flags.busy;
    if (name == "busy-retry-after") return &flags.busy_retry_after;
    return nullptr;
  };
  const CommandLineHandlers handlers = {
      .kind =
          [&](absl::string_view name) {
            return slot(name) != nullptr ? FlagKind::kValue : FlagKind::kUnknown;
          },
      .flag =
          [&](absl::string_view name, absl::string_view value) {
            *slot(name) = std::string(value);
            return absl::OkStatus();
          },
  };
  if (absl::Status status = ReadCommandLine(argc, argv, handlers, flags.help); !status.ok()) {
    return status;
  }
  return flags;
}

absl::StatusOr<Options> ToOptions(const Flags& flags) {
  Options options;
  // HOST:PORT, the host possibly a bracketed IPv6 address.
  const size_t colon = flags.listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(flags.listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen \"", flags.listen, "\" is not HOST:PORT"));
  }
  absl::string_view host = absl::string_view(flags.listen).substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  options.listen_host = std::string(host);
  options.listen_port = static_cast<uint16_t>(port);
  if (flags.mtls == "shared") {
    options.mtls = MtlsMode::kShared;
  } else if (flags.mtls == "pki") {
    options.mtls = MtlsMode::kPki;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--mtls \"", flags.mtls, "\" must be shared or pki"));
  }
  if (flags.cert.empty() || flags.key.empty()) {
    return absl::InvalidArgumentError("--cert and --key are required");
  }
  if (options.mtls == MtlsMode::kPki && flags.ca_cert.empty()) {
    return absl::InvalidArgumentError("--mtls pki requires --ca-cert");
  }
  options.cert_path = flags.cert;
  options.key_path = flags.key;
  options.ca_cert_path = flags.ca_cert;
  options.version = flags.version;
  if (!absl::SimpleAtoi(flags.busy, &options.busy_upgrades) || options.busy_upgrades < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--busy \"", flags.busy, "\" is not a count"));
  }
  if (!absl::ParseDuration(flags.busy_retry_after, &options.busy_retry_after) ||
      options.busy_retry_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--busy-retry-after \"", flags.busy_retry_after, "\" is not a duration"));
  }
  if (!absl::ParseDuration(flags.ping_wait, &options.ping_wait) ||
      options.ping_wait <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ping-wait \"", flags.ping_wait, "\" is not a positive duration"));
  }
  // A long-running devcp records a ping event per DP every 30 s; keep the log bounded.
  options.max_events = 10000;
  return options;
}

// What identifies a version of the config file; editors that save by rename change both.
struct FileStamp {
  int64_t mtime_nanos = 0;
  int64_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> Stat(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return std::nullopt;
  return FileStamp{static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec,
                   static_cast<int64_t>(info.st_size)};
}

// A file polled for changes: Changed() is true once each time its stamp moves.
class WatchedFile {
 public:
  explicit WatchedFile(std::string path) : path_(std::move(path)), stamp_(Stat(path_)) {}

  const std::string& path() const { return path_; }
  // Whether it is there now.
  bool Exists() const { return stamp_.has_value(); }
  bool Changed() {
    if (path_.empty()) return false;
    std::optional<FileStamp> now = Stat(path_);
    if (now == stamp_) return false;
    stamp_ = now;
    return true;
  }

 private:
  const std::string path_;
  std::optional<FileStamp> stamp_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return text;
}

absl::Status PushConfigFile(ControlPlane& cp, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> hash = cp.SetConfig(*text);
  if (!hash.ok()) {
    return absl::Status(hash.status().code(),
                        absl::StrCat("--config ", path, ": ", hash.status().message()));
  }
  log::Info(kComponent, "config file loaded",
            {{"file", path}, {"config_hash", *hash}, {"bytes", text->size()}});
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  if (flags.ok() && flags->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  absl::StatusOr<Options> options =
      flags.ok() ? ToOptions(*flags) : absl::StatusOr<Options>(flags.status());
  absl::StatusOr<log::Level> level = flags.ok() ? log::ParseLevel(flags->log_level)
                                                : absl::StatusOr<log::Level>(log::Level::kInfo);
  if (!options.ok() || !level.ok()) {
    const absl::Status& error = !options.ok() ? options.status() : level.status();
    std::fprintf(stderr, "tether-devcp: %s\n(see --help)\n", std::string(error.message()).c_str());
    return 2;
  }
  log::SetLevel(*level);

  // Block the stop signals before any thread starts, so that every thread inherits the mask and
  // only sigtimedwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<ControlPlane>> cp = ControlPlane::Create(*std::move(options));
  if (!cp.ok()) {
    log::Error(kComponent, "cannot start", {{"err", cp.status().ToString()}});
    return 1;
  }
  WatchedFile config(flags->config);
  // A frame already there is not pushed: only one that appears or changes while DPs listen.
  WatchedFile raw_frame(flags->raw_frame);
  if (!config.path().empty()) {
    if (absl::Status pushed = PushConfigFile(**cp, config.path()); !pushed.ok()) {
      log::Error(kComponent, "cannot load config", {{"err", pushed.ToString()}});
      return 1;
    }
  }

  for (;;) {
    const timespec poll = {0, kPollNanos};
    const int signal = sigtimedwait(&stop_signals, nullptr, &poll);
    if (signal == SIGINT || signal == SIGTERM) {
      log::Info(kComponent, "stopping", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
      break;
    }
    if (raw_frame.Changed() && raw_frame.Exists()) {
      absl::StatusOr<std::string> bytes = ReadFile(raw_frame.path());
      if (bytes.ok()) {
        log::Info(kComponent, "raw frame pushed",
                  {{"file", raw_frame.path()}, {"bytes", bytes->size()}});
        (*cp)->PushRawFrame(*std::move(bytes));
      } else {
        log::Warn(kComponent, "raw frame not read", {{"err", bytes.status().ToString()}});
      }
    }
    if (!config.Changed()) continue;
    if (!config.Exists()) {
      log::Warn(kComponent, "config file is gone; keeping the last config",
                {{"file", config.path()}});
      continue;
    }
    // A half-written file fails to parse; its next write changes the stamp and we retry.
    if (absl::Status pushed = PushConfigFile(**cp, config.path()); !pushed.ok()) {
      log::Warn(kComponent, "config not pushed; keeping the last config",
                {{"err", pushed.ToString()}});
    }
  }
  (*cp)->Stop();
  return 0;
}

}  // namespace
}  // namespace tether::devcp

int main(int argc, char** argv) { return tether::devcp::Main(argc, argv); }
