// TaskBase: what every stream task (one partition of one stage) shares — its input position, its
// state tables (stream/keyed_table.h), and the commit, changelog and restore protocol over them.
//
// Changelog protocol: at each commit the task appends its tables' changes to its changelog
// partition (key = table tag + local key; tombstones for erased entries), then a position record
// (key "P": next input offset + the task's own position data) that closes the commit. Replaying
// the changelog up to its last "P" rebuilds exactly the state that belongs to that input
// position; records after the last "P" (a commit cut short by a crash) are never applied.
// Local checkpoint: the tables' changes and the position (next offset, the changelog offset
// after this commit, the task's own data) go into the commit's StateBatch under `position_key`
// of Family::kMeta, so state and position are written atomically.
//
// Subclasses (LearnerTask, CohortTask) register their tables in their constructor, add
// per-record logic, and implement the position hooks.
// Lifecycle: created when the partition is assigned, Load()ed, optionally restored with
// ApplyChangelog()/FinishRestore(), fed records, WriteChangelog()ed and Checkpoint()ed at each
// commit, dropped when the partition is revoked. Threading: the processing thread only.
// Errors: Load and ApplyChangelog report store failures and corrupt state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "state/state_store.h"
#include "stream/io.h"
#include "stream/keyed_table.h"

namespace learnflow {

// Where a task's results go. Implemented by the engine over its Sink.
enum class Output : uint8_t { kLearnerSignals, kCohortSignals, kAlerts };

struct CohortWindowSummary;
struct TimeWindow;

class TaskOutput {
 public:
  virtual ~TaskOutput() = default;
  // A record to one of the output topics, partitioned by key.
  virtual Status Emit(Output output, std::string_view key, std::string_view value) = 0;
  // A record to the repartition topic, partitioned by key.
  virtual Status Repartition(std::string_view key, std::string_view value) = 0;
  // A record to every partition of the repartition topic.
  virtual Status Broadcast(std::string_view value) = 0;
  // A cohort window became final (for gauges); `firing` is the cohort's alert state after it.
  virtual void OnCohortWindow(std::string_view cohort_id, const CohortWindowSummary& summary,
                              bool firing) = 0;
};

class TaskBase {
 public:
  TaskBase(int32_t partition, std::string position_key);
  virtual ~TaskBase() = default;
  TaskBase(const TaskBase&) = delete;
  TaskBase& operator=(const TaskBase&) = delete;

  // Without a changelog (single instance) no changelog bookkeeping is kept.
  void DisableChangelog();
  // Restores tables and position from the store (nothing there: a fresh start).
  Status Load(const StateStore& store);
  // Marks `offset` consumed: the checkpoint will resume after it.
  void Consumed(int64_t offset) { next_offset_ = offset + 1; }

  // Sends this commit's changes to the changelog, then (`with_position`) the position record
  // that closes the commit. Sends nothing when nothing changed since the last commit. Returns
  // whether anything was sent. Without `with_position` the position record is due: the caller
  // sends it with WritePosition() once everything sent before it is acknowledged.
  StatusOr<bool> WriteChangelog(const ChangelogFn& send, bool with_position = true);
  // Sends the position record a WriteChangelog() without it left due (nothing otherwise).
  Status WritePosition(const ChangelogFn& send);
  // Restore: applies one changelog record (in log order). Corrupt records are errors.
  Status ApplyChangelog(int64_t offset, std::string_view key, const std::string_view* value);
  // Restore reached the end of the changelog: an incomplete trailing commit is not applied, and
  // the next WriteChangelog() overrides its keys. The next Checkpoint() rewrites the partition's
  // local state if the restore changed it.
  void FinishRestore();
  // Adds changed state, the position and `changelog_next` (where a restore onto this state
  // starts: after this commit's records, or at its "P" while that is unacknowledged; -1 keeps
  // the previous one) to `batch`.
  void Checkpoint(StateBatch& batch, int64_t changelog_next = -1);

  int32_t partition() const { return partition_; }
  int64_t next_offset() const { return next_offset_; }  // kOffsetFromGroup if nothing consumed
  // The changelog offset from which a restore continues (0: from the beginning).
  int64_t changelog_next() const { return changelog_next_; }

 protected:
  void AddTable(TableBase& table) { tables_.push_back(&table); }
  // The task's own position data, written with every position.
  virtual void EncodePosition(std::string& out) const = 0;
  virtual Status DecodePosition(std::string_view in) = 0;
  // After Load() and after FinishRestore(): rebuild what is derived from the tables.
  virtual void AfterLoad() {}
  // At the end of a restore, before AfterLoad(): drop what the restored position made final.
  virtual void AfterRestore() {}
  // Before the tables' checkpoint; `rewrite` is true when the partition's state is replaced.
  virtual void BeforeCheckpoint(StateBatch& batch, bool rewrite) {
    (void)batch;
    (void)rewrite;
  }
  // The state in memory must replace the local state at the next checkpoint.
  void RequestRewrite() { full_rewrite_ = true; }

 private:
  int32_t partition_;
  std::string position_key_;
  std::vector<TableBase*> tables_;
  int64_t next_offset_ = kOffsetFromGroup;
  int64_t changelog_next_ = 0;
  // Position last written to the changelog; a "P" record is due when next_offset_ moves.
  int64_t logged_offset_ = kOffsetFromGroup;
  bool position_due_ = false;
  bool full_rewrite_ = false;
  std::string scratch_;
};

}  // namespace learnflow
