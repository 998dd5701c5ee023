// Mutex, MutexLock and Notification: absl-style locking on top of std::mutex.
//
// Why not absl::Mutex: Debian's abseil is not built with ThreadSanitizer, so the synchronisation
// inside absl::Mutex and absl::Notification (its own atomics and raw futex calls) is invisible
// to TSan, which then reports every guarded access as a race. std::mutex and
// std::condition_variable go through pthreads, which TSan models. The API keeps absl's shape
// (Lock/Unlock, MutexLock, Await with a condition, thread-safety annotations that clang checks)
// so code reads the same and could switch back to absl::Mutex with an instrumented abseil.
//
// Await semantics as in absl: a waiter re-checks its condition whenever the mutex is released,
// so writers need no explicit notify. Conditions run with the mutex held and must not block.
//
// Threading: thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tether {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Notifies before unlocking: a waiter woken after the unlock could otherwise see its condition,
  // return and destroy this Mutex (e.g. a stack Notification) while notify_all still runs.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    changed_.notify_all();
    mu_.unlock();
  }

  // Blocks until `condition()` holds; the mutex must be held, and is held again on return.
  template <typename Condition>
  void Await(Condition condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    changed_.wait(lock, condition);
    lock.release();
  }

  // As Await, but gives up after `timeout`; returns whether `condition()` holds.
  template <typename Condition>
  bool AwaitWithTimeout(Condition condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    const bool held =
        changed_.wait_until(lock, std::chrono::steady_clock::now() + ToChrono(timeout), condition);
    lock.release();
    return held;
  }

 private:
  static std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
    // Clamp so that an infinite or huge timeout cannot overflow the clock arithmetic.
    d = std::min(std::max(d, absl::ZeroDuration()), absl::Hours(24 * 365));
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        absl::ToChronoNanoseconds(d));
  }

  std::mutex mu_;
  std::condition_variable changed_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A one-shot event, like absl::Notification.
class Notification {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  bool HasBeenNotified() const {
    MutexLock lock(&mu_);
    return notified_;
  }
  void WaitForNotification() const {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; });
  }
  bool WaitForNotificationWithTimeout(absl::Duration timeout) const {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return notified_; },
                                timeout);
  }

 private:
  mutable Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether
