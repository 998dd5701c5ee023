// Small Asio helpers shared by tether-devcp's socket code (server.cc, dp_session.cc,
// dp_upgrade.cc): clock conversion, error-code awaiting and coroutine failure reporting.
//
// Threading: stateless, thread-safe.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/log.h"

namespace tether::devcp {

using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

inline constexpr absl::string_view kComponent = "devcp";

inline SteadyClock::duration ToSteady(absl::Duration d) {
  return std::chrono::duration_cast<SteadyClock::duration>(absl::ToChronoNanoseconds(d));
}

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Expected network failures stay values (STYLE: no as_tuple in Boost 1.74).
inline auto Await(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// co_spawn completion: nothing in devcp throws, so an exception here is a bug worth a loud line.
// The coroutine's owner (session or accept loop) is gone by then; the process keeps serving.
inline std::function<void(std::exception_ptr)> ReportException(absl::string_view what) {
  return [what = std::string(what)](std::exception_ptr error) {
    if (!error) return;
    std::string message = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    log::Error(kComponent, "internal error: coroutine threw",
               {{"coroutine", what}, {"err", message}});
  };
}

}  // namespace tether::devcp
