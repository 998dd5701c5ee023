#include "protocol/kong_hash.h"

#include <openssl/evp.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace tether::protocol {
namespace {

constexpr unsigned kTestParseFlags = rapidjson::kParseFullPrecisionFlag;

std::string Md5Raw(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string Md5Hex(absl::string_view data) { return absl::BytesToHexString(Md5Raw(data)); }

rapidjson::Document Parse(absl::string_view json) {
  rapidjson::Document document;
  document.Parse<kTestParseFlags>(json.data(), json.size());
  EXPECT_FALSE(document.HasParseError())
      << rapidjson::GetParseError_En(document.GetParseError()) << " in " << json;
  return document;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

rapidjson::Document LoadVectors() {
  return Parse(ReadFile(std::string(TETHER_FIXTURES_DIR) + "/kong/config_hash_vectors.json"));
}

// Kong's spec vectors (config_hash_vectors.json), each hashed as calculate_config_hash does.
TEST(KongHashTest, MatchesEveryKongVector) {
  const rapidjson::Document vectors = LoadVectors();
  ASSERT_TRUE(vectors.IsObject());
  ASSERT_TRUE(vectors.HasMember("vectors") && vectors["vectors"].IsArray());
  int checked = 0;
  for (const rapidjson::Value& vector : vectors["vectors"].GetArray()) {
    SCOPED_TRACE(vector["name"].GetString());
    const ConfigHashes hashes = CalculateConfigHash(vector["input"]);
    EXPECT_EQ(hashes.config_hash, vector["config_hash"].GetString());
    if (vector["input"].IsObject()) {
      EXPECT_EQ(hashes.hashes.size(), 6u);
      EXPECT_EQ(hashes.hashes.at("config"), hashes.config_hash);
    } else {
      EXPECT_TRUE(hashes.hashes.empty());
    }
    ++checked;
  }
  // The file lists 11 vectors; a silently empty loop must not pass.
  EXPECT_GE(checked, 11);
}

// The per-section hashes the vectors file gives for one input.
TEST(KongHashTest, MatchesKongSectionHashes) {
  const rapidjson::Document vectors = LoadVectors();
  ASSERT_TRUE(vectors.HasMember("sections"));
  const rapidjson::Value& sections = vectors["sections"];
  const ConfigHashes hashes = CalculateConfigHash(sections["input"]);
  ASSERT_EQ(hashes.hashes.size(), sections["hashes"].MemberCount());
  for (const auto& member : sections["hashes"].GetObject()) {
    SCOPED_TRACE(member.name.GetString());
    ASSERT_EQ(hashes.hashes.count(member.name.GetString()), 1u);
    EXPECT_EQ(hashes.hashes.at(member.name.GetString()), member.value.GetString());
  }
  EXPECT_EQ(hashes.config_hash, sections["hashes"]["config"].GetString());
}

struct SerialisationCase {
  const char* name;
  const char* json;
  const char* serialised;
};

// Each JSON value serialises to exactly the bytes Kong's to_sorted_string produces.
TEST(KongHashTest, SerialisesLikeKong) {
  const SerialisationCase cases[] = {
      {"null", "null", "/null/"},
      {"true", "true", "true"},
      {"false", "false", "false"},
      {"string is raw bytes", R"("a;b:c")", "a;b:c"},
      {"empty array", "[]", "{}"},
      {"empty object", "{}", "{}"},
      {"one element", R"(["a"])", "a"},
      {"five elements: separators only", R"(["a","b","c","d","e"])", "a;b;c;d;e"},
      {"six elements: trailing separator", R"(["a","b","c","d","e","f"])", "a;b;c;d;e;f;"},
      {"keys sorted bytewise", R"({"b":1,"a":2,"B":3,"_":4})", "B:3;_:4;a:2;b:1;"},
      {"utf-8 keys after ascii", "{\"\xc3\xa9\":1,\"z\":2}", "z:2;\xc3\xa9:1;"},
      {"nested", R"({"k":{"y":null,"x":[]},"l":[true,false]})", "k:x:{};y:/null/;;l:true;false;"},
      {"repeated key keeps the last", R"({"a":1,"a":2})", "a:2;"},
      {"array of objects", R"([{"b":1,"a":2},{}])", "a:2;b:1;;{}"},
  };
  for (const SerialisationCase& c : cases) {
    SCOPED_TRACE(c.name);
    const rapidjson::Document document = Parse(c.json);
    EXPECT_EQ(KongHashValue(document), Md5Hex(c.serialised));
    const std::array<uint8_t, 16> digest = KongDigest(document);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(digest.data()), digest.size()),
              Md5Raw(c.serialised));
  }
}

struct NumberCase {
  rapidjson::Value value;
  const char* formatted;
};

// Numbers format as LuaJIT's tostring ("%.14g"): integers without ".0", exponents with a sign
// and two digits, negative zero kept.
TEST(KongHashTest, FormatsNumbersLikeLuaJit) {
  NumberCase cases[] = {
      {rapidjson::Value(10), "10"},
      {rapidjson::Value(0.9), "0.9"},
      {rapidjson::Value(100.0), "100"},
      {rapidjson::Value(-1.5), "-1.5"},
      {rapidjson::Value(0.1 + 0.2), "0.3"},
      {rapidjson::Value(1.1), "1.1"},
      {rapidjson::Value(1e20), "1e+20"},
      {rapidjson::Value(1e-5), "1e-05"},
      {rapidjson::Value(1e300), "1e+300"},
      {rapidjson::Value(0.0), "0"},
      {rapidjson::Value(-0.0), "-0"},
      {rapidjson::Value(1718000061.123), "1718000061.123"},
      {rapidjson::Value(99999999999999.0), "99999999999999"},
      {rapidjson::Value(int64_t{99999999999999}), "99999999999999"},
      {rapidjson::Value(1e14), "1e+14"},
      {rapidjson::Value(int64_t{100000000000000}), "1e+14"},
      {rapidjson::Value(int64_t{-123456789012345}), "-1.2345678901234e+14"},
      {rapidjson::Value(9007199254740993.0), "9.007199254741e+15"},
      {rapidjson::Value(std::numeric_limits<int64_t>::min()), "-9.2233720368548e+18"},
      {rapidjson::Value(std::numeric_limits<uint64_t>::max()), "1.844674407371e+19"},
      {rapidjson::Value(std::numeric_limits<double>::denorm_min()), "4.9406564584125e-324"},
  };
  for (const NumberCase& c : cases) {
    SCOPED_TRACE(c.formatted);
    EXPECT_EQ(KongHashValue(c.value), Md5Hex(c.formatted));
  }
}

// Over many random doubles, the formatting equals C's "%.14g", which LuaJIT implements.
TEST(KongHashTest, FormatsRandomDoublesLikePrintf) {
  std::mt19937_64 random(20240611);
  std::uniform_real_distribution<double> small(-1e6, 1e6);
  for (int i = 0; i < 20000; ++i) {
    double d;
    if (i % 2 == 0) {
      const uint64_t bits = random();
      std::memcpy(&d, &bits, sizeof(d));
      if (!std::isfinite(d)) continue;
    } else {
      d = small(random);
      if (i % 4 == 1) d = std::round(d);
    }
    char expected[64];
    std::snprintf(expected, sizeof(expected), "%.14g", d);
    ASSERT_EQ(KongHashValue(rapidjson::Value(d)), Md5Hex(expected)) << expected;
  }
}

// config_hash is md5 of the five section hashes and the hash of the rest, in that order.
TEST(KongHashTest, SplitsSectionsFromTheRest) {
  const rapidjson::Document table = Parse(R"({"targets":[1],"x":1,"routes":["r"],"_y":true})");
  const ConfigHashes hashes = CalculateConfigHash(table);
  const std::string zeros(kEmptyConfigHash);
  EXPECT_EQ(hashes.hashes.at("routes"), Md5Hex("r"));
  EXPECT_EQ(hashes.hashes.at("services"), zeros);
  EXPECT_EQ(hashes.hashes.at("targets"), Md5Hex("1"));
  const std::string rest = Md5Hex("_y:true;x:1;");
  EXPECT_EQ(hashes.config_hash,
            Md5Hex(absl::StrCat(Md5Hex("r"), zeros, zeros, zeros, Md5Hex("1"), rest)));
  EXPECT_EQ(hashes.hashes.at("config"), hashes.config_hash);
}

// A JSON null section is present (Kong's ngx.null), so it hashes as "/null/", not as 32 zeros.
TEST(KongHashTest, NullSectionIsNotAbsent) {
  const ConfigHashes hashes = CalculateConfigHash(Parse(R"({"routes":null})"));
  EXPECT_EQ(hashes.hashes.at("routes"), Md5Hex("/null/"));
}

// An array is a Lua table: it takes the section path (no sections) and equals {} when empty.
TEST(KongHashTest, ArrayInputIsATable) {
  const std::string zeros(kEmptyConfigHash);
  const ConfigHashes empty = CalculateConfigHash(Parse("[]"));
  EXPECT_EQ(empty.config_hash, CalculateConfigHash(Parse("{}")).config_hash);
  EXPECT_EQ(empty.hashes.size(), 6u);
  const ConfigHashes array = CalculateConfigHash(Parse(R"(["a","b"])"));
  EXPECT_EQ(array.config_hash,
            Md5Hex(absl::StrCat(zeros, zeros, zeros, zeros, zeros, Md5Hex("a;b"))));
}

// Kong's naive buffer rule, re-implemented for an array of more than 5 strings: before each
// element, a buffer over 1,000,000 bytes becomes its raw md5.
std::string NaiveLongArrayHash(const std::vector<std::string>& strings) {
  std::string buffer;
  for (const std::string& s : strings) {
    if (buffer.size() > 1000000) buffer = Md5Raw(buffer);
    buffer += s;
    buffer += ';';
  }
  return Md5Hex(buffer);
}

rapidjson::Document StringArray(const std::vector<std::string>& strings) {
  rapidjson::Document document(rapidjson::kArrayType);
  for (const std::string& s : strings) {
    document.PushBack(rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()),
                                       document.GetAllocator()),
                      document.GetAllocator());
  }
  return document;
}

