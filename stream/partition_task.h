// PartitionTask: the state and event-time progress of one input partition.
//
// It owns the open learner windows of the partition (cached in memory, written back to the state
// store in the commit batch), the partition's watermark (largest event time seen minus
// max_out_of_orderness) and its input position. Processing is deterministic in record order, so a
// replay from the last checkpoint gives byte-identical records.
//
// Lifecycle: created when the partition is assigned, Load()ed from the store, fed events by the
// engine, Checkpoint()ed at each commit, dropped when the partition is revoked.
// Threading: processing thread only. Errors: Load reports store failures and corrupt state.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>

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

  enum class Outcome { kCounted, kDuplicate, kLate };
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

  // Adds dirty windows, dropped windows, position and watermark to `batch`.
  void Checkpoint(StateBatch& batch);

  int32_t partition() const { return partition_; }
  int64_t next_offset() const { return next_offset_; }  // kOffsetFromGroup if nothing consumed
  TimestampMs watermark() const;
  size_t open_windows() const { return windows_.size(); }

 private:
  struct Entry {
    LearnerWindowState state;
    bool dirty = false;
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
  std::string key_scratch_;
  std::string value_scratch_;
};

}  // namespace learnflow
