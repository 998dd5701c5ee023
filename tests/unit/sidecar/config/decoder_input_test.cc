// What the decoder refuses, and what it accepts at the edges of what it checks: every malformed
// message with its code and message, the caps, UTF-8 and the nesting limit.
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"
#include "sidecar/config/decoder.h"
#include "tests/unit/sidecar/config/decoder_testing.h"

namespace tether::config {
namespace {

using ::testing::HasSubstr;

struct BadCase {
  const char* name;
  std::string frame;  // already compressed
  absl::StatusCode code;
  const char* message;
  DecodeLimits limits = DecodeLimits();
};

std::string Gz(absl::string_view json) { return protocol::Gzip(json); }

DecodeLimits WithInflateCap(size_t bytes) {
  DecodeLimits limits;
  limits.max_inflated_bytes = bytes;
  return limits;
}

template <typename Edit>
DecodeLimits Capped(Edit edit) {
  DecodeLimits limits;
  edit(limits);
  return limits;
}

// Every malformed message is rejected with its code and a message naming what was wrong.
TEST(DecoderTest, RejectsBadMessages) {
  using absl::StatusCode;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_in_table = Message(
      absl::StrCat(R"({"x":[{"id":"a","v":)", std::string(200, '['), std::string(200, ']'), "}]}"));
  const std::string hashes_key_bad = absl::StrCat(R"({"routes":")", kHashA, R"(X"})");
  const BadCase cases[] = {
      {"not gzip", "not gzip at all", StatusCode::kInvalidArgument, "inflate: corrupt"},
      {"bad json", Gz("{\"type\":"), StatusCode::kInvalidArgument, "invalid json at offset 8"},
      {"trailing json", Gz("{}{}"), StatusCode::kInvalidArgument, "invalid json at offset 2"},
      {"nul byte", Gz(std::string("{}\0", 3)), StatusCode::kInvalidArgument, "nul byte"},
      {"invalid utf-8", Gz("{\"type\":\"\xff\"}"), StatusCode::kInvalidArgument, "invalid json"},
      // Not UTF-8 by RFC 3629, each at offset 9: an overlong form, a raw surrogate, a code point
      // past U+10FFFF, a bad continuation byte, a continuation byte without a lead.
      {"overlong", Gz("{\"type\":\"\xC0\x80\"}"), StatusCode::kInvalidArgument,
       "invalid json at offset 9: invalid utf-8"},
      {"raw surrogate", Gz("{\"type\":\"\xED\xA0\x80\"}"), StatusCode::kInvalidArgument,
       "invalid json at offset 9: invalid utf-8"},
      {"past U+10FFFF", Gz("{\"type\":\"\xF4\x90\x80\x80\"}"), StatusCode::kInvalidArgument,
       "invalid json at offset 9: invalid utf-8"},
      {"bad continuation", Gz("{\"type\":\"\xE2\x28\xA1\"}"), StatusCode::kInvalidArgument,
       "invalid json at offset 9: invalid utf-8"},
      {"lone continuation", Gz("{\"type\":\"\x80\"}"), StatusCode::kInvalidArgument,
       "invalid json at offset 9: invalid utf-8"},
      {"number too big", Gz(Message(R"({"x":[{"id":"a","n":1e400}]})")),
       StatusCode::kInvalidArgument, "number too big"},
      {"not an object", Gz("[1]"), StatusCode::kInvalidArgument, "message is not a json object"},
      {"missing type", Gz(R"({"config_table":{}})"), StatusCode::kInvalidArgument,
       "message: missing string type"},
      {"type not a string", Gz(R"({"type":7,"config_table":{}})"), StatusCode::kInvalidArgument,
       "message: missing string type"},
      {"missing config_table", Gz(R"({"type":"reconfigure"})"), StatusCode::kInvalidArgument,
       "missing config_table"},
      {"config_table not an object", Gz(Message("[]")), StatusCode::kInvalidArgument,
       "config_table is not an object"},
      {"row not an object", Gz(Message(R"({"routes":[{"id":"a"},1]})")),
       StatusCode::kInvalidArgument, "config_table.routes[1]: not an object"},
      {"row without id", Gz(Message(R"({"routes":[{"id":"a"},{"id":"b"},{"name":"c"}]})")),
       StatusCode::kInvalidArgument, "config_table.routes[2]: missing string id"},
      {"id not a string", Gz(Message(R"({"services":[{"id":5}]})")), StatusCode::kInvalidArgument,
       "config_table.services[0]: missing string id"},
      {"empty id", Gz(Message(R"({"services":[{"id":""}]})")), StatusCode::kInvalidArgument,
       "config_table.services[0]: missing string id"},
      {"parameter without key", Gz(Message(R"({"parameters":[{"id":"x"}]})")),
       StatusCode::kInvalidArgument, "config_table.parameters[0]: missing string key"},
      {"duplicate id", Gz(Message(R"({"routes":[{"id":"a"},{"id":"a"}]})")),
       StatusCode::kInvalidArgument, "config_table.routes[1]: duplicate id \"a\""},
      {"odd type name quoted", Gz(Message(R"({"we ird":[1]})")), StatusCode::kInvalidArgument,
       "config_table.\"we ird\"[0]: not an object"},
      {"duplicate collection", Gz(Message(R"({"routes":[],"routes":[]})")),
       StatusCode::kInvalidArgument, "config_table.routes: duplicate key"},
      {"config_hash uppercase", Gz(Message("{}", "0123456789ABCDEF0123456789ABCDEF")),
       StatusCode::kInvalidArgument, "config_hash: want 32 lowercase hex chars"},
      {"config_hash short", Gz(Message("{}", "abc")), StatusCode::kInvalidArgument,
       "config_hash: want 32 lowercase hex chars"},
      {"config_hash not a string",
       Gz(R"({"type":"reconfigure","config_hash":5,"config_table":{}})"),
       StatusCode::kInvalidArgument, "config_hash: want 32 lowercase hex chars"},
      {"hashes not an object", Gz(Message("{}", kHashA, "[]")), StatusCode::kInvalidArgument,
       "hashes is not an object"},
      {"hashes value not a string", Gz(Message("{}", kHashA, R"({"routes":1})")),
       StatusCode::kInvalidArgument, "hashes.routes is not a string"},
      {"hashes value not hex", Gz(Message("{}", kHashA, hashes_key_bad)),
       StatusCode::kInvalidArgument, "hashes.routes: want 32 lowercase hex chars"},
      // Found by decode_json_fuzzer: RapidJSON 1.1.0 decodes these escapes to bytes that are
      // not UTF-8, which the entity JSON then served and its proto id and type fields would carry.
      {"lone low surrogate in a value", Gz(Message(R"({"x":[{"id":"a","h":"\ud41d\ude00"}]})")),
       StatusCode::kInvalidArgument,
       "invalid json at offset 98: \\u escape of a lone low surrogate"},
      {"lone low surrogate in an id", Gz(Message(R"({"x":[{"id":"\udfff"}]})")),
       StatusCode::kInvalidArgument, "\\u escape of a lone low surrogate"},
      {"lone low surrogate in a key", Gz(Message(R"({"x\udc00":[]})")),
       StatusCode::kInvalidArgument, "\\u escape of a lone low surrogate"},
      // Found by decode_json_fuzzer: RapidJSON 1.1.0 reads and writes past the buffer for a
      // multi-byte sequence cut off by the end (a heap-buffer-overflow in the ASan build).
      // Long enough that the inflated buffer has no spare capacity for the overrun to land in.
      {"4-byte lead second to last", Gz(absl::StrCat("\"tag", std::string(36, '('), "c\xF2k")),
       StatusCode::kInvalidArgument,
       "invalid json at offset 41: utf-8 sequence cut off by the end"},
      {"3-byte lead last", Gz(absl::StrCat("{\"type\":\"", std::string(40, 'x'), "\xE2")),
       StatusCode::kInvalidArgument,
       "invalid json at offset 49: utf-8 sequence cut off by the end"},
      {"depth bomb", Gz(deep), StatusCode::kResourceExhausted, "nested deeper than 128"},
      {"deep entity", Gz(deep_in_table), StatusCode::kResourceExhausted, "nested deeper than 128"},
      {"inflated cap", Gz(Message("{}")), StatusCode::kResourceExhausted, "inflate: output exceeds",
       WithInflateCap(16)},
      {"entity cap", Gz(Message(R"({"a":[{"id":"1"},{"id":"2"}],"b":[{"id":"3"}]})")),
       StatusCode::kResourceExhausted, "3 entities, more than 2 (--cluster-max-entities)",
       Capped([](DecodeLimits& l) { l.max_entities = 2; })},
      {"type cap", Gz(Message(R"({"a":[],"b":[],"_format_version":"3.0"})")),
       StatusCode::kResourceExhausted, "3 keys, more than 2 (--cluster-max-entity-types)",
       Capped([](DecodeLimits& l) { l.max_types = 2; })},
      {"metadata string cap",
       Gz(Message(absl::StrCat(R"({"_comment":")", std::string(64, 'x'), R"("})"))),
       StatusCode::kResourceExhausted, "metadata _comment takes the metadata over 32 bytes",
       Capped([](DecodeLimits& l) { l.max_metadata_bytes = 32; })},
      {"metadata total cap",
       Gz(Message(R"({"_a":[1,2,3,4,5,6,7,8],"_b":[1,2,3,4,5,6,7,8],"_c":[1,2,3,4,5,6,7,8]})")),
       StatusCode::kResourceExhausted, "metadata _c takes the metadata over 50 bytes",
       Capped([](DecodeLimits& l) { l.max_metadata_bytes = 50; })},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<DecodeResult> result =
        DecodeReconfigure(c.frame, kZeros, c.limits, Source::kControlPlane, kReceivedAt);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), c.code) << result.status();
    EXPECT_THAT(result.status().message(), HasSubstr(c.message));
  }
}

