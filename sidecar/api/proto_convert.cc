#include "sidecar/api/proto_convert.h"

#include <cstdint>

namespace tether::api {

v1::Source ToProto(config::Source source) {
  switch (source) {
    case config::Source::kControlPlane:
      return v1::SOURCE_CONTROL_PLANE;
    case config::Source::kDiskCache:
      return v1::SOURCE_DISK_CACHE;
    case config::Source::kNone:
      break;
  }
  return v1::SOURCE_UNSPECIFIED;
}

bool IsSet(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

}  // namespace tether::api
