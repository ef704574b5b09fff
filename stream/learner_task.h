// LearnerTask: the learner stage's task for one input partition.
//
// It owns the partition's open learner windows (table 'W': (window end, learner, cohort) ->
// LearnerWindowState), the per-learner state that outlives windows (table 'L': learner ->
// LearnerState: BKT, session spans, Caliper attempts awaiting their outcome, last activity), the
// partition's watermark (largest event time seen minus max_out_of_orderness) and the
// inactivity timers (event time; rebuilt from table 'L', not stored). Processing is
// deterministic in record order, so a replay from the last checkpoint gives byte-identical
// records. The rules are those of docs/signals.md.
//
// Outputs (EmitFinal): the `inactive` records timers fired, then one `learner_window` record per
// window made final by the watermark (in window-end, learner, cohort order), each also sent to
// the repartition topic as a summary for the cohort stage; then, when the watermark has passed a
// window boundary, a watermark marker to every repartition partition.
//
// Lifecycle and threading: see TaskBase.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/key_sort.h"
#include "core/status.h"
#include "operators/learner_signals.h"
#include "state/state_store.h"
#include "stream/keyed_table.h"
#include "stream/task_base.h"

namespace learnflow {

struct LearnerTaskOptions {
  TimestampMs max_out_of_orderness_ms = 60000;
  // Partitions of the input topic (carried in watermark markers); 0: no cohort stage downstream.
  int32_t input_partitions = 0;
  // A partition without records for this long (wall clock) tells the cohort stage it is idle, so
  // cohort windows do not wait for it (DESIGN §7); 0 disables idleness.
  TimestampMs idle_timeout_ms = 0;
};

class LearnerTask final : public TaskBase {
 public:
  static constexpr TimestampMs kNoWatermark = std::numeric_limits<TimestampMs>::min();

  LearnerTask(int32_t partition, const LearnerSignalsOperator& op, const LearnerTaskOptions& options);

  enum class Outcome { kCounted, kDuplicate, kLate, kNotCounted };
  // Applies one valid event. REQUIRES: the event has a learner and a valid time.
  Outcome Process(const CanonicalEvent& event);
  // Cache hints for a coming event of the learner whose key hashes to `hash` (KeyHash of the
  // message key, which producers set to the learner id), in steps a few messages apart, each
  // reading only what the step before brought in: 0 the learner table's slot, 1 the learner's
  // entry, 2 its latest open window and its BKT and session blocks, 3 that window's sets. No
  // effect on results (a key that is not the learner id only wastes the hints).
  static uint64_t KeyHash(std::string_view key);
  void Prefetch(uint64_t hash, int step) const;

  // Whether an event at `event_time` would be late now.
  bool IsLate(TimestampMs event_time) const;

  // The partition had records at wall-clock time `now_ms` (idleness).
  void MarkActive(TimestampMs now_ms);

  // Sends the records of fired timers and of windows made final, and forgets those windows; then
  // a watermark marker when the bound moved, or an idle marker once the partition has had no
  // records for idle_timeout_ms at wall-clock `now_ms`. Returns the number of learner window
  // records, or the first error of `out` (the window is then kept).
  StatusOr<size_t> EmitFinal(TaskOutput& out, TimestampMs now_ms = 0);
  bool idle() const { return idle_sent_; }

  TimestampMs watermark() const;
  size_t open_windows() const { return windows_.size(); }

 private:
  // Hash tables: an event looks its learner up by key and reaches its window from the learner
  // (a list of the learner's open windows, in memory only); each window points back at its
  // learner. Final windows are emitted in key order by sorting them when the watermark passes a
  // window boundary (EmitFinal). The links are rebuilt whenever the tables are loaded or
  // restored (AfterLoad), and a window leaves its learner's list when it is emitted.
  struct WindowValue;
  using WindowTable = KeyedTable<WindowValue, /*kOrdered=*/false>;
  struct LearnerValue {
    LearnerState state;
    WindowTable::Entry* windows = nullptr;  // the learner's open windows (WindowValue::next)

