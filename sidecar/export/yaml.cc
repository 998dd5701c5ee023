// JSON to YAML by streaming RapidJSON's parse events into yaml-cpp's emitter (see yaml.h).
#include "sidecar/export/yaml.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"
#include "yaml-cpp/yaml.h"

namespace tether::exporter {
namespace {

// A key that every YAML reader takes for this very string when unquoted: an identifier that is
// not one of YAML 1.1's booleans or null.
bool PlainKey(absl::string_view key) {
  if (key.empty() || !(absl::ascii_isalpha(key[0]) || key[0] == '_')) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  const std::string lower = absl::AsciiStrToLower(key);
  for (absl::string_view word : {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}) {
    if (lower == word) return false;
  }
  return true;
}

// RapidJSON SAX handler: numbers arrive as their text (kParseNumbersAsStringsFlag).
class YamlHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, YamlHandler> {
 public:
  explicit YamlHandler(YAML::Emitter& out) : out_(out) {}

  bool Null() {
    return Emit([&] { out_ << YAML::Null; });
  }
  bool Bool(bool b) {
    return Emit([&] { out_ << b; });
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return Emit([&] { out_ << std::string(s, n); });
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return Emit([&] { out_ << YAML::DoubleQuoted << std::string(s, n); });
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    const std::string key(s, n);
    out_ << YAML::Key;
    if (!PlainKey(key)) out_ << YAML::DoubleQuoted;
    out_ << key << YAML::Value;
    return out_.good();
  }
  bool StartObject() {
    return Emit([&] { out_ << YAML::BeginMap; });
  }
  bool EndObject(rapidjson::SizeType) {
    return Emit([&] { out_ << YAML::EndMap; });
  }
  bool StartArray() {
    return Emit([&] { out_ << YAML::BeginSeq; });
  }
  bool EndArray(rapidjson::SizeType) {
    return Emit([&] { out_ << YAML::EndSeq; });
  }

 private:
  template <typename F>
  bool Emit(F f) {
    f();
    return out_.good();
  }

  YAML::Emitter& out_;
};

}  // namespace

absl::StatusOr<std::string> JsonToYaml(absl::string_view json) {
  YAML::Emitter out;
  YamlHandler handler(out);
  rapidjson::MemoryStream stream(json.data(), json.size());
  rapidjson::Reader reader;
  const rapidjson::ParseResult result =
      reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(stream, handler);
  if (!out.good()) {
    return absl::InternalError(absl::StrCat("cannot write YAML: ", out.GetLastError()));
  }
  if (result.IsError()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON at offset ", result.Offset(), ": ",
                                                   rapidjson::GetParseError_En(result.Code())));
  }
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace tether::exporter
