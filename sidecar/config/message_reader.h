// One pass over a reconfigure message's text (kong-protocol.md §3.2) that builds the snapshot's
// entities as it goes, with no parse tree and never the whole text in memory.
//
// Why: a tree of a large config is about twice the size of its JSON, and the whole inflated
// message would sit next to the config it replaces. Read as a stream of events (json_parse.h)
// through a TextWindow instead, the message leaves behind only what the snapshot keeps: each row
// that is not the previous config's, copied out of the window, its id, and the metadata's compact
// JSON. A row the previous config has byte for byte (most of them, in a change) is that config's
// entity, viewing its text; when it comes where it came before, it is compared, not parsed
// (`previous` must come from this decoder, under the same limits). The rows of the collections Kong
// does not hash go to a CollectionHasher as they are read.
//
// Keys may come in any order (a Lua table's), so the message's fields are reported, not judged:
// the decoder decides what they mean together (a message of another type is ignored however
// broken its config_table is). With a key repeated, the last one counts, as in Kong's Lua table.
//
// Threading: runs on the decoder's thread.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sidecar/config/collection_hasher.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/snapshot.h"
#include "sidecar/config/text_window.h"

namespace tether::config {

struct MessageFields {
  bool is_object = false;                  // the message is a JSON object
  std::optional<std::string> type;         // `type`, when a string
  bool has_config_hash = false;            // `config_hash` is present
  std::optional<std::string> config_hash;  // ... and a string
  // `hashes`, Kong's keys only (config and protocol::kHashedSections): the snapshot's hashes for
  // other types are always computed, so a CP cannot make them disagree with the entities.
  std::map<std::string, std::string> hashes;
  absl::Status hashes_error;        // what is wrong with `hashes` (not an object, a bad value)
  std::optional<double> timestamp;  // `timestamp`, when a number

  enum class Table { kAbsent, kNotObject, kObject };
  Table config_table = Table::kAbsent;
  size_t table_begin = 0;  // kObject: where the object's text starts in the message
  size_t table_end = 0;    // ... and ends
  size_t table_keys = 0;   // config_table's keys
  size_t entities = 0;     // elements of its collections
  // The first thing wrong with config_table's content. Once there is one, or a cap is passed,
  // nothing more is built (and what was is freed), but keys and entities are still counted so
  // that a cap's error can say how far past it the message went.
  absl::Status table_error;
  // The collections of Kong's hashed sections, whose hashes the decoder takes from `hashes`.
  std::map<std::string, std::shared_ptr<EntityCollection>> hashed_sections;
  // Some entity or collection of `snapshot` is the previous config's, whose text it then views.
  bool views_previous = false;
};

// Reads the message `window` inflates into `snapshot`'s `types` and `metadata` (entities view
// blocks `snapshot` keeps, or `previous`'s text), and the rest into `fields`. The rows of
// collections that are not Kong's hashed sections go to `hasher`. A collection whose rows are the
// same bytes as in `previous` (the config being replaced; may be null) is not built: `snapshot`
// takes over previous's.
//
// Errors: what json_parse.h reports for text that is not JSON or nests past the cap (the
// window's own errors, which come first, are the caller's to check); everything else is in
// `fields`.
absl::Status ReadMessage(TextWindow& window, const DecodeLimits& limits, const Snapshot* previous,
                         Snapshot& snapshot, CollectionHasher& hasher, MessageFields& fields);

// 32 lowercase hex chars, the form of every hash in the protocol.
bool IsLowerHexHash(absl::string_view text);

}  // namespace tether::config
