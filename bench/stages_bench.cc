// tether-bench-stages: Google Benchmark timings of each stage a config goes through in tether,
// for the small, medium and large presets (config_generator.h), next to the floors for the same
// bytes: zlib inflating into a buffer of the right size, and RapidJSON parsing in situ with its
// default flags. After the table it prints tether's decode-to-snapshot time as a ratio to
// (inflate floor + parse floor), the figure BENCHMARKS.md holds against its 1.5x target.
//
// Names are <stage>/<preset>, so --benchmark_filter=/small runs one preset.
#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "bench/config_generator.h"
#include "bench/floor.h"
#include "benchmark/benchmark.h"
#include "protocol/constants.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/inflate.h"
#include "sidecar/config/snapshot.h"

namespace tether::bench {
namespace {

// Everything the stages take as input for one preset: revision 0, and revision 1 (one route
// changed) for the delta stages. Built once per preset, on first use.
struct Fixture {
  size_t entities = 0;
  std::string frame;         // the gzipped reconfigure message, as the CP sends it
  std::string message_json;  // the frame inflated
  config::SnapshotPtr snapshot;
  std::string next_frame;    // revision 1
  config::SnapshotPtr next;  // revision 1
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "tether-bench-stages: %s\n", message.c_str());
  std::exit(1);
}

config::SnapshotPtr Decode(const std::string& frame) {
  absl::StatusOr<config::DecodeResult> result =
      config::DecodeReconfigure(frame, protocol::kEmptyConfigHash, config::DecodeLimits{},
                                config::Source::kControlPlane, absl::Now());
  if (!result.ok()) Die(absl::StrCat("decode: ", result.status().ToString()));
  if (result->snapshot == nullptr) Die("decode: no snapshot");
  return std::move(result->snapshot);
}

std::string Frame(const ConfigShape& shape, uint64_t revision) {
  absl::StatusOr<std::string> frame = MakeReconfigureFrame(GenerateConfigTable(shape, revision));
  if (!frame.ok()) Die(absl::StrCat("frame: ", frame.status().ToString()));
  return *std::move(frame);
}

const Fixture& GetFixture(Preset preset) {
  static auto* fixtures = new std::map<Preset, std::unique_ptr<Fixture>>();
  std::unique_ptr<Fixture>& fixture = (*fixtures)[preset];
  if (fixture != nullptr) return *fixture;
  fixture = std::make_unique<Fixture>();
  const ConfigShape shape = PresetShape(preset);
  fixture->entities = shape.EntityCount();
  fixture->frame = Frame(shape, 0);
  absl::StatusOr<std::string> json = config::Inflate(fixture->frame, SIZE_MAX);
  if (!json.ok()) Die(absl::StrCat("inflate: ", json.status().ToString()));
  fixture->message_json = *std::move(json);
  fixture->snapshot = Decode(fixture->frame);
  fixture->next_frame = Frame(shape, 1);
  fixture->next = Decode(fixture->next_frame);
  return *fixture;
}

void SetCounters(benchmark::State& state, const Fixture& fixture, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * fixture.entities));
}

