// The learner-signal operator: the formulas behind `learner_window` and `inactive` records of
// `learnflow.learner-signals` (DESIGN §8; docs/signals.md spells out every rule).
//
// The operator is immutable (const methods only) and holds the parameters. The mutable state
// lives in two value types that a task owns and persists:
//   - LearnerWindowState: the aggregate of one (learner_id, cohort_id, tumbling window);
//   - LearnerState: what outlives windows for one learner — BKT per skill, the learner's
//     session spans, Caliper attempts waiting for their outcome, last activity (inactivity).
// The order of operations (lateness, joins, timers) is the task's; the operator computes.
//
//   LearnerSignalsOperator op(params);
//   op.Count(event, window_state);               // a counted event: events, minutes, help
//   op.Observe(skill, correct, learner, window_state);  // one BKT observation
//   op.MakeRecord(cohort_id, window, window_state, sessions, record);
//   op.AppendLearnerRecord(learner_id, record, op.Summarize(record), out);
//   learner_state.SetLatest(record);
//
// Thread-safety: the operator may be shared by threads; state objects may not.
// Errors: Decode() rejects truncated or corrupt state bytes with an Internal status.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/skill_ids.h"
#include "core/small_vector.h"
#include "core/status.h"
#include "operators/windows.h"

namespace learnflow {

class ByteReader;

// The signal parameters (config sections `windows` and `signals`).
struct SignalParams {
  TimestampMs window_size_ms = 3600000;
  TimestampMs grace_ms = 300000;
  TimestampMs session_gap_ms = 1800000;
  TimestampMs inactivity_ms = 7 * 86400000LL;
  double p_init = 0.3;
  double p_learn = 0.1;
  double p_guess = 0.2;
  double p_slip = 0.1;
  int64_t min_attempts = 5;
  double accuracy_threshold = 0.5;
  double mastery_threshold = 0.4;
  int64_t min_cohort_size = 5;
  double cohort_struggling_share = 0.3;
};

inline constexpr TimestampMs kNoTime = std::numeric_limits<TimestampMs>::min();

// A skill's probability: one of a learner's BKT estimates or of a window's mastery map. A set
// of them is kept in byte order of the skill names, the order of a record's mastery map, and
// is persisted with the names (ids are the process's own, see core/skill_ids.h).
struct SkillProbability {
  SkillId skill = 0;
  double p = 0;

  SkillProbability() = default;
  SkillProbability(std::string_view name, double probability)
      : skill(SkillIds::Intern(name)), p(probability) {}
  bool operator==(const SkillProbability&) const = default;
};
// One inline (most windows see one or two skills; a learner's set moves to the heap once).
using SkillProbabilities = SmallVector<SkillProbability, 1>;

struct LearnerWindowState {
  std::string course_id;  // of the first counted event that has one
  uint64_t events = 0;
  uint64_t attempts = 0;
  uint64_t known = 0;  // attempts whose success is known
  uint64_t correct = 0;
  uint64_t help_requests = 0;
  // Each as large as a std::vector, with the first few items inline (core/small_vector.h).
  SmallVector<uint32_t, 4> minutes;        // sorted, minutes since the window start
  SkillProbabilities mastery;
  SmallVector<uint64_t, 2> seen_event_ids;  // sorted hashes of counted ids (EventIdHash64)
  // Read from a value of version 3 or older: seen_event_ids hold StableHash64 hashes.
  bool fnv_event_ids = false;

  void Encode(std::string& out) const;
  Status Decode(std::string_view in);
  // Cache hint for the heap blocks Encode() reads (core/prefetch.h).
  void PrefetchBlocks() const;
};

// The figures of one `learner_window` record (DESIGN §8). LearnerState keeps the learner's latest
// one, encoded, for the query API.
struct LearnerWindowRecord {
  TimestampMs window_end = kNoTime;  // kNoTime: no record yet
  std::string cohort_id;
  std::string course_id;  // empty: null
  uint64_t events = 0;
  uint64_t attempts = 0;
  uint64_t known = 0;
  uint64_t correct = 0;
  uint64_t help_requests = 0;
  uint64_t active_minutes = 0;
  int64_t sessions = 0;
  std::vector<std::pair<std::string, double>> mastery;  // skill -> p, sorted by skill
};

struct LearnerState {
  struct SessionSpan {
    TimestampMs first = 0;
    TimestampMs last = 0;
  };
  struct PendingAttempt {  // a counted attempt with a Caliper Attempt id, until its window is final
    uint64_t ref = 0;      // StableHash64(attempt_ref)
    TimestampMs window_end = 0;
    std::string cohort_id;
    std::string skill_id;
    bool joined = false;
  };

