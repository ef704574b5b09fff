// Engine: the processing loop of one learnflow instance.
//
// Two stages, as in Kafka Streams' sub-topologies (stream/stage.h):
//   - the learner stage consumes the input topic: it decodes each message, sends invalid and late
//     input to the dead-letter topic (original bytes, headers learnflow.error and
//     learnflow.source), applies valid events to the LearnerTask of their partition and emits
//     learner records (`learnflow.learner-signals`) when the watermark makes them final; each
//     learner window record also goes, summarized, to the repartition topic keyed by cohort,
//     followed by watermark markers;
//   - the cohort stage (optional, EnableCohortStage) consumes the repartition topic with its own
//     consumer and emits cohort records and alerts once every upstream partition has passed a
//     window.
// The commit cycle runs every `commit_interval_ms` over both stages together:
//   1. changelog records of every task, then Sink::Flush — every record sent so far is
//      acknowledged (exactly-once: one Kafka transaction commit, carrying the input positions);
//   2. one StateBatch with each task's changed state and position, written atomically to the
//      StateStore (the authoritative checkpoint), every `checkpoint_interval_ms` (commits in
//      between leave it to the next one: the changelogs hold their changes);
//   3. consumer group commits (for lag monitoring).
// A crash anywhere resumes from the last commit whose changelog position records are durable:
// the restore replays the changelog since the last checkpoint onto it. Records re-emitted by
// the replay of the input after that commit are byte-identical to the ones already sent, and the
// cohort stage counts a repeated learner summary once. Exactly-once: a crash after the
// transaction commit but before the local checkpoint is repaired by the same restore, which
// reads the committed changelog records (and their position) on start-up, so nothing is emitted
// twice; a crash before it aborts the transaction.
//
// Lifecycle: construct, optionally EnableCohortStage(), Start() (subscribes), then RunOnce()
// repeatedly or Run() until `stop`, then Shutdown() (final commit, leave groups). Threading:
// one thread calls everything, except counters(), readable from any thread. Errors: store and
// delivery failures are fatal (returned); the caller exits and a restart resumes from the
// checkpoint.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hmac_sha256.h"
#include "core/time.h"
#include "operators/cohort_signals.h"
#include "operators/learner_signals.h"
#include "state/state_store.h"
#include "stream/cohort_task.h"
#include "stream/counters.h"
#include "stream/io.h"
#include "stream/learner_task.h"
#include "stream/stage.h"
#include "stream/state_queries.h"

namespace learnflow {

struct EngineOptions {
  std::string input_topic = "learning.events";
  std::string learner_signals_topic = "learnflow.learner-signals";
  std::string cohort_signals_topic = "learnflow.cohort-signals";
  std::string alerts_topic = "learnflow.alerts";
  std::string dead_letter_topic = "learnflow.dead-letter";
  // "<group_id>-windows-changelog"; empty disables changelogging and restore (single instance).
  std::string changelog_topic;
  // Cohort stage (EnableCohortStage): "<group_id>-cohort-repartition", its partition count, the
  // input topic's partition count (markers), and "<group_id>-cohorts-changelog" (may be empty).
  std::string repartition_topic;
  int32_t repartition_partitions = 0;
  int32_t input_partitions = 0;
  std::string cohort_changelog_topic;
  size_t max_restore_records_per_poll = 10000;
  SignalParams signals;  // windows, sessions, BKT, thresholds
  TimestampMs max_out_of_orderness_ms = 60000;
  // An input partition without records for this long is idle: cohort windows stop waiting for
  // it (processing.idle_timeout_ms). 0 disables idleness.
  TimestampMs idle_timeout_ms = 0;
  TimestampMs commit_interval_ms = 1000;
  // The local checkpoint (step 2 of the commit cycle) is written by the first commit at least
  // this long after the previous one, and by every settled commit (revocation, shutdown);
  // commits in between write only the changelogs, which a restore replays onto the last
  // checkpoint. 0 writes it at every commit, as do stages without a changelog (the store is
  // then their only copy). State queries answer as of the last checkpoint.
  TimestampMs checkpoint_interval_ms = 5000;
  TimestampMs max_future_ms = kMsPerDay;  // events further ahead of the wall clock are invalid
  size_t max_message_bytes = 1 << 20;
  size_t max_poll_records = 500;
  int poll_timeout_ms = 100;
  // One wait for output acknowledgements or a transaction commit. A commit that is not done in
  // this time reports not-ready and waits again (nothing is given up: records stay queued until
  // librdkafka's message.timeout.ms).
  int flush_timeout_ms = 2000;
  size_t max_in_flight = 100000;  // pause consumption above this many unacknowledged records
  // After a commit, at most this often: return the allocator's free pages to the system
  // (core/allocator.h). Each commit briefly holds the queued changelog records, the state
  // WriteBatch and the memtables at once; without trimming RSS follows the highest such peak
  // rather than the live heap (docs/reliability.md, Load). 0 disables.
  TimestampMs memory_trim_interval_ms = 5000;
  // privacy.pseudonymize_learner_ids: learner ids are replaced by their HMAC-SHA256 under this
  // key right after decoding, so no state, record, query answer or log holds the original.
  // (Dead letters carry the input message unchanged, like the input topic itself.)
  std::optional<std::string> pseudonymization_key;
};

// Called on the processing thread for every final cohort window (e.g. to set gauges).
using CohortWindowObserver =
    std::function<void(std::string_view cohort_id, const CohortWindowSummary& summary, bool firing)>;

class Engine final : private TaskOutput {
 public:
  // `changelog` is required when options.changelog_topic is set, else ignored (may be null).
  Engine(EngineOptions options, Source& source, Sink& sink, MessageDecoder& decoder,
         StateStore& store, const Clock& clock = SystemClock(), ChangelogReader* changelog = nullptr);
  ~Engine() override;

