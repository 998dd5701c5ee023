// ParseSettings: the sources (sources.h) through the flag table (flag_table.h) into a validated
// Settings. No I/O beyond reading the files that flags name; PrepareNode (node_identity.h) does
// the rest.
#include "sidecar/settings/flags.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "sidecar/settings/flag_table.h"
#include "sidecar/settings/sources.h"
#include "sidecar/settings/validate.h"
#include "sidecar/settings/value_parsers.h"

namespace tether::settings {
namespace {

// "--ping-interval "30" (from TETHER_PING_INTERVAL): not a duration ..."
absl::Status WithFlagContext(const FlagDef& def, absl::string_view value, absl::string_view origin,
                             const absl::Status& st) {
  std::string context = absl::StrCat("--", def.name);
  if (def.display == ValueDisplay::kShow) absl::StrAppend(&context, " ", Quote(value));
  if (!origin.empty()) absl::StrAppend(&context, " (", origin, ")");
  return absl::Status(st.code(), absl::StrCat(context, ": ", st.message()));
}

// Applies the value of every flag of `stage` that some source gives.
absl::Status ApplyFlags(ApplyStage stage, const GivenFlags& given, const EnvLookup& env,
                        const FileValues& file, Settings& settings) {
  for (const FlagDef& def : Flags()) {
    if (def.apply == nullptr || def.stage != stage) continue;  // --config has no apply
    std::optional<SourcedValues> v = Lookup(def, given, env, file);
    if (!v.has_value()) continue;
    for (const std::string& value : v->values) {
      if (absl::Status st = def.apply(value, settings); !st.ok()) {
        return WithFlagContext(def, value, v->origin, st);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParseOutcome> ParseSettings(int argc, char** argv, const EnvLookup& env) {
  // Help and version win over everything else, so that they work on a broken command line.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return PrintAndExit{HelpText()};
    if (arg == "--version") return PrintAndExit{VersionText()};
    // Hidden: the README's configuration table, which a test keeps in step with the flag table.
    if (arg == "--help-markdown") return PrintAndExit{HelpMarkdown()};
  }

  absl::StatusOr<GivenFlags> given = ScanArgs(argc, argv);
  if (!given.ok()) return given.status();

  // The file comes first: it supplies values for every other setting.
  FileValues file;
  const FlagDef& config = *FindFlag(kConfigFlag);
  if (std::optional<SourcedValues> path = Lookup(config, *given, env, {}); path.has_value()) {
    absl::StatusOr<FileValues> loaded = LoadConfigFile(path->values.back());
    if (!loaded.ok()) {
      return WithFlagContext(config, path->values.back(), path->origin, loaded.status());
    }
    file = *std::move(loaded);
  }

  Settings settings;
  for (ApplyStage stage : {ApplyStage::kFirst, ApplyStage::kAfterOthers}) {
    if (absl::Status st = ApplyFlags(stage, *given, env, file, settings); !st.ok()) return st;
  }
  if (settings.grpc_listen.empty() && !settings.data_dir.empty()) {
    // The default depends on --data-dir, so the table cannot hold it.
    settings.grpc_listen.push_back(
        {GrpcListenAddress::Kind::kUnix, absl::StrCat(settings.data_dir, "/tether.sock"), {}});
  }

  if (absl::Status st = ValidateSettings(settings); !st.ok()) return st;
  return settings;
}

}  // namespace tether::settings