// Past 1,000,000 bytes the buffer is replaced by its md5, so the hash differs from md5 of the
// whole serialisation and matches an independent implementation of the rule.
TEST(KongHashTest, ReplacesLongBufferWithItsMd5) {
  std::vector<std::string> strings;
  std::string naive;
  for (int i = 0; i < 3000; ++i) {
    strings.push_back(std::string(999, static_cast<char>('a' + i % 26)) + std::to_string(i % 10));
    naive += strings.back() + ";";
  }
  const rapidjson::Document document = StringArray(strings);
  const std::string hash = KongHashValue(document);
  EXPECT_EQ(hash, NaiveLongArrayHash(strings));
  EXPECT_NE(hash, Md5Hex(naive));
  EXPECT_EQ(hash, KongHashValue(document));
}

// The check is "longer than 1,000,000", made before each value: exactly 1,000,000 bytes stays.
TEST(KongHashTest, BufferRuleBoundaryIsStrict) {
  // Five elements of 199,999 bytes plus ';' fill exactly 1,000,000 bytes before the sixth.
  std::vector<std::string> at_limit(5, std::string(199999, 'x'));
  at_limit.push_back("tail");
  std::string whole;
  for (const std::string& s : at_limit) whole += s + ";";
  EXPECT_EQ(KongHashValue(StringArray(at_limit)), Md5Hex(whole));

  std::vector<std::string> over_limit(5, std::string(200000, 'x'));
  over_limit.push_back("tail");
  std::string prefix;
  for (int i = 0; i < 5; ++i) prefix += over_limit[i] + ";";
  EXPECT_EQ(KongHashValue(StringArray(over_limit)), Md5Hex(Md5Raw(prefix) + "tail;"));
}

