// tetherctl's argument parsing and usage text (see flags.h).
#include "client/cli/flags.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/lib/channel.h"
#include "sidecar/common/command_line.h"

namespace tether::ctl {

const char kUsage[] =
    R"(usage: tetherctl [--addr ADDR] [--timeout DURATION] [TLS flags] COMMAND [flags]

Looks at a running tether sidecar through its gRPC API.

commands:
  status [--json] [--watch]      control-plane connection, config, node and subscribers;
                                 --watch prints the status again on every change
  get [--type T]... [--json]     the current config (all entity types, or the given ones);
                                 --json prints it as JSON with each entity as tether holds it
  watch [--type T]... [--delta]  subscribes like a proxy and prints one line per update (hash,
                                 entity counts, +upserts -removals) until interrupted
  health [--service NAME]        the standard gRPC health check; exits 0 only when SERVING
  wait --ready                   retries the health check until tether is ready (holds a config
                                 and is not draining), e.g. before a proxy container starts;
                                 --timeout bounds the whole wait (default 60s)

flags:
  --addr ADDR          tether's gRPC address: unix:///path/tether.sock or HOST:PORT
                       (default unix:///var/lib/tether/tether.sock; environment: TETHER_ADDR)
  --tls-cert PATH      mutual TLS to a TCP address served with --grpc-tls-cert: the client
  --tls-key PATH       certificate and key (issued by tether's --grpc-client-ca) and the CA
  --ca PATH            tether's certificate chains to; all three together
  --tls-server-name N  the name tether's certificate must carry (default: the --addr host)
  --timeout DURATION   deadline for each call, e.g. 5s (default 5s; not for --watch or watch;
                       for wait, the whole wait)
  --help               this text

exit status: 0 ok, 1 error (tether unreachable, call failed, not SERVING, not ready in time),
2 usage
)";

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  const char* env_addr = std::getenv("TETHER_ADDR");
  args.addr =
      env_addr != nullptr && *env_addr != '\0' ? env_addr : std::string(client::kDefaultTarget);
  std::vector<std::string> seen;  // command flags, checked against the command below
  const auto kind = [](absl::string_view name) {
    if (name == "addr" || name == "timeout" || name == "type" || name == "service" ||
        name == "tls-cert" || name == "tls-key" || name == "ca" || name == "tls-server-name") {
      return FlagKind::kValue;
    }
    if (name == "json" || name == "watch" || name == "delta" || name == "ready") {
      return FlagKind::kSwitch;
    }
    return FlagKind::kUnknown;
  };
  client::TlsOptions tls;
  const std::pair<absl::string_view, std::string*> tls_flags[] = {
      {"tls-cert", &tls.cert_path},
      {"tls-key", &tls.key_path},
      {"ca", &tls.ca_path},
      {"tls-server-name", &tls.server_name}};
  const auto flag = [&](absl::string_view name, absl::string_view value) -> absl::Status {
    for (const auto& [tls_name, field] : tls_flags) {
      if (name != tls_name) continue;
      if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is empty"));
      *field = std::string(value);
      return absl::OkStatus();
    }
    if (name == "addr") {
      if (value.empty()) return absl::InvalidArgumentError("--addr is empty");
      args.addr = std::string(value);
      return absl::OkStatus();
    }
    if (name == "timeout") {
      if (!absl::ParseDuration(value, &args.timeout) || args.timeout <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--timeout \"", value, "\" is not a positive duration (e.g. 5s)"));
      }
      args.timeout_given = true;
      return absl::OkStatus();
    }
    if (name == "type") {
      if (value.empty()) return absl::InvalidArgumentError("--type is empty");
      args.types.emplace_back(value);
    } else if (name == "service") {
      args.service = std::string(value);
    } else if (name == "json") {
      args.json = true;
    } else if (name == "watch") {
      args.watch = true;
    } else if (name == "delta") {
      args.delta = true;
    } else if (name == "ready") {
      args.ready = true;
    }
    seen.emplace_back(name);
    return absl::OkStatus();
  };
  const auto command = [&](absl::string_view arg) {
    if (!args.command.empty()) return UnexpectedArgument(arg);
    args.command = std::string(arg);
    return absl::OkStatus();
  };
  if (absl::Status status = ReadCommandLine(
          argc, argv, {.kind = kind, .flag = flag, .positional = command}, args.help);
      !status.ok()) {
    return status;
  }
  if (args.help) return args;
  const int tls_files = !tls.cert_path.empty() + !tls.key_path.empty() + !tls.ca_path.empty();
  if (tls_files != 0 && tls_files != 3) {
    return absl::InvalidArgumentError("--tls-cert, --tls-key and --ca go together");
  }
  if (tls_files == 0 && !tls.server_name.empty()) {
    return absl::InvalidArgumentError("--tls-server-name needs --tls-cert, --tls-key and --ca");
  }
  if (tls_files == 3) args.tls = std::move(tls);
  std::vector<std::string> allowed;
  if (args.command == "status") {
    allowed = {"json", "watch"};
  } else if (args.command == "get") {
    allowed = {"type", "json"};
  } else if (args.command == "watch") {
    allowed = {"type", "delta"};
  } else if (args.command == "health") {
    allowed = {"service"};
  } else if (args.command == "wait") {
    // The only condition so far; named so that others (a config hash) can join it.
    if (!args.ready) return absl::InvalidArgumentError("wait needs a condition: --ready");
    allowed = {"ready"};
  } else if (args.command.empty()) {
    return absl::InvalidArgumentError("no command given");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", args.command, "\""));
  }
  for (const std::string& flag : seen) {
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " does not apply to ", args.command));
    }
  }
  return args;
}

}  // namespace tether::ctl
