#include "bench/load/memory_run.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/floor.h"
#include "bench/load/proc_stats.h"
#include "bench/load/subscribers.h"
#include "client/lib/client.h"
#include "protocol/constants.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/inflate.h"

namespace tether::bench {
namespace {

// A reconfigure message whose config_table holds one string of `bytes` bytes, gzipped with
// zlib streaming so that it is never whole in memory here: about a thousandth of its size.
absl::StatusOr<std::string> BombFrame(uint64_t bytes) {
  z_stream stream{};
  // 15 + 16: a gzip wrapper, as Kong's CP sends.
  if (deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&stream, deflateEnd);
  std::string out;
  std::vector<unsigned char> buffer(1 << 20);
  const auto deflate_some = [&](const std::string& input, int flush) {
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream.avail_in = static_cast<uInt>(input.size());
    do {
      stream.next_out = buffer.data();
      stream.avail_out = static_cast<uInt>(buffer.size());
      deflate(&stream, flush);
      out.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - stream.avail_out);
    } while (stream.avail_out == 0);
  };
  deflate_some(R"({"type":"reconfigure","config_table":{"_comment":")", Z_NO_FLUSH);
  const std::string filler(1 << 20, 'a');
  for (uint64_t done = 0; done < bytes; done += filler.size()) {
    deflate_some(filler, Z_NO_FLUSH);
  }
  deflate_some(R"("}})", Z_FINISH);
  return out;
}

// Times the floor and tether's decode on `frame`, before tether gets it, so that the figures
// compare on the same bytes, and the decode of `change` (the next revision) with `frame`'s config
// as the one it replaces. The median of a few runs of each.
absl::Status TimeDecode(const std::string& frame, const std::string& change, MemoryResult& result) {
  constexpr int kRuns = 5;
  absl::StatusOr<std::string> message = config::Inflate(frame, SIZE_MAX);
  if (!message.ok()) return message.status();
  const size_t message_bytes = message->size();
  message->clear();
  message->shrink_to_fit();
  std::vector<double> inflate_ms, parse_ms, decode_ms, change_ms;
  config::SnapshotPtr previous;
  for (int run = 0; run < kRuns; ++run) {
    std::string json(message_bytes, '\0');
    absl::Time start = absl::Now();
    if (!FloorInflate(frame, json)) return absl::InternalError("floor inflate failed");
    inflate_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    start = absl::Now();
    std::unique_ptr<rapidjson::Document> document = FloorParse(json);
    parse_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (document == nullptr) return absl::InternalError("floor parse failed");
    document.reset();
    start = absl::Now();
    absl::StatusOr<config::DecodeResult> decoded =
        config::DecodeReconfigure(frame, protocol::kEmptyConfigHash, config::DecodeLimits{},
                                  config::Source::kControlPlane, absl::Now());
    decode_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!decoded.ok()) return decoded.status();
    previous = std::move(decoded->snapshot);
    start = absl::Now();
    decoded = config::DecodeReconfigure(change, previous->config_hash, config::DecodeLimits{},
                                        config::Source::kControlPlane, absl::Now(), previous.get());
    change_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!decoded.ok()) return decoded.status();
  }
  result.decode_change_ms = Percentile(change_ms, 0.5);
  result.floor_inflate_ms = Percentile(inflate_ms, 0.5);
  result.floor_parse_ms = Percentile(parse_ms, 0.5);
  result.decode_ms = Percentile(decode_ms, 0.5);
  return absl::OkStatus();
}

// RSS once tether has settled: quiet, then a second more (its HeapTrimmer returns freed memory a
// quarter second after work ends; common/heap_trimmer.h), then quiet again after that trim.
absl::StatusOr<uint64_t> QuietRss(pid_t pid, absl::Duration timeout) {
  if (absl::StatusOr<double> cpu = AwaitQuiet(pid, timeout); !cpu.ok()) return cpu.status();
  absl::SleepFor(absl::Seconds(1));
  if (absl::StatusOr<double> cpu = AwaitQuiet(pid, timeout); !cpu.ok()) return cpu.status();
  absl::StatusOr<Memory> memory = ReadMemory(pid);
  if (!memory.ok()) return memory.status();
  return memory->rss_bytes;
}

}  // namespace

