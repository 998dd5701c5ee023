#include "bench/load/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace tether::bench {
namespace {

absl::StatusOr<std::string> ReadProcFile(pid_t pid, absl::string_view name) {
  const std::string path = absl::StrCat("/proc/", pid, "/", name);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

absl::StatusOr<double> CpuSeconds(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(pid, "stat");
  if (!stat.ok()) return stat.status();
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the
  // last ')'. utime and stime are fields 14 and 15, so the 12th and 13th after it.
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return absl::DataLossError("unexpected /proc/<pid>/stat");
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(paren + 2), ' ', absl::SkipEmpty());
  uint64_t utime = 0;
  uint64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::DataLossError("unexpected /proc/<pid>/stat");
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

absl::StatusOr<Memory> ReadMemory(pid_t pid) {
  absl::StatusOr<std::string> status = ReadProcFile(pid, "status");
  if (!status.ok()) return status.status();
  Memory memory;
  int found = 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    uint64_t* slot = nullptr;
    if (absl::ConsumePrefix(&line, "VmRSS:")) slot = &memory.rss_bytes;
    if (absl::ConsumePrefix(&line, "VmHWM:")) slot = &memory.peak_rss_bytes;
    if (slot == nullptr) continue;
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumeSuffix(&line, " kB") || !absl::SimpleAtoi(line, slot)) {
      return absl::DataLossError("unexpected /proc/<pid>/status");
    }
    *slot *= 1024;
    ++found;
  }
  if (found != 2) return absl::DataLossError("no VmRSS or VmHWM in /proc/<pid>/status");
  return memory;
}

absl::Status ResetPeakRss(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/clear_refs");
  std::ofstream out(path);
  out << "5";
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace tether::bench
