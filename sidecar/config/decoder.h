// Decoding of one `reconfigure` frame (kong-protocol.md §3): gzip -> JSON -> validated Snapshot.
//
// Why: this is the only place untrusted CP bytes are interpreted, so every limit lives here and
// every failure is a Status, never a crash. No network code: bytes in, Snapshot or Status out.
//
// Threading: pure function, thread-safe; runs on the decode worker, never on an I/O thread. A
// large config's hashes are shared with a helper thread that the call starts and joins.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

struct DecodeLimits {
  // Inflated size cap, checked while inflating so a decompression bomb stops early.
  size_t max_inflated_bytes = size_t{1} << 30;
  // JSON nesting cap; deeper documents are rejected before any recursive walk.
  int max_json_depth = 128;
  // Caps on what config_table holds, far above any real Kong config: entities of every type
  // together, top-level keys (entity types and metadata), and the metadata's compact JSON all
  // together (it travels whole on the first chunk of every full update). Each keeps a hostile
  // CP's millions of tiny entities, thousands of types or one huge `_comment` from costing
  // memory in proportion.
  size_t max_entities = 1'000'000;
  size_t max_types = 1'000;
  size_t max_metadata_bytes = size_t{1} << 20;
};

// Why a config frame was refused. The decoder sets the first four where it builds the error; the
// session refuses oversized frames (kTooLarge) and the apply policy empty ones (kEmptyConfig).
enum class RejectCause {
  kTooLarge,     // over --cluster-max-payload, the inflated cap or the nesting limit
  kGzip,         // corrupt or truncated compressed data
  kJson,         // not valid JSON
  kShape,        // valid JSON that is not a Kong reconfigure message
  kEmptyConfig,  // refused by --guard-empty-config
  kOther,
};
inline constexpr size_t kRejectCauseCount = static_cast<size_t>(RejectCause::kOther) + 1;
// The Prometheus label value and the name in logs: "too_large", "gzip", "json", "shape",
// "empty_config", "other".
absl::string_view RejectCauseName(RejectCause cause);

struct DecodeResult {
  enum class Kind {
    kNewSnapshot,  // snapshot is set: a config whose hash differs from the applied one
    kSameHash,     // config_hash equals the applied one; nothing to apply (Kong still pings)
    kIgnoredType,  // a well-formed message whose `type` is not "reconfigure"
  };
  Kind kind = Kind::kIgnoredType;
  // kNewSnapshot only. Not yet const: the applier shares it with the current one (sharing.h)
  // before publishing it.
  std::shared_ptr<Snapshot> snapshot;
  std::string config_hash;   // kNewSnapshot and kSameHash
  std::string message_type;  // kIgnoredType: the type that was ignored
};

// Decodes `frame` (the binary websocket payload). `applied_hash` is the hash currently applied
// (32 zeros when none): a message with that hash is reported as kSameHash, with no snapshot.
// `source` and `received_at` are stamped on the snapshot. `previous`, the config the new one would
// replace, saves hashing the collections that did not change (may be null; it is only read).
//
// Errors: InvalidArgument for corrupt gzip, bad JSON, wrong shape (message not an object,
// config_table missing or not an object, a collection that is not an array of objects, an entity
// without a string primary key, duplicate ids, bad config_hash); ResourceExhausted for the
// inflated-size, depth, entity, type and metadata caps. Every error carries its cause and, when the
// message's config_hash was read, that hash (see RejectionOf).
//
// Shape of the snapshot: every key of config_table that does not start with `_` and holds an
// array is an entity collection; an empty array is kept as an empty collection (the CP omits
// empty ones, so a present one is deliberate, and Kong hashes it as md5("{}")). Anything else
// goes to metadata.
absl::StatusOr<DecodeResult> DecodeReconfigure(absl::string_view frame,
                                               absl::string_view applied_hash,
                                               const DecodeLimits& limits, Source source,
                                               absl::Time received_at,
                                               const Snapshot* previous = nullptr);

// What DecodeReconfigure's error says about the frame it rejected.
struct Rejected {
  RejectCause cause = RejectCause::kOther;
  std::string config_hash;  // "" when the frame was too broken to read it
};
Rejected RejectionOf(const absl::Status& status);

}  // namespace tether::config
