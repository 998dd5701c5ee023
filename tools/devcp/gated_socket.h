// GatedSocket: the TCP layer under each DP connection's TLS, which ControlPlane::Freeze closes.
#pragma once

#include <cstddef>

#include "tools/devcp/io_helpers.h"

namespace tether::devcp {

// A TCP socket that holds bytes back while the CP is frozen (ControlPlane::Freeze).
//
// Why: Beast answers pings inside its read operation, so the only way to make a CP silent
// without failing its websocket is to keep bytes from reaching Beast (and TLS). Reads and writes
// wait at the gate before touching the socket, and a read that completes while frozen holds its
// result back until the gate opens. A closed socket skips the gate, so Drop works while frozen.
//
// Threading: sequence-bound to the CP's io thread, like the flag it reads.
class GatedSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;
  using lowest_layer_type = tcp::socket::lowest_layer_type;

  GatedSocket(tcp::socket socket, const bool* frozen)
      : socket_(std::move(socket)), frozen_(frozen), wake_(socket_.get_executor()) {
    // Never expires: Wake() cancels it, which releases every operation waiting on it.
    wake_.expires_at(net::steady_timer::time_point::max());
  }
  GatedSocket(GatedSocket&&) = default;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

  // Makes every operation waiting at the gate look again (after Unfreeze or a close).
  void Wake() { wake_.cancel(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        TransferOp<MutableBuffers, true>(*this, buffers), token, socket_);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        TransferOp<ConstBuffers, false>(*this, buffers), token, socket_);
  }

 private:
  // Gate, then the socket operation, then the gate again before completing.
  template <typename Buffers, bool kRead>
  class TransferOp {
   public:
    TransferOp(GatedSocket& owner, const Buffers& buffers) : owner_(&owner), buffers_(buffers) {}

    template <typename Self>
    void operator()(Self& self, beast::error_code ec = {}, std::size_t bytes = 0) {
      if (phase_ == Phase::kTransferring) {
        result_ = ec;
        bytes_ = bytes;
        phase_ = Phase::kDelivering;
      }
      if (owner_->Held()) {
        owner_->wake_.async_wait(std::move(self));
        return;
      }
      if (phase_ == Phase::kGated) {
        phase_ = Phase::kTransferring;
        if constexpr (kRead) {
          owner_->socket_.async_read_some(buffers_, std::move(self));
        } else {
          owner_->socket_.async_write_some(buffers_, std::move(self));
        }
        return;
      }
      self.complete(result_, bytes_);
    }

   private:
    enum class Phase { kGated, kTransferring, kDelivering };
    GatedSocket* owner_;
    Buffers buffers_;
    Phase phase_ = Phase::kGated;
    beast::error_code result_;
    std::size_t bytes_ = 0;
  };

  bool Held() const { return *frozen_ && socket_.is_open(); }

  tcp::socket socket_;
  const bool* frozen_;  // ControlPlane::Impl::frozen_, which outlives every socket
  net::steady_timer wake_;
};

}  // namespace tether::devcp
