#include "sidecar/config/message_reader.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "rapidjson/reader.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/config/json_parse.h"

namespace tether::config {
namespace {

using rapidjson::SizeType;

// The `hashes` key for the whole config (kong-protocol.md §3.2).
constexpr absl::string_view kConfigHashKey = "config";

// The target of KongJsonEvents for a whole message. Depths count the containers open: inside the
// message object 1, config_table 2, a collection 3, a row 4.
class MessageHandler {
 public:
  MessageHandler(TextWindow& window, TextWindow::Stream& stream, const DecodeLimits& limits,
                 const Snapshot* previous, Snapshot& snapshot, CollectionHasher& hasher,
                 MessageFields& fields)
      : window_(window),
        stream_(stream),
        limits_(limits),
        previous_(previous),
        snapshot_(snapshot),
        rows_(snapshot),
        hasher_(hasher),
        fields_(fields) {}

  bool Null() { return OnScalar(JsonScalar{}); }
  bool Bool(bool b) { return OnScalar(JsonScalar::Of(JsonScalar::Kind::kBool, &JsonScalar::b, b)); }
  bool Int64(int64_t i) {
    return OnScalar(JsonScalar::Of(JsonScalar::Kind::kInt64, &JsonScalar::i, i));
  }
  bool Uint64(uint64_t u) {
    return OnScalar(JsonScalar::Of(JsonScalar::Kind::kUint64, &JsonScalar::u, u));
  }
  bool Double(double d) {
    return OnScalar(JsonScalar::Of(JsonScalar::Kind::kDouble, &JsonScalar::d, d));
  }
  bool String(const char* text, SizeType length, bool) {
    return OnScalar(JsonScalar::Of(JsonScalar::Kind::kString, &JsonScalar::text,
                                   absl::string_view(text, length)));
  }
  bool Key(const char* text, SizeType length, bool);
  bool StartObject() { return OnStart(/*object=*/true); }
  bool StartArray() { return OnStart(/*object=*/false); }
  bool EndObject(SizeType) { return OnEnd(/*object=*/true); }
  bool EndArray(SizeType) { return OnEnd(/*object=*/false); }

 private:
  enum class TopKey { kOther, kType, kConfigHash, kHashes, kTimestamp, kConfigTable };

  bool OnScalar(const JsonScalar& scalar);
  bool OnStart(bool object);
  bool OnEnd(bool object);

  void TopLevelValue(const JsonScalar* scalar, bool object);
  void HashesValue(const JsonScalar* scalar);
  void BeginTable();
  void TableKey(absl::string_view name);
  void TableValue(const JsonScalar* scalar, bool object);
  void Element(bool object);
  void IdValue(const JsonScalar* scalar);
  void SkipPreviousRow();
  void FinishRow();
  void FinishCollection();

  // Writes `scalar` into the metadata value being read (null: checks what the writer was just
  // given), and refuses the message once the metadata passes its cap.
  void WriteMetadata(const JsonScalar* scalar);
  void FinishMetadata();

  // A row's primary key: where the CP sent it in the message, when without escapes (nearly
  // always), else a copy the snapshot keeps.
  struct Id {
    size_t offset = 0;
    size_t size = 0;
    std::optional<absl::string_view> kept;
  };
  Id KeepId(absl::string_view decoded);
  // The row just read, as the snapshot keeps it: previous's entity when it has the same bytes,
  // else a copy of the window's text.
  Entity KeepRow(absl::string_view json, const Id& id);
  // previous's `entity` as the row just read, and the rows after it as the next to compare.
  Entity TakePrevious(const Entity& entity);

  // The collection being read's counterpart in the config being replaced, or null.
  CollectionPtr PreviousCollection() const {
    if (previous_ == nullptr) return nullptr;
    const auto it = previous_->types.find(member_);
    return it == previous_->types.end() ? nullptr : it->second;
  }
  // The collection turned out not to be previous's: the rows read so far go into it, and to the
  // hasher for a collection it hashes.
  void LeavePrevious();

