// Helpers shared by the settings tests: a per-test temp dir and ParseSettings over a vector.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "sidecar/settings/flags.h"

namespace tether::settings {

// Readable gtest output for the settings value types.
inline void PrintTo(const HostPort& hp, std::ostream* os) { *os << FormatHostPort(hp); }
inline void PrintTo(const Plugin& p, std::ostream* os) { *os << p.name << ":" << p.version; }

namespace testing {

// A fresh directory under the test's temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "tether_settings_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string FixtureCert(const std::string& name) {
  return std::string(TETHER_FIXTURES_DIR) + "/certs/" + name;
}

// Mode bits (permissions only) of path, or -1.
inline int ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Runs ParseSettings with argv[0] = "tether" followed by args.
inline absl::StatusOr<ParseOutcome> Parse(const std::vector<std::string>& args,
                                          std::map<std::string, std::string> env = {}) {
  std::vector<std::string> storage = {"tether"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return ParseSettings(static_cast<int>(storage.size()), argv.data(), MapEnv(std::move(env)));
}

// Parses and expects Settings; on failure records it and returns an empty Settings.
inline Settings ParseOk(const std::vector<std::string>& args,
                        std::map<std::string, std::string> env = {}) {
  absl::StatusOr<ParseOutcome> outcome = Parse(args, std::move(env));
  if (!outcome.ok()) {
    ADD_FAILURE() << "ParseSettings failed: " << outcome.status();
    return Settings{};
  }
  if (!std::holds_alternative<Settings>(*outcome)) {
    ADD_FAILURE() << "ParseSettings asked to print and exit";
    return Settings{};
  }
  return std::get<Settings>(*std::move(outcome));
}

// The flags every valid command line needs, with data_dir in `dir`.
inline std::vector<std::string> RequiredArgs(const TempDir& dir) {
  return {"--cluster-control-plane=cp.example.com:8005",
          "--cluster-cert=" + FixtureCert("kong_clustering.crt"),
          "--cluster-cert-key=" + FixtureCert("kong_clustering.key"),
          "--data-dir=" + dir.Sub("data")};
}

inline std::vector<std::string> Concat(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace testing
}  // namespace tether::settings