// The rule applies inside nested values too: in an object, the check before a value comes after
// its key has been written, so the key is folded into the md5.
TEST(KongHashTest, BufferRuleAppliesBetweenKeyAndValue) {
  const std::string big(600000, 'v');
  rapidjson::Document document(rapidjson::kObjectType);
  auto& alloc = document.GetAllocator();
  document.AddMember("k1", rapidjson::Value(big.c_str(), alloc), alloc);
  document.AddMember("k2", rapidjson::Value(big.c_str(), alloc), alloc);
  document.AddMember("k3", "x", alloc);
  const std::string expected = Md5Hex(Md5Raw(absl::StrCat("k1:", big, ";k2:", big, ";k3:")) + "x;");
  EXPECT_EQ(KongHashValue(document), expected);
}

// An array fed one element at a time hashes as the whole array, across the sizes where Kong's
// separators change (5 and 6 elements), for an empty one, and past the 1,000,000-byte rule.
TEST(KongHashTest, ArrayHasherMatchesTheWholeArray) {
  const rapidjson::Document objects = Parse(
      R"([{"id":"a","n":1,"t":["x","y"]},{"b":null,"a":-0.0},{},[],"s",7,{"id":"z","o":{"k":1}}])");
  for (rapidjson::SizeType size = 0; size <= objects.Size(); ++size) {
    SCOPED_TRACE(size);
    rapidjson::Document prefix(rapidjson::kArrayType);
    KongArrayHasher hasher(size > 5);
    for (rapidjson::SizeType i = 0; i < size; ++i) {
      prefix.PushBack(rapidjson::Value(objects[i], prefix.GetAllocator()), prefix.GetAllocator());
      hasher.Add(objects[i]);
    }
    EXPECT_EQ(hasher.Finish(), KongHashValue(prefix));
  }
  std::vector<std::string> strings(3000, std::string(999, 'q'));
  const rapidjson::Document long_array = StringArray(strings);
  KongArrayHasher hasher(/*long_array=*/true);
  for (const rapidjson::Value& element : long_array.GetArray()) hasher.Add(element);
  EXPECT_EQ(hasher.Finish(), KongHashValue(long_array));
}

}  // namespace
}  // namespace tether::protocol
