// The in-test model of the signal rules: a literal, event-by-event reading of the rules note.
// Rule numbers in comments refer to that note (/work/shared signal rules, DESIGN §7-§8).
#include "tests/testing/signal_model.h"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/check.h"

namespace learnflow::testing {
namespace {

// Identifies one learner window record of a partition: (learner_id, cohort_id, window start).
struct RecordKey {
  std::string learner_id;
  std::string cohort_id;
  TimestampMs window_start = 0;

  auto operator<=>(const RecordKey&) const = default;
};

// The running totals of one learner window record.
struct RecordState {
  std::set<std::string> counted_event_ids;  // rule 2: the dedup scope
  std::optional<std::string> course_id;
  int64_t events = 0;
  int64_t attempts = 0;
  int64_t correct = 0;
  int64_t known = 0;
  int64_t help_requests = 0;
  std::set<int64_t> minutes;              // rule 9: floor(t / 60000) of counted events
  std::map<std::string, double> mastery;  // rule 8: last p per skill observed in this window
};

// A counted attempt that an outcome may join (rule 6).
struct JoinableAttempt {
  std::string cohort_id;
  TimestampMs window_start = 0;
  std::string skill_id;
  bool joined = false;
};

// Per-learner state of a partition.
struct LearnerState {
  std::map<std::string, double> bkt;                       // skill_id -> p (rule 7)
  std::map<std::string, JoinableAttempt> attempts_by_ref;  // attempt_ref -> attempt (rule 6)
  std::vector<TimestampMs> applied_times;                  // rule 10
  std::optional<TimestampMs> last_activity;                // rule 12
  std::string last_activity_cohort;
  bool inactivity_reported = false;
};

struct PartitionState {
  std::optional<TimestampMs> max_time;
  std::map<RecordKey, RecordState> records;
  std::map<std::string, LearnerState> learners;

