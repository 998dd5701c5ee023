// Running a built binary (tether, tether-devcp, tetherctl) from another process of ours with its
// output captured: what the integration tests' ChildProcess and the load tool's Process share.
//
// Threading: thread-safe (posix_spawn; every descriptor above stderr is closed in the child).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tether {

struct SpawnedChild {
  pid_t pid;
  int output_fd;  // read end of the pipe holding the child's stdout and stderr; the caller owns it
};

// Runs argv[0] with `argv`, stdin from /dev/null, stdout and stderr into one pipe, and this
// process's environment minus TETHER_* and KONG_* (the child's settings come from argv only).
absl::StatusOr<SpawnedChild> SpawnWithOutputPipe(const std::vector<std::string>& argv);

}  // namespace tether
