// For the export tests (unit and integration): real /bin/sh hook scripts in a temp dir, and the
// hook's record in status.
#pragma once

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "sidecar/status/status_board.h"

namespace tether::exporter::testing {

// Writes `body` after a #!/bin/sh line to <dir>/<name>, executable; returns its path.
inline std::string WriteScript(const std::string& dir, absl::string_view name,
                               absl::string_view body) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

// The --on-change-exec subscriber's record in `view`, or null.
inline const status::SubscriberRecord* HookRecord(const status::StatusView& view) {
  for (const auto& [id, s] : view.subscribers) {
    if (s.client_id == "on-change-exec") return &s;
  }
  return nullptr;
}

}  // namespace tether::exporter::testing
