// An independent, deliberately plain model of the learning-signal rules (DESIGN §7-§8 as settled
// by the signal rules note): tests feed it the same canonical events they feed the engine and
// compare the engine's learner, inactive, cohort and alert records with the model's.
//
//   std::vector<ModelEvent> events = {...};  // in production order
//   ModelOptions options;
//   options.partitions = 2;
//   ModelOutput expected = RunModel(events, options);
//   EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords(expected.learner_records, actual.learner_records));
//   // (Diff* and the macro: tests/testing/signal_records.h, which also parses the engine's JSON.)
//
// The model shares no code with operators/ or stream/: it keeps every event in memory, recomputes
// sessions from the full list of times and uses std::map everywhere, favouring obviousness over
// speed. It is meant for test-sized inputs (thousands of events).
//
// Partitions. Each input partition is simulated on its own, in record order, with its own
// watermark, learner state (BKT, attempts to join, sessions, inactivity) and learner window
// records, exactly like an engine task that owns the partition. Producers key by learner, so a
// learner's events normally live in one partition; if a test spreads one learner over several
// partitions, the model keeps separate learner state (and records) per partition. Only cohort
// windows combine partitions.
//
// Interpretations the rules leave open, chosen here and worth keeping in sync with the engine:
// - A retraction (xAPI voided) event passes the late check and advances the watermark like any
//   accepted event, but counts nowhere else (not in records, not in sessions).
// - When several counted attempts of a learner carry the same attempt_ref, an outcome joins the
//   most recent one (record order); a later attempt with that ref replaces the earlier one and
//   can be joined again.
// - An empty cohort_id is an ordinary cohort key.
//
// Thread-safety: pure functions over value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/time.h"

namespace learnflow::testing {

// One decoded canonical event, as it reaches the signal operators of input partition `partition`.
struct ModelEvent {
  int32_t partition = 0;
  std::string event_id;
  std::string learner_id;
  std::string course_id;
  std::string cohort_id;
  std::string skill_id;
  std::string attempt_ref;
  EventKind kind = EventKind::kOther;
  Success success = Success::kUnknown;
  TimestampMs time_ms = 0;
};

// The engine's signal settings (DESIGN §4 `signals.*`, §7), with the documented defaults.
struct ModelOptions {
  TimestampMs size_ms = kMsPerHour;
  TimestampMs grace_ms = 5 * kMsPerMinute;
  TimestampMs max_out_of_orderness_ms = kMsPerMinute;
  TimestampMs session_gap_ms = 30 * kMsPerMinute;
  double p_init = 0.3;
  double p_learn = 0.1;
  double p_guess = 0.2;
  double p_slip = 0.1;
  int64_t min_attempts = 5;
  double accuracy_threshold = 0.5;
  double mastery_threshold = 0.4;
  TimestampMs inactivity_ms = 7 * kMsPerDay;
  int64_t min_cohort_size = 5;
  double cohort_struggling_share = 0.3;
  // Number of input partitions; every event's partition must lie in [0, partitions).
  int32_t partitions = 1;
};

// A `learner_window` record (rule 15), minus the constant kind and schema_version.
struct LearnerRecord {
  std::string learner_id;
  std::optional<std::string> course_id;  // null when no counted event had one
  std::string cohort_id;
  TimestampMs window_start = 0;
  TimestampMs window_end = 0;
  int64_t events = 0;
  int64_t attempts = 0;
  int64_t correct = 0;
  std::optional<double> accuracy;
  int64_t help_requests = 0;
  int64_t active_minutes = 0;
  int64_t sessions = 0;
  std::map<std::string, double> mastery;  // skill_id -> p, byte order
  std::optional<double> mean_mastery;
  bool struggling = false;
};

// An `inactive` record (rule 12).
struct InactiveRecord {
  std::string learner_id;
  std::string cohort_id;
  TimestampMs last_event_time = 0;
};

// A `cohort_window` record (rule 13).
struct CohortRecord {
  std::string cohort_id;
  TimestampMs window_start = 0;
  TimestampMs window_end = 0;
  int64_t active_learners = 0;
  int64_t struggling_learners = 0;
  double struggling_share = 0.0;
  std::optional<double> accuracy;
  std::optional<double> mean_mastery;
  int64_t active_minutes = 0;
  int64_t help_requests = 0;
};

// An `alert` record (rule 14).
struct AlertRecord {
  std::string type;   // "struggling_cohort"
  std::string state;  // "firing" or "resolved"
  std::string cohort_id;
  TimestampMs window_start = 0;
  TimestampMs window_end = 0;
  int64_t active_learners = 0;
  double struggling_share = 0.0;
  double threshold = 0.0;
};

// Everything the signal rules produce for one input, sorted by SortModelOutput().
struct ModelOutput {
  std::vector<LearnerRecord> learner_records;
  std::vector<InactiveRecord> inactive_records;
  std::vector<CohortRecord> cohort_records;
  std::vector<AlertRecord> alerts;
  std::vector<std::string> late_event_ids;  // in the order the events were dead-lettered
};

// Runs the signal rules over `events`, given in production order (each partition's record order
// is the order of its events in the vector). Returns the records that are final at the end of the
// input: learner windows final at their partition's last watermark, cohort windows (and the
// alerts over them) final at the watermark of every partition 0..partitions-1 (a partition
// without events finalizes nothing), every inactive record fired along the way, and the late
// events. The result is sorted by SortModelOutput().
// REQUIRES: options.partitions >= 1; every event's partition in [0, options.partitions);
// options.size_ms > 0. Violations abort (LF_CHECK): they are bugs in the test, not data.
ModelOutput RunModel(const std::vector<ModelEvent>& events, const ModelOptions& options);

// Sorts records into the model's canonical order: learner records by (window_end, learner_id,
// cohort_id), cohort records by (window_end, cohort_id), alerts by (cohort_id, window_end),
// inactive records by (learner_id, last_event_time). The sort is stable; late_event_ids keep
// their order. Tests apply it to records read back from the engine too.
void SortModelOutput(ModelOutput& output);

}  // namespace learnflow::testing
