#include "sidecar/config/compact_json.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tether::config {
namespace {

std::string WriterJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer out;
  out.Put('>');  // appends, keeping what is there
  AppendCompactJson(value, out);
  return std::string(out.GetString() + 1, out.GetSize() - 1);
}

// Parsed the way the decoder parses numbers: full precision, integers as integers.
rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  EXPECT_FALSE(document.HasParseError()) << json;
  return document;
}

// Byte for byte what rapidjson::Writer writes, for every kind of value and number the decoder
// can hold, and strings that need escapes at every position of the eight-byte fast path.
TEST(CompactJsonTest, MatchesRapidJsonWriter) {
  const std::string cases[] = {
      "null",
      "true",
      "false",
      "{}",
      "[]",
      R"({"a":[1,{"b":null},[],{}],"c":"d"})",
      R"({"dup":1,"dup":2})",
      R"([0,-1,1,2147483647,2147483648,-2147483649,9223372036854775807,-9223372036854775808])",
      R"([18446744073709551615,18446744073709551616,-18446744073709551617])",
      R"([0.0,-0.0,0.1,0.9,1e20,1e21,1e-7,123.456,100.0,5e-324,1.7976931348623157e308])",
      R"(["","a","\"","\\","\/","\b\f\n\r\t","\u0000\u0001\u001f\u007f","é😀"])",
      R"({"quote \" in a key":"x","\u0000":"nul key"})",
  };
  for (const std::string& json : cases) {
    SCOPED_TRACE(json);
    const rapidjson::Document document = Parse(json);
    EXPECT_EQ(Compact(document), WriterJson(document));
  }
  for (int length = 0; length <= 24; ++length) {
    for (int at = 0; at < length; ++at) {
      for (const char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', '\x80', '\xff'}) {
        std::string text(static_cast<size_t>(length), 'x');
        text[static_cast<size_t>(at)] = special;
        rapidjson::Value value(text.data(), static_cast<rapidjson::SizeType>(text.size()));
        ASSERT_EQ(Compact(value), WriterJson(value)) << length << " " << at << " " << int{special};
      }
    }
  }
}

// The example config, every row and the whole table.
TEST(CompactJsonTest, MatchesRapidJsonWriterOnTheExampleConfig) {
  std::ifstream in(std::string(TETHER_SOURCE_DIR) + "/deploy/examples/kong-config.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const rapidjson::Document table = Parse(json);
  ASSERT_TRUE(table.IsObject());
  EXPECT_EQ(Compact(table), WriterJson(table));
  for (const auto& member : table.GetObject()) {
    if (!member.value.IsArray()) continue;
    for (const rapidjson::Value& row : member.value.GetArray()) {
      EXPECT_EQ(Compact(row), WriterJson(row));
    }
  }
}

}  // namespace
}  // namespace tether::config
