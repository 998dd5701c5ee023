#include "sidecar/api/subscriber_cursor.h"

#include <cassert>
#include <utility>

namespace tether::api {

void SubscriberCursor::Subscribe(const Subscription& subscription) {
  subscribed_ = true;
  filter_ = subscription.filter;
  mode_ = subscription.mode;
  resume_hash_ = subscription.resume_hash;
}

bool SubscriberCursor::Close() {
  // Other streams sending the same update need not keep its chunks for this one any more.
  in_flight_ = ChunkReader();
  in_flight_target_ = nullptr;
  return !std::exchange(closed_, true);
}

bool SubscriberCursor::Initialise(const config::SnapshotStore& store) {
  if (closed_ || !subscribed_) return false;
  initialised_ = true;
  config::SnapshotPtr current = store.Current();
  if (current == nullptr) return false;  // the first publish will Offer it
  if (!resume_hash_.empty() && resume_hash_ == current->config_hash) {
    // The client holds exactly this: nothing to send until the next change, from which deltas
    // (and FULL-mode change checks) start.
    sent_ = std::move(current);
    return false;
  }
  if (mode_ == UpdateMode::kDelta && !resume_hash_.empty()) {
    sent_ = store.Find(resume_hash_);  // null when no longer held: a full update
  }
  pending_ = std::move(current);
  return in_flight() == nullptr;
}

bool SubscriberCursor::Offer(const config::SnapshotPtr& target) {
  if (closed_ || !initialised_) return false;
  // The newest thing this stream already has or is getting.
  const config::SnapshotPtr& goal =
      pending_ != nullptr ? pending_ : (in_flight() != nullptr ? in_flight_target_ : sent_);
  if (goal != nullptr && goal->config_hash == target->config_hash) return false;
  pending_ = target;  // replaces an older pending target: latest wins
  return in_flight() == nullptr;
}

std::optional<SubscriberCursor::Plan> SubscriberCursor::TakePending() {
  if (closed_ || in_flight() != nullptr || pending_ == nullptr) return std::nullopt;
  Plan plan{sent_, std::move(pending_), filter_, mode_};
  pending_ = nullptr;
  return plan;
}

bool SubscriberCursor::StartUpdate(config::SnapshotPtr target, UpdatePtr update) {
  if (closed_ || update == nullptr || update->chunks.empty()) return false;
  assert(in_flight() == nullptr);
  in_flight_ = ChunkReader(std::move(update));
  in_flight_target_ = std::move(target);
  next_chunk_ = 0;
  return true;
}

SubscriberCursor::Next SubscriberCursor::ChunkWritten() {
  assert(in_flight() != nullptr);
  if (++next_chunk_ < in_flight()->chunks.size()) return Next::kWriteChunk;
  sent_ = std::move(in_flight_target_);
  in_flight_target_ = nullptr;
  in_flight_ = ChunkReader();
  ++updates_sent_;
  return pending_ != nullptr ? Next::kBuild : Next::kIdle;
}

void SubscriberCursor::Ack(const std::string& config_hash) {
  acked_hash_ = config_hash;
  nacked_hash_.clear();
}

void SubscriberCursor::Nack(const std::string& config_hash) { nacked_hash_ = config_hash; }

}  // namespace tether::api
