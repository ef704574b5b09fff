// Engine: the processing loop of one learnflow instance (at-least-once).
//
// It polls the Source in batches, decodes each message, sends invalid and late input to the
// dead-letter topic (original bytes, headers learnflow.error and learnflow.source), applies valid
// events to the PartitionTask of their partition, emits windows the watermark has made final, and
// runs the commit cycle every `commit_interval_ms`:
//   1. Sink::Flush — every record sent so far is acknowledged by the brokers;
//   2. one StateBatch with each task's dirty state, dropped windows, position and watermark,
//      written atomically to the StateStore (the authoritative checkpoint);
//   3. Source::Commit — the same positions to the consumer group (for lag monitoring).
// With a changelog topic, step 1 is preceded by each task's changelog records (sent before the
// flush, so they are acknowledged before the local checkpoint that refers to them). A newly
// assigned partition starts paused; its changelog is read from the local checkpoint's changelog
// offset to the end, a bounded number of records per RunOnce(), beside normal processing; then
// the input is moved to the restored position and resumed.
// A crash anywhere replays from the last checkpoint; records re-emitted by the replay are
// byte-identical to the ones already sent.
// Exactly-once (a transactional sink): step 1 is a Kafka transaction commit that also carries the
// input positions; step 3 is skipped. A crash after the transaction commit but before the local
// checkpoint is repaired by the restore, which reads the committed changelog records (and their
// position) on start-up, so nothing is emitted twice; a crash before it aborts the transaction.
//
// Lifecycle: construct, Start() (subscribes), then RunOnce() repeatedly or Run() until `stop`,
// then Shutdown() (final commit, leave group). Threading: one thread calls everything, except
// counters(), readable from any thread. Errors: store and delivery failures are fatal (returned);
// the caller exits and a restart resumes from the checkpoint.
#pragma once

#include <atomic>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "operators/learner_window.h"
#include "state/state_store.h"
#include "stream/counters.h"
#include "stream/io.h"
#include "stream/partition_task.h"

namespace learnflow {

struct EngineOptions {
  std::string input_topic = "learning.events";
  std::string learner_signals_topic = "learnflow.learner-signals";
  std::string dead_letter_topic = "learnflow.dead-letter";
  // "<group_id>-windows-changelog"; empty disables changelogging and restore (single instance).
  std::string changelog_topic;
  size_t max_restore_records_per_poll = 10000;
  TimestampMs window_size_ms = 3600000;
  TimestampMs grace_ms = 300000;
  TimestampMs max_out_of_orderness_ms = 60000;
  TimestampMs commit_interval_ms = 1000;
  TimestampMs max_future_ms = kMsPerDay;  // events further ahead of the wall clock are invalid
  size_t max_message_bytes = 1 << 20;
  size_t max_poll_records = 500;
  int poll_timeout_ms = 100;
  int flush_timeout_ms = 60000;
  size_t max_in_flight = 100000;  // pause consumption above this many unacknowledged records
};

class Engine final : public AssignmentListener {
 public:
  // `changelog` is required when options.changelog_topic is set, else ignored (may be null).
  Engine(EngineOptions options, Source& source, Sink& sink, MessageDecoder& decoder,
         StateStore& store, const Clock& clock = SystemClock(), ChangelogReader* changelog = nullptr);
  ~Engine() override;

  Status Start();
  // One poll + process cycle, committing when the interval has passed.
  Status RunOnce();
  // RunOnce() until `stop` becomes true or an error occurs, then Shutdown().
  Status Run(const std::atomic<bool>& stop);
  // Final commit and leave the group.
  Status Shutdown();
  // Runs the commit cycle now.
  Status Commit();

  const EngineCounters& counters() const { return counters_; }

  // AssignmentListener
  Status OnAssigned(std::span<const int32_t> partitions, std::vector<StartPosition>& starts) override;
  Status OnRevoked(std::span<const int32_t> partitions, bool lost) override;

 private:
  void ProcessMessage(const InputMessage& message, PartitionTask& task);
  void DeadLetter(const InputMessage& message, std::string_view payload, RejectReason reason,
                  int event_index);
  Status EmitFinal();
  Status Backpressure();
  Status Restore();
  Status CommitCycle();
  Status FlushOutputs();
  bool restoring(int32_t partition) const { return restoring_.count(partition) > 0; }
  // Assigned partitions that are not restoring (the ones fetching normally).
  const std::vector<int32_t>& ActivePartitions();

  EngineOptions options_;
  Source& source_;
  Sink& sink_;
  MessageDecoder& decoder_;
  StateStore& store_;
  const Clock& clock_;
  ChangelogReader* changelog_;
  LearnerWindowOperator operator_;
  TaskOptions task_options_;
  std::map<int32_t, std::unique_ptr<PartitionTask>> tasks_;
  std::set<int32_t> restoring_;
  EngineCounters counters_;
  Status sink_error_;  // first Send error inside processing; surfaced by RunOnce
  bool paused_ = false;
  TimestampMs last_commit_ms_ = 0;
  uint64_t consumed_at_last_commit_ = 0;

  // Reused buffers (no allocation per message in steady state).
  std::vector<InputMessage> batch_;
  DecodedMessage decoded_;
  std::string source_header_;
  std::string index_header_;
  StateBatch state_batch_;
  std::vector<PartitionOffset> offsets_;
  std::vector<ChangelogRecord> restore_batch_;
  std::vector<int32_t> caught_up_;
  std::vector<int32_t> active_;
  std::vector<int32_t> wrote_changelog_;
};

}  // namespace learnflow
