// VersionNegotiator: which Kong version the data plane advertises on its next attempt, so that
// tether works against any Kong 3.x control plane without a version flag.
//
// Why: a Kong CP refuses a data plane whose major differs or whose minor is newer than its own,
// by closing right after basic_info (kong-protocol.md §2), and strips from the config every field
// newer than the version a data plane advertises (compat/removed_fields). So the right version to
// advertise is exactly the CP's minor: any lower one loses fields, any higher one is refused. The
// CP never says its version, but every attempt answers "is the CP's minor at least m?": refused
// (no) or accepted (yes). The negotiator binary-searches the minor over what tether knows
// (3.0 to kNewestMinor), starting one minor above the one remembered from the last run (so a CP
// upgrade is noticed on the next start) or at the newest when nothing is remembered. Against
// any 3.x CP it needs at most five refusals; an accepted attempt below the answer is closed at
// once (tether then ignores what it received) and the search goes on.
//
// An explicit version (--node-version=3.9.0) never changes: a refusal is reported, not searched.
//
// Threading: thread-compatible; the session uses it on its strand only.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "protocol/constants.h"

namespace tether::cp {

class VersionNegotiator {
 public:
  static constexpr int kMajor = protocol::kKongMajor;
  static constexpr int kNewestMinor = protocol::kNewestKnownKongMinor;

  // How the version in use was chosen, for status and logs.
  enum class Source {
    kFlag,         // --node-version
    kNegotiating,  // auto: the search is still under way
    kNegotiated,   // auto: the CP's minor, found this run
    kRemembered,   // auto: the minor remembered from the last run, confirmed this run
  };
  static absl::string_view SourceName(Source source);

  static VersionNegotiator Fixed(std::string version);
  // `remembered_minor`: the 3.x minor accepted on the last run, if any.
  static VersionNegotiator Auto(std::optional<int> remembered_minor);

  // The version to advertise on the next attempt: "3.<minor>.0" with auto.
  const std::string& version() const { return version_; }
  Source source() const { return source_; }
  // Auto and not yet settled on the CP's minor: an accepted attempt is a probe, to be closed.
  bool searching() const { return source_ == Source::kNegotiating; }

  // The attempt with version() ended right after basic_info, before the CP said anything.
  void Refused();
  // The CP answered an attempt with version(). Returns true when this is the version to keep
  // (the connection stays); false when tether should close it and try version() at once.
  bool Accepted();

 private:
  VersionNegotiator(std::string version, Source source)
      : version_(std::move(version)), source_(source) {}
  void Try(int minor);
  // The next minor to try between lo_ and hi_: the upper middle, so that an accepted probe
  // always narrows the range.
  int Middle() const { return (lo_ + hi_ + 1) / 2; }

  std::string version_;
  Source source_;
  bool fixed_ = false;
  std::optional<int> remembered_;
  bool remembered_tried_ = false;
  int lo_ = -1;            // highest minor the CP accepted this run (-1: none yet)
  int hi_ = kNewestMinor;  // highest minor not yet refused
  int current_ = kNewestMinor;
};

}  // namespace tether::cp
