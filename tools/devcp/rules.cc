#include "tools/devcp/rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "protocol/constants.h"
#include "protocol/reconfigure.h"
#include "rapidjson/document.h"

namespace tether::devcp {
namespace {

// Reads leading decimal digits; false when there are none or they overflow.
bool ConsumeNumber(absl::string_view& text, int& out) {
  size_t digits = 0;
  while (digits < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0 || !absl::SimpleAtoi(text.substr(0, digits), &out)) return false;
  text.remove_prefix(digits);
  return true;
}

// Frame payloads are untrusted bytes: keep what goes into a reason short and printable.
std::string Printable(absl::string_view data) {
  constexpr size_t kMaxBytes = 64;
  std::string out = absl::CHexEscape(data.substr(0, kMaxBytes));
  if (data.size() > kMaxBytes) absl::StrAppend(&out, "...");
  return out;
}

void AddPluginName(const rapidjson::Value& row, std::set<std::string>& names) {
  if (std::optional<std::string> name = protocol::PluginRowName(row)) names.insert(*name);
}

}  // namespace

OutletTarget ParseOutletTarget(absl::string_view target) {
  OutletTarget out;
  const size_t question = target.find('?');
  out.path = std::string(target.substr(0, question));
  if (question == absl::string_view::npos) return out;
  for (absl::string_view pair : absl::StrSplit(target.substr(question + 1), '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    std::optional<std::string>* slot = nullptr;
    if (kv.first == "node_id") {
      slot = &out.node_id;
    } else if (kv.first == "node_hostname") {
      slot = &out.node_hostname;
    } else if (kv.first == "node_version") {
      slot = &out.node_version;
    }
    if (slot != nullptr && !slot->has_value()) *slot = std::string(kv.second);
  }
  return out;
}

std::optional<KongVersion> ParseKongVersion(absl::string_view version) {
  KongVersion out;
  int patch = 0;
  if (!ConsumeNumber(version, out.major) || !absl::ConsumePrefix(&version, ".") ||
      !ConsumeNumber(version, out.minor) || !absl::ConsumePrefix(&version, ".") ||
      !ConsumeNumber(version, patch)) {
    return std::nullopt;
  }
  return out;
}

absl::Status CheckVersionCompatibility(absl::string_view dp_version, absl::string_view cp_version) {
  const std::optional<KongVersion> dp = ParseKongVersion(dp_version);
  const std::optional<KongVersion> cp = ParseKongVersion(cp_version);
  if (!dp.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("unable to parse data plane version \"", dp_version, "\""));
  }
  if (!cp.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("unable to parse control plane version \"", cp_version, "\""));
  }
  if (dp->major != cp->major) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data plane version ", dp_version, " is incompatible with control plane version ",
        cp_version, " (", cp->major, ".x.y are accepted)"));
  }
  if (dp->minor > cp->minor) {
    return absl::FailedPreconditionError(
        absl::StrCat("data plane version ", dp_version,
                     " is incompatible with older control plane version ", cp_version));
  }
  return absl::OkStatus();
}

absl::StatusOr<BasicInfo> ParseBasicInfo(absl::string_view data) {
  if (data.empty()) {
    return absl::InvalidArgumentError("failed to receive websocket basic info data");
  }
  rapidjson::Document doc;
  doc.Parse(data.data(), data.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError("failed to decode websocket basic info data");
  }
  std::string type = "nil";
  if (doc.IsObject()) {
    auto it = doc.FindMember("type");
    if (it != doc.MemberEnd() && it->value.IsString()) {
      type.assign(it->value.GetString(), it->value.GetStringLength());
    }
  }
  if (type != "basic_info") {
    return absl::InvalidArgumentError(absl::StrCat("invalid basic info data type: ", type));
  }
  auto plugins = doc.FindMember("plugins");
  if (plugins == doc.MemberEnd() || !(plugins->value.IsArray() || plugins->value.IsObject())) {
    return absl::InvalidArgumentError("missing plugins in basic info data");
  }
  BasicInfo out;
  if (plugins->value.IsArray()) {
    for (const rapidjson::Value& row : plugins->value.GetArray()) AddPluginName(row, out.plugins);
  } else {
    for (const auto& member : plugins->value.GetObject()) AddPluginName(member.value, out.plugins);
  }
  return out;
}

std::optional<std::string> FindMissingPlugin(const std::vector<std::string>& configured,
                                             const std::set<std::string>& dp_plugins) {
  for (const std::string& name : configured) {
    if (!dp_plugins.contains(name)) return name;
  }
  return std::nullopt;
}

std::optional<std::string> CheckDataPlaneFrame(absl::string_view frame_type,
                                               absl::string_view payload) {
  if (payload.size() != protocol::kConfigHashLength) {
    return absl::StrCat("received a ping frame from the data plane with an invalid hash: '",
                        Printable(payload), "'");
  }
  if (frame_type != "ping") {
    return absl::StrCat("invalid websocket frame received from data plane: ", frame_type);
  }
  return std::nullopt;
}

std::string PingTimeoutReason(absl::Duration ping_wait) {
  return absl::StrCat("did not receive ping frame from data plane within ",
                      absl::ToDoubleSeconds(ping_wait), " seconds");
}

}  // namespace tether::devcp