  std::optional<TimestampMs> Watermark(const ModelOptions& options) const {
    if (!max_time.has_value()) return std::nullopt;
    return *max_time - options.max_out_of_orderness_ms;
  }
};

TimestampMs WindowStart(TimestampMs t, const ModelOptions& options) {
  return FloorDiv(t, options.size_ms) * options.size_ms;
}

// A window is final at watermark wm when wm >= end + grace; nothing is final before any watermark.
bool IsFinal(TimestampMs window_start, const std::optional<TimestampMs>& wm,
             const ModelOptions& options) {
  return wm.has_value() && *wm >= window_start + options.size_ms + options.grace_ms;
}

// One BKT step (rule 7), spelled out as written in DESIGN §8.
double BktStep(double p, bool correct, const ModelOptions& options) {
  const double s = options.p_slip;
  const double g = options.p_guess;
  double posterior = 0.0;
  if (correct) {
    posterior = p * (1 - s) / (p * (1 - s) + (1 - p) * g);
  } else {
    posterior = p * s / (p * s + (1 - p) * (1 - g));
  }
  return posterior + (1 - posterior) * options.p_learn;
}

// Records an attempt's success in `record` and, when known and with a skill, a BKT observation
// of the learner's skill (rules 5, 7, 8). Does not touch `attempts`.
void Observe(Success success, const std::string& skill_id, const ModelOptions& options,
             LearnerState& learner, RecordState& record) {
  if (success == Success::kUnknown) return;
  ++record.known;
  if (success == Success::kTrue) ++record.correct;
  if (skill_id.empty()) return;
  auto [it, inserted] = learner.bkt.try_emplace(skill_id, options.p_init);
  it->second = BktStep(it->second, success == Success::kTrue, options);
  record.mastery[skill_id] = it->second;
}

// Step b: applies a non-late event `e` to its partition's state, using `wm_before` for finality.
void ApplyEvent(const ModelEvent& e, const std::optional<TimestampMs>& wm_before,
                const ModelOptions& options, PartitionState& partition) {
  if (e.kind == EventKind::kRetraction) return;  // out of scope: counts nowhere
  LearnerState& learner = partition.learners[e.learner_id];
  learner.applied_times.push_back(e.time_ms);  // rule 10: counted or not, system included
  if (e.kind == EventKind::kSystem) return;    // rule 2: never counted

  const TimestampMs window_start = WindowStart(e.time_ms, options);
  const RecordKey key{e.learner_id, e.cohort_id, window_start};
  auto existing = partition.records.find(key);
  if (existing != partition.records.end() &&
      existing->second.counted_event_ids.count(e.event_id) > 0) {
    return;  // rule 2: a duplicate changes nothing
  }
  RecordState& record = partition.records[key];  // rule 3: created by its first counted event
  record.counted_event_ids.insert(e.event_id);
  ++record.events;
  record.minutes.insert(FloorDiv(e.time_ms, kMsPerMinute));
  if (!record.course_id.has_value() && !e.course_id.empty()) record.course_id = e.course_id;
  if (e.kind == EventKind::kHelp) ++record.help_requests;

  // Rule 12: the largest counted time re-arms the inactivity report.
  if (!learner.last_activity.has_value() || e.time_ms > *learner.last_activity) {
    learner.last_activity = e.time_ms;
    learner.last_activity_cohort = e.cohort_id;
    learner.inactivity_reported = false;
  }

  if (e.kind == EventKind::kAttempt) {
    ++record.attempts;
    Observe(e.success, e.skill_id, options, learner, record);
    if (!e.attempt_ref.empty()) {
      learner.attempts_by_ref[e.attempt_ref] =
          JoinableAttempt{e.cohort_id, window_start, e.skill_id, /*joined=*/false};
    }
    return;
  }
  if (e.kind != EventKind::kOutcome) return;

  // Rule 6: try to join the outcome to its attempt.
  if (!e.attempt_ref.empty()) {
    auto it = learner.attempts_by_ref.find(e.attempt_ref);
    if (it != learner.attempts_by_ref.end() && !it->second.joined &&
        !IsFinal(it->second.window_start, wm_before, options)) {
      JoinableAttempt& attempt = it->second;
      attempt.joined = true;
      RecordState& attempt_record =
          partition.records[RecordKey{e.learner_id, attempt.cohort_id, attempt.window_start}];
      Observe(e.success, attempt.skill_id, options, learner, attempt_record);
      return;
    }
  }
  // Not joined: an attempt of its own window with its own success and skill.
  ++record.attempts;
  Observe(e.success, e.skill_id, options, learner, record);
}

// Step d: fires the inactivity timers due at the partition's current watermark (rule 12).
void FireInactivity(const ModelOptions& options, PartitionState& partition,
                    std::vector<InactiveRecord>& out) {
  const std::optional<TimestampMs> wm = partition.Watermark(options);
  if (!wm.has_value()) return;
  std::vector<std::pair<TimestampMs, std::string>> due;  // (deadline, learner_id)
  for (const auto& [learner_id, learner] : partition.learners) {
    if (!learner.last_activity.has_value() || learner.inactivity_reported) continue;
    const TimestampMs deadline = *learner.last_activity + options.inactivity_ms;
    if (deadline <= *wm) due.emplace_back(deadline, learner_id);
  }
  std::sort(due.begin(), due.end());
  for (const auto& [deadline, learner_id] : due) {
    LearnerState& learner = partition.learners[learner_id];
    learner.inactivity_reported = true;
    out.push_back(InactiveRecord{learner_id, learner.last_activity_cohort, *learner.last_activity});
  }
}

// Rule 10: sessions of a learner whose first time lies in [start, end).
int64_t CountSessions(std::vector<TimestampMs> times, TimestampMs start, TimestampMs end,
                      const ModelOptions& options) {
  std::sort(times.begin(), times.end());
  int64_t sessions = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    const bool starts_session = i == 0 || times[i] - times[i - 1] > options.session_gap_ms;
    if (starts_session && times[i] >= start && times[i] < end) ++sessions;
  }
  return sessions;
}

LearnerRecord MakeLearnerRecord(const RecordKey& key, const RecordState& state,
                                const LearnerState& learner, const ModelOptions& options) {
  LearnerRecord r;
  r.learner_id = key.learner_id;
  r.course_id = state.course_id;
  r.cohort_id = key.cohort_id;
  r.window_start = key.window_start;
  r.window_end = key.window_start + options.size_ms;
  r.events = state.events;
  r.attempts = state.attempts;
  r.correct = state.correct;
  if (state.known > 0) r.accuracy = static_cast<double>(state.correct) / state.known;
  r.help_requests = state.help_requests;
  r.active_minutes = static_cast<int64_t>(state.minutes.size());
  r.sessions = CountSessions(learner.applied_times, r.window_start, r.window_end, options);
  r.mastery = state.mastery;
  if (!state.mastery.empty()) {
    double sum = 0.0;
    for (const auto& [skill, p] : state.mastery) sum += p;
    r.mean_mastery = sum / static_cast<double>(state.mastery.size());
  }
  const bool low_accuracy = r.accuracy.has_value() && *r.accuracy < options.accuracy_threshold;
  const bool low_mastery =
      r.mean_mastery.has_value() && *r.mean_mastery < options.mastery_threshold;
  r.struggling = r.attempts >= options.min_attempts && (low_accuracy || low_mastery);
  return r;
}

// Rule 13 over the learner records of one (cohort, window).
CohortRecord MakeCohortRecord(const std::vector<const LearnerRecord*>& learners) {
  CohortRecord c;
  c.cohort_id = learners.front()->cohort_id;
  c.window_start = learners.front()->window_start;
  c.window_end = learners.front()->window_end;
  int64_t correct = 0;
  int64_t attempts = 0;
  double mastery_sum = 0.0;
  int64_t mastery_count = 0;
  for (const LearnerRecord* r : learners) {
    ++c.active_learners;
    if (r->struggling) ++c.struggling_learners;
    correct += r->correct;
    attempts += r->attempts;
    if (r->mean_mastery.has_value()) {
      mastery_sum += *r->mean_mastery;
      ++mastery_count;
    }
    c.active_minutes += r->active_minutes;
    c.help_requests += r->help_requests;
  }
  c.struggling_share =
      static_cast<double>(c.struggling_learners) / static_cast<double>(c.active_learners);
  if (attempts > 0) c.accuracy = static_cast<double>(correct) / static_cast<double>(attempts);
  if (mastery_count > 0) c.mean_mastery = mastery_sum / static_cast<double>(mastery_count);
  return c;
}

}  // namespace

