// Shared helpers for tether's tests: fixture paths, temp dirs, settings for a loopback CP, and
// peers that misbehave on purpose.
//
// Threading: each helper is thread-compatible; tests use them from the test thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/settings/settings.h"

namespace tether::testing {

// A file under tests/fixtures (see its README.md), e.g. "certs/kong_clustering.crt".
std::string Fixture(absl::string_view relative);
// A file under the source tree, e.g. "deploy/examples/kong-config.json".
std::string SourceFile(absl::string_view relative);
std::string ReadFile(const std::string& path);

// A fresh directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Checks `pred` every few milliseconds until it holds or `timeout` passes; returns whether it
// held. For conditions nothing signals (an HTTP or RPC answer); prefer a component's own wait
// (devcp's WaitForEvent, AppTest::AwaitStatus) where one exists.
bool AwaitUntil(const std::function<bool()>& pred, absl::Duration timeout);

// Settings parsed from real flags and prepared (PrepareNode), as main gets them: shared mode with
// the test cluster certificate (tests/fixtures/certs), the given CP port on 127.0.0.1 and data dir,
// short intervals and tiny backoff so tests run fast, then `extra_flags` (later flags win).
settings::Settings TestSettings(uint16_t cp_port, const std::string& data_dir,
                                const std::vector<std::string>& extra_flags = {});

// A TCP listener on 127.0.0.1 that never accepts or answers: a connect to it succeeds (the
// kernel completes the handshake) and then the TLS handshake hangs.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A port on 127.0.0.1 where connections are refused: bound (so nobody else takes it) but not
// listening.
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace tether::testing