  // Adds the cohort stage, reading options.repartition_topic through `source` (its own consumer).
  // `changelog` is required when options.cohort_changelog_topic is set. REQUIRES: before Start(),
  // options.repartition_partitions > 0 and options.input_partitions > 0.
  void EnableCohortStage(Source& source, ChangelogReader* changelog);
  void SetCohortWindowObserver(CohortWindowObserver observer) { cohort_observer_ = std::move(observer); }

  Status Start();
  // One poll + process cycle, committing when the interval has passed.
  Status RunOnce();
  // RunOnce() until `stop` becomes true or an error occurs, then Shutdown().
  Status Run(const std::atomic<bool>& stop);
  // Final commit and leave the group.
  Status Shutdown();
  // Runs the commit cycle now and settles it: when it returns, the changelogs' position records
  // are acknowledged and the consumer groups have the positions (a revocation, a shutdown).
  Status Commit();

  const EngineCounters& counters() const { return counters_; }
  // The partitions whose state the store holds as of the last checkpoint (for StateQueries).
  const QueryablePartitions& queryable_learner_partitions() const { return queryable_learners_; }
  const QueryablePartitions& queryable_cohort_partitions() const { return queryable_cohorts_; }

 private:
  void ProcessMessage(const InputMessage& message, LearnerTask& task);
  void ProcessEvent(const InputMessage& message, const CanonicalEvent& event, int index,
                    LearnerTask& task);
  void ProcessRepartitioned(const InputMessage& message, CohortTask& task);
  void DeadLetter(std::string_view topic, const InputMessage& message, std::string_view payload,
                  RejectReason reason, int event_index);
  Status PollCohortStage();
  // Cache hints for the learner lookups of the messages after batch_[i].
  void PrefetchLearners(size_t i);
  Status EmitFinal(TimestampMs now_ms);
  Status Backpressure();
  // The periodic commit does not wait for its changelog position records (`settle` false): the
  // next commit's first flush covers them, and only then are its group positions committed.
  Status Commit(bool settle);
  Status CommitCycle(bool settle);
  // Whether this commit writes the local checkpoint (EngineOptions::checkpoint_interval_ms).
  bool CheckpointDue(bool settle) const;
  void CommitGroups(std::span<const PartitionOffset> offsets,
                    std::span<const PartitionOffset> cohort_offsets);
  void MaybeTrimMemory();
  Status FlushOutputs();
  // Calls `attempt` until it returns anything but Unavailable, marking the brokers unreachable
  // (readiness: not-ready) after each Unavailable.
  template <typename Attempt>
  Status WaitWhileUnavailable(std::string_view what, Attempt attempt);

  // TaskOutput
  Status Emit(Output output, std::string_view key, std::string_view value) override;
  Status Repartition(std::string_view key, std::string_view value) override;
  Status Broadcast(std::string_view value) override;
  void OnCohortWindow(std::string_view cohort_id, const CohortWindowSummary& summary,
                      bool firing) override;

  EngineOptions options_;
  Sink& sink_;
  MessageDecoder& decoder_;
  StateStore& store_;
  const Clock& clock_;
  LearnerSignalsOperator learner_op_;
  CohortSignalsOperator cohort_op_;
  LearnerTaskOptions learner_options_;
  EngineCounters counters_;
  // Declared before the stages, which hold references to them.
  QueryablePartitions queryable_learners_;
  QueryablePartitions queryable_cohorts_;
  Stage<LearnerTask> learners_;
  std::unique_ptr<Stage<CohortTask>> cohorts_;  // null without the cohort stage
  CohortWindowObserver cohort_observer_;
  Status sink_error_;  // first Send error inside processing; surfaced by RunOnce
  bool paused_ = false;
  TimestampMs last_commit_ms_ = 0;
  TimestampMs last_checkpoint_ms_ = 0;
  TimestampMs last_memory_trim_ms_ = 0;
  uint64_t consumed_at_last_commit_ = 0;

  // Reused buffers (no allocation per message in steady state).
  std::vector<InputMessage> batch_;
  // Learner lookups prepared ahead in batch_ (PrefetchLearners), by position modulo kLookahead.
  static constexpr size_t kLookahead = 16;
  struct Lookahead {
    LearnerTask* task = nullptr;  // null: no hint for that message
    uint64_t hash = 0;
  };
  std::array<Lookahead, kLookahead> lookahead_{};
  DecodedMessage decoded_;
  std::optional<Pseudonymizer> pseudonymizer_;
  CanonicalEvent pseudonymized_;
  Pseudonymizer::Hex pseudonym_;
  std::string source_header_;
  std::string index_header_;
  StateBatch state_batch_;
  std::vector<PartitionOffset> offsets_;
  std::vector<PartitionOffset> cohort_offsets_;
  // At-least-once: the positions of the last commit, when it was not settled (see Commit(bool)).
  std::vector<PartitionOffset> unsettled_offsets_;
  std::vector<PartitionOffset> unsettled_cohort_offsets_;
  bool unsettled_ = false;
};

}  // namespace learnflow
