// TestDp: a minimal data plane written with Beast, for ControlPlane's tests: real TLS on
// loopback with the test certificates (tests/fixtures/certs), and each wait bounded by kWait so
// that a failure fails instead of hanging. Also the fixtures' names and the protocol constants the
// tests use.
//
// Threading: a TestDp runs its own io_context on the test thread, inside its calls.
#pragma once

#include <zlib.h>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sidecar/common/asio.h"

namespace tether::devcp {

using tcp = net::ip::tcp;

using tcp = net::ip::tcp;

inline constexpr absl::Duration kWait = absl::Seconds(10);
inline constexpr char kNodeId[] = "0b3b1c39-5a8a-4a9f-9d3c-6f9f3f0e2a11";
inline constexpr char kBasicInfo[] =
    R"({"type":"basic_info","plugins":[{"name":"key-auth","version":"3.10.0"}],"filters":{}})";
// The §3.5 test vector, so the hash is checked against Kong, not against our own code.
inline constexpr char kConfig[] = R"({"routes":[],"services":[],"plugins":[]})";
inline constexpr char kConfigHash[] = "81aac97a81ad03c0cf0b36663806488e";
inline const std::string kZeroHash(32, '0');

inline std::string Cert(absl::string_view name) {
  return absl::StrCat(TETHER_FIXTURES_DIR, "/certs/", name);
}

inline std::string Target(absl::string_view node_version = "3.10.0") {
  return absl::StrCat("/v1/outlet?node_id=", kNodeId,
                      "&node_hostname=dp.test&node_version=", node_version);
}

// RFC 1952 decoding with zlib's automatic header detection, as Kong's DP does (§3.1).
inline std::optional<std::string> Gunzip(const std::string& in) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return std::nullopt;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

struct Identity {
  std::string cert;
  std::string key;
};
inline Identity SharedIdentity() {
  return {Cert("kong_clustering.crt"), Cert("kong_clustering.key")};
}
inline Identity PkiClientIdentity() {
  return {Cert("kong_clustering_client.crt"), Cert("kong_clustering_client.key")};
}

// A minimal data plane. Runs its own io_context on the test thread: each call drives it until
// what it waits for has happened, or kWait has passed.
class TestDp {
 public:
  // `identity` empty: present no client certificate.
  explicit TestDp(std::optional<Identity> identity = SharedIdentity())
      : tls_(ssl::context::tls_client) {
    tls_.set_verify_mode(ssl::verify_peer);
    tls_.load_verify_file(Cert("kong_clustering.crt"));
    if (identity.has_value()) {
      tls_.use_certificate_chain_file(identity->cert);
      tls_.use_private_key_file(identity->key, ssl::context::pem);
    }
    // The SSL object copies the context's settings, so it is made only now.
    ws_.emplace(io_, tls_);
    // §1.2: shared mode hard-codes SNI and the verified name.
    SSL_set_tlsext_host_name(ws_->next_layer().native_handle(), "kong_clustering");
    ws_->next_layer().set_verify_callback(ssl::host_name_verification("kong_clustering"));
    ws_->control_callback([this](websocket::frame_type kind, std::string_view payload) {
      if (kind == websocket::frame_type::pong) pongs_.emplace_back(payload);
      if (kind == websocket::frame_type::close) got_close_frame_ = true;
    });
  }

  // TCP, TLS and the websocket upgrade; the upgrade's error (the HTTP answer in http_status()).
  beast::error_code Connect(uint16_t port, const std::string& target = Target()) {
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                          ec);
    if (ec) return ec;
    beast::get_lowest_layer(*ws_).set_option(tcp::no_delay(true), ec);
    ec = Do([&](auto handler) {
      ws_->next_layer().async_handshake(ssl::stream_base::client, handler);
    });
    if (ec) return ec;
    ws_->binary(true);
    return Do([&](auto handler) {
      ws_->async_handshake(response_, absl::StrCat("127.0.0.1:", port), target, handler);
    });
  }

  // Connects and sends basic_info; fails the test if either fails.
  void Join(uint16_t port, const std::string& basic_info = kBasicInfo) {
    ASSERT_FALSE(Connect(port)) << "connect failed";
    ASSERT_FALSE(Send(basic_info));
  }

  beast::error_code Send(absl::string_view data, bool binary = true) {
    ws_->binary(binary);
    return Do(
        [&](auto handler) { ws_->async_write(net::buffer(data.data(), data.size()), handler); });
  }

  beast::error_code Ping(absl::string_view payload) {
    return Do([&](auto handler) {
      ws_->async_ping(websocket::ping_data(payload.data(), payload.size()), handler);
    });
  }

  // The next data message; nullopt when the connection ended first or `wait` passed.
  std::optional<std::string> NextMessage(absl::Duration wait = kWait) {
    StartRead();
    RunUntil([&] { return !messages_.empty() || read_error_.has_value(); }, wait);
    return Pop(messages_);
  }

  std::optional<std::string> NextPong(absl::Duration wait = kWait) {
    StartRead();
    RunUntil([&] { return !pongs_.empty() || read_error_.has_value(); }, wait);
    return Pop(pongs_);
  }

  // Reads until the connection ends: websocket::error::closed after a close frame.
  beast::error_code WaitClosed() {
    StartRead();
    if (!RunUntil([&] { return read_error_.has_value(); }, kWait)) return beast::error::timeout;
    return *read_error_;
  }

  // Whether a close frame arrived (close_reason() is then its content): a CP that hangs up at
  // once may reset the connection before the DP reads it.
  bool got_close_frame() const { return got_close_frame_; }
  websocket::close_reason close_reason() const { return ws_->reason(); }
  unsigned http_status() const { return response_.result_int(); }

 private:
  static std::optional<std::string> Pop(std::deque<std::string>& queue) {
    if (queue.empty()) return std::nullopt;
    std::string front = std::move(queue.front());
    queue.pop_front();
    return front;
  }

  // Starts one async operation with a handler that stores its error, and runs until it ends.
  template <typename Start>
  beast::error_code Do(Start start) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    if (!RunUntil([&] { return result.has_value(); }, kWait)) {
      // Abort, then let the operation finish so that its handler never outlives `result`.
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored);
      RunUntil([&] { return result.has_value(); }, kWait);
      return beast::error::timeout;
    }
    return *result;
  }

  // Keeps one read pending from the first wait on, so pongs and close frames are processed.
  void StartRead() {
    if (reading_ || read_error_.has_value()) return;
    reading_ = true;
    ws_->async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      reading_ = false;
      if (ec) {
        read_error_ = ec;
        return;
      }
      messages_.push_back(beast::buffers_to_string(buffer_.data()));
      buffer_.clear();
      StartRead();
    });
  }

  bool RunUntil(const std::function<bool()>& done, absl::Duration wait) {
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(wait);
    io_.restart();
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      // Nothing pending means nothing can change the outcome any more.
      if (io_.run_one_until(deadline) == 0 && io_.stopped()) return done();
    }
    return true;
  }

  net::io_context io_;
  ssl::context tls_;
  std::optional<websocket::stream<ssl::stream<tcp::socket>>> ws_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  bool reading_ = false;
  std::deque<std::string> messages_;
  std::deque<std::string> pongs_;
  std::optional<beast::error_code> read_error_;
  bool got_close_frame_ = false;
};

}  // namespace tether::devcp
