#include "stream/state_queries.h"

#include <algorithm>

#include "core/json_writer.h"
#include "core/time.h"
#include "state/window_key.h"

namespace learnflow {

void QueryablePartitions::Replace(std::span<const int32_t> partitions) {
  std::vector<int32_t> sorted(partitions.begin(), partitions.end());
  std::sort(sorted.begin(), sorted.end());
  std::lock_guard lock(mu_);
  partitions_ = std::move(sorted);
}

void QueryablePartitions::Remove(std::span<const int32_t> partitions) {
  std::lock_guard lock(mu_);
  std::erase_if(partitions_, [&](int32_t p) {
    return std::find(partitions.begin(), partitions.end(), p) != partitions.end();
  });
}

std::vector<int32_t> QueryablePartitions::Get() const {
  std::lock_guard lock(mu_);
  return partitions_;
}

StateQueries::StateQueries(const StateStore& store, const SignalParams& params,
                           const QueryablePartitions& learner_partitions,
                           const QueryablePartitions& cohort_partitions)
    : store_(store),
      learner_op_(params),
      cohort_op_(params),
      learner_partitions_(learner_partitions),
      cohort_partitions_(cohort_partitions) {}

namespace {

// Reads `id` of table `family` in each of `partitions`; calls `take(state)` for each hit.
template <typename State, typename Take>
Status ReadEach(const StateStore& store, Family family, const std::vector<int32_t>& partitions,
                std::string_view id, Take&& take) {
  std::string key;
  std::string value;
  for (const int32_t partition : partitions) {
    key.clear();
    AppendPartitionPrefix(key, partition);
    key.append(id);
    bool found = false;
    LF_RETURN_IF_ERROR(store.Get(family, key, value, found));
    if (!found) continue;
    State state;
    if (Status s = state.Decode(value); !s.ok()) {
      return InternalError("partition " + std::to_string(partition) + ": " + s.message());
    }
    take(std::move(state));
  }
  return Status::Ok();
}

void AppendCohort(const CohortSignalsOperator& op, std::string_view cohort_id,
                  const CohortState& state, std::string& out) {
  out += R"({"cohort_id":)";
  AppendJsonString(out, cohort_id);
  out += R"(,"struggling":)";
  out += state.firing ? "true" : "false";
  out += R"(,"latest_window":)";
  // active_learners is at least 1 in every emitted window; 0 means the state predates keeping
  // the latest window (version 1), whose figures are unknown.
  if (state.last_window_end == 0 || state.latest.active_learners == 0) {
    out += "null";
  } else {
    const TimestampMs size = op.windows().size_ms();
    op.AppendCohortRecord(cohort_id, TimeWindow{state.last_window_end - size, state.last_window_end},
                          state.latest, out);
  }
  out += '}';
}

}  // namespace

StatusOr<std::optional<std::string>> StateQueries::Learner(std::string_view learner_id) const {
  std::optional<LearnerState> best;
  LF_RETURN_IF_ERROR(ReadEach<LearnerState>(
      store_, Family::kKeyed, learner_partitions_.Get(), learner_id, [&](LearnerState state) {
        if (!best || state.last_activity > best->last_activity) best = std::move(state);
      }));
  if (!best) return std::optional<std::string>();
  std::string out = R"({"learner_id":)";
  AppendJsonString(out, learner_id);
  out += R"(,"cohort_id":)";
  AppendJsonString(out, best->last_cohort_id);
  out += R"(,"last_event_time":)";
  if (best->last_activity == kNoTime) {
    out += "null";
  } else {
    out += '"';
    AppendIso8601Millis(best->last_activity, out);
    out += '"';
  }
  out += R"(,"inactive":)";
  out += best->inactivity_reported ? "true" : "false";
  out += R"(,"mastery":)";
  AppendSkillMap(best->bkt, out);
  out += R"(,"mean_mastery":)";
  AppendJsonOptional(out, MeanOf(best->bkt));
  out += R"(,"latest_window":)";
  LearnerWindowRecord latest;
  LF_RETURN_IF_ERROR(best->GetLatest(latest));
  if (latest.window_end == kNoTime) {
    out += "null";
  } else {
    learner_op_.AppendLearnerRecord(learner_id, latest, learner_op_.Summarize(latest), out);
  }
  out += '}';
  return std::optional<std::string>(std::move(out));
}

StatusOr<std::optional<std::string>> StateQueries::Cohort(std::string_view cohort_id) const {
  std::optional<CohortState> best;
  LF_RETURN_IF_ERROR(ReadEach<CohortState>(
      store_, Family::kCohortKeyed, cohort_partitions_.Get(), cohort_id, [&](CohortState state) {
        if (!best || state.last_window_end > best->last_window_end) best = std::move(state);
      }));
  if (!best) return std::optional<std::string>();
  std::string out;
  AppendCohort(cohort_op_, cohort_id, *best, out);
  return std::optional<std::string>(std::move(out));
}

StatusOr<std::string> StateQueries::Cohorts(CohortFilter filter, size_t limit) const {
  // A cohort lives in the one repartition partition its key hashes to, so partitions never
  // share one; merge them in cohort id order.
  std::vector<std::pair<std::string, CohortState>> matches;
  for (const int32_t partition : cohort_partitions_.Get()) {
    const std::string begin = PartitionPrefix(partition);
    const std::string end = PartitionPrefix(partition + 1);
    Status decode_error;
    LF_RETURN_IF_ERROR(store_.Scan(Family::kCohortKeyed, begin, end,
                                   [&](std::string_view key, std::string_view value) {
                                     CohortState state;
                                     if (Status s = state.Decode(value); !s.ok()) {
                                       decode_error = s;
                                       return false;
                                     }
                                     if ((filter == CohortFilter::kStruggling && !state.firing) ||
                                         (filter == CohortFilter::kNotStruggling && state.firing)) {
                                       return true;
                                     }
                                     matches.emplace_back(std::string(key.substr(begin.size())), state);
                                     return true;
                                   }));
    LF_RETURN_IF_ERROR(decode_error);
  }
  std::sort(matches.begin(), matches.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out = R"({"cohorts":[)";
  for (size_t i = 0; i < matches.size() && i < limit; ++i) {
    if (i > 0) out += ',';
    AppendCohort(cohort_op_, matches[i].first, matches[i].second, out);
  }
  out += R"(],"truncated":)";
  out += matches.size() > limit ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace learnflow
