// tetherctl's rendering of status, config and updates (see output.h).
#include "client/cli/output.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "protocol/config_table_json.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace tether::ctl {
namespace {

namespace v1 = ::tether::v1;

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// An enum value as people read it: its proto name without the type prefix that the proto style
// requires ("CONNECTION_STATE_CONNECTED" -> "CONNECTED"); JSON output keeps the proto names.
std::string Label(const std::string& name, absl::string_view prefix) {
  return std::string(absl::StripPrefix(name, prefix));
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

// The length of the UTF-8 sequence starting at s[i], or 0 when it is not one (a stray
// continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut short).
size_t Utf8Length(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t n = 0;
  unsigned char low = 0x80;  // bounds of the second byte
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

// A UTF-8 C1 control (U+0080..U+009F) at s[i], whose sequence is 2 bytes long.
bool IsC1(absl::string_view s, size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
}

// JSON escapes C0 controls but may leave DEL and C1 raw, which terminals obey too. Outside its
// strings a JSON text is plain ASCII, so escaping these bytes anywhere keeps it valid and equal.
std::string EscapeDelAndC1(absl::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '\x7f') {
      out.append("\\u007f");
    } else if (i + 1 < json.size() && IsC1(json, i)) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(json[++i]));
    } else {
      out.push_back(json[i]);
    }
  }
  return out;
}

std::string OrDash(absl::string_view s) { return s.empty() ? "-" : std::string(s); }

std::string Short(absl::string_view hash) {
  return hash.empty() ? "-" : std::string(hash.substr(0, 12));
}

// Rows of cells printed with each column as wide as its widest cell. Every cell is escaped
// (Printable) here, once, since most of them hold text from tether.
std::string Table(std::vector<std::vector<std::string>> rows, absl::string_view indent) {
  std::vector<size_t> widths;
  for (auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = Printable(row[i]);
      widths[i] = std::max(widths[i], row[i].size());
    }
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

// Parses `json` (an entity or a metadata value as tether holds it) into `into`.
bool ParseInto(const std::string& json, rapidjson::Document& into) {
  into.Parse(json.data(), json.size());
  return !into.HasParseError();
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
      // Table escapes line breaks, so one entity stays one line.
      return std::string(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return "-";
}

}  // namespace

std::string Printable(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      if (c == '\\') out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      absl::StrAppend(&out, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
      ++i;
    } else if (const size_t n = c >= 0x80 ? Utf8Length(s, i) : 0; n == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", c);  // C0, DEL, or not UTF-8
      ++i;
    } else if (IsC1(s, i)) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(s[i + 1]));
      i += n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::string HumanStatus(const v1::Status& s, absl::Time now) {
  const v1::ControlPlaneStatus& cp = s.control_plane();
  std::string state = Label(v1::ConnectionState_Name(cp.state()), "CONNECTION_STATE_");
  if (cp.state() == v1::CONNECTION_STATE_CONNECTED) {
    absl::StrAppend(&state, " since ", When(cp.connected_since(), now));
  } else if (cp.state() == v1::CONNECTION_STATE_DISCONNECTED && cp.has_retry_in()) {
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
      {"hash", absl::StrCat(OrDash(config.hash()), " (source ",
                            Label(v1::Source_Name(config.source()), "SOURCE_"), ")")},
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
  absl::StrAppend(&out, "CONTROL PLANE\n", Table(std::move(cp_rows), "  "));
  absl::StrAppend(&out, "CONFIG\n", Table(std::move(config_rows), "  "));
  absl::StrAppend(&out, "NODE\n", Table(std::move(node_rows), "  "));
  absl::StrAppend(&out, "SUBSCRIBERS (", s.subscribers_size(), ")\n");
  if (s.subscribers_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"CLIENT", "PEER", "MODE", "TYPES", "SENT", "ACKED", "UPDATES", "SINCE"}};
    std::vector<std::string> nacks;
    for (const v1::SubscriberStatus& sub : s.subscribers()) {
      rows.push_back(
          {OrDash(sub.client_id()), OrDash(sub.peer()), Label(v1::Mode_Name(sub.mode()), "MODE_"),
           sub.entity_types().empty() ? "all" : absl::StrJoin(sub.entity_types(), ","),
           Short(sub.last_sent_hash()), Short(sub.acked_hash()), absl::StrCat(sub.updates_sent()),
           IsSet(sub.connected_since())
               ? absl::StrCat(Age(now - ToTime(sub.connected_since())), " ago")
               : "-"});
      if (!sub.nacked_hash().empty() || !sub.nack_error().empty()) {
        nacks.push_back(absl::StrCat("  ", Printable(sub.client_id()), " nacked ",
                                     Printable(Short(sub.nacked_hash())), ": ",
                                     Printable(sub.nack_error()), "\n"));
      }
    }
    absl::StrAppend(&out, Table(std::move(rows), "  "), absl::StrJoin(nacks, ""));
  }
  return out;
}

