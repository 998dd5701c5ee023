// Sharing between consecutive snapshots: a new config holds only what changed.
//
// Why: a Kong config changes a few entities at a time, yet each push is the whole config. Decoded
// on its own, every snapshot holds all its rows, and the history kept for resuming subscribers
// (SnapshotStore) would hold several whole configs. Rebased on the snapshot before it, a new
// snapshot takes over every collection that did not change as it is (the same EntityCollection),
// views the earlier text for every unchanged row of the others, and copies out only the rows that
// changed, so that its own text can be freed. Readers cannot tell: every entity still has the
// bytes the CP sent. The decoder already does most of this while it reads (message_reader.h),
// against the same previous config; what it leaves is cheap here (views of the same memory
// compare without reading it), and so are the blocks below.
//
// Text blocks stay alive as long as any snapshot views them. So that a few rows cannot pin a
// large old message, a block whose rows in the new snapshot fill less than half of it is not
// kept: those rows are copied into the new snapshot's own block.
//
// Threading: ShareWithPrevious runs on the decode worker before `next` is published; `previous`
// is immutable and may be read by others at the same time.
#pragma once

#include <cstddef>

#include "sidecar/config/snapshot.h"

namespace tether::config {

struct SharingStats {
  size_t shared_collections = 0;  // taken over whole from `previous`
  size_t shared_rows = 0;         // in the other collections, viewing text `previous` holds
  size_t copied_bytes = 0;        // row text copied into the new block
  size_t released_bytes = 0;      // text `next` held before and no longer does
};

// Rebases `next`, a snapshot built alone (by the decoder), on `previous`, the one it replaces.
// Afterwards `next` has the same types, entities, bytes and hashes as before, and its added_bytes
// counts only what it holds that `previous` does not.
SharingStats ShareWithPrevious(Snapshot& next, const Snapshot& previous);

}  // namespace tether::config
