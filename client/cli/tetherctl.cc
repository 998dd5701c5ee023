// tetherctl: look at a running tether from a shell. Thin edge over the client library
// (client/lib/client.h): flags in, one call, its result printed for people or as JSON.
//
// Threading: main's thread does everything, except `watch`, whose updates arrive on the watcher's
// thread and whose stop signals are taken by a thread of their own.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/lib/client.h"
#include "client/lib/config_watcher.h"
#include "google/protobuf/util/json_util.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace tether::ctl {
namespace {

namespace v1 = ::tether::v1;
using client::MirrorPtr;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] = R"(usage: tetherctl [--addr ADDR] [--timeout DURATION] COMMAND [flags]

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
  --addr ADDR          tether's gRPC address: unix:///path/tether.sock or 127.0.0.1:PORT
                       (default unix:///var/lib/tether/tether.sock; environment: TETHER_ADDR)
  --timeout DURATION   deadline for each call, e.g. 5s (default 5s; not for --watch or watch;
                       for wait, the whole wait)
  --help               this text

exit status: 0 ok, 1 error (tether unreachable, call failed, not SERVING, not ready in time),
2 usage
)";

// `wait`'s default bound: long enough for a first config from a distant CP, short enough that a
// pod whose sidecar cannot get one fails visibly.
constexpr absl::Duration kDefaultWaitTimeout = absl::Seconds(60);

struct Args {
  std::string addr;
  absl::Duration timeout = absl::Seconds(5);
  bool timeout_given = false;
  std::string command;
  bool json = false;
  bool watch = false;
  bool delta = false;
  bool ready = false;
  std::vector<std::string> types;
  std::string service;
  bool help = false;
};

absl::StatusOr<Args> ParseArgs(int argc, char** argv) {
  Args args;
  const char* env_addr = std::getenv("TETHER_ADDR");
  args.addr =
      env_addr != nullptr && *env_addr != '\0' ? env_addr : std::string(client::kDefaultTarget);
  std::vector<std::string> seen;  // command flags, checked against the command below
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!args.command.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
      }
      args.command = std::string(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    const bool takes_value =
        name == "addr" || name == "timeout" || name == "type" || name == "service";
    std::string value;
    if (takes_value) {
      if (eq != absl::string_view::npos) {
        value = std::string(arg.substr(eq + 1));
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    } else if (eq != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
    }
    if (name == "addr") {
      if (value.empty()) return absl::InvalidArgumentError("--addr is empty");
      args.addr = value;
    } else if (name == "timeout") {
      if (!absl::ParseDuration(value, &args.timeout) || args.timeout <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--timeout \"", value, "\" is not a positive duration (e.g. 5s)"));
      }
      args.timeout_given = true;
    } else if (name == "type") {
      if (value.empty()) return absl::InvalidArgumentError("--type is empty");
      args.types.push_back(value);
      seen.push_back(name);
    } else if (name == "service") {
      args.service = value;
      seen.push_back(name);
    } else if (name == "json") {
      args.json = true;
      seen.push_back(name);
    } else if (name == "watch") {
      args.watch = true;
      seen.push_back(name);
    } else if (name == "delta") {
      args.delta = true;
      seen.push_back(name);
    } else if (name == "ready") {
      args.ready = true;
      seen.push_back(name);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  if (args.help) return args;
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

// Prints why a call failed and returns the exit code for it.
int Fail(const Args& args, const absl::Status& status) {
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
    std::fprintf(stderr, "tetherctl: cannot reach tether at %s: %s\n", args.addr.c_str(),
                 std::string(status.message()).c_str());
  } else {
    std::fprintf(stderr, "tetherctl: tether at %s: %s: %s\n", args.addr.c_str(),
                 absl::StatusCodeToString(status.code()).c_str(),
                 std::string(status.message()).c_str());
  }
  return kExitError;
}