// zlib alone, into an output buffer already of the right size: no growth, no checks.
void FloorInflate(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  std::string out(fixture.message_json.size(), '\0');
  for (auto _ : state) {
    if (!bench::FloorInflate(fixture.frame, out)) Die("floor inflate failed");
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// ISA-L alone, the same way: the inflater tether uses (inflate.cc). Not the target's floor (that
// is zlib's), but the honest one for tether's own inflate stage.
void FloorIsal(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  std::string out(fixture.message_json.size(), '\0');
  for (auto _ : state) {
    inflate_state stream;
    isal_inflate_init(&stream);
    stream.crc_flag = ISAL_GZIP;
    stream.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(fixture.frame.data()));
    stream.avail_in = static_cast<uint32_t>(fixture.frame.size());
    stream.next_out = reinterpret_cast<uint8_t*>(out.data());
    stream.avail_out = static_cast<uint32_t>(out.size());
    if (isal_inflate(&stream) != ISAL_DECOMP_OK || stream.block_state != ISAL_BLOCK_FINISH) {
      Die("floor ISA-L failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// RapidJSON alone: a DOM parsed in situ with default flags (its fastest DOM parse). The copy it
// parses and the freeing of the DOM are outside the timing.
void FloorParse(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  std::string buffer;
  for (auto _ : state) {
    state.PauseTiming();
    buffer = fixture.message_json;
    state.ResumeTiming();
    std::unique_ptr<rapidjson::Document> document = bench::FloorParse(buffer);
    if (document == nullptr) Die("floor parse failed");
    benchmark::DoNotOptimize(document.get());
    state.PauseTiming();
    document.reset();
    state.ResumeTiming();
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

void Inflate(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    absl::StatusOr<std::string> json =
        config::Inflate(fixture.frame, config::DecodeLimits{}.max_inflated_bytes);
    if (!json.ok()) Die("inflate failed");
    benchmark::DoNotOptimize(json->data());
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// Frame to published-ready Snapshot: tether's whole decode (config::DecodeReconfigure). Freeing
// the snapshot is outside the timing; it happens when a later one replaces it.
void Decode(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    absl::StatusOr<config::DecodeResult> result =
        config::DecodeReconfigure(fixture.frame, protocol::kEmptyConfigHash, config::DecodeLimits{},
                                  config::Source::kControlPlane, absl::Now());
    if (!result.ok() || result->snapshot == nullptr) Die("decode failed");
    state.PauseTiming();
    result = absl::StatusOr<config::DecodeResult>();
    state.ResumeTiming();
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// Revision 1 (one route changed) decoded over revision 0, as tether decodes every push after the
// first: collections whose rows are unchanged take their hashes from revision 0 (decoder.h).
void DecodeChange(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    absl::StatusOr<config::DecodeResult> result = config::DecodeReconfigure(
        fixture.next_frame, fixture.snapshot->config_hash, config::DecodeLimits{},
        config::Source::kControlPlane, absl::Now(), fixture.snapshot.get());
    if (!result.ok() || result->snapshot == nullptr) Die("decode of the change failed");
    state.PauseTiming();
    result = absl::StatusOr<config::DecodeResult>();
    state.ResumeTiming();
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// The same decode of a frame whose hash is the one applied: inflate, and the read that builds
// the entities (the hash may come after them), then no snapshot and no waiting for the hashes of
// the collections (decoder.h, kSameHash). Its difference to inflate is the read, and to the whole
// decode the hashing that did not overlap it.
void DecodeKnown(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    absl::StatusOr<config::DecodeResult> result = config::DecodeReconfigure(
        fixture.frame, fixture.snapshot->config_hash, config::DecodeLimits{},
        config::Source::kControlPlane, absl::Now());
    if (!result.ok() || result->kind != config::DecodeResult::Kind::kSameHash) {
      Die("decode of the applied config failed");
    }
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// Kong's config hash over the whole config_table, as a CP computes it (and tether for a message
// without one).
void ConfigHash(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  rapidjson::Document message;
  message.Parse(fixture.message_json.data(), fixture.message_json.size());
  const rapidjson::Value& config_table = message["config_table"];
  for (auto _ : state) {
    protocol::ConfigHashes hashes = protocol::CalculateConfigHash(config_table);
    benchmark::DoNotOptimize(hashes.config_hash.data());
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// The section hashes the decoder computes itself: Kong's algorithm over every collection that
// the CP does not hash (consumers, credentials, certificates, ...).
void CollectionHashes(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  rapidjson::Document message;
  message.Parse(fixture.message_json.data(), fixture.message_json.size());
  std::vector<const rapidjson::Value*> collections;
  for (const auto& member : message["config_table"].GetObject()) {
    const absl::string_view name(member.name.GetString(), member.name.GetStringLength());
    const bool kong_hashes_it =
        std::find(std::begin(protocol::kHashedSections), std::end(protocol::kHashedSections),
                  name) != std::end(protocol::kHashedSections);
    if (member.value.IsArray() && !kong_hashes_it) collections.push_back(&member.value);
  }
  for (auto _ : state) {
    for (const rapidjson::Value* rows : collections) {
      benchmark::DoNotOptimize(protocol::KongHashValue(*rows));
    }
  }
  SetCounters(state, fixture, fixture.message_json.size());
}

// Revision 0 to revision 1 (one route changed), every type.
void Delta(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    config::Delta delta =
        config::ComputeDelta(*fixture.snapshot, *fixture.next, config::TypeFilter());
    benchmark::DoNotOptimize(delta.upserts.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * fixture.entities));
}

// The chunks a new subscriber gets: the whole snapshot laid out in chunks, each then written and
// released in turn, as a stream sends them.
void FullUpdate(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  size_t bytes = 0;
  for (auto _ : state) {
    api::UpdatePtr update = api::BuildFullUpdate(fixture.snapshot, config::TypeFilter());
    for (size_t i = 0; i < update->chunks.size(); ++i) {
      benchmark::DoNotOptimize(update->chunks.Get(i).get());
    }
    bytes = update->bytes;
    state.PauseTiming();
    update.reset();
    state.ResumeTiming();
  }
  SetCounters(state, fixture, bytes);
}

// The chunks every delta subscriber gets after one change: delta computation plus serialisation.
void DeltaUpdate(benchmark::State& state, Preset preset) {
  const Fixture& fixture = GetFixture(preset);
  for (auto _ : state) {
    api::UpdatePtr update =
        api::BuildDeltaUpdate(fixture.snapshot, fixture.next, config::TypeFilter());
    benchmark::DoNotOptimize(update.get());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * fixture.entities));
}

// Prints the console table as usual, then per preset the decode as a ratio to the floor
// (inflate floor + parse floor) and split into its stages. Wall time: the decode of a large
// config hashes on a second thread (decoder.cc, CollectionHasher), which the benchmark thread's
// CPU time would leave out; so the figures need an otherwise idle machine (scripts/bench).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colours only on a terminal, so that piped output (scripts/bench) stays plain text.
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    // With --benchmark_repetitions, the median of the repetitions; else the one run.
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) continue;
      seconds_[run.run_name.str()] =
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    for (Preset preset : kPresets) {
      const std::string suffix = absl::StrCat("/", PresetName(preset));
      const std::optional<double> zlib = Ms("floor_inflate" + suffix);
      const std::optional<double> rapidjson = Ms("floor_parse" + suffix);
      const std::optional<double> isal = Ms("floor_isal" + suffix);
      const std::optional<double> inflate = Ms("inflate" + suffix);
      const std::optional<double> known = Ms("decode_known" + suffix);
      const std::optional<double> decode = Ms("decode" + suffix);
      const std::optional<double> change = Ms("decode_change" + suffix);
      if (!zlib || !rapidjson || !decode) continue;
      std::printf(
          "decode-to-snapshot/%s: %.1f ms = %.2fx the floor (zlib %.1f ms + "
          "rapidjson %.1f ms)",
          std::string(PresetName(preset)).c_str(), *decode, *decode / (*zlib + *rapidjson), *zlib,
          *rapidjson);
      if (isal) {
        std::printf(" = %.2fx ISA-L %.1f ms + rapidjson", *decode / (*isal + *rapidjson), *isal);
      }
      if (inflate && known) {
        std::printf("; stages: inflate %.1f ms, read and build %.1f ms, hashes after %.1f ms",
                    *inflate, *known - *inflate, *decode - *known);
      }
      if (change) {
        std::printf("; a change: %.1f ms = %.2fx the floor", *change,
                    *change / (*zlib + *rapidjson));
      }
      std::printf("\n");
    }
  }

 private:
  std::optional<double> Ms(const std::string& name) const {
    const auto it = seconds_.find(name);
    if (it == seconds_.end()) return std::nullopt;
    return it->second * 1e3;
  }

  std::map<std::string, double> seconds_;
};

void RegisterAll() {
  struct Stage {
    const char* name;
    void (*run)(benchmark::State&, Preset);
  };
  static constexpr Stage kStages[] = {
      {"floor_inflate", FloorInflate},
      {"floor_isal", FloorIsal},
      {"floor_parse", FloorParse},
      {"inflate", Inflate},
      {"decode_known", DecodeKnown},
      {"decode", Decode},
      {"decode_change", DecodeChange},
      {"config_hash", ConfigHash},
      {"collection_hashes", CollectionHashes},
      {"delta", Delta},
      {"full_update", FullUpdate},
      {"delta_update", DeltaUpdate},
  };
  for (Preset preset : kPresets) {
    for (const Stage& stage : kStages) {
      benchmark::RegisterBenchmark(absl::StrCat(stage.name, "/", PresetName(preset)).c_str(),
                                   stage.run, preset)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace tether::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tether::bench::RegisterAll();
  tether::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
