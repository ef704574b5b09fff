#include "stream/stage.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "stream/cohort_task.h"
#include "stream/learner_task.h"

namespace learnflow {
namespace {

std::string OffsetText(int64_t offset) {
  return offset == kOffsetFromGroup ? std::string("none") : std::to_string(offset);
}

}  // namespace

template <typename Task>
Stage<Task>::Stage(StageOptions options, Source& source, ChangelogReader* changelog,
                   StateStore& store, TaskFactory factory, CommitFn commit, EngineCounters& counters)
    : options_(std::move(options)),
      source_(source),
      changelog_(options_.changelog_topic.empty() ? nullptr : changelog),
      store_(store),
      factory_(std::move(factory)),
      commit_(std::move(commit)),
      counters_(counters) {
  LF_CHECK(options_.changelog_topic.empty() || changelog != nullptr,
           "a changelog topic needs a ChangelogReader");
}

template <typename Task>
void Stage<Task>::UpdateCounters() {
  if (options_.counts_assigned_partitions) {
    counters_.assigned_partitions.store(static_cast<int64_t>(tasks_.size()), std::memory_order_relaxed);
  }
}

template <typename Task>
StatusOr<std::vector<std::unique_ptr<Task>>> Stage<Task>::LoadTasks(
    std::span<const int32_t> partitions) {
  std::vector<std::unique_ptr<Task>> tasks;
  for (const int32_t partition : partitions) {
    std::unique_ptr<Task>& task = tasks.emplace_back(factory_(partition));
    if (changelog_ == nullptr) task->DisableChangelog();
  }
  // Each task reads and decodes only its own partition's state, and the store may be read from
  // any thread: the partitions load on all cores (a restart's time to ready).
  std::vector<Status> results(tasks.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) results[i] = tasks[i]->Load(store_);
  };
  const size_t threads =
      std::min<size_t>(tasks.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  for (Status& status : results) LF_RETURN_IF_ERROR(std::move(status));
  return tasks;
}

template <typename Task>
Status Stage<Task>::OnAssigned(std::span<const int32_t> partitions, std::vector<StartPosition>& starts) {
  Bump(counters_.rebalances);
  starts.clear();
  // Readiness says "restoring" from the moment the partitions are ours, while they load and
  // restore; the engine's loop recomputes it at its next turn.
  if (!partitions.empty()) counters_.restoring.store(true, std::memory_order_relaxed);
  LF_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Task>> loaded, LoadTasks(partitions));
  for (size_t i = 0; i < partitions.size(); ++i) {
    const int32_t partition = partitions[i];
    std::unique_ptr<Task>& task = loaded[i];
    StartPosition& start = starts.emplace_back();
    start.offset = task->next_offset();
    if (changelog_ != nullptr) {
      // Fetch nothing until the changelog has brought the state up to date.
      LF_RETURN_IF_ERROR(changelog_->Start(partition, task->changelog_next()));
      restoring_.insert(partition);
      start.paused = true;
    }
    spdlog::info("partition {}-{} assigned: local checkpoint at {} with {} open windows{}",
                 options_.topic, partition, OffsetText(task->next_offset()), task->open_windows(),
                 changelog_ != nullptr ? fmt::format("; restoring from {} offset {}",
                                                     options_.changelog_topic, task->changelog_next())
                                       : std::string());
    tasks_[partition] = std::move(task);
  }
  UpdateCounters();
  return Status::Ok();
}

template <typename Task>
Status Stage<Task>::Restore() {
  if (restoring_.empty()) return Status::Ok();
  LF_RETURN_IF_ERROR(changelog_->Poll(options_.max_restore_records_per_poll, restore_batch_, caught_up_));
  Bump(counters_.restored, restore_batch_.size());
  for (const ChangelogRecord& record : restore_batch_) {
    auto it = tasks_.find(record.partition);
    if (it == tasks_.end() || !restoring(record.partition)) continue;  // revoked mid-restore
    const std::string_view* value = record.tombstone ? nullptr : &record.value;
    LF_RETURN_IF_ERROR(it->second->ApplyChangelog(record.offset, record.key, value));
  }
  for (const int32_t partition : caught_up_) {
    auto it = tasks_.find(partition);
    if (it == tasks_.end() || restoring_.erase(partition) == 0) continue;
    Task& task = *it->second;
    task.FinishRestore();
    // No seek: fetching starts at the local checkpoint or the group's committed offset, which are
    // never ahead of the changelog; records below the restored position are skipped.
    if (!paused_) LF_RETURN_IF_ERROR(source_.Resume(std::span<const int32_t>(&partition, 1)));
    spdlog::info("partition {}-{} restored: {} open windows, resuming at {}", options_.topic,
                 partition, task.open_windows(),
                 task.next_offset() == kOffsetFromGroup ? std::string("the group's committed offset")
                                                        : std::to_string(task.next_offset()));
  }
  return Status::Ok();
}

