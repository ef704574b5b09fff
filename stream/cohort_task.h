// CohortTask: the cohort stage's task for one partition of the repartition topic.
//
// It reads what learner tasks sent there (operators/cohort_signals.h): learner window summaries,
// keyed by cohort, and watermark markers from every upstream (input) partition. A cohort window
// is final only when every upstream partition has passed it (its marker bound >= window end),
// so a cohort window counts learners from all learner partitions. Tables: 'W' open cohort
// windows ((window end, cohort) -> CohortWindowState, with the learners counted, so a summary
// repeated by an at-least-once replay counts once), 'C' per-cohort alert state. The upstream
// markers are part of the position (written with every commit).
//
// A summary for a cohort window that is already final is a replay of one counted before when its
// upstream's marker had passed that window (kDuplicate); otherwise it came from an upstream that
// was excluded as idle, and is late (kLate).
//
// Outputs (EmitFinal): per final cohort window, in window-end then cohort order, the
// `cohort_window` record and, on a transition, a firing or resolved `alert`.
// Lifecycle and threading: see TaskBase.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "operators/cohort_signals.h"
#include "stream/keyed_table.h"
#include "stream/task_base.h"

namespace learnflow {

class CohortTask final : public TaskBase {
 public:
  static constexpr TimestampMs kNoBound = kNoTime;

  CohortTask(int32_t partition, const CohortSignalsOperator& op);

  enum class Outcome { kAdded, kDuplicate, kLate, kMarker, kInvalid };
  // Applies one repartition record (key = cohort id).
  Outcome Process(std::string_view key, std::string_view value);
  // The learner window record of the last summary Process() read (for dead-lettering a late one).
  std::string_view last_record() const { return last_summary_.record; }

  // Sends the records of final cohort windows and forgets them. Returns the number of cohort
  // window records, or the first error of `out`.
  StatusOr<size_t> EmitFinal(TaskOutput& out);

  // Every cohort window ending at or before this is final (kNoBound: none yet).
  TimestampMs FinalBound() const;
  size_t open_windows() const { return windows_.size(); }

 private:
  struct Upstream {
    TimestampMs bound = kNoBound;
    bool idle = false;
  };

  void EncodePosition(std::string& out) const override;
  Status DecodePosition(std::string_view in) override;

  const CohortSignalsOperator& op_;
  KeyedTable<CohortWindowState> windows_;
  KeyedTable<CohortState> cohorts_;
  std::vector<Upstream> upstream_;  // indexed by input partition
  LearnerSummary last_summary_;
  WatermarkMarker marker_;
  std::string key_scratch_;
  std::string value_scratch_;
};

}  // namespace learnflow