std::string HumanConfig(const client::Mirror& mirror) {
  std::string out = absl::StrFormat(
      "config_hash  %s\nsource       %s\nentities     %zu\n\n", Printable(mirror.config_hash),
      Label(v1::Source_Name(mirror.source), "SOURCE_"), mirror.EntityCount());
  std::vector<std::vector<std::string>> rows = {{"TYPE", "ID", "NAME"}};
  for (const auto& [type, entities] : mirror.entities) {
    for (const auto& [id, json] : entities) rows.push_back({type, id, EntityLabel(json)});
  }
  absl::StrAppend(&out, Table(std::move(rows), ""));
  return out;
}

std::string UpdateLine(const client::Mirror& mirror, const client::UpdateInfo& info,
                       absl::Time now) {
  std::vector<std::string> counts;
  for (const auto& [type, rows] : mirror.entities) {
    counts.push_back(absl::StrCat(Printable(type), "=", rows.size()));
  }
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()), " ",
      Printable(mirror.config_hash), " ", info.full ? "full " : "delta", " +", info.upserts, " -",
      info.removals, info.full ? "" : absl::StrCat(" base=", Printable(Short(info.base_hash))),
      " entities=", mirror.EntityCount(), counts.empty() ? "" : " ", absl::StrJoin(counts, " "));
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
  return EscapeDelAndC1(out);
}

// Entities are raw JSON bytes in the API, which protobuf's JSON printer would show as base64; so
// this document is written with RapidJSON. Entities come from tether over the network, so they
// are checked and reformatted (ValueForm::kReformatted).
absl::StatusOr<std::string> ConfigJson(const client::Mirror& mirror) {
  rapidjson::StringBuffer buffer;
  protocol::JsonWriter writer(buffer);
  writer.SetIndent(' ', 2);
  auto str = [&writer](absl::string_view s) {
    return writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), true);
  };
  writer.StartObject();
  str("config_hash");
  str(mirror.config_hash);
  str("source");
  str(v1::Source_Name(mirror.source));
  str("hashes");
  writer.StartObject();
  for (const auto& [key, hash] : mirror.hashes) {
    str(key);
    str(hash);
  }
  writer.EndObject();
  str("config");
  protocol::ConfigTableView table;
  for (const auto& [key, json] : mirror.metadata) table.metadata.emplace_back(key, json);
  for (const auto& [type, rows] : mirror.entities) {
    protocol::ConfigTableView::Rows& out =
        table.types.emplace_back(type, protocol::ConfigTableView::Rows{}).second;
    for (const auto& [id, json] : rows) out.emplace_back(id, json);
  }
  if (absl::Status st = WriteConfigTable(table, protocol::ValueForm::kReformatted, writer);
      !st.ok()) {
    return st;
  }
  writer.EndObject();
  return EscapeDelAndC1(absl::string_view(buffer.GetString(), buffer.GetSize()));
}

}  // namespace tether::ctl
