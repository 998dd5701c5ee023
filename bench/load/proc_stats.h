// What the load tool reads about another process from /proc: CPU time, resident memory and its
// peak, and the reset of that peak.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace tether::bench {

// utime + stime of every thread the process has had (/proc/<pid>/stat), in seconds. The kernel
// counts in clock ticks (sysconf(_SC_CLK_TCK), 100 per second here), so differences are exact to
// 10 ms.
absl::StatusOr<double> CpuSeconds(pid_t pid);

struct Memory {
  uint64_t rss_bytes = 0;       // VmRSS
  uint64_t peak_rss_bytes = 0;  // VmHWM: the most VmRSS has been since start or ResetPeakRss
};
absl::StatusOr<Memory> ReadMemory(pid_t pid);

// Starts VmHWM again from the current VmRSS (writes 5 to /proc/<pid>/clear_refs, Linux 4.0+).
absl::Status ResetPeakRss(pid_t pid);

}  // namespace tether::bench