// --- formatting helpers ---

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Milliseconds under a second, whole seconds above: ages are read by people.
std::string Age(absl::Duration d) {
  return absl::FormatDuration(
      absl::Trunc(d, d < absl::Seconds(1) ? absl::Milliseconds(1) : absl::Seconds(1)));
}

// "2024-06-10T12:00:00Z (3m2s ago)", or "-" when unset.
std::string When(const google::protobuf::Timestamp& t, absl::Time now) {
  if (!IsSet(t)) return "-";
  const absl::Time at = ToTime(t);
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone()), " (",
                      Age(now - at), " ago)");
}

// "2027-06-10T12:00:00Z (in 4380h0m0s)" or "... (expired)", or "-" when unset.
std::string Expiry(const google::protobuf::Timestamp& t, absl::Time now) {
  if (!IsSet(t)) return "-";
  const absl::Time at = ToTime(t);
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone()),
                      at > now ? absl::StrCat(" (in ", Age(at - now), ")") : " (expired)");
}

std::string OrDash(absl::string_view s) { return s.empty() ? "-" : std::string(s); }

std::string Short(absl::string_view hash) {
  return hash.empty() ? "-" : std::string(hash.substr(0, 12));
}

// Rows of cells printed with each column as wide as its widest cell.
std::string Table(const std::vector<std::vector<std::string>>& rows, absl::string_view indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string Counts(const google::protobuf::Map<std::string, uint64_t>& counts) {
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  uint64_t total = 0;
  std::vector<std::string> parts;
  for (const auto& [type, n] : sorted) {
    total += n;
    parts.push_back(absl::StrCat(type, "=", n));
  }
  return absl::StrCat(total, parts.empty() ? "" : ": ", absl::StrJoin(parts, " "));
}

std::string HumanStatus(const v1::Status& s, absl::Time now) {
  const v1::ControlPlaneStatus& cp = s.control_plane();
  std::string state = v1::ConnectionState_Name(cp.state());
  if (cp.state() == v1::CONNECTED) {
    absl::StrAppend(&state, " since ", When(cp.connected_since(), now));
  } else if (cp.state() == v1::DISCONNECTED && cp.has_retry_in()) {
    absl::StrAppend(&state, ", retry in ", Age(ToDuration(cp.retry_in())));
  }
  std::vector<std::vector<std::string>> cp_rows = {
      {"address", absl::StrCat(OrDash(cp.address()), cp.peer().empty() ? "" : " (peer ", cp.peer(),
                               cp.peer().empty() ? "" : ")")},
      {"state", state},
      {"last pong",
       absl::StrCat(When(cp.last_pong_at(), now), cp.has_ping_rtt() ? ", rtt " : "",
                    cp.has_ping_rtt() ? absl::FormatDuration(ToDuration(cp.ping_rtt())) : "")},
      {"attempts", absl::StrCat(cp.attempts(), " (reconnects ", cp.reconnect_count(),
                                "), frames received ", cp.frames_received())},
      {"last error", OrDash(cp.last_error())},
      {"certificate",
       absl::StrCat(OrDash(cp.cert_subject()), ", expires ", Expiry(cp.cert_not_after(), now),
                    ", rotations ", cp.cert_rotations())},
  };
  if (!cp.cert_error().empty()) cp_rows.push_back({"certificate error", cp.cert_error()});
  if (!cp.hint().empty()) cp_rows.push_back({"hint", cp.hint()});

  const v1::ConfigStatus& config = s.config();
  std::vector<std::vector<std::string>> config_rows = {
      {"hash",
       absl::StrCat(OrDash(config.hash()), " (source ", v1::Source_Name(config.source()), ")")},
      {"applied", When(config.applied_at(), now)},
      {"received", When(config.received_at(), now)},
      {"entities", Counts(config.entity_counts())},
      {"size",
       absl::StrCat(config.compressed_bytes(), " bytes compressed, ", config.decoded_bytes(),
                    " decoded in ", absl::FormatDuration(ToDuration(config.decode_duration())))},
      {"applies",
       absl::StrCat(config.apply_count(), " (same hash skipped ", config.same_hash_count(), ")")},
      {"rejections", absl::StrCat(config.rejection_count())},
  };
  if (config.has_last_rejection()) {
    const v1::Rejection& r = config.last_rejection();
    config_rows.push_back({"last rejected", absl::StrCat(OrDash(r.config_hash()), " at ",
                                                         When(r.at(), now), ": ", r.reason())});
  }

  const v1::NodeStatus& node = s.node();
  std::vector<std::string> labels;
  for (const auto& [k, v] : node.labels()) labels.push_back(absl::StrCat(k, "=", v));
  std::sort(labels.begin(), labels.end());
  std::vector<std::vector<std::string>> node_rows = {
      {"id", OrDash(node.node_id())},
      {"hostname", OrDash(node.hostname())},
      {"version",
       absl::StrCat(OrDash(node.version()), " (tether ", OrDash(node.tether_version()), ")")},
      {"labels", labels.empty() ? "-" : absl::StrJoin(labels, ", ")},
  };

  std::string out;
  absl::StrAppend(&out, "CONTROL PLANE\n", Table(cp_rows, "  "));
  absl::StrAppend(&out, "CONFIG\n", Table(config_rows, "  "));
  absl::StrAppend(&out, "NODE\n", Table(node_rows, "  "));
  absl::StrAppend(&out, "SUBSCRIBERS (", s.subscribers_size(), ")\n");
  if (s.subscribers_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"CLIENT", "PEER", "MODE", "TYPES", "SENT", "ACKED", "UPDATES", "SINCE"}};
    std::vector<std::string> nacks;
    for (const v1::SubscriberStatus& sub : s.subscribers()) {
      rows.push_back({OrDash(sub.client_id()), OrDash(sub.peer()), v1::Mode_Name(sub.mode()),
                      sub.entity_types().empty() ? "all" : absl::StrJoin(sub.entity_types(), ","),
                      Short(sub.last_sent_hash()), Short(sub.acked_hash()),
                      absl::StrCat(sub.updates_sent()),
                      IsSet(sub.connected_since())
                          ? absl::StrCat(Age(now - ToTime(sub.connected_since())), " ago")
                          : "-"});
      if (!sub.nacked_hash().empty() || !sub.nack_error().empty()) {
        nacks.push_back(absl::StrCat("  ", sub.client_id(), " nacked ", Short(sub.nacked_hash()),
                                     ": ", sub.nack_error(), "\n"));
      }
    }
    absl::StrAppend(&out, Table(rows, "  "), absl::StrJoin(nacks, ""));
  }
  return out;
}

absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  // Zero counts and first enum values are facts worth showing; names match the .proto files.
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print JSON: ", status.ToString()));
  }
  if (!pretty) out.push_back('\n');
  return out;
}

// --- commands ---

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

// Parses `json` (an entity or a metadata value as tether holds it) into `into`.
bool ParseInto(const std::string& json, rapidjson::Document& into) {
  into.Parse(json.data(), json.size());
  return !into.HasParseError();
}

// The config as JSON. Entities are raw JSON bytes in the API, which protobuf's JSON printer would
// show as base64; so this document is built with RapidJSON, keeping each entity's keys and
// numbers as tether holds them. `config` is in Kong's flat config_table form (metadata keys,
// then one array per type), so it can be fed back to a CP (tether-devcp --config).
absl::StatusOr<std::string> ConfigJson(const client::Mirror& mirror) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  auto str = [&](absl::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
  };
  doc.AddMember("config_hash", str(mirror.config_hash), alloc);
  doc.AddMember("source", str(v1::Source_Name(mirror.source)), alloc);
  rapidjson::Value hashes(rapidjson::kObjectType);
  for (const auto& [key, hash] : mirror.hashes) hashes.AddMember(str(key), str(hash), alloc);
  doc.AddMember("hashes", hashes, alloc);
  rapidjson::Value config(rapidjson::kObjectType);
  for (const auto& [key, json] : mirror.metadata) {
    rapidjson::Document value(&alloc);
    if (!ParseInto(json, value)) {
      return absl::DataLossError(absl::StrCat("metadata ", key, " is not JSON"));
    }
    config.AddMember(str(key), rapidjson::Value(value, alloc), alloc);
  }
  for (const auto& [type, rows] : mirror.entities) {
    rapidjson::Value array(rapidjson::kArrayType);
    for (const auto& [id, json] : rows) {
      rapidjson::Document entity(&alloc);
      if (!ParseInto(json, entity)) {
        return absl::DataLossError(absl::StrCat("entity ", type, "/", id, " is not JSON"));
      }
      array.PushBack(rapidjson::Value(entity, alloc), alloc);
    }
    config.AddMember(str(type), array, alloc);
  }
  doc.AddMember("config", config, alloc);
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A label for an entity in the human listing: its name-like field. Never a field that may hold
// a secret (certificates' `key`, credentials' `key` or `password`): this output ends up in
// terminals and tickets.
std::string EntityLabel(const std::string& json) {
  rapidjson::Document doc;
  if (!ParseInto(json, doc) || !doc.IsObject()) return "-";
  for (const char* field : {"name", "username", "target"}) {
    auto it = doc.FindMember(field);
    if (it != doc.MemberEnd() && it->value.IsString()) {
      std::string label(it->value.GetString(), it->value.GetStringLength());
      // One entity, one line.
      std::replace_if(
          label.begin(), label.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; },
          ' ');
      return label;
    }
  }
  return "-";
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
  std::printf("config_hash  %s\nsource       %s\nentities     %zu\n\n",
              (*mirror)->config_hash.c_str(), v1::Source_Name((*mirror)->source).c_str(),
              (*mirror)->EntityCount());
  std::vector<std::vector<std::string>> rows = {{"TYPE", "ID", "NAME"}};
  for (const auto& [type, entities] : (*mirror)->entities) {
    for (const auto& [id, json] : entities) rows.push_back({type, id, EntityLabel(json)});
  }
  std::fputs(Table(rows, "").c_str(), stdout);
  return kExitOk;
}

