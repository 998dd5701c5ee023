// tetherctl's command line: the flags and commands it accepts, parsed and checked against each
// other before any call is made, and the usage text that describes them.
//
// Threading: thread-compatible (main's thread only).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/lib/channel.h"

namespace tether::ctl {

// What --help prints: every command and flag, and the exit statuses.
extern const char kUsage[];

// One invocation: the command and the flags given for it.
struct Args {
  std::string addr;
  // From --tls-cert, --tls-key, --ca and --tls-server-name (the first three together).
  std::optional<client::TlsOptions> tls;
  absl::Duration timeout = absl::Seconds(5);
  bool timeout_given = false;
  std::string command;
  bool json = false;
  bool watch = false;
  bool delta = false;
  bool ready = false;
  std::vector<std::string> types;
  std::string service;
  bool help = false;
};

// InvalidArgument, with a message for people, for anything kUsage does not describe (unknown
// flags or commands, missing values, flags of another command). TETHER_ADDR is the default for
// --addr.
absl::StatusOr<Args> ParseArgs(int argc, char** argv);

}  // namespace tether::ctl
