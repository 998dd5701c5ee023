// libFuzzer harness: settings::ParseSettings over a command line, an environment and a --config
// file taken from the input, which reads
//
//   arg \0 arg ... \0\0 NAME=value \0 NAME=value ... \0\0 yaml file body
//
// (any part may be missing). The environment is a map, never the process's; the file body is
// written to tether.yaml in a temp dir created once per process (in $TMPDIR, removed at exit),
// which is also the working directory, next to a certificate, a key, a CA and a plugin list that
// inputs can name by relative path (cert.pem, key.pem, ca.pem, plugins.txt).
//
// ParseSettings writes nothing (the harness checks that the temp dir holds only its own files
// afterwards) but reads the files that flags name, so inputs that could name a path outside the
// working directory are skipped (see StaysInWorkDir): reading a device such as /dev/stdin would
// hang the fuzzer.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/validate.h"
#include "tests/fuzz/fuzz_check.h"

namespace tether::fuzz {
namespace {

// The harness's working directory, created by LLVMFuzzerInitialize.
std::string* work_dir = nullptr;
// libFuzzer's arguments with relative paths made absolute (LLVMFuzzerInitialize).
std::string* absolute_args = nullptr;
// The files the harness writes into work_dir.
constexpr std::ptrdiff_t kWorkDirFiles = 5;

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  Require(out.good(), "cannot write a harness file");
}

// Whether every path the input can express resolves inside the working directory. A path leaves
// it only by starting with '/' or by climbing with "..", so: no "..", and a '/' only where it
// continues a relative name. That is any of [A-Za-z0-9_.-/] before it; on the command line and in
// the environment also ':' (for unix:///path and http://host), where no parser splits a path at
// ':'. In the YAML file a ':' before a '/' could end a key, and a backslash could spell a '/' in
// an escape, so neither is allowed there.
bool StaysInWorkDir(absl::string_view args_and_env, absl::string_view yaml) {
  if (absl::StrContains(args_and_env, "..") || absl::StrContains(yaml, "..") ||
      absl::StrContains(yaml, '\\')) {
    return false;
  }
  const auto relative = [](absl::string_view text, bool colon_ok) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '/') continue;
      if (i == 0) return false;
      const char c = text[i - 1];
      const bool ok = absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/' ||
                      (colon_ok && c == ':');
      if (!ok) return false;
    }
    return true;
  };
  return relative(args_and_env, true) && relative(yaml, false);
}

}  // namespace
}  // namespace tether::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using tether::fuzz::WriteFile;
  // libFuzzer opens the corpus dirs, inputs and artifact paths after this returns, so relative
  // ones must not follow the chdir below.
  const std::string cwd = std::filesystem::current_path().string();
  // Owns the rewritten arguments for the life of the process, as argv does; a global keeps them
  // reachable for LeakSanitizer.
  tether::fuzz::absolute_args = new std::string[*argc];
  for (int i = 1; i < *argc; ++i) {
    std::string& arg = tether::fuzz::absolute_args[i];
    arg = (*argv)[i];
    if (arg.empty()) continue;
    for (absl::string_view flag : {"-artifact_prefix=", "-exact_artifact_path="}) {
      if (absl::StartsWith(arg, flag) && arg.size() > flag.size() && arg[flag.size()] != '/') {
        arg.insert(flag.size(), cwd + "/");
      }
    }
    if (arg[0] != '-' && arg[0] != '/') arg = absl::StrCat(cwd, "/", arg);
    (*argv)[i] = arg.data();
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tether-settings-fuzz-XXXXXX");
  tether::fuzz::Require(::mkdtemp(dir.data()) != nullptr, "cannot create the temp dir");
  tether::fuzz::work_dir = new std::string(dir);
  tether::fuzz::Require(::chdir(dir.c_str()) == 0, "cannot enter the temp dir");
  // A crash skips this and leaves the dir for a look at what the input did.
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(*tether::fuzz::work_dir, ignored);
  });
  // Validation only checks that these are readable regular files; their contents do not matter.
  // (kWorkDirFiles counts these and tether.yaml.)
  WriteFile("cert.pem", "-----BEGIN CERTIFICATE-----\n");
  WriteFile("key.pem", "-----BEGIN PRIVATE KEY-----\n");
  WriteFile("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  WriteFile("plugins.txt", "bundled\n# a comment\nmy-plugin:1.0.0, other\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  using fuzz::Require;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const absl::string_view separator("\0\0", 2);
  std::vector<absl::string_view> parts = absl::StrSplit(input, absl::MaxSplits(separator, 2));
  parts.resize(3);
  const absl::string_view args = parts[0], env = parts[1], yaml = parts[2];
  if (!fuzz::StaysInWorkDir(input.substr(0, input.size() - yaml.size()), yaml)) return 0;

  std::vector<std::string> argv = {"tether"};
  for (absl::string_view arg : absl::StrSplit(args, '\0', absl::SkipEmpty())) {
    argv.emplace_back(arg);
  }
  std::vector<char*> argv_ptrs;
  for (std::string& arg : argv) argv_ptrs.push_back(arg.data());
  argv_ptrs.push_back(nullptr);

  std::map<std::string, std::string> vars;
  for (absl::string_view entry : absl::StrSplit(env, '\0', absl::SkipEmpty())) {
    const std::pair<std::string, std::string> var = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    vars[var.first] = var.second;
  }
  fuzz::WriteFile("tether.yaml", yaml);

  absl::StatusOr<settings::ParseOutcome> outcome = settings::ParseSettings(
      static_cast<int>(argv.size()), argv_ptrs.data(), settings::MapEnv(std::move(vars)));
  if (!outcome.ok()) {
    Require(!outcome.status().message().empty(), "an error without a message");
    return 0;
  }
  if (const auto* print = std::get_if<settings::PrintAndExit>(&*outcome)) {
    Require(!print->text.empty(), "nothing to print");
    return 0;
  }
  // What ParseSettings returns has passed validation, and the rest of tether relies on that.
  const settings::Settings& parsed = std::get<settings::Settings>(*outcome);
  const absl::Status valid = settings::ValidateSettings(parsed);
  if (!valid.ok()) fuzz::Fail(absl::StrCat("parsed settings fail validation: ", valid.ToString()));
  Require(!parsed.grpc_listen.empty(), "no grpc listen address");
  // Parsing is pure: the data dir and node id are PrepareNode's.
  Require(std::distance(std::filesystem::directory_iterator("."),
                        std::filesystem::directory_iterator()) == fuzz::kWorkDirFiles,
          "ParseSettings created a file");
  return 0;
}