    void Encode(std::string& out) const { state.Encode(out); }
    Status Decode(std::string_view in) { return state.Decode(in); }
    void PrefetchBlocks() const { state.PrefetchBlocks(); }
  };
  using LearnerTable = KeyedTable<LearnerValue, /*kOrdered=*/false>;
  struct WindowValue {
    LearnerWindowState state;
    LearnerTable::Entry* learner = nullptr;
    WindowTable::Entry* next = nullptr;  // the learner's next open window

    void Encode(std::string& out) const { state.Encode(out); }
    Status Decode(std::string_view in) { return state.Decode(in); }
    void PrefetchBlocks() const { state.PrefetchBlocks(); }
  };

  void EncodePosition(std::string& out) const override;
  Status DecodePosition(std::string_view in) override;
  void AfterLoad() override;
  void AfterRestore() override;
  void BeforeCheckpoint(StateBatch& batch, bool rewrite) override;

  // The learner's open window with local key `key`, opened (and linked) when missing.
  WindowTable::Entry& FindOrOpenWindow(LearnerTable::Entry& learner, std::string_view key);
  // Puts a window into its learner's list / takes it out (before it is erased).
  static void Link(LearnerTable::Entry& learner, WindowTable::Entry& window);
  static void Unlink(WindowTable::Entry& window);
  void ApplyAttempt(const CanonicalEvent& event, TimeWindow window, LearnerState& learner,
                    WindowTable::Entry& window_entry);
  void ApplyOutcome(const CanonicalEvent& event, LearnerState& learner,
                    WindowTable::Entry& window_entry);
  // REQUIRES: `learner_id` is the learner table's own key of `learner`.
  void Arm(const std::string_view& learner_id, LearnerState& learner);
  Status SendMarker(TaskOutput& out, TimestampMs bound, bool idle);
  // Fills final_scratch_ with the windows ending at or before `bound`, in key order.
  void CollectFinalWindows(TimestampMs bound);
  // Prefetches what emitting final_scratch_[i + a few] will touch.
  void PrefetchFinal(size_t i) const;
  void FireTimers();

  const LearnerSignalsOperator& op_;
  LearnerTaskOptions options_;
  WindowTable windows_;
  LearnerTable learners_;
  TimestampMs max_event_time_ = kNoWatermark;
  // Windows with end <= this bound have been emitted and must be dropped from the store.
  TimestampMs dropped_end_bound_ = kNoWatermark;
  // The bound already deleted in the store (range tombstones only when it advances).
  TimestampMs stored_dropped_bound_ = kNoWatermark;
  // In memory only: the window-aligned bound through which windows were emitted (session spans
  // ending well before it are forgotten), and the last marker bound sent downstream.
  TimestampMs emitted_bound_ = kNoWatermark;
  TimestampMs marker_sent_ = kNoWatermark;
  // Every window ending at or before this window-aligned bound has been emitted. Process() never
  // opens such a window (it would be late), so the table is searched for final windows only when
  // the bound moves to a later window end; kNoWatermark (after a load or restore): search next.
  TimestampMs final_searched_ = kNoWatermark;
  std::vector<WindowTable::Map::iterator> final_scratch_;  // final windows, sorted by key
  std::vector<KeySortSlot<WindowTable::Map::iterator>> final_sort_scratch_;
  // Wall clock of the last record (or of the first EmitFinal), and whether the last marker sent
  // said idle.
  TimestampMs last_active_ms_ = kNoWatermark;
  bool idle_sent_ = false;
  // Inactivity timers, a min-heap by (deadline, learner id): 16 bytes per learner, as a million
  // learners each have one. A learner is in here at most once (LearnerState::armed_deadline); a
  // stale deadline is re-armed when it fires. `learner` points at the learner table's key view:
  // its entries are never erased (only a restore replaces them, and AfterLoad() then rebuilds
  // this).
  struct Timer {
    TimestampMs deadline;
    const std::string_view* learner;
  };
  struct LaterTimer {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.deadline != b.deadline ? a.deadline > b.deadline : *a.learner > *b.learner;
    }
  };
  std::vector<Timer> timers_;
  // Records of fired timers, sent at the next EmitFinal: (learner id, record).
  std::vector<std::pair<std::string, std::string>> fired_;
  LearnerWindowRecord record_scratch_;
  std::string key_scratch_;
  std::string join_key_scratch_;
  std::string value_scratch_;
  std::string summary_scratch_;
};

}  // namespace learnflow
