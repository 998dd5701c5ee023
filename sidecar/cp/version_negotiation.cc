#include "sidecar/cp/version_negotiation.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tether::cp {

absl::string_view VersionNegotiator::SourceName(Source source) {
  switch (source) {
    case Source::kFlag:
      return "flag";
    case Source::kNegotiating:
      return "negotiating";
    case Source::kNegotiated:
      return "negotiated";
    case Source::kRemembered:
      return "remembered";
  }
  return "unknown";
}

VersionNegotiator VersionNegotiator::Fixed(std::string version) {
  VersionNegotiator n(std::move(version), Source::kFlag);
  n.fixed_ = true;
  return n;
}

VersionNegotiator VersionNegotiator::Auto(std::optional<int> remembered_minor) {
  VersionNegotiator n("", Source::kNegotiating);
  if (remembered_minor.has_value()) {
    n.remembered_ = std::clamp(*remembered_minor, 0, kNewestMinor);
    // One above, to notice a CP upgraded since: refused costs one attempt, then the remembered.
    n.Try(std::min(*n.remembered_ + 1, kNewestMinor));
  } else {
    n.Try(kNewestMinor);
  }
  return n;
}

void VersionNegotiator::Try(int minor) {
  current_ = minor;
  version_ = absl::StrCat(kMajor, ".", minor, ".0");
  remembered_tried_ = remembered_tried_ || (remembered_.has_value() && minor == *remembered_);
}

void VersionNegotiator::Refused() {
  if (fixed_) return;
  source_ = Source::kNegotiating;
  hi_ = current_ - 1;
  if (hi_ < 0) {
    // Every 3.x minor refused: not a 3.x CP (or it refuses basic_info for another reason).
    // Start over from the top; the session's pause keeps this to a few attempts a minute.
    lo_ = -1;
    hi_ = kNewestMinor;
    remembered_tried_ = true;
    Try(kNewestMinor);
    return;
  }
  if (lo_ > hi_) lo_ = -1;  // an accepted minor refused now: the CP was downgraded
  if (lo_ == hi_) {
    Try(lo_);  // known good; the next acceptance settles it
    return;
  }
  if (remembered_.has_value() && !remembered_tried_ && *remembered_ <= hi_) {
    Try(*remembered_);
    return;
  }
  Try(Middle());
}

bool VersionNegotiator::Accepted() {
  if (fixed_) return true;
  if (source_ != Source::kNegotiating) return true;
  lo_ = std::max(lo_, current_);
  if (lo_ >= hi_) {
    source_ = remembered_.has_value() && current_ == *remembered_ ? Source::kRemembered
                                                                  : Source::kNegotiated;
    hi_ = current_;
    return true;
  }
  Try(Middle());
  return false;
}

}  // namespace tether::cp
