// The one include of Boost.Asio and Boost.Beast for tether.
//
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>, which breaks
// with g++ 12; including <utility> first here keeps every other file free of that trap.
// Beast with coroutines is expensive to compile (~40 s, ~1.8 GB a translation unit), so include
// this only from the few .cc files that drive sockets.
#pragma once

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <utility>

#include "absl/time/time.h"

namespace tether {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

// For Asio timers; a negative duration is taken as zero (expire at once).
inline std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
}

}  // namespace tether
