// Row and Collection: the JSON-writing vocabulary of the config generator, so that each
// generated row reads like the exported JSON it imitates (config_generator.cc, nested_objects.cc).
//
// Threading: a Row writes to one rapidjson writer; use from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "absl/strings/string_view.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tether::bench {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Row-writing helpers: a key then its value. Kept tiny so that each row below reads like the
// exported JSON.
class Row {
 public:
  explicit Row(JsonWriter& w) : w_(w) { w_.StartObject(); }
  ~Row() { w_.EndObject(); }
  Row(const Row&) = delete;
  Row& operator=(const Row&) = delete;

  Row& Str(const char* key, absl::string_view value) {
    w_.Key(key);
    w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  Row& Int(const char* key, int64_t value) {
    w_.Key(key);
    w_.Int64(value);
    return *this;
  }
  Row& Double(const char* key, double value) {
    w_.Key(key);
    w_.Double(value);
    return *this;
  }
  Row& Bool(const char* key, bool value) {
    w_.Key(key);
    w_.Bool(value);
    return *this;
  }
  Row& Null(const char* key) {
    w_.Key(key);
    w_.Null();
    return *this;
  }
  Row& Strs(const char* key, std::initializer_list<absl::string_view> values) {
    w_.Key(key);
    WriteStrings(values);
    return *this;
  }
  Row& Ints(const char* key, std::initializer_list<int> values) {
    w_.Key(key);
    w_.StartArray();
    for (int value : values) w_.Int(value);
    w_.EndArray();
    return *this;
  }
  // A nested object (plugin config, healthchecks); `fill` writes its members.
  template <typename Fill>
  Row& Object(const char* key, Fill fill) {
    w_.Key(key);
    Row nested(w_);
    fill(nested);
    return *this;
  }
  // Timestamps Kong writes on most core entities.
  Row& Stamps(int64_t created, int64_t updated) {
    return Int("created_at", created).Int("updated_at", updated);
  }

 private:
  void WriteStrings(std::initializer_list<absl::string_view> values) {
    w_.StartArray();
    for (absl::string_view value : values) {
      w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
    w_.EndArray();
  }

  JsonWriter& w_;
};

// Writes `count` rows of collection `name` (omitted when empty, as the CP omits empty ones).
template <typename WriteRow>
void Collection(JsonWriter& w, const char* name, size_t count, WriteRow write_row) {
  if (count == 0) return;
  w.Key(name);
  w.StartArray();
  for (size_t i = 0; i < count; ++i) write_row(i);
  w.EndArray();
}

}  // namespace tether::bench