// One line per update: time, hash, full or delta, +upserts -removals, then the entity counts.
std::string UpdateLine(const client::Mirror& mirror, const client::UpdateInfo& info) {
  std::vector<std::string> counts;
  for (const auto& [type, rows] : mirror.entities) {
    counts.push_back(absl::StrCat(type, "=", rows.size()));
  }
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      mirror.config_hash, " ", info.full ? "full " : "delta", " +", info.upserts, " -",
      info.removals, info.full ? "" : absl::StrCat(" base=", Short(info.base_hash)),
      " entities=", mirror.EntityCount(), counts.empty() ? "" : " ", absl::StrJoin(counts, " "));
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
  options.client_id = absl::StrCat("tetherctl/", getpid());
  options.entity_types = args.types;
  options.mode = args.delta ? client::Mode::kDelta : client::Mode::kFull;
  client::WatcherCallbacks callbacks;
  bool updated = false;  // only the watcher's thread touches it
  callbacks.on_update = [&updated](const MirrorPtr& mirror, const client::UpdateInfo& info) {
    updated = true;
    std::printf("%s\n", UpdateLine(*mirror, info).c_str());
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
    std::fprintf(stderr, "tetherctl: %s (retrying in %s)\n", std::string(error.message()).c_str(),
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
                       : std::string(health.status().message());
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
  absl::StatusOr<std::unique_ptr<client::Client>> tether = client::Client::Create(args->addr);
  if (!tether.ok()) return Fail(*args, tether.status());
  if (args->command == "status") return RunStatus(*args, **tether);
  if (args->command == "get") return RunGet(*args, **tether);
  if (args->command == "wait") return RunWait(*args, **tether);
  return RunHealth(*args, **tether);
}

}  // namespace
}  // namespace tether::ctl

int main(int argc, char** argv) { return tether::ctl::Main(argc, argv); }
