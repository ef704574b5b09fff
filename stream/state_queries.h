// Interactive queries: reads of the engine's live state for the HTTP API (DESIGN §10,
// /v1/learners/{id}, /v1/cohorts/{id}, /v1/cohorts?struggling=true), as JSON.
//
// Like Kafka Streams' interactive queries, they read the local state store from another thread
// and never touch the processing thread: the engine checkpoints every task's state to RocksDB
// (every state.checkpoint_interval_ms), and publishes which partitions it owns
// (QueryablePartitions) once their state is in the store. So an answer is as of the last
// checkpoint, and covers
// the partitions of this instance only: with several instances, a learner or cohort is answered
// by the instance that owns its partition.
//
//   StateQueries queries(store, params, engine.queryable_learner_partitions(),
//                        engine.queryable_cohort_partitions());
//   StatusOr<std::optional<std::string>> learner = queries.Learner("mailto:ada@example.org");
//   if (learner.ok() && !learner->has_value()) { /* 404 */ }
//
// Thread-safety: every method of both classes may be called from any thread.
// Errors: store read failures and corrupt state come back as the store's / an Internal status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "operators/cohort_signals.h"
#include "operators/learner_signals.h"
#include "state/state_store.h"

namespace learnflow {

// The partitions of one stage whose state the store holds as of the last checkpoint. Written by
// the processing thread (after each state write, and on revocation), read by query threads.
class QueryablePartitions {
 public:
  void Replace(std::span<const int32_t> partitions);
  void Remove(std::span<const int32_t> partitions);
  std::vector<int32_t> Get() const;

 private:
  mutable std::mutex mu_;
  std::vector<int32_t> partitions_;  // sorted
};

enum class CohortFilter { kAll, kStruggling, kNotStruggling };

class StateQueries {
 public:
  // Borrows everything; all must outlive the queries.
  StateQueries(const StateStore& store, const SignalParams& params,
               const QueryablePartitions& learner_partitions,
               const QueryablePartitions& cohort_partitions);

  // {"learner_id", "cohort_id", "last_event_time", "inactive", "mastery": {skill: p} (current
  // BKT of every skill seen), "mean_mastery", "latest_window": the latest learner_window record
  // or null}; nullopt when no owned partition knows the learner. When input is not keyed by
  // learner several partitions may know one learner: the most recently active one answers.
  StatusOr<std::optional<std::string>> Learner(std::string_view learner_id) const;

  // {"cohort_id", "struggling" (its alert is firing), "latest_window": the latest cohort_window
  // record or null}; nullopt when no owned partition knows the cohort.
  StatusOr<std::optional<std::string>> Cohort(std::string_view cohort_id) const;

  // {"cohorts": [cohort objects as above, in cohort id order], "truncated": more matched than
  // `limit`}.
  StatusOr<std::string> Cohorts(CohortFilter filter, size_t limit) const;

 private:
  const StateStore& store_;
  LearnerSignalsOperator learner_op_;
  CohortSignalsOperator cohort_op_;
  const QueryablePartitions& learner_partitions_;
  const QueryablePartitions& cohort_partitions_;
};

}  // namespace learnflow
