// tetherctl's rendering (client/cli/output.h) of text that tether passes on from others: entity
// names from the CP, client_ids and NACK errors from subscribers. None may reach a terminal as a
// control sequence, in the human output or in --json.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli/output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace v1 = ::tether::v1;

// Turns the terminal red, then starts a forged line.
constexpr char kHostile[] = "evil\x1b[31m\nFORGED";

// Whether `s` holds a byte a terminal acts on: C0 (but for the newlines that end lines), DEL, or
// C1 encoded in UTF-8 or as a raw byte.
bool HasControl(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f ||
        (c >= 0x80 && c < 0xa0 && i > 0 && static_cast<unsigned char>(s[i - 1]) == 0xc2)) {
      return true;
    }
    if (c >= 0x80 && c < 0xa0 && (i == 0 || static_cast<unsigned char>(s[i - 1]) < 0x80)) {
      return true;  // a raw 8-bit C1 byte
    }
  }
  return false;
}

TEST(PrintableTest, EscapesEveryControlCharacter) {
  EXPECT_EQ(Printable(kHostile), "evil\\x1b[31m\\nFORGED");
  EXPECT_EQ(Printable("a\tb\rc\x7f"
                      "d\x01"),
            "a\\tb\\rc\\x7fd\\x01");
  // C1 as UTF-8 (U+009B, CSI) and as a lone 8-bit byte.
  EXPECT_EQ(Printable("\xc2\x9b"
                      "31m"),
            "\\u009b31m");
  EXPECT_EQ(Printable("\x9b"
                      "31m"),
            "\\x9b31m");
  // A backslash is escaped, so the output cannot spell a fake escape.
  EXPECT_EQ(Printable("a\\x1b"), "a\\\\x1b");
}

TEST(PrintableTest, KeepsText) {
  EXPECT_EQ(Printable("route-1 (api.example.com)"), "route-1 (api.example.com)");
  EXPECT_EQ(Printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80");
  // Not UTF-8: an overlong form, a cut-short sequence.
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(Printable("\xe2\x82"), "\\xe2\\x82");
}

v1::Status HostileStatus() {
  v1::Status s;
  s.mutable_control_plane()->set_last_error(kHostile);
  s.mutable_node()->set_hostname(kHostile);
  (*s.mutable_node()->mutable_labels())[kHostile] = kHostile;
  v1::SubscriberStatus* sub = s.add_subscribers();
  sub->set_client_id(kHostile);
  sub->set_peer(kHostile);
  sub->add_entity_types(kHostile);
  sub->set_nacked_hash(kHostile);
  sub->set_nack_error(absl::StrCat(kHostile,
                                   "\xc2\x9b"
                                   "2J\x7f"));
  return s;
}

TEST(HumanOutputTest, StatusEscapesClientIdsErrorsAndNames) {
  const std::string out = HumanStatus(HostileStatus(), absl::Now());
  EXPECT_FALSE(HasControl(out)) << out;
  EXPECT_THAT(out, Not(HasSubstr("\nFORGED")));
  EXPECT_THAT(out,
              HasSubstr("evil\\x1b[31m\\nFORGED nacked evil\\x1b[31m\\nFO: evil\\x1b[31m\\nFORGED"
                        "\\u009b2J\\x7f\n"));
}

client::Mirror HostileMirror() {
  client::Mirror m;
  m.config_hash = kHostile;
  m.entities[kHostile][kHostile] = R"({"name":"evil\u001b[31m\nFORGED\u009b2J"})";
  m.entities["routes"]["r1"] = R"({"name":"plain"})";
  return m;
}

TEST(HumanOutputTest, ConfigAndUpdatesEscapeEntityNamesAndTypes) {
  const client::Mirror m = HostileMirror();
  const std::string config = HumanConfig(m);
  EXPECT_FALSE(HasControl(config)) << config;
  EXPECT_THAT(config, HasSubstr("evil\\x1b[31m\\nFORGED\\u009b2J\n"));
  EXPECT_THAT(config, HasSubstr("plain\n"));
  client::UpdateInfo info;
  info.full = false;
  info.base_hash = kHostile;
  const std::string line = UpdateLine(m, info, absl::Now());
  EXPECT_FALSE(HasControl(line)) << line;
}

// --json needs no Printable: JSON escapes C0, and DEL and C1 are escaped on top; the documents
// still parse to the same strings (checked by the escapes' spelling).
TEST(JsonOutputTest, HoldsNoRawControlCharacter) {
  absl::StatusOr<std::string> status = ProtoJson(HostileStatus(), /*pretty=*/true);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_FALSE(HasControl(*status)) << *status;
  EXPECT_THAT(*status, HasSubstr(R"("client_id": "evil\u001b[31m\nFORGED")"));
  EXPECT_THAT(*status, HasSubstr(R"(\u009b2J\u007f")"));
  absl::StatusOr<std::string> line = ProtoJson(HostileStatus(), /*pretty=*/false);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_FALSE(HasControl(*line)) << *line;

  // RapidJSON escapes C0 in upper case (\u001B); DEL and C1 are escaped here, in lower case as
  // protobuf's printer does.
  absl::StatusOr<std::string> config = ConfigJson(HostileMirror());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(HasControl(*config)) << *config;
  EXPECT_THAT(*config, HasSubstr(R"("name": "evil\u001B[31m\nFORGED\u009b2J")"));
}

}  // namespace
}  // namespace tether::ctl
