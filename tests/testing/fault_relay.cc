#include "tests/testing/fault_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include "gtest/gtest.h"

namespace tether::testing {
namespace {

constexpr int kTrickleMillis = 50;

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closing with SO_LINGER 0 sends RST instead of FIN.
void Reset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(fd);
}

// Writes what the socket takes now; false when the peer is gone.
bool Flush(int fd, std::string& pending) {
  if (pending.empty()) return true;
  const ssize_t n = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  if (n > 0) pending.erase(0, n);
  return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK;
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  SetNonBlocking(fd);
  return fd;
}

}  // namespace

// One relayed connection: down = tether's side, up = the CP's side. Bytes read but not yet
// written wait in the buffers (the pump never blocks on a write).
struct FaultRelay::Pair {
  int down = -1;
  int up = -1;
  std::string to_up;
  std::string to_down;
  long truncate_budget = -1;
  enum class State { kOpen, kClosing, kReset } state = State::kOpen;
};

FaultRelay::FaultRelay(uint16_t upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  EXPECT_EQ(listen(listen_fd_, 64), 0);
  SetNonBlocking(listen_fd_);
  EXPECT_EQ(pipe2(wake_, O_CLOEXEC | O_NONBLOCK), 0);
  pump_ = std::thread([this] { Run(); });
}

FaultRelay::~FaultRelay() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  (void)!write(wake_[1], "x", 1);
  pump_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

void FaultRelay::SetMode(Mode mode) {
  {
    MutexLock lock(&mu_);
    mode_ = mode;
  }
  (void)!write(wake_[1], "x", 1);
}

void FaultRelay::ResetAll() {
  {
    MutexLock lock(&mu_);
    reset_requested_ = true;
  }
  (void)!write(wake_[1], "x", 1);
}

void FaultRelay::TruncateAfter(size_t bytes) {
  {
    MutexLock lock(&mu_);
    truncate_after_ = static_cast<long>(bytes);
  }
  (void)!write(wake_[1], "x", 1);
}

int FaultRelay::accepted() const {
  MutexLock lock(&mu_);
  return accepted_;
}

void FaultRelay::Run() {
  std::vector<std::unique_ptr<Pair>> pairs;
  auto next_tick = std::chrono::steady_clock::now();
  while (true) {
    Mode mode;
    bool reset;
    long truncate;
    {
      MutexLock lock(&mu_);
      if (stopping_) break;
      mode = mode_;
      reset = std::exchange(reset_requested_, false);
      truncate = std::exchange(truncate_after_, -1);
    }
    for (auto& p : pairs) {
      if (reset) p->state = Pair::State::kReset;
      if (truncate >= 0) p->truncate_budget = truncate;
    }

    // Reads are polled only when passing; trickling reads one byte a tick regardless.
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (auto& p : pairs) {
      const short read = mode == Mode::kPass ? POLLIN : 0;
      fds.push_back({p->down, static_cast<short>(read | (p->to_down.empty() ? 0 : POLLOUT)), 0});
      fds.push_back({p->up, static_cast<short>(read | (p->to_up.empty() ? 0 : POLLOUT)), 0});
    }
    poll(fds.data(), fds.size(), mode == Mode::kTrickle ? kTrickleMillis : 1000);
    const auto now = std::chrono::steady_clock::now();
    const bool tick = mode == Mode::kTrickle && now >= next_tick;
    if (tick) next_tick = now + std::chrono::milliseconds(kTrickleMillis);
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_[0], drain, sizeof(drain)) > 0) {
      }
    }
    // Pairs accepted below have no poll entries yet; they are served from the next round.
    const size_t polled = pairs.size();
    if (fds[1].revents & POLLIN) {
      int down;
      while ((down = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        auto p = std::make_unique<Pair>();
        p->down = down;
        p->up = ConnectLoopback(upstream_port_);
        if (p->up < 0) p->state = Pair::State::kReset;
        pairs.push_back(std::move(p));
        MutexLock lock(&mu_);
        ++accepted_;
      }
    }
    const size_t chunk = mode == Mode::kTrickle ? 1 : 64 * 1024;
    for (size_t i = 0; i < polled; ++i) {
      Pair& p = *pairs[i];
      if (p.state == Pair::State::kReset) continue;
      const pollfd& d = fds[2 + 2 * i];
      const pollfd& u = fds[3 + 2 * i];
      const bool open = p.state == Pair::State::kOpen;
      const bool read_up = open && (tick || (u.revents & (POLLIN | POLLHUP | POLLERR)));
      const bool read_down = open && (tick || (d.revents & (POLLIN | POLLHUP | POLLERR)));
      char buf[64 * 1024];
      // Upstream -> downstream, honouring a pending truncation.
      size_t want = chunk;
      if (p.truncate_budget >= 0) want = std::min<size_t>(want, p.truncate_budget);
      if (read_up && want > 0) {
        const ssize_t n = ::read(p.up, buf, want);
        if (n > 0) {
          p.to_down.append(buf, n);
          if (p.truncate_budget >= 0) p.truncate_budget -= n;
        } else if (n == 0) {
          p.state = Pair::State::kClosing;
        }
      }
      if (read_down) {
        const ssize_t n = ::read(p.down, buf, chunk);
        if (n > 0) p.to_up.append(buf, n);
        if (n == 0) p.state = Pair::State::kClosing;
      }
      if (!Flush(p.down, p.to_down) || !Flush(p.up, p.to_up)) p.state = Pair::State::kReset;
      if (p.truncate_budget == 0 && p.to_down.empty()) p.state = Pair::State::kReset;
    }
    std::erase_if(pairs, [](const std::unique_ptr<Pair>& p) {
      switch (p->state) {
        case Pair::State::kOpen:
          return false;
        case Pair::State::kClosing:
          // One side closed: pass the close on (FIN) once what it sent is delivered.
          if (!p->to_down.empty() || !p->to_up.empty()) return false;
          close(p->down);
          close(p->up);
          return true;
        case Pair::State::kReset:
          Reset(p->down);
          if (p->up >= 0) Reset(p->up);
          return true;
      }
      return true;
    });
  }
  for (auto& p : pairs) {
    Reset(p->down);
    if (p->up >= 0) Reset(p->up);
  }
}

}  // namespace tether::testing
