// The help and version texts; see help.h.
#include "sidecar/settings/help.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "sidecar/settings/flag_table.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "unknown"
#endif

namespace tether::settings {

std::string HelpText() {
  std::string out =
      "usage: tether --cluster-control-plane host[:port] --cluster-cert path "
      "--cluster-cert-key path [flags]\n"
      "\n"
      "tether joins a Kong control plane as a data plane and serves its config to local "
      "proxies.\n"
      "\n"
      "Each flag --foo-bar can also be set as TETHER_FOO_BAR in the environment, or as foo-bar in\n"
      "the YAML --config file; each --cluster-* and --proxy-server* flag also by its Kong name,\n"
      "KONG_CLUSTER_*, KONG_PROXY_SERVER*. A flag beats TETHER_*, which beats KONG_*, which beats\n"
      "the config file, which beats the default. Durations look like 500ms, 2s or 1m; byte counts\n"
      "may end in KiB, MiB or GiB; switches take true or false (also on, off).\n"
      "\n"
      "flags:\n";
  for (const FlagDef& def : Flags()) {
    absl::StrAppend(&out, "  --", def.name, def.value_name.empty() ? "" : " ", def.value_name,
                    def.kind == FlagKind::kRepeatable ? " (repeatable)" : "", "\n");
    for (absl::string_view line : absl::StrSplit(def.help, '\n')) {
      absl::StrAppend(&out, "      ", line, "\n");
    }
    if (!def.default_value.empty()) {
      absl::StrAppend(&out, "      default: ", def.default_value, "\n");
    }
    absl::StrAppend(&out, "      env: ", absl::StrJoin(EnvNames(def.name), ", "), "\n");
  }
  absl::StrAppend(&out,
                  "  --help\n"
                  "      Print this help and exit.\n"
                  "  --version\n"
                  "      Print the version and exit.\n");
  return out;
}

std::string HelpMarkdown() {
  // One row a line, so pipes and line breaks in the help must not end a cell.
  const auto cell = [](absl::string_view text) {
    return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}});
  };
  std::string out =
      "| Flag | Environment | Default | Description |\n"
      "|---|---|---|---|\n";
  for (const FlagDef& def : Flags()) {
    std::vector<std::string> env = EnvNames(def.name);
    for (std::string& name : env) name = absl::StrCat("`", name, "`");
    absl::StrAppend(
        &out, "| `--", def.name, def.value_name.empty() ? "" : " ", cell(def.value_name), "`",
        def.kind == FlagKind::kRepeatable ? " (repeatable)" : "", " | ", absl::StrJoin(env, " "),
        " | ", def.default_value.empty() ? "" : absl::StrCat("`", def.default_value, "`"), " | ",
        cell(def.help), " |\n");
  }
  return out;
}

absl::string_view TetherVersion() { return TETHER_VERSION; }

std::string VersionText() {
  return absl::StrCat("tether ", TETHER_VERSION, " (default --node-version ",
                      FindFlag("node-version")->default_value, ")\n");
}

}  // namespace tether::settings