absl::StatusOr<MemoryResult> RunMemory(const MemoryOptions& options, const std::string& dir) {
  MemoryResult result;
  const ConfigShape shape = PresetShape(options.preset);
  result.entities = shape.EntityCount();
  std::filesystem::create_directories(dir);
  const std::string config_path = dir + "/kong-config.json";
  const std::string frame_path = dir + "/bomb.gz";
  if (absl::Status written = WriteFileAtomically(config_path, "{}"); !written.ok()) return written;

  absl::StatusOr<std::unique_ptr<Stack>> stack =
      Stack::Start(options.stack, dir, config_path, frame_path);
  if (!stack.ok()) return stack.status();
  const absl::Duration timeout = options.stack.timeout;
  DevcpLog& devcp_log = (*stack)->devcp_log();
  const pid_t pid = (*stack)->tether_pid();
  const auto failed = [&](const absl::Status& status) { return (*stack)->TetherFailed(status); };

  SubscriberPool pool((*stack)->target());
  pool.Add(options.full_subscribers, v1::MODE_FULL, "");
  pool.Add(options.delta_subscribers, v1::MODE_DELTA, "");
  const auto empty = devcp_log.AwaitConfig(1, timeout);
  if (absl::StatusOr<SteadyTime> synced = pool.AwaitAll(empty->first, timeout); !synced.ok()) {
    return failed(synced.status());
  }
  absl::StatusOr<uint64_t> rss = QuietRss(pid, timeout);
  if (!rss.ok()) return failed(rss.status());
  result.base_rss = *rss;

  std::vector<double> change_first_ms, change_last_ms;
  for (size_t revision = 0; revision <= options.changes; ++revision) {
    const std::string table = GenerateConfigTable(shape, revision);
    if (revision == 0) {
      result.json_bytes = table.size();
      absl::StatusOr<std::string> frame = MakeReconfigureFrame(table);
      if (!frame.ok()) return frame.status();
      absl::StatusOr<std::string> change = MakeReconfigureFrame(GenerateConfigTable(shape, 1));
      if (!change.ok()) return change.status();
      if (absl::Status timed = TimeDecode(*frame, *change, result); !timed.ok()) return timed;
    }
    if (absl::Status reset = ResetPeakRss(pid); !reset.ok()) return reset;
    if (absl::Status written = WriteFileAtomically(config_path, table); !written.ok()) {
      return written;
    }
    const auto pushed = devcp_log.AwaitConfig(revision + 2, timeout);
    if (!pushed.has_value()) return absl::DeadlineExceededError("tether-devcp did not push");
    absl::StatusOr<SteadyTime> last = pool.AwaitAll(pushed->first, timeout);
    if (!last.ok()) return failed(last.status());
    rss = QuietRss(pid, timeout);
    if (!rss.ok()) return failed(rss.status());
    absl::StatusOr<Memory> memory = ReadMemory(pid);
    if (!memory.ok()) return memory.status();
    if (revision == 0) {
      result.first_rss = *rss;
      result.first_full_ms = Milliseconds(*pool.FirstArrival(pushed->first) - pushed->second);
      result.first_last_ms = Milliseconds(*last - pushed->second);
    } else {
      result.change_peak = std::max(result.change_peak, memory->peak_rss_bytes);
      change_first_ms.push_back(Milliseconds(*pool.FirstArrival(pushed->first) - pushed->second));
      change_last_ms.push_back(Milliseconds(*last - pushed->second));
    }
    result.steady_rss = *rss;
    Progress(absl::StrFormat("memory: revision %d: RSS %s, peak %s", revision, Megabytes(*rss),
                             Megabytes(memory->peak_rss_bytes)));
  }

  if (!change_first_ms.empty()) {
    result.change_first_ms = Percentile(change_first_ms, 0.5);
    result.change_last_ms = Percentile(change_last_ms, 0.5);
  }

  absl::StatusOr<std::string> bomb = BombFrame(options.bomb_bytes);
  if (!bomb.ok()) return bomb.status();
  result.bomb_frame_bytes = bomb->size();
  absl::StatusOr<std::unique_ptr<client::Client>> status_client =
      client::Client::Create((*stack)->target());
  if (!status_client.ok()) return status_client.status();
  absl::StatusOr<v1::Status> before = (*status_client)->GetStatus(timeout);
  if (!before.ok()) return failed(before.status());
  if (absl::Status reset = ResetPeakRss(pid); !reset.ok()) return reset;
  if (absl::Status written = WriteFileAtomically(frame_path, *bomb); !written.ok()) return written;
  // Refused when status counts one more rejection.
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<v1::Status> now = (*status_client)->GetStatus(timeout);
    if (!now.ok()) return failed(now.status());
    if (now->config().rejection_count() > before->config().rejection_count()) break;
    if (absl::Now() > deadline) return failed(absl::DeadlineExceededError("bomb not refused"));
    absl::SleepFor(absl::Milliseconds(50));
  }
  rss = QuietRss(pid, timeout);
  if (!rss.ok()) return failed(rss.status());
  absl::StatusOr<Memory> memory = ReadMemory(pid);
  if (!memory.ok()) return memory.status();
  result.bomb_peak = memory->peak_rss_bytes;
  result.after_bomb_rss = *rss;
  if ((*stack)->tether_exited()) return failed(absl::InternalError("tether exited"));
  return result;
}

