// Stage<Task>: the tasks of one consumed topic — the learner stage (input topic, LearnerTask)
// or the cohort stage (repartition topic, CohortTask) — and their assignment, restore and
// checkpoint mechanics.
//
// A Stage is the AssignmentListener of its Source. A newly assigned partition gets a task loaded
// from the store; with a changelog, it starts paused and its changelog is read from the local
// checkpoint's changelog offset to the end, a bounded number of records per Restore() call,
// beside normal processing; then fetching resumes. A revoked partition is committed first
// (through the engine's commit callback) unless it is lost. The engine drives everything else:
// it feeds records to tasks, emits, and runs the commit cycle over all stages together.
//
// Lifecycle: constructed by the engine, Start()ed, then called from the engine's loop.
// Threading: the engine's processing thread only, except counters. Errors: store, changelog and
// source failures are returned; the engine treats them as fatal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "state/state_store.h"
#include "stream/counters.h"
#include "stream/io.h"
#include "stream/keyed_table.h"
#include "stream/state_queries.h"

namespace learnflow {

struct StageOptions {
  std::string topic;            // the consumed topic (for logs)
  std::string changelog_topic;  // empty: no changelog (single instance)
  size_t max_restore_records_per_poll = 10000;
  // Whether the stage's partition count is what `learnflow_assigned_partitions` reports.
  bool counts_assigned_partitions = true;
};

template <typename Task>
class Stage final : public AssignmentListener {
 public:
  using TaskFactory = std::function<std::unique_ptr<Task>(int32_t partition)>;
  using CommitFn = std::function<Status()>;

  // `changelog` is required when options.changelog_topic is set (else ignored). `commit` runs
  // the engine's commit cycle (before a revocation).
  Stage(StageOptions options, Source& source, ChangelogReader* changelog, StateStore& store,
        TaskFactory factory, CommitFn commit, EngineCounters& counters);

  Status Start() { return source_.Subscribe(*this); }
  Source& source() { return source_; }
  const StageOptions& options() const { return options_; }
  bool has_changelog() const { return changelog_ != nullptr; }

  // AssignmentListener
  Status OnAssigned(std::span<const int32_t> partitions, std::vector<StartPosition>& starts) override;
  Status OnRevoked(std::span<const int32_t> partitions, bool lost) override;

  // Reads a bounded batch of changelog records into restoring tasks; resumes the ones done.
  Status Restore();
  bool restoring() const { return !restoring_.empty(); }
  bool restoring(int32_t partition) const { return restoring_.count(partition) > 0; }

  // The task of an assigned partition, or null.
  Task* Find(int32_t partition) {
    auto it = tasks_.find(partition);
    return it == tasks_.end() ? nullptr : it->second.get();
  }
  // Calls fn(Task&) for every task that is not restoring, in partition order.
  template <typename Fn>
  Status ForEachActive(Fn&& fn) {
    for (auto& [partition, task] : tasks_) {
      if (!restoring(partition)) LF_RETURN_IF_ERROR(fn(*task));
    }
    return Status::Ok();
  }

  // Backpressure: stops / restarts fetching of the partitions not restoring.
  Status Pause();
  Status Resume();

  // Commit cycle, in this order: WriteChangelogs (before the flush), CollectOffsets,
  // Checkpoint (into the one batch of the commit; not at every commit, see
  // EngineOptions::checkpoint_interval_ms), CommitGroup (after the state write).
  // WriteChangelogs without `with_positions` leaves the records that close the commit to
  // WritePositions (after a flush).
  Status WriteChangelogs(Sink& sink, bool with_positions);
  Status WritePositions(Sink& sink);
  void CollectOffsets(std::vector<PartitionOffset>& offsets) const;
  void Checkpoint(StateBatch& batch, const Sink& sink);
  void CommitGroup(std::span<const PartitionOffset> offsets);

  // Interactive queries: after each successful state write the engine calls PublishQueryable(),
  // which makes the partitions checkpointed by the last Checkpoint() readable in `queryable`;
  // revoked partitions leave it at once. REQUIRES: `queryable` outlives the stage.
  void SetQueryable(QueryablePartitions& queryable) { queryable_ = &queryable; }
  void PublishQueryable();

 private:
  // New tasks for `partitions`, each loaded from the store (in parallel), in the same order.
  StatusOr<std::vector<std::unique_ptr<Task>>> LoadTasks(std::span<const int32_t> partitions);
  const std::vector<int32_t>& ActivePartitions();
  void UpdateCounters();
  // Sends a task's changelog records to its partition of the changelog topic.
  ChangelogFn ChangelogSender(Sink& sink, int32_t partition) const;

  StageOptions options_;
  Source& source_;
  ChangelogReader* changelog_;
  StateStore& store_;
  TaskFactory factory_;
  CommitFn commit_;
  EngineCounters& counters_;
  std::vector<PartitionOffset> owned_offsets_;  // CommitGroup's scratch
  std::map<int32_t, std::unique_ptr<Task>> tasks_;
  std::set<int32_t> restoring_;
  bool paused_ = false;
  std::vector<ChangelogRecord> restore_batch_;
  std::vector<int32_t> caught_up_;
  std::vector<int32_t> active_;
  std::vector<int32_t> wrote_changelog_;            // by this commit
  std::vector<int32_t> wrote_since_checkpoint_;     // by the commits since the last Checkpoint
  QueryablePartitions* queryable_ = nullptr;
  std::vector<int32_t> checkpointed_;
};

}  // namespace learnflow
