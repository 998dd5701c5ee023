// ObserverList: callbacks told about a change, registered through RAII handles.
//
// Why one: the snapshot store and the status board both tell observers about changes, and both
// need the same guarantees. An observer goes away by dropping its Handle, which also waits for a
// call in progress, so the object a callback points into can be destroyed right after; nobody
// has to keep a fan-out alive behind a weak_ptr for fear of a late call (Envoy's lesson from
// `shutdownAll`). Handles and the list may be destroyed in either order.
//
// Calls run on the notifying thread, in registration order, outside the list's lock: a slow
// observer delays only its notifier, never Add or another list. One observer is never called
// concurrently with itself; different observers may be, by different notifiers.
//
// Threading: thread-safe. state_->mu guards the entries; each entry's call_mu is held during its
// calls and while its handle removes it. An observer must not drop its own Handle from inside its
// call (that would wait for itself).
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "sidecar/common/mutex.h"

namespace tether {

template <typename... Args>
class ObserverList {
 public:
  using Callback = std::function<void(Args...)>;

 private:
  struct Entry {
    explicit Entry(Callback c) : callback(std::move(c)) {}
    Mutex call_mu;
    const Callback callback;
    bool removed ABSL_GUARDED_BY(call_mu) = false;
  };
  struct State {
    Mutex mu;
    std::vector<std::shared_ptr<Entry>> entries ABSL_GUARDED_BY(mu);
  };

 public:
  // Registration of one observer: destroying (or resetting) it unregisters the observer and
  // returns once no call to it is running.
  class [[nodiscard]] Handle {
   public:
    Handle() = default;
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&& other) noexcept {
      Reset();
      state_ = std::move(other.state_);
      entry_ = std::move(other.entry_);
      return *this;
    }
    ~Handle() { Reset(); }

    void Reset() {
      if (entry_ == nullptr) return;
      // Moved out first: the lock below lives in the entry, which must outlive it.
      const std::shared_ptr<Entry> entry = std::move(entry_);
      const std::shared_ptr<State> state = std::move(state_);
      {
        MutexLock lock(&state->mu);
        std::erase(state->entries, entry);
      }
      MutexLock lock(&entry->call_mu);  // waits for a call in progress
      entry->removed = true;
    }

   private:
    friend class ObserverList;
    Handle(std::shared_ptr<State> state, std::shared_ptr<Entry> entry)
        : state_(std::move(state)), entry_(std::move(entry)) {}
    std::shared_ptr<State> state_;
    std::shared_ptr<Entry> entry_;
  };

  ObserverList() = default;
  ObserverList(const ObserverList&) = delete;
  ObserverList& operator=(const ObserverList&) = delete;

  Handle Add(Callback callback) {
    auto entry = std::make_shared<Entry>(std::move(callback));
    MutexLock lock(&state_->mu);
    state_->entries.push_back(entry);
    return Handle(state_, std::move(entry));
  }

  void Notify(const Args&... args) const {
    std::vector<std::shared_ptr<Entry>> entries;
    {
      MutexLock lock(&state_->mu);
      entries = state_->entries;
    }
    for (const std::shared_ptr<Entry>& entry : entries) {
      MutexLock lock(&entry->call_mu);
      if (!entry->removed) entry->callback(args...);
    }
  }

 private:
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace tether