  void Fail(absl::Status status);
  void StopBuilding();
  std::string RowPath(size_t index) const {
    return absl::StrCat("config_table.", PathKey(member_), "[", index, "]");
  }

  TextWindow& window_;
  TextWindow::Stream& stream_;
  const DecodeLimits& limits_;
  const Snapshot* const previous_;
  Snapshot& snapshot_;
  TextAppender rows_;  // the rows that are not previous's
  CollectionHasher& hasher_;
  MessageFields& fields_;

  int depth_ = 0;
  TopKey top_key_ = TopKey::kOther;
  bool in_hashes_ = false;      // the container at depth 2 is the current `hashes`
  std::string hashes_key_;      // the key being read in `hashes`
  bool in_table_ = false;       // the container at depth 2 is the current config_table
  size_t table_begin_ = 0;      // where it starts in the message
  bool building_ = false;       // the table's content is still being built
  std::string member_;          // the config_table key being read
  bool in_collection_ = false;  // the container at depth 3 is a collection
  std::shared_ptr<EntityCollection> collection_;  // ... being built
  bool hashed_ = false;                           // ... by the hasher (not a section Kong hashes)
  // The collection's counterpart in the config being replaced, or null.
  CollectionPtr previous_collection_;
  // Every row of the collection so far (same_rows_ of them) is previous_collection_'s own entity
  // at the same place: none is in collection_ yet (an unchanged collection is taken over whole, so
  // building its list of rows would be wasted) and none went to the hasher.
  bool same_as_previous_ = false;
  size_t same_rows_ = 0;
  absl::string_view id_key_;  // its primary key: id, or key for parameters
  size_t row_index_ = 0;      // the element of the collection being read
  // The row of previous_collection_ that the next row is compared with before it is parsed: the
  // one after the last row found there.
  size_t next_previous_ = 0;
  bool in_row_ = false;  // the container at depth 4 is a row being built
  size_t row_begin_ = 0;
  const Entity* skipped_ = nullptr;  // ... which was previous's, and not parsed
  bool at_id_ = false;               // the row's next value is its primary key's
  std::optional<Id> id_;
  int metadata_depth_ = 0;  // > 0: inside a metadata container value, this deep
  size_t metadata_bytes_ = 0;
  rapidjson::StringBuffer metadata_json_;
  rapidjson::Writer<rapidjson::StringBuffer> metadata_writer_{metadata_json_};
};

bool MessageHandler::Key(const char* text, SizeType length, bool) {
  const absl::string_view key(text, length);
  if (metadata_depth_ > 0) {
    metadata_writer_.Key(text, length);
    WriteMetadata(nullptr);
    return true;
  }
  if (depth_ == 1) {
    top_key_ = key == "type"           ? TopKey::kType
               : key == "config_hash"  ? TopKey::kConfigHash
               : key == "hashes"       ? TopKey::kHashes
               : key == "timestamp"    ? TopKey::kTimestamp
               : key == "config_table" ? TopKey::kConfigTable
                                       : TopKey::kOther;
  } else if (depth_ == 2 && in_hashes_) {
    hashes_key_.assign(key.data(), key.size());
  } else if (depth_ == 2 && in_table_) {
    TableKey(key);
  } else if (depth_ == 4 && in_row_) {
    at_id_ = key == id_key_;
  }
  return true;
}

bool MessageHandler::OnScalar(const JsonScalar& scalar) {
  if (metadata_depth_ > 0) {
    WriteMetadata(&scalar);
    return true;
  }
  switch (depth_) {
    case 0:
      fields_.is_object = false;
      break;
    case 1:
      TopLevelValue(&scalar, false);
      break;
    case 2:
      if (in_hashes_) HashesValue(&scalar);
      if (in_table_) TableValue(&scalar, false);
      break;
    case 3:
      if (in_collection_) Element(/*object=*/false);
      break;
    case 4:
      if (in_row_ && at_id_) IdValue(&scalar);
      break;
    default:
      break;
  }
  return true;
}

bool MessageHandler::OnStart(bool object) {
  if (metadata_depth_ > 0) {
    ++depth_;
    ++metadata_depth_;
    object ? metadata_writer_.StartObject() : metadata_writer_.StartArray();
    WriteMetadata(nullptr);
    return true;
  }
  switch (depth_) {
    case 0:
      fields_.is_object = object;
      break;
    case 1:
      TopLevelValue(nullptr, object);
      break;
    case 2:
      if (in_hashes_) HashesValue(nullptr);
      if (in_table_) TableValue(nullptr, object);
      break;
    case 3:
      if (in_collection_) Element(object);
      break;
    case 4:
      if (in_row_ && at_id_) IdValue(nullptr);
      break;
    default:
      break;
  }
  ++depth_;
  return true;
}

bool MessageHandler::OnEnd(bool object) {
  --depth_;
  if (metadata_depth_ > 0) {
    object ? metadata_writer_.EndObject() : metadata_writer_.EndArray();
    if (--metadata_depth_ == 0) FinishMetadata();
    return true;
  }
  // depth_ is now the level of the container that holds the one that ended.
  if (depth_ == 3 && in_row_) {
    FinishRow();
  } else if (depth_ == 2 && in_collection_) {
    FinishCollection();
  } else if (depth_ == 1 && in_table_) {
    fields_.table_begin = table_begin_;
    fields_.table_end = stream_.Tell();
    in_table_ = false;
  } else if (depth_ == 1) {
    in_hashes_ = false;
  }
  return true;
}

void MessageHandler::TopLevelValue(const JsonScalar* scalar, bool object) {
  const bool is_string = scalar != nullptr && scalar->kind == JsonScalar::Kind::kString;
  switch (top_key_) {
    case TopKey::kType:
      fields_.type = is_string ? std::optional<std::string>(scalar->text) : std::nullopt;
      break;
    case TopKey::kConfigHash:
      fields_.has_config_hash = true;
      fields_.config_hash = is_string ? std::optional<std::string>(scalar->text) : std::nullopt;
      break;
    case TopKey::kTimestamp:
      // Informational only (Kong's DP just logs it), so a non-number is ignored rather than fatal.
      fields_.timestamp = scalar != nullptr ? scalar->Number() : std::nullopt;
      break;
    case TopKey::kHashes:
      fields_.hashes.clear();
      fields_.hashes_error = absl::OkStatus();
      in_hashes_ = scalar == nullptr && object;
      if (!in_hashes_) fields_.hashes_error = absl::InvalidArgumentError("hashes is not an object");
      break;
    case TopKey::kConfigTable:
      if (scalar == nullptr && object) {
        BeginTable();
      } else {
        fields_.config_table = MessageFields::Table::kNotObject;
      }
      break;
    case TopKey::kOther:
      break;
  }
}

void MessageHandler::HashesValue(const JsonScalar* scalar) {
  if (!fields_.hashes_error.ok()) return;
  if (scalar == nullptr || scalar->kind != JsonScalar::Kind::kString) {
    fields_.hashes_error = absl::InvalidArgumentError(
        absl::StrCat("hashes.", PathKey(hashes_key_), " is not a string"));
    return;
  }
  if (hashes_key_ != kConfigHashKey && !protocol::IsHashedSection(hashes_key_)) return;
  if (!IsLowerHexHash(scalar->text)) {
    fields_.hashes_error = absl::InvalidArgumentError(
        absl::StrCat("hashes.", hashes_key_, ": want 32 lowercase hex chars"));
    return;
  }
  fields_.hashes[hashes_key_] = std::string(scalar->text);
}

void MessageHandler::BeginTable() {
  // A repeated config_table replaces what the earlier one built.
  StopBuilding();
  fields_.config_table = MessageFields::Table::kObject;
  fields_.table_keys = 0;
  fields_.entities = 0;
  fields_.table_error = absl::OkStatus();
  metadata_bytes_ = 0;
  building_ = true;
  in_table_ = true;
  table_begin_ = stream_.Tell() - 1;
}

void MessageHandler::TableKey(absl::string_view name) {
  member_.assign(name.data(), name.size());
  if (++fields_.table_keys > limits_.max_types) StopBuilding();
  if (building_ && (snapshot_.types.find(name) != snapshot_.types.end() ||
                    snapshot_.metadata.find(member_) != snapshot_.metadata.end())) {
    // Kong would keep the last; refusing is safer than serving a config that means two things.
    Fail(absl::InvalidArgumentError(
        absl::StrCat("config_table.", PathKey(name), ": duplicate key")));
  }
}

// Every key of config_table that does not start with `_` and holds an array is an entity
// collection, even an empty one (decoder.h); anything else is metadata.
void MessageHandler::TableValue(const JsonScalar* scalar, bool object) {
  if (scalar == nullptr && !object && !absl::StartsWith(member_, "_")) {
    in_collection_ = true;
    row_index_ = 0;
    next_previous_ = 0;
    if (!building_) return;
    collection_ = std::make_shared<EntityCollection>();
    snapshot_.types.emplace(member_, collection_);
    hashed_ = !protocol::IsHashedSection(member_);
    if (hashed_) hasher_.Begin(collection_);
    previous_collection_ = PreviousCollection();
    same_as_previous_ = previous_collection_ != nullptr;
    same_rows_ = 0;
    // kong-protocol.md §7.3: the primary key is `id`, except for `parameters`.
    id_key_ = member_ == "parameters" ? "key" : "id";
    return;
  }
  if (!building_) return;
  metadata_json_.Clear();
  metadata_writer_.Reset(metadata_json_);
  if (scalar != nullptr) {
    WriteMetadata(scalar);
    FinishMetadata();
    return;
  }
  metadata_depth_ = 1;
  object ? metadata_writer_.StartObject() : metadata_writer_.StartArray();
  WriteMetadata(nullptr);
}

void MessageHandler::Element(bool object) {
  // Counted past every cap, so that the error can say how many there were.
  if (++fields_.entities > limits_.max_entities) StopBuilding();
  if (building_) {
    if (!object) {
      Fail(absl::InvalidArgumentError(absl::StrCat(RowPath(row_index_), ": not an object")));
    } else {
      in_row_ = true;
      row_begin_ = stream_.Tell() - 1;  // just past the '{'
      window_.Pin(row_begin_);
      at_id_ = false;
      id_.reset();
      SkipPreviousRow();
    }
  }
  // Paths name the element being read until the next one starts.
  if (!in_row_) ++row_index_;
}

void MessageHandler::IdValue(const JsonScalar* scalar) {
  // The last member with the key's name counts, as in Kong's Lua table.
  const bool ok =
      scalar != nullptr && scalar->kind == JsonScalar::Kind::kString && !scalar->text.empty();
  id_ = ok ? std::optional<Id>(KeepId(scalar->text)) : std::nullopt;
}

MessageHandler::Id MessageHandler::KeepId(absl::string_view decoded) {
  // RapidJSON parses a string on a local copy of the stream and writes its position back after
  // the handler returns, so the stream is still at the string's opening quote here. That quote,
  // the decoded bytes with no backslash among them and a closing quote right after can only be a
  // string sent without escapes. Anything else (an escape, or a RapidJSON whose stream has moved
  // on) takes the copy. The row is pinned, so the window holds the string.
  const size_t open = stream_.Tell();
  const size_t close = open + 1 + decoded.size();
  if (window_.At(open) == '"' && window_.At(close) == '"') {
    const absl::string_view raw = window_.Text(open + 1, close);
    if (raw == decoded && raw.find('\\') == absl::string_view::npos) {
      return Id{open + 1, decoded.size(), std::nullopt};
    }
  }
  return Id{0, decoded.size(), snapshot_.Keep(std::string(decoded))};
}

// A row that starts with the bytes of previous's next row is that row, whose end those bytes fix:
// the stream skips to its closing brace, so that the parser reads none of it. The decoder read
// those bytes and accepted them as a row before, under the same limits, so parsing them again
// could find nothing new. In a change, that is nearly every row.
void MessageHandler::SkipPreviousRow() {
  skipped_ = nullptr;
  if (previous_collection_ == nullptr) return;
  const std::vector<Entity>& items = previous_collection_->items;
  if (next_previous_ >= items.size()) return;
  const Entity& candidate = items[next_previous_];
  const size_t end = row_begin_ + candidate.json.size();
  if (!stream_.Reaches(end) || window_.Text(row_begin_, end) != candidate.json) return;
  stream_.SkipTo(end - 1);
  skipped_ = &candidate;
}

void MessageHandler::FinishRow() {
  in_row_ = false;
  const size_t index = row_index_++;
  if (!building_) return;
  if (skipped_ == nullptr && !id_.has_value()) {
    window_.Unpin();
    Fail(absl::InvalidArgumentError(absl::StrCat(RowPath(index), ": missing string ", id_key_)));
    return;
  }
  const Entity entity = skipped_ != nullptr
                            ? TakePrevious(*skipped_)
                            : KeepRow(window_.Text(row_begin_, stream_.Tell()), *id_);
  window_.Unpin();
  if (same_as_previous_) {
    const std::vector<Entity>& before = previous_collection_->items;
    if (same_rows_ < before.size() && before[same_rows_].json.data() == entity.json.data()) {
      ++same_rows_;
      return;
    }
    // The first difference: from here the collection is new, and hashed from its first row.
    LeavePrevious();
  }
  collection_->items.push_back(entity);
  if (hashed_) hasher_.AddRow(entity.json);
}

Entity MessageHandler::KeepRow(absl::string_view json, const Id& id) {
  const absl::string_view id_text =
      id.kept.has_value() ? *id.kept : window_.Text(id.offset, id.offset + id.size);
  if (previous_collection_ != nullptr) {
    // Not previous's next row (SkipPreviousRow): a row that moved, found by its id.
    const Entity* before = previous_collection_->Find(id_text);
    if (before != nullptr && before->json == json) return TakePrevious(*before);
  }
  const absl::string_view kept = rows_.Add(json);
  if (id.kept.has_value()) return Entity{*id.kept, kept};
  return Entity{kept.substr(id.offset - row_begin_, id.size), kept};
}

Entity MessageHandler::TakePrevious(const Entity& entity) {
  fields_.views_previous = true;
  next_previous_ = static_cast<size_t>(&entity - previous_collection_->items.data()) + 1;
  return entity;
}

void MessageHandler::LeavePrevious() {
  same_as_previous_ = false;
  const std::vector<Entity>& before = previous_collection_->items;
  // A changed collection is nearly always about as long as it was.
  collection_->items.reserve(before.size());
  collection_->items.assign(before.begin(), before.begin() + static_cast<ptrdiff_t>(same_rows_));
  if (!hashed_) return;
  for (const Entity& entity : collection_->items) hasher_.AddRow(entity.json);
}

void MessageHandler::FinishCollection() {
  in_collection_ = false;
  if (!building_) return;
  if (same_as_previous_ && same_rows_ == previous_collection_->items.size()) {
    // Unchanged since the config being replaced: that collection, its index and hash are taken
    // over now rather than built and then shared (sharing.h), so the copy read here goes before
    // the peak. Its rows view the previous config's text, which the snapshot then keeps too.
    snapshot_.types[member_] = previous_collection_;
    fields_.views_previous = true;
    collection_.reset();
    hasher_.Drop();
    return;
  }
  if (same_as_previous_) LeavePrevious();  // fewer rows than before, all the same so far
  std::shared_ptr<EntityCollection> collection = std::move(collection_);
  if (const std::optional<size_t> duplicate = collection->BuildIndex(); duplicate.has_value()) {
    Fail(absl::InvalidArgumentError(absl::StrCat(RowPath(*duplicate), ": duplicate ", id_key_, " ",
                                                 Quote(collection->items[*duplicate].id))));
    return;
  }
  // The rows were appended one by one; the spare capacity would be held as long as the config.
  collection->items.shrink_to_fit();
  if (protocol::IsHashedSection(member_)) {
    fields_.hashed_sections[member_] = std::move(collection);
  } else {
    hasher_.End();
  }
}

void MessageHandler::WriteMetadata(const JsonScalar* scalar) {
  // The cap is checked before a string is written (its escaped form is at least as long) and
  // after every event, so the JSON never grows far past it.
  const size_t used = metadata_bytes_ + member_.size() + metadata_json_.GetSize();
  const bool fits = used <= limits_.max_metadata_bytes &&
                    (scalar == nullptr || scalar->kind != JsonScalar::Kind::kString ||
                     scalar->text.size() <= limits_.max_metadata_bytes - used);
  if (fits && scalar != nullptr) {
    auto& w = metadata_writer_;
    switch (scalar->kind) {
      case JsonScalar::Kind::kNull:
        w.Null();
        break;
      case JsonScalar::Kind::kBool:
        w.Bool(scalar->b);
        break;
      case JsonScalar::Kind::kInt64:
        w.Int64(scalar->i);
        break;
      case JsonScalar::Kind::kUint64:
        w.Uint64(scalar->u);
        break;
      case JsonScalar::Kind::kDouble:
        w.Double(scalar->d);
        break;
      case JsonScalar::Kind::kString:
        w.String(scalar->text.data(), static_cast<SizeType>(scalar->text.size()));
        break;
    }
    WriteMetadata(nullptr);
    return;
  }
  if (fits) return;
  Fail(absl::ResourceExhaustedError(
      absl::StrCat("config_table metadata ", PathKey(member_), " takes the metadata over ",
                   limits_.max_metadata_bytes, " bytes (--cluster-max-metadata)")));
}

void MessageHandler::FinishMetadata() {
  if (!building_) return;
  metadata_bytes_ += member_.size() + metadata_json_.GetSize();
  snapshot_.metadata.emplace(member_,
                             std::string(metadata_json_.GetString(), metadata_json_.GetSize()));
}

void MessageHandler::Fail(absl::Status status) {
  if (fields_.table_error.ok()) fields_.table_error = std::move(status);
  StopBuilding();
}

// Frees what was built (the message will be refused) and builds no more. Counting goes on.
void MessageHandler::StopBuilding() {
  building_ = false;
  snapshot_.types.clear();
  snapshot_.metadata.clear();
  fields_.hashed_sections.clear();
  fields_.views_previous = false;
  collection_.reset();
  previous_collection_ = nullptr;
  same_as_previous_ = false;
  hasher_.Drop();
  in_row_ = false;
  window_.Unpin();
  metadata_depth_ = 0;
  metadata_json_.ShrinkToFit();
}

}  // namespace

absl::Status ReadMessage(TextWindow& window, const DecodeLimits& limits, const Snapshot* previous,
                         Snapshot& snapshot, CollectionHasher& hasher, MessageFields& fields) {
  TextWindow::Stream stream(window);
  MessageHandler handler(window, stream, limits, previous, snapshot, hasher, fields);
  KongJsonEvents<MessageHandler> events(handler, limits.max_json_depth);
  const rapidjson::ParseResult result = rapidjson::Reader().Parse<kParseJsonFlags>(stream, events);
  return JsonParseStatus(result, events.failure(), limits.max_json_depth);
}

bool IsLowerHexHash(absl::string_view text) {
  return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

}  // namespace tether::config
