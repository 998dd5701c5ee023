// What tetherctl prints: tether's status, config and config updates rendered for people (aligned
// tables, ages relative to `now`) or as JSON for scripts.
//
// Threading: thread-safe (pure functions).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/lib/config_watcher.h"
#include "client/lib/mirror.h"
#include "google/protobuf/message.h"
#include "tether/v1/status.pb.h"

namespace tether::ctl {

// `s` made safe for a terminal: every control character escaped, so that a name, client_id or
// error from tether cannot move the cursor, recolour or retitle the terminal, or forge lines:
// C0 and DEL as \n, \r, \t or \xNN, C1 (U+0080..U+009F) as \uNNNN, bytes that are not UTF-8
// as \xNN, and the backslash itself as \\ so that an escape cannot be forged either. Valid
// UTF-8 text is kept. The human output below applies it to everything that comes from tether.
std::string Printable(absl::string_view s);

// The status as sections (CONTROL PLANE, CONFIG, NODE, SUBSCRIBERS) of aligned rows.
std::string HumanStatus(const tether::v1::Status& s, absl::Time now);

// The config's hash, source and size, then one row per entity: type, id and a name-like label.
std::string HumanConfig(const client::Mirror& mirror);

// One line per watched update: time, hash, full or delta, +upserts -removals, then the entity
// counts.
std::string UpdateLine(const client::Mirror& mirror, const client::UpdateInfo& info,
                       absl::Time now);

// `message` in protobuf's JSON mapping with the .proto field names; one line (newline-terminated)
// unless `pretty`. Like ConfigJson, it holds no raw control character: JSON escapes C0, and DEL
// and C1 are escaped too (\u007f, \u0080..\u009f).
absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message, bool pretty);

// The config as a JSON document: config_hash, source, hashes, and `config` in Kong's flat
// config_table form (metadata keys, then one array per type), so it can be fed back to a CP
// (tether-devcp --config). Each entity keeps its keys and numbers as tether holds them. DataLoss
// when an entity or metadata value is not JSON.
absl::StatusOr<std::string> ConfigJson(const client::Mirror& mirror);

}  // namespace tether::ctl
