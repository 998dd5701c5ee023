// PongEmptier on frame bytes split every way, and EmptyPongStream over a real loopback TCP
// connection: raw writes, then a Beast websocket client and server (the server's pong to a ping
// with a payload arrives empty; data frames and the close handshake are untouched), and dripping.
#include "tools/devcp/empty_pong_stream.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/common/asio.h"

namespace tether::devcp {
namespace {

using tcp = net::ip::tcp;

// A server frame (unmasked) with `opcode`, FIN set and `payload`.
std::string Frame(unsigned char opcode, std::string_view payload) {
  std::string frame(1, static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    frame += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xFFFF) {
    frame += static_cast<char>(126);
    for (int shift = 8; shift >= 0; shift -= 8) frame += static_cast<char>(payload.size() >> shift);
  } else {
    frame += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      frame += static_cast<char>(payload.size() >> shift);
  }
  return frame + std::string(payload);
}

std::string Joined(const std::vector<net::const_buffer>& pieces) {
  std::string joined;
  for (const net::const_buffer& piece : pieces) {
    joined.append(static_cast<const char*>(piece.data()), piece.size());
  }
  return joined;
}

// What the emptier makes of `in` fed in pieces cut at `cuts` (ascending offsets).
std::string RewriteCut(std::string_view in, const std::vector<std::size_t>& cuts) {
  PongEmptier emptier;
  std::vector<net::const_buffer> out;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    emptier.Rewrite(net::buffer(in.data() + from, cut - from), out);
    from = cut;
  }
  emptier.Rewrite(net::buffer(in.data() + from, in.size() - from), out);
  return Joined(out);
}

const std::string kEmptyPong("\x8A\x00", 2);
const std::string kHash(32, 'a');

TEST(PongEmptierTest, EmptiesPongWithPayload) {
  EXPECT_EQ(RewriteCut(Frame(0xA, kHash), {}), kEmptyPong);
  EXPECT_EQ(RewriteCut(Frame(0xA, ""), {}), kEmptyPong);
}

// Every length form, each kept byte for byte and as one piece of the caller's buffer.
TEST(PongEmptierTest, KeepsDataFramesAsTheyAre) {
  const std::string frames = Frame(0x2, std::string(100, 'b')) + Frame(0x1, std::string(300, 't')) +
                             Frame(0x2, std::string(70000, 'c')) + Frame(0x9, kHash) +
                             Frame(0x8, "");
  PongEmptier emptier;
  std::vector<net::const_buffer> out;
  emptier.Rewrite(net::buffer(frames), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data(), frames.data());
  EXPECT_EQ(Joined(out), frames);
}

// Frames cut anywhere, headers included, come out as when written whole.
TEST(PongEmptierTest, SplitsAnywhere) {
  const std::string data = Frame(0x2, std::string(300, 'd'));
  const std::string in =
      data + Frame(0xA, kHash) + Frame(0x1, "text") + Frame(0xA, "x") + Frame(0x8, "");
  const std::string expected = data + kEmptyPong + Frame(0x1, "text") + kEmptyPong + Frame(0x8, "");
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    ASSERT_EQ(RewriteCut(in, {cut}), expected) << "cut at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t cut = 1; cut < in.size(); ++cut) every_byte.push_back(cut);
  EXPECT_EQ(RewriteCut(in, every_byte), expected);
}

// A masked pong (a client's) keeps its mask bit and key, and loses its payload.
TEST(PongEmptierTest, MaskedPongKeepsItsKey) {
  const std::string key("\x01\x02\x03\x04", 4);
  const std::string in = std::string("\x8A\x83", 2) + key + "xyz" + Frame(0x2, "after");
  EXPECT_EQ(RewriteCut(in, {3}), std::string("\x8A\x80", 2) + key + Frame(0x2, "after"));
}

// A connected pair of loopback sockets on one io_context.
class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    client_.connect(acceptor.local_endpoint());
    acceptor.accept(server_);
  }

  // Runs `a` and `b` to completion, bounded so that a hang fails instead.
  void Run(net::awaitable<void> a, net::awaitable<void> b) {
    net::co_spawn(io_, std::move(a), Rethrow);
    net::co_spawn(io_, std::move(b), Rethrow);
    io_.run_for(std::chrono::seconds(10));
    ASSERT_TRUE(io_.stopped()) << "timed out";
  }

  static void Rethrow(std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
  }

  net::io_context io_;
  tcp::socket client_{io_};
  tcp::socket server_{io_};
};