void PrintMemoryTable(const MemoryOptions& options, const MemoryResult& r) {
  const auto mib = [](uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  const auto above = [&](uint64_t bytes, uint64_t base) {
    return bytes > base ? mib(bytes - base) : 0.0;
  };
  const double json = mib(r.json_bytes);
  const double floor = r.floor_inflate_ms + r.floor_parse_ms;
  const size_t subscribers = options.full_subscribers + options.delta_subscribers;
  std::printf(
      "%s preset: %zu entities, %.1f MiB of JSON; %zu FULL and %zu DELTA subscribers; "
      "%zu changes of one route\n\n",
      std::string(PresetName(options.preset)).c_str(), r.entities, json, options.full_subscribers,
      options.delta_subscribers, options.changes);
  std::printf("| figure | measured | ratio | target |\n|---|---|---|---|\n");
  std::printf(
      "| floor: zlib inflate + RapidJSON DOM parse (in tether-load) | %.1f ms (%.1f + %.1f) "
      "| 1.00x | - |\n",
      floor, r.floor_inflate_ms, r.floor_parse_ms);
  std::printf(
      "| decode to a snapshot (config::DecodeReconfigure, in tether-load) | %.1f ms | "
      "%.2fx the floor | 0.8x |\n",
      r.decode_ms, r.decode_ms / floor);
  std::printf(
      "| decode of a change (one route) to a snapshot, the config it replaces held | %.1f ms | "
      "%.2fx the floor | 0.8x |\n",
      r.decode_change_ms, r.decode_change_ms / floor);
  std::printf(
      "| first push to the first subscriber holding the whole config | %.1f ms | %.2fx "
      "the floor | 1.0x |\n",
      r.first_full_ms, r.first_full_ms / floor);
  std::printf("| first push to the last of %zu subscribers | %.1f ms | %.2fx the floor | - |\n",
              subscribers, r.first_last_ms, r.first_last_ms / floor);
  std::printf(
      "| a change pushed to the first subscriber holding the whole new config (median) | %.1f ms "
      "| %.2fx the floor | 1.0x |\n",
      r.change_first_ms, r.change_first_ms / floor);
  std::printf(
      "| a change pushed to the last of %zu, the FULL ones sent all of it (median) | %.1f ms | "
      "%.2fx the floor | - |\n",
      subscribers, r.change_last_ms, r.change_last_ms / floor);
  std::printf("| base RSS (an empty config) | %.1f MiB | - | - |\n", mib(r.base_rss));
  std::printf("| after the first push, less base | %.1f MiB | %.2fx the JSON | - |\n",
              above(r.first_rss, r.base_rss), above(r.first_rss, r.base_rss) / json);
  std::printf("| steady after the last change, less base | %.1f MiB | %.2fx the JSON | 1.5x |\n",
              above(r.steady_rss, r.base_rss), above(r.steady_rss, r.base_rss) / json);
  std::printf("| peak during a change, less base | %.1f MiB | %.2fx the JSON | 2.5x |\n",
              above(r.change_peak, r.base_rss), above(r.change_peak, r.base_rss) / json);
  std::printf(
      "| decompression bomb (%.1f MiB frame inflating to %.0f MiB): peak above steady | "
      "%.1f MiB | - | 256 MiB |\n",
      mib(r.bomb_frame_bytes), mib(options.bomb_bytes), above(r.bomb_peak, r.steady_rss));
  std::printf("| after the bomb, above steady | %.1f MiB | - | near 0 |\n",
              above(r.after_bomb_rss, r.steady_rss));
  std::fflush(stdout);
}

}  // namespace tether::bench
