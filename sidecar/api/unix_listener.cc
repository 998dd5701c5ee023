// UnixListener (see unix_listener.h).
#include "sidecar/api/unix_listener.h"

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sidecar/api/log_throttle.h"
#include "sidecar/common/log.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";
// Leaves owner and group read and write (0660): a proxy in the group may connect, others may not.
constexpr mode_t kSocketUmask = 0117;
// A refused uid is logged at most this often; the metric counts every refusal.
constexpr absl::Duration kRefusalLogInterval = absl::Minutes(10);
// Bounds the throttles kept: past it they start afresh (only root can make many uids connect).
constexpr size_t kMaxThrottledUids = 256;

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

// Binding unlinks nothing, but a socket file left at the path makes bind fail. So: no file,
// fine; a socket nobody accepts on (left over by a crash), removed; a live socket (another tether
// serving) or anything else, refused.
absl::Status PrepareUnixPath(const std::string& path) {
  const std::string shown = absl::StrCat("unix://", path);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(parent, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown, ": directory ", parent.string(), " does not exist"));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown, ": ", std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grpc listen ", shown, ": a file that is not a socket is in the way; remove it"));
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("grpc listen ", shown, ": socket: ", std::strerror(errno)));
  }
  const sockaddr_un addr = UnixAddress(path);
  const int connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int connect_errno = errno;
  ::close(fd);
  if (connected == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("grpc listen ", shown,
                     ": another process serves this socket (is tether already running?)"));
  }
  if (connect_errno != ECONNREFUSED) {
    return absl::FailedPreconditionError(absl::StrCat("grpc listen ", shown,
                                                      ": cannot tell whether "
                                                      "the socket is in use: ",
                                                      std::strerror(connect_errno)));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grpc listen ", shown, ": cannot remove the stale socket: ", std::strerror(errno)));
  }
  log::Info(kLog, "removed stale socket", {{"path", path}});
  return absl::OkStatus();
}

}  // namespace

bool AllowedPeers::Allows(uid_t uid, gid_t gid) const {
  return uid == 0 || std::find(uids.begin(), uids.end(), uid) != uids.end() ||
         std::find(gids.begin(), gids.end(), gid) != gids.end();
}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Bind(std::string path) {
  if (absl::Status st = PrepareUnixPath(path); !st.ok()) return st;
  const std::string shown = absl::StrCat("unix://", path);
  const auto fail = [&](absl::string_view what, int fd) {
    const std::string err = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(absl::StrCat("grpc listen ", shown, ": ", what, ": ", err));
  };
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket", -1);
  const sockaddr_un addr = UnixAddress(path);
  const mode_t old_umask = ::umask(kSocketUmask);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  ::umask(old_umask);
  if (bound != 0) return fail("bind", fd);
  if (::listen(fd, SOMAXCONN) != 0) {
    ::unlink(path.c_str());
    return fail("listen", fd);
  }
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    ::unlink(path.c_str());
    return fail("eventfd", fd);
  }
  return std::unique_ptr<UnixListener>(new UnixListener(std::move(path), fd, wake));
}

void UnixPeerNames::Record(int fd, std::string name) {
  MutexLock lock(&mu_);
  names_[fd] = std::move(name);
}

std::string UnixPeerNames::Describe(const std::string& grpc_peer) const {
  int fd = -1;
  if (!absl::StartsWith(grpc_peer, "fd:") || !absl::SimpleAtoi(grpc_peer.substr(3), &fd)) {
    return grpc_peer;
  }
  MutexLock lock(&mu_);
  const auto it = names_.find(fd);
  return it == names_.end() ? grpc_peer : it->second;
}

UnixListener::~UnixListener() { Stop(); }

void UnixListener::Start(grpc::Server* server, UnixPeerNames* names, AllowedPeers allowed,
                         OnRefused on_refused) {
  thread_ = std::thread(
      [this, server, names, allowed = std::move(allowed), on_refused = std::move(on_refused)] {
        AcceptLoop(server, names, allowed, on_refused);
      });
}

void UnixListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    // Cannot fail short of a full counter, which one write per listener never reaches.
    (void)!::write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  ::close(listen_fd_);
  ::close(wake_fd_);
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    log::Warn(kLog, "cannot remove socket", {{"path", path_}, {"err", std::strerror(errno)}});
  }
}

void UnixListener::AcceptLoop(grpc::Server* server, UnixPeerNames* names,
                              const AllowedPeers& allowed, const OnRefused& on_refused) {
  std::map<uid_t, LogThrottle> throttles;
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      log::Error(kLog, "grpc unix listener stopped",
                 {{"path", path_}, {"err", std::strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The pending connection stays queued; waiting keeps poll from spinning on it.
        log::Warn(kLog, "grpc unix listener cannot accept", {{"err", std::strerror(errno)}});
        ::poll(&fds[1], 1, 100);
      }
      continue;  // EAGAIN, EINTR, ECONNABORTED: nothing to do
    }
    ucred peer{};
    socklen_t len = sizeof(peer);
    if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
      log::Warn(kLog, "grpc peer refused: no peer credentials",
                {{"path", path_}, {"err", std::strerror(errno)}});
      // Counted before the close, so that whoever sees the close also sees the count.
      on_refused(status::PeerRefusal::kNoCredentials);
      ::close(conn);
      continue;
    }
    if (allowed.Allows(peer.uid, peer.gid)) {
      // Before the handover, so that no call on the connection can look before it is named.
      names->Record(conn, absl::StrCat("unix:", path_, " (pid ", peer.pid, ", uid ", peer.uid,
                                       ", gid ", peer.gid, ")"));
      grpc::AddInsecureChannelFromFd(server, conn);
      continue;
    }
    on_refused(status::PeerRefusal::kNotAllowed);
    ::close(conn);
    if (throttles.size() >= kMaxThrottledUids && !throttles.contains(peer.uid)) throttles.clear();
    uint64_t suppressed = 0;
    if (throttles.try_emplace(peer.uid, kRefusalLogInterval)
            .first->second.Allow(absl::Now(), suppressed)) {
      log::Warn(kLog,
                "grpc peer refused: its uid and gid are not allowed (--grpc-allowed-uids, "
                "--grpc-allowed-gids)",
                {{"path", path_},
                 {"uid", absl::StrCat(peer.uid)},
                 {"gid", absl::StrCat(peer.gid)},
                 {"pid", absl::StrCat(peer.pid)},
                 {"suppressed", absl::StrCat(suppressed)}});
    }
  }
}

}  // namespace tether::api