// Before StartFrames bytes pass as they are (the upgrade response); after it, each write reports
// all the caller's bytes consumed, however the frames are cut, and the peer reads them rewritten.
TEST_F(LoopbackTest, WritesReportTheCallersBytes) {
  const std::string response = "HTTP/1.1 101 Switching Protocols\r\n\x8A\x05\r\n\r\n";
  const std::string data = Frame(0x2, std::string(1000, 'd'));
  const std::string in = Frame(0xA, kHash) + data;
  const std::string expected = response + kEmptyPong + data;
  std::string received;
  auto write = [&]() -> net::awaitable<void> {
    EmptyPongStream<tcp::socket> stream(std::move(server_));
    EXPECT_EQ(co_await net::async_write(stream, net::buffer(response), net::use_awaitable),
              response.size());
    stream.StartFrames();
    // Cut inside the pong's header, then inside the data frame's header, as two buffers.
    const std::vector<net::const_buffer> pieces = {net::buffer(in.data() + 1, 30),
                                                   net::buffer(in.data() + 31, 5)};
    EXPECT_EQ(co_await stream.async_write_some(net::buffer(in.data(), 1), net::use_awaitable), 1u);
    EXPECT_EQ(co_await stream.async_write_some(pieces, net::use_awaitable), 35u);
    EXPECT_EQ(co_await net::async_write(stream, net::buffer(in.data() + 36, in.size() - 36),
                                        net::use_awaitable),
              in.size() - 36);
  };
  auto read = [&]() -> net::awaitable<void> {
    received.resize(expected.size());
    co_await net::async_read(client_, net::buffer(received), net::use_awaitable);
  };
  Run(write(), read());
  EXPECT_EQ(received, expected);
}

// Dripping: a write takes the header and one payload byte, then waits the interval before it
// completes, so the payload trickles out a byte at a time.
TEST_F(LoopbackTest, DripsThePayloadAByteAtATime) {
  const std::string frame = Frame(0x2, "abcde");  // a 2-byte header, then the payload
  constexpr auto kPerByte = std::chrono::milliseconds(20);
  std::string received;
  auto write = [&]() -> net::awaitable<void> {
    EmptyPongStream<tcp::socket> stream(std::move(server_));
    stream.StartFrames();
    stream.Drip(kPerByte);
    EXPECT_EQ(co_await stream.async_write_some(net::buffer(frame), net::use_awaitable), 3u);
    EXPECT_EQ(
        co_await stream.async_write_some(net::buffer(frame.data() + 3, 4), net::use_awaitable), 1u);
    EXPECT_EQ(
        co_await net::async_write(stream, net::buffer(frame.data() + 4, 3), net::use_awaitable),
        3u);
  };
  auto read = [&]() -> net::awaitable<void> {
    received.resize(frame.size());
    co_await net::async_read(client_, net::buffer(received), net::use_awaitable);
  };
  const auto start = std::chrono::steady_clock::now();
  Run(write(), read());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5 * kPerByte);
  EXPECT_EQ(received, frame);
}

// Beast on both ends: the server answers the client's ping with an empty pong, echoes a binary
// message byte for byte, and tears down through the layer when the client closes.
TEST_F(LoopbackTest, BeastServerSendsEmptyPongs) {
  const std::string message(5000, 'm');
  std::optional<std::string> pong;
  std::string echoed;
  beast::error_code server_end;
  auto server = [&]() -> net::awaitable<void> {
    websocket::stream<EmptyPongStream<tcp::socket>> ws(std::move(server_));
    co_await ws.async_accept(net::use_awaitable);
    ws.next_layer().StartFrames();
    ws.binary(true);
    beast::flat_buffer buffer;
    co_await ws.async_read(buffer, net::use_awaitable);  // answers the ping on the way
    co_await ws.async_write(buffer.data(), net::use_awaitable);
    buffer.clear();
    co_await ws.async_read(buffer, net::redirect_error(net::use_awaitable, server_end));
  };
  auto client = [&]() -> net::awaitable<void> {
    websocket::stream<tcp::socket> ws(std::move(client_));
    ws.control_callback([&](websocket::frame_type kind, std::string_view payload) {
      if (kind == websocket::frame_type::pong) pong.emplace(payload);
    });
    co_await ws.async_handshake("127.0.0.1", "/", net::use_awaitable);
    ws.binary(true);
    co_await ws.async_ping(websocket::ping_data(kHash.data(), kHash.size()), net::use_awaitable);
    co_await ws.async_write(net::buffer(message), net::use_awaitable);
    beast::flat_buffer buffer;
    co_await ws.async_read(buffer, net::use_awaitable);  // the pong arrives first
    echoed = beast::buffers_to_string(buffer.data());
    co_await ws.async_close(websocket::close_code::normal, net::use_awaitable);
  };
  Run(server(), client());
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(*pong, "");
  EXPECT_EQ(echoed, message);
  EXPECT_EQ(server_end, websocket::error::closed);
}

}  // namespace
}  // namespace tether::devcp