// Escapes that decode to UTF-8 are kept, including the code points on either side of the
// surrogate range and a surrogate pair; only a lone surrogate is refused (RejectsBadMessages).
TEST(DecoderTest, KeepsEscapedCodePointsAroundSurrogates) {
  absl::StatusOr<DecodeResult> result =
      Decode(Message(R"({"x":[{"id":"\ud41d\ud7ff\ud83d\ude00\ue000"}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_NE(result->snapshot, nullptr);
  EXPECT_NE(result->snapshot->Find("x", "\xED\x90\x9D\xED\x9F\xBF\xF0\x9F\x98\x80\xEE\x80\x80"),
            nullptr);
}

// Raw UTF-8 of every length is kept as sent, including the largest code point and text long
// enough to take the decoder's ASCII fast path around it.
TEST(DecoderTest, KeepsRawUtf8) {
  const std::string id = absl::StrCat(std::string(20, 'a'), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80",
                                      "\xF4\x8F\xBF\xBF", std::string(20, 'z'));
  absl::StatusOr<DecodeResult> result =
      Decode(Message(absl::StrCat(R"({"x":[{"id":")", id, R"("}]})")));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_NE(result->snapshot, nullptr);
  EXPECT_NE(result->snapshot->Find("x", id), nullptr);
}

// The depth cap is a setting: nesting at the cap is accepted, one more level is not.
TEST(DecoderTest, DepthCapIsExact) {
  DecodeLimits limits;
  limits.max_json_depth = 6;
  // message(1) > config_table(2) > x(3) > row(4) > v(5) > [6]
  const std::string at_cap = Message(R"({"x":[{"id":"a","v":[[]]}]})");
  const std::string over_cap = Message(R"({"x":[{"id":"a","v":[[[]]]}]})");
  EXPECT_TRUE(Decode(at_cap, kZeros, limits).ok());
  EXPECT_EQ(Decode(over_cap, kZeros, limits).status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tether::config
