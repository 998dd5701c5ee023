// UnixListener: tether's own accept loop on a gRPC unix socket, which checks each peer's
// credentials (SO_PEERCRED) and hands only allowed connections to the gRPC server.
//
// Why not gRPC's own unix listener: in gRPC 1.51 nothing that sees a call can see the socket
// behind it (an insecure unix connection's auth context holds only its security type;
// AuthMetadataProcessor and server interceptors never get the fd), so file modes were the only
// check. grpc::AddInsecureChannelFromFd takes an accepted connection into a running server, which
// then serves it like any other (same services, limits and shutdown).
//
// The socket is born mode 0660 (bound under umask 0117) rather than chmod'ed after bind, so no
// one outside the group can connect in between. umask is process-wide: Bind runs at start-up,
// before the threads that create files (the CP session, the config cache) start.
//
// Threading: Bind and Start from the thread that owns it; the accept loop runs on its own thread;
// Stop (idempotent, also the destructor) from any thread but that one.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sidecar/common/mutex.h"
#include "sidecar/status/totals.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace tether::api {

// Who may connect: root, a listed uid, or a listed (effective, primary) gid. SO_PEERCRED carries
// no supplementary groups.
struct AllowedPeers {
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;

  bool Allows(uid_t uid, gid_t gid) const;
};

// Who is behind each connection the listeners handed over. gRPC names such a connection "fd:N",
// which tells an operator reading the subscriber list nothing; the listener knows the socket and
// the peer's pid, uid and gid, and records them here by fd.
class UnixPeerNames {
 public:
  void Record(int fd, std::string name);
  // `grpc_peer` as gRPC spells it, with a recorded "fd:N" replaced by its name.
  std::string Describe(const std::string& grpc_peer) const;

 private:
  mutable Mutex mu_;
  // By fd. A closed connection's fd is reused by a later accept, which overwrites the entry, so
  // the map never holds more entries than the process has fds.
  absl::flat_hash_map<int, std::string> names_ ABSL_GUARDED_BY(mu_);
};

class UnixListener {
 public:
  using OnRefused = std::function<void(status::PeerRefusal)>;

  // Removes a stale socket file at `path` (refusing one a live process still listens on), then
  // binds and listens. FailedPrecondition for a path held by another server, not a socket or in a
  // missing directory; Unavailable when the socket cannot be bound.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Bind(std::string path);
  ~UnixListener();

  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Starts accepting for `server` (built and started, outliving Stop), naming each connection it
  // hands over in `names` (outliving Stop too). `on_refused` runs on the accept thread for each
  // connection closed unserved.
  void Start(grpc::Server* server, UnixPeerNames* names, AllowedPeers allowed,
             OnRefused on_refused);
  // Stops accepting, joins the accept thread, closes the socket and removes its file.
  // Connections already handed over stay the server's.
  void Stop();

  const std::string& path() const { return path_; }

 private:
  UnixListener(std::string path, int listen_fd, int wake_fd)
      : path_(std::move(path)), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

  void AcceptLoop(grpc::Server* server, UnixPeerNames* names, const AllowedPeers& allowed,
                  const OnRefused& on_refused);

  const std::string path_;
  int listen_fd_;
  // An eventfd that Stop writes to wake the accept loop.
  int wake_fd_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace tether::api
