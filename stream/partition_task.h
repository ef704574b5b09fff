// PartitionTask: the state and event-time progress of one input partition.
//
// It owns the open learner windows of the partition (cached in memory, written back to the state
// store in the commit batch), the partition's watermark (largest event time seen minus
// max_out_of_orderness) and its input position. Processing is deterministic in record order, so a
// replay from the last checkpoint gives byte-identical records.
//
// Changelog: at each commit the task appends its changes to its changelog partition — one record
// per changed window (key 'W' + window key, the encoded aggregate; a tombstone once the window is
// emitted) and then a position record (key 'P': next input offset, largest event time) that
// closes the commit. Replaying the changelog up to its last 'P' rebuilds exactly the state that
// belongs to that input position; records after the last 'P' (a commit cut short by a crash) are
// ignored. Another instance restores a moved partition this way.
//
// Lifecycle: created when the partition is assigned, Load()ed from the store, optionally brought
// up to date with ApplyChangelog()/FinishRestore(), fed events by the engine, WriteChangelog()ed
// and Checkpoint()ed at each commit, dropped when the partition is revoked.
// Threading: processing thread only. Errors: Load reports store failures and corrupt state.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "operators/learner_window.h"
#include "state/state_store.h"
#include "stream/io.h"

namespace learnflow {

struct TaskOptions {
  TimestampMs max_out_of_orderness_ms = 60000;
};

class PartitionTask {
 public:
  static constexpr TimestampMs kNoWatermark = std::numeric_limits<TimestampMs>::min();

  PartitionTask(int32_t partition, const LearnerWindowOperator& op, const TaskOptions& options);

  // Restores windows, position and watermark from the store (nothing there: a fresh start).
  Status Load(const StateStore& store);

  enum class Outcome { kCounted, kDuplicate, kLate, kNotCounted };
  // Applies one valid event. REQUIRES: the event has a learner and a valid time.
  Outcome Process(const CanonicalEvent& event);
  // Whether an event at `event_time` would be late now.
  bool IsLate(TimestampMs event_time) const;

  // Marks `offset` consumed: the checkpoint will resume after it.
  void Consumed(int64_t offset) { next_offset_ = offset + 1; }

  // Passes the records of windows made final by the watermark to `emit(key, value)`, in
  // window-end then key order, and forgets them. Returns the number of records, or the first
  // error `emit` returned (the window is then kept).
  using EmitFn = std::function<Status(std::string_view key, std::string_view value)>;
  StatusOr<size_t> EmitFinal(const EmitFn& emit);

  // Sends this commit's changes to the changelog through `send(key, value_or_null)`. Sends
  // nothing when nothing changed since the last commit. Returns whether anything was sent.
  using ChangelogFn = std::function<Status(std::string_view key, const std::string_view* value)>;
  StatusOr<bool> WriteChangelog(const ChangelogFn& send);

  // Restore: applies one changelog record (in log order). Corrupt records are errors.
  Status ApplyChangelog(int64_t offset, std::string_view key, const std::string_view* value);
  // Restore reached the end of the changelog: an incomplete trailing commit is not applied, and
  // the next WriteChangelog() overrides its keys; windows already final are dropped. The next
  // Checkpoint() rewrites the partition's local state if the restore changed it.
  void FinishRestore();

  // Adds dirty windows, dropped windows, position, watermark and `changelog_next` (the changelog
  // offset after this commit's records; -1 to keep the previous one) to `batch`.
  void Checkpoint(StateBatch& batch, int64_t changelog_next = -1);

  int32_t partition() const { return partition_; }
  int64_t next_offset() const { return next_offset_; }  // kOffsetFromGroup if nothing consumed
  TimestampMs watermark() const;
  size_t open_windows() const { return windows_.size(); }
  // The changelog offset from which a restore continues (0: from the beginning).
  int64_t changelog_next() const { return changelog_next_; }

 private:
  struct Entry {
    LearnerWindowState state;
    bool dirty = false;   // changed since the last local checkpoint
    bool logged = false;  // present in the changelog (needs a tombstone when dropped)
    bool unlogged_change = false;  // changed since the last changelog write
  };
  struct PendingRecord {
    std::string key;
    std::string value;
    bool tombstone = false;
  };

  int32_t partition_;
  const LearnerWindowOperator& op_;
  TaskOptions options_;
  // Partition-local window key (state/window_key.h) -> aggregate; ordered by window end.
  std::map<std::string, Entry, std::less<>> windows_;
  int64_t next_offset_ = kOffsetFromGroup;
  TimestampMs max_event_time_ = kNoWatermark;
  // Windows with end <= this bound have been emitted and must be dropped from the store.
  TimestampMs dropped_end_bound_ = kNoWatermark;
  // The bound already deleted in the store (range tombstones are issued only when it advances).
  TimestampMs stored_dropped_bound_ = kNoWatermark;
  int64_t changelog_next_ = 0;
  // Position last written to the changelog; a 'P' record is due when next_offset_ moves.
  int64_t logged_offset_ = kOffsetFromGroup;
  // Emitted windows that are in the changelog and need a tombstone there.
  std::vector<std::string> tombstones_;
  // Restore: records of a commit whose 'P' has not been read yet, and whether anything changed.
  std::vector<PendingRecord> pending_;
  bool full_rewrite_ = false;
  std::string key_scratch_;
  std::string value_scratch_;
};

}  // namespace learnflow
