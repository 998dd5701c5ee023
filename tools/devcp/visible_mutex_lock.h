// VisibleMutexLock: absl::MutexLock that also shows ThreadSanitizer the ordering the lock gives.
//
// Why: Debian's libabsl is built without -fsanitize=thread, so TSan cannot see absl::Mutex or
// absl::CondVar synchronise and reports every access they guard as a race (two threads
// incrementing an int under one absl::Mutex are enough to show it). The ABSL_ANNOTATE_RWLOCK_*
// macros become TSan's lock annotations in a TSan build and nothing otherwise, so devcp keeps
// absl::Mutex (STYLE) and stays checkable by TSan.
// TODO(lead): drop once the TSan build links an abseil built with TSan; every absl::Mutex user
// in the tree has the same problem.
//
// Threading: like absl::MutexLock, one scope on one thread. The mutex's owner announces it with
// ABSL_ANNOTATE_RWLOCK_CREATE/DESTROY so that TSan never mistakes a reused address for it.
#pragma once

#include "absl/base/dynamic_annotations.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tether::devcp {

class ABSL_SCOPED_LOCKABLE VisibleMutexLock {
 public:
  explicit VisibleMutexLock(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
    ABSL_ANNOTATE_RWLOCK_ACQUIRED(mu_, 1);
  }
  ~VisibleMutexLock() ABSL_UNLOCK_FUNCTION() {
    ABSL_ANNOTATE_RWLOCK_RELEASED(mu_, 1);
    mu_->Unlock();
  }

  VisibleMutexLock(const VisibleMutexLock&) = delete;
  VisibleMutexLock& operator=(const VisibleMutexLock&) = delete;

  // `cv`->WaitWithDeadline on the held mutex, which releases and retakes it inside; true when
  // the deadline passed.
  bool WaitWithDeadline(absl::CondVar* cv, absl::Time deadline) {
    ABSL_ANNOTATE_RWLOCK_RELEASED(mu_, 1);
    const bool timed_out = cv->WaitWithDeadline(mu_, deadline);
    ABSL_ANNOTATE_RWLOCK_ACQUIRED(mu_, 1);
    return timed_out;
  }

 private:
  absl::Mutex* const mu_;
};

}  // namespace tether::devcp
