// The cohort-signal operator: `cohort_window` records of `learnflow.cohort-signals` and
// struggling-cohort alerts of `learnflow.alerts` (DESIGN §8), computed from learner window
// records that the learner stage repartitions by cohort.
//
// Internal records of the repartition topic (binary, little-endian, see core/codec.h):
//   'R' summary of one learner window record (the fields a cohort needs) + the record's JSON;
//   'M' watermark marker of one upstream (input) partition: every learner window ending at or
//       before `bound` has been sent before it; `idle` marks an upstream without data.
//
//   CohortSignalsOperator op(params);
//   op.Add(summary, window_state);                  // false: that learner is already counted
//   CohortWindowSummary s = op.Summarize(window_state);
//   op.AppendCohortRecord(cohort_id, window, window_state, s, out);
//   if (op.Meets(s) != cohort_state.firing) op.AppendAlert(...);
//
// Immutable and thread-safe; state objects are owned by the cohort task.
// Errors: Decode functions return false / Internal on truncated or corrupt bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "operators/learner_signals.h"
#include "operators/windows.h"

namespace learnflow {

// What the cohort stage needs of one learner window record.
struct LearnerSummary {
  int32_t upstream_partition = 0;
  TimestampMs window_end = 0;
  uint64_t learner_hash = 0;
  bool struggling = false;
  uint64_t attempts = 0;
  uint64_t correct = 0;
  std::optional<double> mean_mastery;
  uint64_t active_minutes = 0;
  uint64_t help_requests = 0;
  std::string_view record;  // the learner window record (JSON), for dead-lettering
};

struct WatermarkMarker {
  int32_t upstream_partition = 0;
  int32_t upstream_count = 0;  // partitions of the input topic
  TimestampMs bound = 0;       // learner windows ending at or before this were all sent
  bool idle = false;
};

// Repartition record encodings.
void AppendSummaryRecord(const LearnerSummary& summary, std::string& out);
void AppendMarkerRecord(const WatermarkMarker& marker, std::string& out);
enum class RepartitionRecordType { kSummary, kMarker, kInvalid };
// Parses either kind; the summary's `record` views into `bytes`.
RepartitionRecordType ParseRepartitionRecord(std::string_view bytes, LearnerSummary& summary,
                                             WatermarkMarker& marker);

struct CohortWindowState {
  struct Member {
    uint64_t learner_hash = 0;
    double mean_mastery = 0;  // NaN when the learner's is null
    bool struggling = false;
  };
  std::vector<Member> members;  // sorted by learner_hash
  uint64_t attempts = 0;
  uint64_t correct = 0;
  uint64_t active_minutes = 0;
  uint64_t help_requests = 0;

  void Encode(std::string& out) const;
  Status Decode(std::string_view in);
};

struct CohortWindowSummary {
  int64_t active_learners = 0;
  int64_t struggling_learners = 0;
  double struggling_share = 0;
  std::optional<double> accuracy;
  std::optional<double> mean_mastery;
  int64_t active_minutes = 0;
  int64_t help_requests = 0;
};

// Per cohort, across windows: whether its alert is firing, and its latest final window (for the
// query API).
struct CohortState {
  bool firing = false;
  TimestampMs last_window_end = 0;  // 0: no final window yet
  CohortWindowSummary latest;       // of the window ending at last_window_end

  void Encode(std::string& out) const;
  Status Decode(std::string_view in);
};

class CohortSignalsOperator {
 public:
  explicit CohortSignalsOperator(const SignalParams& params);

  const SignalParams& params() const { return params_; }
  const TumblingWindows& windows() const { return windows_; }

  // Adds a learner's window record; false (nothing changed) when that learner is in already.
  bool Add(const LearnerSummary& summary, CohortWindowState& state) const;
  CohortWindowSummary Summarize(const CohortWindowState& state) const;
  // Whether a cohort window meets the struggling-cohort alert condition.
  bool Meets(const CohortWindowSummary& summary) const;

  void AppendCohortRecord(std::string_view cohort_id, TimeWindow window,
                          const CohortWindowSummary& summary, std::string& out) const;
  void AppendAlert(std::string_view cohort_id, TimeWindow window, bool firing,
                   const CohortWindowSummary& summary, std::string& out) const;

 private:
  SignalParams params_;
  TumblingWindows windows_;
};

}  // namespace learnflow
