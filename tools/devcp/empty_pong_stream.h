// EmptyPongStream: the layer between each DP connection's websocket and its TLS that empties the
// CP's pongs, as Kong's are (kong-protocol.md §4.1), and on request drips a frame's payload.
//
// Why: Beast 1.74 answers a ping inside its read with a pong echoing the ping's payload, and
// offers no hook to change it (control_callback only observes). So the pong is rewritten on its
// way out instead: this layer parses the frames Beast writes and sends each pong (opcode 0xA) as
// 0x8A 0x00, passing every other byte through untouched. It needs no knowledge of compression:
// devcp does not enable permessage-deflate, and control frames are never compressed anyway.
//
// Dripping (Drip): a CP or middlebox that sends a frame's header, then its payload a byte at a
// time, for tether's test of slow frames. It lives here because only a layer under the websocket
// can slow a frame down while Beast still owns the writing: Beast then holds its pongs until the
// frame is written, as a real peer's frame would.
//
// Threading: sequence-bound to the CP's io thread, like the streams above and below it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "sidecar/common/asio.h"

namespace tether::devcp {

// The rewriting itself, separate from any stream so that it is tested byte by byte.
//
// Keeps the parse state across calls, so frames may be split anywhere between writes (a header
// included). Server frames are unmasked, but a masked pong keeps its mask bit and key too.
class PongEmptier {
 public:
  // Appends to `out` what is to be sent for `in`: pieces of `in` itself, and a static byte in
  // place of each pong's length byte. `out` refers to `in`, so it must not outlive it.
  void Rewrite(net::const_buffer in, std::vector<net::const_buffer>& out);
  // The next byte is payload.
  bool in_payload() const { return part_ == Part::kPayload; }

 private:
  enum class Part { kFirstByte, kLengthByte, kExtendedLength, kMaskKey, kPayload };
  // What follows a header byte: the rest of the header, the payload, or the next frame.
  void NextPart();

  Part part_ = Part::kFirstByte;
  bool pong_ = false;          // the current frame is a pong
  int extended_left_ = 0;      // bytes of the 16- or 64-bit payload length still to come
  int mask_left_ = 0;          // bytes of the masking key still to come
  uint64_t payload_left_ = 0;  // payload bytes of the current frame still to come
};

// A stream layer for websocket::stream that empties outgoing pongs (see the file comment).
//
// Until StartFrames() it passes writes through as they are, because the upgrade response goes
// through it too (Beast's accept writes the 101 to its next layer). Reads always pass through.
template <typename NextLayer>
class EmptyPongStream {
 public:
  using executor_type = typename NextLayer::executor_type;
  using next_layer_type = NextLayer;
  using lowest_layer_type = typename NextLayer::lowest_layer_type;

  // websocket::stream constructs its next layer from its own arguments; they go to NextLayer.
  template <typename... Args>
  explicit EmptyPongStream(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  const next_layer_type& next_layer() const { return next_; }
  lowest_layer_type& lowest_layer() { return next_.lowest_layer(); }
  const lowest_layer_type& lowest_layer() const { return next_.lowest_layer(); }

  // Called once the upgrade response is written, with no write in flight: from here on, every
  // byte written is part of a websocket frame.
  void StartFrames() { frames_ = true; }
  // From the next write on, until Drip(zero): each write sends any header bytes and one payload
  // byte, then waits `per_byte` before it completes.
  void Drip(std::chrono::steady_clock::duration per_byte) { drip_ = per_byte; }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return next_.async_read_some(buffers, std::forward<Token>(token));
  }

  // Once frames have started, consumes all of `buffers`: their rewritten form is written in full
  // to the next layer, and the completion reports the caller's bytes (0 with an error, after
  // which the frame stream is broken, as the next layer is).
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        WriteOp<ConstBuffers>(*this, buffers), token, next_);
  }

 private:
  template <typename ConstBuffers>
  class WriteOp {
   public:
    WriteOp(EmptyPongStream& owner, const ConstBuffers& buffers)
        : owner_(&owner), buffers_(buffers) {}

    template <typename Self>
    void operator()(Self& self, beast::error_code ec = {}, std::size_t written = 0) {
      switch (step_) {
        case Step::kStart:
          break;
        case Step::kWritten:
          if (ec || !pause_) {
            self.complete(ec, !rewritten_ ? written : ec ? 0 : consumed_);
            return;
          }
          step_ = Step::kPaused;
          pause_->async_wait(std::move(self));
          return;
        case Step::kPaused:
          self.complete({}, consumed_);
          return;
      }
      step_ = Step::kWritten;
      if (!owner_->frames_) {
        owner_->next_.async_write_some(buffers_, std::move(self));
        return;
      }
      rewritten_ = true;
      if (owner_->drip_ > std::chrono::steady_clock::duration::zero()) {
        pause_ = std::make_unique<net::steady_timer>(owner_->next_.get_executor(), owner_->drip_);
      }
      std::vector<net::const_buffer> out;
      for (auto it = net::buffer_sequence_begin(buffers_); it != net::buffer_sequence_end(buffers_);
           ++it) {
        if (pause_ ? TakeOneDrop(net::const_buffer(*it), out)
                   : TakeAll(net::const_buffer(*it), out))
          break;
      }
      // async_write copies `out`; what it refers to is the caller's, alive until completion.
      net::async_write(owner_->next_, out, std::move(self));
    }

   private:
    enum class Step { kStart, kWritten, kPaused };

    // Each returns whether this write is full.
    bool TakeAll(net::const_buffer piece, std::vector<net::const_buffer>& out) {
      owner_->emptier_.Rewrite(piece, out);
      consumed_ += piece.size();
      return false;
    }
    // Header bytes, up to and including one payload byte.
    bool TakeOneDrop(net::const_buffer piece, std::vector<net::const_buffer>& out) {
      for (std::size_t i = 0; i < piece.size(); ++i) {
        const bool payload = owner_->emptier_.in_payload();
        owner_->emptier_.Rewrite(net::buffer(piece + i, 1), out);
        ++consumed_;
        if (payload) return true;
      }
      return false;
    }

    EmptyPongStream* owner_;
    ConstBuffers buffers_;
    Step step_ = Step::kStart;
    bool rewritten_ = false;
    std::size_t consumed_ = 0;
    std::unique_ptr<net::steady_timer> pause_;  // dripping: the wait after the byte
  };

  NextLayer next_;
  bool frames_ = false;
  std::chrono::steady_clock::duration drip_{};
  PongEmptier emptier_;
};

// Beast tears a websocket's next layer down when the close handshake ends (and on some errors);
// for a custom layer it finds this overload by argument-dependent lookup. Only the asynchronous
// form exists: devcp runs no synchronous websocket operation, and this layer has no sync I/O.
template <typename NextLayer, typename TeardownHandler>
void async_teardown(beast::role_type role, EmptyPongStream<NextLayer>& stream,
                    TeardownHandler&& handler) {
  // As Beast's own call: the websocket overloads, plus those found by lookup on the arguments
  // (the ssl::stream one is in namespace beast, found through role_type).
  using beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace tether::devcp
