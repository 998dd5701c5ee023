// ControlPlane::Impl: tether-devcp's io thread, listener, TLS context, current config and DP
// sessions. control_plane.cc is its public face; sessions (session.h) call back into it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/mutex.h"
#include "tools/devcp/control_plane.h"
#include "tools/devcp/event_log.h"
#include "tools/devcp/session.h"

namespace tether::devcp {

// Owns the io thread, the listener, the TLS context and the sessions.
//
// Threading: public methods from any thread except the io thread, which runs everything marked
// "io thread" below; RunOnIo hands work over and waits. post_mu_ guards stopping_ so that no
// work is posted once shutdown has begun.
class ControlPlane::Impl {
 public:
  // Loads the TLS files, binds and starts the io thread. `options` are already validated
  // (ControlPlane::Create): InvalidArgument for bad TLS files, Unavailable when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Impl>> Start(Options options);

  Impl(Options options, std::unique_ptr<net::io_context> io, ssl::context tls,
       std::string cert_digest, net::ip::tcp::acceptor acceptor);
  ~Impl() { Stop(); }

  uint16_t port() const { return port_; }
  void Stop();
  // Runs `fn` on the io thread and waits for it; false (and `fn` not run) once stopping.
  bool RunOnIo(const std::function<void()>& fn);
  EventLog& events() { return events_; }

  // --- io thread only ---
  const Options& options() const { return options_; }
  ssl::context& tls() { return tls_; }
  const std::string& cert_digest() const { return cert_digest_; }
  bool frozen() const { return frozen_; }
  const bool* frozen_flag() const { return &frozen_; }
  const OutgoingPtr& config() const { return config_; }
  void SetConfig(OutgoingPtr config);
  void Broadcast(const OutgoingPtr& frame);
  void SetFrozen(bool frozen);
  void CloseAll(absl::string_view reason);
  void DropAll(absl::string_view reason);
  void Unregister(uint64_t connection);
  // Whether this upgrade is answered 429 (Options::busy_upgrades), counting it.
  bool TakeBusyAnswer() {
    if (busy_answers_left_ <= 0) return false;
    --busy_answers_left_;
    return true;
  }

 private:
  net::awaitable<void> AcceptLoop();
  void BeginShutdown();
  std::vector<std::shared_ptr<Session>> SessionsSnapshot() const;

  const Options options_;
  // Declared before everything that holds handles into it, so that it is destroyed after them.
  std::unique_ptr<net::io_context> io_;
  ssl::context tls_;
  const std::string cert_digest_;  // SHA-256 of the CP certificate's DER (shared mode)
  net::ip::tcp::acceptor acceptor_;
  const uint16_t port_;
  EventLog events_;

  // --- io thread only ---
  // Keeps io_->run() alive until BeginShutdown, even if the accept loop ends early.
  net::executor_work_guard<net::io_context::executor_type> work_;
  net::steady_timer grace_timer_;  // aborts connections whose close outlasts Stop's grace
  bool frozen_ = false;
  bool shutting_down_ = false;
  uint64_t next_connection_ = 0;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  OutgoingPtr config_;  // pushed to each DP right after its basic_info; only SetConfig sets it
  int busy_answers_left_ = options_.busy_upgrades;

  Mutex post_mu_;  // tether::Mutex: visible to TSan, unlike Debian's absl::Mutex
  bool stopping_ ABSL_GUARDED_BY(post_mu_) = false;
  std::once_flag stop_once_;
  std::thread thread_;
};

}  // namespace tether::devcp