ModelOutput RunModel(const std::vector<ModelEvent>& events, const ModelOptions& options) {
  LF_CHECK(options.partitions >= 1, "ModelOptions.partitions must be >= 1");
  LF_CHECK(options.size_ms > 0, "ModelOptions.size_ms must be > 0");
  ModelOutput out;
  std::vector<PartitionState> partitions(static_cast<size_t>(options.partitions));

  for (const ModelEvent& e : events) {
    LF_CHECK(e.partition >= 0 && e.partition < options.partitions,
             "ModelEvent.partition outside [0, ModelOptions.partitions)");
    PartitionState& partition = partitions[static_cast<size_t>(e.partition)];
    const std::optional<TimestampMs> wm_before = partition.Watermark(options);  // step a
    if (IsFinal(WindowStart(e.time_ms, options), wm_before, options)) {
      out.late_event_ids.push_back(e.event_id);
      continue;
    }
    ApplyEvent(e, wm_before, options, partition);  // step b
    partition.max_time = partition.max_time.has_value() ? std::max(*partition.max_time, e.time_ms)
                                                        : e.time_ms;  // step c
    FireInactivity(options, partition, out.inactive_records);         // step d
  }

  // Learner windows final at their partition's last watermark.
  for (const PartitionState& partition : partitions) {
    const std::optional<TimestampMs> wm = partition.Watermark(options);
    for (const auto& [key, state] : partition.records) {
      if (!IsFinal(key.window_start, wm, options)) continue;
      out.learner_records.push_back(
          MakeLearnerRecord(key, state, partition.learners.at(key.learner_id), options));
    }
  }

  // Cohort windows final for every partition, from the learner records of all partitions.
  std::map<std::pair<std::string, TimestampMs>, std::vector<const LearnerRecord*>> cohorts;
  for (const LearnerRecord& r : out.learner_records) {
    bool final_everywhere = true;
    for (const PartitionState& partition : partitions) {
      if (!IsFinal(r.window_start, partition.Watermark(options), options)) {
        final_everywhere = false;
      }
    }
    if (final_everywhere) cohorts[{r.cohort_id, r.window_start}].push_back(&r);
  }
  // `cohorts` iterates by (cohort_id, window_start): window order per cohort, as rule 14 needs.
  std::optional<std::string> alert_cohort;
  bool firing = false;
  for (const auto& [cohort_window, learners] : cohorts) {
    CohortRecord c = MakeCohortRecord(learners);
    if (alert_cohort != c.cohort_id) {  // each cohort starts not firing
      alert_cohort = c.cohort_id;
      firing = false;
    }
    const bool meets = c.active_learners >= options.min_cohort_size &&
                       c.struggling_share >= options.cohort_struggling_share;
    if (meets != firing) {
      firing = meets;
      out.alerts.push_back(AlertRecord{"struggling_cohort", meets ? "firing" : "resolved",
                                       c.cohort_id, c.window_start, c.window_end, c.active_learners,
                                       c.struggling_share, options.cohort_struggling_share});
    }
    out.cohort_records.push_back(std::move(c));
  }

  SortModelOutput(out);
  return out;
}

void SortModelOutput(ModelOutput& output) {
  std::stable_sort(output.learner_records.begin(), output.learner_records.end(),
                   [](const LearnerRecord& a, const LearnerRecord& b) {
                     return std::tie(a.window_end, a.learner_id, a.cohort_id) <
                            std::tie(b.window_end, b.learner_id, b.cohort_id);
                   });
  std::stable_sort(output.cohort_records.begin(), output.cohort_records.end(),
                   [](const CohortRecord& a, const CohortRecord& b) {
                     return std::tie(a.window_end, a.cohort_id) <
                            std::tie(b.window_end, b.cohort_id);
                   });
  std::stable_sort(
      output.alerts.begin(), output.alerts.end(), [](const AlertRecord& a, const AlertRecord& b) {
        return std::tie(a.cohort_id, a.window_end) < std::tie(b.cohort_id, b.window_end);
      });
  std::stable_sort(output.inactive_records.begin(), output.inactive_records.end(),
                   [](const InactiveRecord& a, const InactiveRecord& b) {
                     return std::tie(a.learner_id, a.last_event_time) <
                            std::tie(b.learner_id, b.last_event_time);
                   });
}

}  // namespace learnflow::testing
