// The sources of flag values; see sources.h.
#include "sidecar/settings/sources.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sidecar/common/file_util.h"
#include "sidecar/settings/value_parsers.h"
#include "yaml-cpp/yaml.h"

namespace tether::settings {
namespace {

absl::Status Reason(absl::string_view reason) { return absl::InvalidArgumentError(reason); }

// "<path>:<line>"; yaml-cpp counts lines from 0.
std::string FileLine(absl::string_view path, const YAML::Mark& mark) {
  return absl::StrCat(path, ":", mark.line + 1);
}

// The values one YAML node gives a flag, as if typed on the command line. The reasons never quote
// the node: it may hold a secret.
absl::StatusOr<std::vector<std::string>> YamlValues(const FlagDef& def, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (node.Scalar().empty()) return Reason("needs a value");
      return std::vector<std::string>{node.Scalar()};
    case YAML::NodeType::Sequence: {
      if (def.kind != FlagKind::kRepeatable && def.shape == ValueShape::kScalar) {
        return Reason("want a single value, not a list");
      }
      std::vector<std::string> items;
      for (const YAML::Node& item : node) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          return Reason(absl::StrCat("line ", item.Mark().line + 1,
                                     ": want each list item to be a plain value"));
        }
        items.push_back(item.Scalar());
      }
      if (def.kind == FlagKind::kRepeatable) return items;
      if (items.empty()) return Reason("needs a value");
      if (def.shape == ValueShape::kArgv) {
        std::vector<std::string> quoted;
        for (const std::string& item : items) {
          quoted.push_back(absl::StrCat("'", absl::StrReplaceAll(item, {{"'", R"('\'')"}}), "'"));
        }
        return std::vector<std::string>{absl::StrJoin(quoted, " ")};
      }
      return std::vector<std::string>{absl::StrJoin(items, ",")};
    }
    case YAML::NodeType::Map: {
      if (def.shape != ValueShape::kKeyValues) return Reason("want a single value, not a map");
      std::vector<std::string> pairs;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
          return Reason(absl::StrCat("line ", entry.first.Mark().line + 1,
                                     ": want each key and value to be a plain value"));
        }
        pairs.push_back(absl::StrCat(entry.first.Scalar(), ":", entry.second.Scalar()));
      }
      if (pairs.empty()) return Reason("needs a value");
      return std::vector<std::string>{absl::StrJoin(pairs, ",")};
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return Reason("needs a value");
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<FileValues> LoadConfigFile(const std::string& path) {
  constexpr size_t kMaxBytes = 1 << 20;
  absl::StatusOr<std::string> text = ReadFileCapped(path, kMaxBytes);
  // A file we cannot use is a bad flag value, whatever the cause.
  if (!text.ok()) return Reason(text.status().message());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Reason(
        absl::StrCat(FileLine(path, e.mark), ":", e.mark.column + 1, ": not valid yaml: ", e.msg));
  }
  FileValues values;
  if (root.IsNull()) return values;  // an empty file sets nothing
  if (!root.IsMap()) {
    return Reason(
        absl::StrCat(FileLine(path, root.Mark()), ": want a map of setting names to values"));
  }
  for (const auto& entry : root) {
    const std::string where = FileLine(path, entry.first.Mark());
    if (!entry.first.IsScalar()) return Reason(absl::StrCat(where, ": want a setting name"));
    const std::string& name = entry.first.Scalar();
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      return Reason(absl::StrCat(where, ": unknown setting ", Quote(name), " (see --help)"));
    }
    if (def->apply == nullptr) {
      return Reason(absl::StrCat(where, ": ", name, " cannot be set in a config file"));
    }
    if (values.contains(name)) return Reason(absl::StrCat(where, ": ", name, " is given twice"));
    absl::StatusOr<std::vector<std::string>> v = YamlValues(*def, entry.second);
    if (!v.ok()) return Reason(absl::StrCat(where, ": ", name, ": ", v.status().message()));
    values.emplace(name, SourcedValues{*std::move(v), absl::StrCat("from ", where)});
  }
  return values;
}

absl::StatusOr<GivenFlags> ScanArgs(int argc, char** argv) {
  GivenFlags given;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument ", Quote(arg), " (flags start with --)"));
    }
    const size_t eq = arg.find('=');
    const std::string name(arg.substr(0, eq));
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (def->kind == FlagKind::kSwitch) {
      // Never takes the next argument, so "--grpc-allow-non-loopback --foo" reads as expected.
      value = "true";
    } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
      value = argv[++i];
    }
    if (value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    std::vector<std::string>& values = given[name];
    // Otherwise the last one wins, as with absl and Go flags, so a wrapper can append overrides.
    if (def->kind != FlagKind::kRepeatable) values.clear();
    values.push_back(std::move(value));
  }
  return given;
}

std::optional<SourcedValues> Lookup(const FlagDef& def, const GivenFlags& given,
                                    const EnvLookup& env, const FileValues& file) {
  if (auto it = given.find(def.name); it != given.end()) return SourcedValues{it->second, ""};
  for (const std::string& name : EnvNames(def.name)) {
    std::optional<std::string> v = env(name);
    if (!v.has_value() || v->empty()) continue;
    SourcedValues found{{}, absl::StrCat("from ", name)};
    if (def.kind == FlagKind::kRepeatable) {
      // An empty entry ("a,,b") is handed to the parser, which names it.
      for (absl::string_view entry : absl::StrSplit(*v, ',')) {
        found.values.emplace_back(absl::StripAsciiWhitespace(entry));
      }
    } else {
      found.values.push_back(*std::move(v));
    }
    return found;
  }
  if (auto it = file.find(def.name); it != file.end()) return it->second;
  if (!def.default_value.empty()) {
    return SourcedValues{{std::string(def.default_value)}, "default"};
  }
  return std::nullopt;
}

}  // namespace tether::settings