  TimestampMs last_activity = kNoTime;  // largest time of a counted event
  std::string last_cohort_id;           // cohort of the event that set last_activity
  bool inactivity_reported = false;
  SkillProbabilities bkt;
  std::vector<SessionSpan> sessions;                // sorted, never within session_gap of each other
  std::vector<PendingAttempt> pending;
  // The learner's latest emitted learner_window record, for the query API, in a compact form
  // (SetLatest/GetLatest; empty: none yet): skill ids and varints, about 50 bytes. As a struct
  // it would cost each learner about 150 more bytes of memory, which a million learners feel.
  std::string latest;
  // Not persisted: the deadline under which the task's timer queue holds this learner.
  TimestampMs armed_deadline = kNoTime;

  void Encode(std::string& out) const;
  Status Decode(std::string_view in);
  // Cache hint for the heap blocks Encode() reads (core/prefetch.h).
  void PrefetchBlocks() const;
  // `ids`, when given, are the ids of record.mastery's skills, in its order (the window's
  // mastery set the record was made from): no name is interned again.
  void SetLatest(const LearnerWindowRecord& record, const SkillProbabilities* ids = nullptr);
  // The latest record; window_end is kNoTime when there is none. Internal on corrupt bytes.
  Status GetLatest(LearnerWindowRecord& record) const;

 private:
  void EncodeLatest(std::string& out) const;
  bool DecodeLatest(ByteReader& in);
};

// Derived fields of a learner window record.
struct LearnerWindowSummary {
  std::optional<double> accuracy;
  std::optional<double> mean_mastery;
  bool struggling = false;
};

// Appends `,"window_start":"<ISO>","window_end":"<ISO>"` (the bounds of every windowed record).
void AppendWindowBounds(TimeWindow window, std::string& out);
// The mean of the p of `values`; nullopt when empty.
std::optional<double> MeanOf(const std::vector<std::pair<std::string, double>>& values);
std::optional<double> MeanOf(const SkillProbabilities& values);
// Appends a skill -> p map as a JSON object (`{"skill-1":0.42,...}`), in the vector's order.
void AppendSkillMap(const std::vector<std::pair<std::string, double>>& values, std::string& out);
void AppendSkillMap(const SkillProbabilities& values, std::string& out);

class LearnerSignalsOperator {
 public:
  explicit LearnerSignalsOperator(const SignalParams& params);

  const SignalParams& params() const { return params_; }
  const TumblingWindows& windows() const { return windows_; }

  // Counts `event` in `state` unless its event_id was counted there before (returns false, and
  // changes nothing, for a duplicate): events, active minutes, help requests, course_id.
  // Attempts and outcomes are the caller's (they depend on joins).
  bool Count(const CanonicalEvent& event, TimeWindow window, LearnerWindowState& state) const;
  // An attempt of `state` with `success`.
  static void AddAttempt(Success success, LearnerWindowState& state);
  // The outcome of an attempt already counted in `state`.
  static void AddOutcome(Success success, LearnerWindowState& state);
  // One BKT observation on `skill`: updates the learner's p and records it as the window's
  // mastery of that skill. REQUIRES: !skill.empty().
  void Observe(std::string_view skill, bool correct, LearnerState& learner,
               LearnerWindowState& state) const;
  // p after one observation (posterior, then the learning step).
  double BktUpdate(double p, bool correct) const;

  // Sessions: adds an event time (merging spans it bridges), counts spans starting in `window`,
  // forgets spans no event at or after `bound` can join.
  void AddSessionTime(TimestampMs t, LearnerState& learner) const;
  static int64_t SessionsStartingIn(const LearnerState& learner, TimeWindow window);
  void PruneSessions(TimestampMs bound, LearnerState& learner) const;

  // The record of a final window (assigned into `out`, reusing its buffers).
  void MakeRecord(std::string_view cohort_id, TimeWindow window, const LearnerWindowState& state,
                  int64_t sessions, LearnerWindowRecord& out) const;
  LearnerWindowSummary Summarize(const LearnerWindowRecord& record) const;
  // Appends one record (JSON object, no newline).
  void AppendLearnerRecord(std::string_view learner_id, const LearnerWindowRecord& record,
                           const LearnerWindowSummary& summary, std::string& out) const;
  static void AppendInactiveRecord(std::string_view learner_id, std::string_view cohort_id,
                                   TimestampMs last_event_time, std::string& out);

 private:
  SignalParams params_;
  TumblingWindows windows_;
};

}  // namespace learnflow
