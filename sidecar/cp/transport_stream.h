// TransportStream: the byte stream under the CP's TLS. Plain TCP, to the CP or to an http proxy;
// or TCP plus TLS, to an https proxy, so that the CP's TLS then runs inside the proxy's.
//
// Why one type for every route: the websocket stream's type is fixed at compile time, and a second
// instantiation of the whole Beast websocket and TLS stack would double session.cc's build time
// and code size for a rarely used path. Included only by session.cc.
//
// Threading: like any Asio stream, not thread-safe: used on the session strand only.
#pragma once

#include <optional>
#include <utility>

#include "sidecar/common/asio.h"

namespace tether::cp {

class TransportStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  // Asio's TLS stream over this one takes its executor from the socket.
  using lowest_layer_type = net::ip::tcp::socket;

  template <typename Executor>
  explicit TransportStream(const Executor& executor) : tcp_(executor) {}

  executor_type get_executor() { return tcp_.get_executor(); }
  beast::tcp_stream& tcp() { return tcp_; }
  net::ip::tcp::socket& socket() { return tcp_.socket(); }
  lowest_layer_type& lowest_layer() { return tcp_.socket(); }

  // Puts TLS over the connected TCP stream: reads and writes go through it from now on. `context`
  // must outlive this stream.
  ssl::stream<beast::tcp_stream&>& StartTls(ssl::context& context) {
    tls_.emplace(tcp_, context);
    return *tls_;
  }

  template <typename MutableBufferSequence, typename ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<ReadHandler>(handler));
    return tcp_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <typename ConstBufferSequence, typename WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<WriteHandler>(handler));
    return tcp_.async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

  // Beast's websocket closes the lowest layer this way when its own timer fires.
  friend void beast_close_socket(TransportStream& stream) {
    beast::error_code ignored;
    stream.tcp_.socket().close(ignored);
  }

 private:
  beast::tcp_stream tcp_;
  std::optional<ssl::stream<beast::tcp_stream&>> tls_;  // only towards an https proxy
};

}  // namespace tether::cp
