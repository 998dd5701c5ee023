#include "sidecar/api/request_validation.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <functional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tether::api {
namespace {

// Longer names are no Kong entity type; the cap keeps filter keys and status small.
constexpr size_t kMaxTypeNameBytes = 64;
constexpr int kMaxEntityTypes = 256;

// Entity type names as Kong spells them (`routes`, `ca_certificates`, `key-sets` in some
// versions). The restriction also keeps ',' and '|' out of UpdateCache keys.
bool IsValidTypeName(absl::string_view type) {
  if (type.empty() || type.size() > kMaxTypeNameBytes) return false;
  for (char c : type) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::string Truncated(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const std::string marker = absl::StrCat("...[", text.size(), " bytes]");
  size_t keep = max_bytes > marker.size() ? max_bytes - marker.size() : 0;
  // Not in the middle of a character: proto3 strings must stay valid UTF-8.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
  return absl::StrCat(text.substr(0, keep), marker);
}

bool ParseRequest(grpc::ByteBuffer& buffer, google::protobuf::Message& message) {
  grpc::ProtoBufferReader reader(&buffer);
  return reader.status().ok() && message.ParseFromZeroCopyStream(&reader);
}

absl::StatusOr<config::TypeFilter> ParseTypeFilter(
    const google::protobuf::RepeatedPtrField<std::string>& types) {
  if (types.size() > kMaxEntityTypes) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity_types lists ", types.size(), " types, at most ", kMaxEntityTypes));
  }
  std::set<std::string, std::less<>> set;
  for (const std::string& type : types) {
    if (!IsValidTypeName(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity type \"", absl::CHexEscape(type.substr(0, kMaxTypeNameBytes)),
                       "\" must be 1 to 64 letters, digits, _, - or ."));
    }
    set.insert(type);
  }
  return config::TypeFilter(std::move(set));
}

absl::Status CheckWatchRequestOrder(const v1::WatchRequest& request, bool subscribed) {
  switch (request.request_case()) {
    case v1::WatchRequest::kSubscribe:
      if (subscribed) {
        return absl::InvalidArgumentError("subscribe may be sent only once per stream");
      }
      return absl::OkStatus();
    case v1::WatchRequest::kAck:
    case v1::WatchRequest::kNack:
      if (!subscribed) return absl::InvalidArgumentError(kSubscribeFirst);
      return absl::OkStatus();
    case v1::WatchRequest::REQUEST_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(subscribed ? "empty request: set subscribe, ack or nack"
                                               : kSubscribeFirst);
}

absl::StatusOr<Subscription> ParseSubscribe(const v1::Subscribe& subscribe) {
  absl::StatusOr<config::TypeFilter> filter = ParseTypeFilter(subscribe.entity_types());
  if (!filter.ok()) return filter.status();
  Subscription subscription;
  switch (subscribe.mode()) {
    case v1::MODE_UNSPECIFIED:  // the proto's default: documented as full
    case v1::MODE_FULL:
      subscription.mode = UpdateMode::kFull;
      break;
    case v1::MODE_DELTA:
      subscription.mode = UpdateMode::kDelta;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown mode ", subscribe.mode()));
  }
  subscription.client_id = Truncated(subscribe.client_id(), kMaxClientIdBytes);
  subscription.filter = *std::move(filter);
  subscription.resume_hash = Truncated(subscribe.resume_hash(), kMaxHashBytes);
  return subscription;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  // absl's codes are gRPC's, number for number.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string TypesForLog(const config::TypeFilter& filter) {
  return filter.all() ? std::string("*") : absl::StrJoin(filter.types(), ",");
}

}  // namespace tether::api
