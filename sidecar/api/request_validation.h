// Checks of the ConfigService's requests: the order of a Watch stream's requests, a subscribe's
// contents and the entity types a GetConfig or subscribe names.
//
// Why apart from the reactors: the rules are what a client developer reads when a stream ends
// with INVALID_ARGUMENT, so they sit in one place, as plain functions that return an
// absl::Status (the reactors turn it into the gRPC status they finish with).
//
// Threading: pure functions; thread-safe.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sidecar/api/update_cache.h"
#include "sidecar/config/delta.h"
#include "tether/v1/config.pb.h"

namespace tether::api {

// What a valid subscribe asks for.
struct Subscription {
  std::string client_id;
  config::TypeFilter filter;  // empty: every type
  UpdateMode mode = UpdateMode::kFull;
  std::string resume_hash;  // empty: none
};

// What a client may make tether store and log about it: longer values are cut (Truncated), so
// that no client makes status, logs or memory grow with what it sends. Hashes are 32 hex chars,
// so a longer one matches nothing either way.
inline constexpr size_t kMaxClientIdBytes = 256;
inline constexpr size_t kMaxNackErrorBytes = 1024;
inline constexpr size_t kMaxHashBytes = 64;

// `text` if it fits in `max_bytes`, else its start cut at a UTF-8 character boundary and marked
// "...[N bytes]" (N the original size), at most `max_bytes` in all when that is over the
// marker's 30-odd bytes.
std::string Truncated(absl::string_view text, size_t max_bytes);

// Why a stream that has not subscribed ends (also when it half-closes first).
inline constexpr char kSubscribeFirst[] = "the first request must be subscribe";

// Parses a request without copying it into a string first. False when it does not parse.
bool ParseRequest(grpc::ByteBuffer& buffer, google::protobuf::Message& message);

// Entity type names as Kong spells them; empty means every type. InvalidArgument for too many
// types or a name that is no Kong entity type.
absl::StatusOr<config::TypeFilter> ParseTypeFilter(
    const google::protobuf::RepeatedPtrField<std::string>& types);

// The order rules of a Watch stream: subscribe first and once, then acks and nacks.
// InvalidArgument for a request that breaks them; `subscribed` says whether a subscribe was
// accepted on this stream.
absl::Status CheckWatchRequestOrder(const v1::WatchRequest& request, bool subscribed);

// The contents of a subscribe (filter and mode; client_id and resume_hash Truncated).
// InvalidArgument when invalid.
absl::StatusOr<Subscription> ParseSubscribe(const v1::Subscribe& subscribe);

// The same code and message, for a reactor to finish with.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The filter as it appears in logs: "*" for every type, else the types joined by ','.
std::string TypesForLog(const config::TypeFilter& filter);

}  // namespace tether::api
