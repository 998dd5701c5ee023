// tether-load --memory: what tether holds for one large config, as BENCHMARKS.md's memory table
// reports it.
//
// tether starts on an empty config (its base RSS), then 2 FULL and 8 DELTA subscribers watch it
// take the preset's config and a few changes of one route each; then tether-devcp pushes a
// decompression bomb (a small gzip of one huge JSON string), which tether must refuse. Every
// figure is tether's own RSS or VmHWM from /proc, read once tether has gone quiet.
//
// Threading: runs on the caller's thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/config_generator.h"
#include "bench/load/harness.h"

namespace tether::bench {

struct MemoryOptions {
  StackOptions stack;
  Preset preset = Preset::kLarge;
  size_t changes = 3;
  size_t full_subscribers = 2;
  size_t delta_subscribers = 8;
  // What the bomb inflates to.
  uint64_t bomb_bytes = uint64_t{2} << 30;
};

struct MemoryResult {
  size_t entities = 0;
  size_t json_bytes = 0;
  // Timed in this process on the preset's first frame, medians of a few runs: the floor's two
  // stages (bench/floor.h) and tether's decode to a snapshot (config::DecodeReconfigure).
  double floor_inflate_ms = 0;
  double floor_parse_ms = 0;
  double decode_ms = 0;
  double decode_change_ms = 0;  // the next revision's, with this one's snapshot as the previous
  uint64_t base_rss = 0;        // holding an empty config, subscribers connected
  uint64_t first_rss = 0;       // quiet after the first push of the preset
  uint64_t steady_rss = 0;      // quiet after the last change
  uint64_t change_peak = 0;     // the highest VmHWM during a change
  double first_full_ms = 0;     // first push to the first FULL subscriber holding all of it
  double first_last_ms = 0;     // ... to the last subscriber
  double change_first_ms = 0;   // medians over the changes: push to the first subscriber
  double change_last_ms = 0;    // ... and to the last
  uint64_t bomb_frame_bytes = 0;
  uint64_t bomb_peak = 0;       // VmHWM while the bomb was refused
  uint64_t after_bomb_rss = 0;  // quiet after it
};

absl::StatusOr<MemoryResult> RunMemory(const MemoryOptions& options, const std::string& dir);

// The markdown table BENCHMARKS.md shows: each figure, its ratio to the floor or to the JSON
// size, and issue #13's target for it.
void PrintMemoryTable(const MemoryOptions& options, const MemoryResult& result);

}  // namespace tether::bench