template <typename Task>
Status Stage<Task>::OnRevoked(std::span<const int32_t> partitions, bool lost) {
  Bump(counters_.rebalances);
  // Whatever was processed for these partitions is committed before they go, unless they are
  // lost: another member may own them already, and writing now would interleave with it.
  Status committed = lost ? Status::Ok() : commit_();
  if (queryable_ != nullptr) queryable_->Remove(partitions);
  for (const int32_t partition : partitions) {
    if (restoring_.erase(partition) > 0) {
      const Status stopped = changelog_->Stop(partition);
      if (committed.ok() && !stopped.ok()) committed = stopped;
    }
    tasks_.erase(partition);
    std::erase(checkpointed_, partition);
    std::erase(wrote_since_checkpoint_, partition);
    spdlog::info("partition {}-{} {}", options_.topic, partition,
                 lost ? "lost (uncommitted work discarded; its next owner restores it)" : "revoked");
  }
  UpdateCounters();
  // A failed commit here is fatal: the partitions are gone, the restart resumes from the last
  // checkpoint.
  if (!committed.ok()) return AbortedError("commit before revocation failed: " + committed.message());
  return Status::Ok();
}

template <typename Task>
const std::vector<int32_t>& Stage<Task>::ActivePartitions() {
  active_.clear();
  for (const auto& [partition, task] : tasks_) {
    if (!restoring(partition)) active_.push_back(partition);
  }
  return active_;
}

template <typename Task>
Status Stage<Task>::Pause() {
  paused_ = true;
  return source_.Pause(ActivePartitions());
}

template <typename Task>
Status Stage<Task>::Resume() {
  paused_ = false;
  return source_.Resume(ActivePartitions());
}

template <typename Task>
Status Stage<Task>::WriteChangelogs(Sink& sink, bool with_positions) {
  wrote_changelog_.clear();
  if (changelog_ == nullptr) return Status::Ok();
  for (auto& [partition, task] : tasks_) {
    if (restoring(partition)) continue;
    LF_ASSIGN_OR_RETURN(const bool wrote,
                        task->WriteChangelog(ChangelogSender(sink, partition), with_positions));
    if (wrote) {
      wrote_changelog_.push_back(partition);
      if (std::find(wrote_since_checkpoint_.begin(), wrote_since_checkpoint_.end(), partition) ==
          wrote_since_checkpoint_.end()) {
        wrote_since_checkpoint_.push_back(partition);
      }
    }
  }
  return Status::Ok();
}

template <typename Task>
Status Stage<Task>::WritePositions(Sink& sink) {
  for (const int32_t partition : wrote_changelog_) {
    auto it = tasks_.find(partition);
    if (it != tasks_.end()) LF_RETURN_IF_ERROR(it->second->WritePosition(ChangelogSender(sink, partition)));
  }
  return Status::Ok();
}

template <typename Task>
ChangelogFn Stage<Task>::ChangelogSender(Sink& sink, int32_t partition) const {
  return [this, &sink, partition](std::string_view key, const std::string_view* value) {
    return sink.SendTo(options_.changelog_topic, partition, key, value);
  };
}

template <typename Task>
void Stage<Task>::CollectOffsets(std::vector<PartitionOffset>& offsets) const {
  offsets.clear();
  for (const auto& [partition, task] : tasks_) {
    if (!restoring(partition) && task->next_offset() != kOffsetFromGroup) {
      offsets.push_back(PartitionOffset{partition, task->next_offset()});
    }
  }
}

template <typename Task>
void Stage<Task>::Checkpoint(StateBatch& batch, const Sink& sink) {
  checkpointed_ = ActivePartitions();
  for (auto& [partition, task] : tasks_) {
    // A restoring task holds part of a replay: its local checkpoint stays as it was.
    if (restoring(partition)) continue;
    // After the records of the last commit that wrote any: after its "P" once that is
    // acknowledged, else at it (an unsettled commit's "P" is still on its way and lands right
    // after them, or never). A restore from there reads at most that "P", which changes nothing.
    // A partition that wrote nothing since the last checkpoint keeps that checkpoint's offset.
    int64_t changelog_next = -1;
    if (std::find(wrote_since_checkpoint_.begin(), wrote_since_checkpoint_.end(), partition) !=
        wrote_since_checkpoint_.end()) {
      const int64_t delivered = sink.LastDeliveredOffset(options_.changelog_topic, partition);
      if (delivered >= 0) changelog_next = delivered + 1;
    }
    task->Checkpoint(batch, changelog_next);
  }
  wrote_since_checkpoint_.clear();
}

template <typename Task>
void Stage<Task>::PublishQueryable() {
  if (queryable_ != nullptr) queryable_->Replace(checkpointed_);
}

template <typename Task>
void Stage<Task>::CommitGroup(std::span<const PartitionOffset> offsets) {
  // Only partitions still owned (positions of an earlier commit may name lost ones).
  owned_offsets_.clear();
  for (const PartitionOffset& po : offsets) {
    if (tasks_.contains(po.partition)) owned_offsets_.push_back(po);
  }
  if (owned_offsets_.empty()) return;
  const Status s = source_.Commit(owned_offsets_);
  // The checkpoint is in the store; a failed group commit only delays lag reporting.
  if (!s.ok()) {
    spdlog::warn("consumer group commit of {} failed (state is checkpointed): {}", options_.topic,
                 s.ToString());
  }
}

template class Stage<LearnerTask>;
template class Stage<CohortTask>;

}  // namespace learnflow
