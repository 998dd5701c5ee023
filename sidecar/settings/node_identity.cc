// The node's identity on disk and PrepareNode; see node_identity.h.
#include "sidecar/settings/node_identity.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "protocol/constants.h"
#include "sidecar/common/file_util.h"
#include "sidecar/common/log.h"
#include "sidecar/settings/validate.h"
#include "sidecar/settings/value_parsers.h"

namespace tether::settings {
namespace {

constexpr absl::string_view kComponent = "settings";

// A node id file is 37 bytes; anything much larger is not one, and need not be read whole.
constexpr size_t kMaxNodeIdFileBytes = 4096;

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0) {
    // mkdir applies the umask; set the mode we promise.
    if (::chmod(path.c_str(), mode) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot set the mode of ", path));
    }
    return absl::OkStatus();
  }
  if (errno == EEXIST) return absl::OkStatus();  // Lost a race to another creator.
  return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
}

absl::StatusOr<std::string> SystemHostname() {
  std::array<char, HOST_NAME_MAX + 1> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) {
    return absl::ErrnoToStatus(errno, "cannot get the system hostname (set --node-hostname)");
  }
  return std::string(buf.data());
}

}  // namespace

absl::Status PrepareNode(Settings& settings) {
  if (settings.node_hostname.empty()) {
    absl::StatusOr<std::string> hostname = SystemHostname();
    if (!hostname.ok()) return hostname.status();
    // Said here because ValidateSettings cannot tell the operator where the value came from.
    if (!IsValidHost(*hostname)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "system hostname ", Quote(*hostname), " is not a valid hostname; set --node-hostname"));
    }
    settings.node_hostname = *std::move(hostname);
  }
  if (absl::Status st = EnsureDataDir(settings.data_dir); !st.ok()) return st;
  if (settings.node_id.empty()) {
    absl::StatusOr<std::string> id = LoadOrCreateNodeId(settings.data_dir);
    if (!id.ok()) return id.status();
    settings.node_id = *std::move(id);
  }
  return absl::OkStatus();
}

absl::Status EnsureDataDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("--data-dir must not be empty");
  // "/var/lib/tether/" would otherwise create "/var/lib/tether" as a 0755 parent.
  const size_t last = dir.find_last_not_of('/');
  const std::string data_dir = last == std::string::npos ? "/" : dir.substr(0, last + 1);
  struct stat st {};
  if (::stat(data_dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("--data-dir ", data_dir, ": exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  if (errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("--data-dir ", data_dir, ": cannot stat"));
  }
  // Create missing parents (0755), then the data dir itself (0710: the config cache in it holds
  // credentials, so others get nothing and the group only passage to the default gRPC socket,
  // which checks its peers itself).
  for (size_t slash = data_dir.find('/', 1); slash != std::string::npos;
       slash = data_dir.find('/', slash + 1)) {
    const std::string parent = data_dir.substr(0, slash);
    if (::stat(parent.c_str(), &st) == 0) continue;
    if (absl::Status s = MakeDir(parent, 0755); !s.ok()) return s;
  }
  return MakeDir(data_dir, 0710);
}

absl::StatusOr<std::string> GenerateUuidV4() {
  std::array<uint8_t, 16> b;
  size_t filled = 0;
  while (filled < b.size()) {
    const ssize_t n = ::getrandom(b.data() + filled, b.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "cannot get random bytes for a node id");
    filled += static_cast<size_t>(n);
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // RFC 4122 §4.4: version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // variant 10xx
  const std::string hex =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

absl::StatusOr<std::string> LoadOrCreateNodeId(const std::string& data_dir) {
  if (absl::Status st = EnsureDataDir(data_dir); !st.ok()) return st;
  const std::string path = absl::StrCat(data_dir, "/", kNodeIdFileName);

  absl::StatusOr<std::string> contents = ReadFileCapped(path, kMaxNodeIdFileBytes);
  if (contents.ok() || absl::IsResourceExhausted(contents.status())) {
    // Too large is just another kind of invalid content.
    const absl::string_view id =
        contents.ok() ? absl::StripAsciiWhitespace(*contents) : absl::string_view();
    if (IsValidUuid(id)) return std::string(id);
    // Kong regenerates an invalid persisted id too (kong-protocol.md §8): the node becomes a new
    // node to the CP, which beats not starting.
    log::Warn(kComponent, "node id file does not hold a uuid, generating a new node id",
              {{"path", path}});
  } else if (!absl::IsNotFound(contents.status())) {
    return contents.status();
  }

  absl::StatusOr<std::string> id = GenerateUuidV4();
  if (!id.ok()) return id.status();
  if (absl::Status st = WriteFileAtomically(path, absl::StrCat(*id, "\n"), 0600); !st.ok()) {
    return st;
  }
  log::Info(kComponent, "generated node id", {{"node_id", *id}, {"path", path}});
  return id;
}

std::optional<int> LoadRememberedKongMinor(const std::string& data_dir) {
  constexpr size_t kMaxBytes = 64;
  absl::StatusOr<std::string> text =
      ReadFileCapped(absl::StrCat(data_dir, "/", kKongVersionFileName), kMaxBytes);
  if (!text.ok()) return std::nullopt;
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(*text), absl::MaxSplits('.', 2));
  int major = 0;
  int minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor) || major != protocol::kKongMajor || minor < 0) {
    log::Warn(kComponent, "ignoring an unreadable remembered Kong version",
              {{"file", kKongVersionFileName}});
    return std::nullopt;
  }
  return minor;
}

absl::Status RememberKongVersion(const std::string& data_dir, absl::string_view version) {
  return WriteFileAtomically(absl::StrCat(data_dir, "/", kKongVersionFileName),
                             absl::StrCat(version, "\n"), 0600);
}

}  // namespace tether::settings
