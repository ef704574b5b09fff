#include "stream/engine.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "stream/crash_points.h"

namespace learnflow {
namespace {

// Log the first few dead letters of each reason, then one in 10,000: bad input is visible in the
// log without a line per record on the hot path (the counters hold the exact numbers).
bool ShouldLog(uint64_t count_before) { return count_before < 10 || count_before % 10000 == 0; }

}  // namespace

Engine::Engine(EngineOptions options, Source& source, Sink& sink, MessageDecoder& decoder,
               StateStore& store, const Clock& clock, ChangelogReader* changelog)
    : options_(std::move(options)),
      source_(source),
      sink_(sink),
      decoder_(decoder),
      store_(store),
      clock_(clock),
      changelog_(options_.changelog_topic.empty() ? nullptr : changelog),
      operator_(TumblingWindows(options_.window_size_ms, options_.grace_ms)),
      state_batch_(store) {
  task_options_.max_out_of_orderness_ms = options_.max_out_of_orderness_ms;
  batch_.reserve(options_.max_poll_records);
  LF_CHECK(options_.changelog_topic.empty() || changelog != nullptr,
           "a changelog topic needs a ChangelogReader");
}

Engine::~Engine() = default;

Status Engine::Start() {
  last_commit_ms_ = clock_.NowMs();
  return source_.Subscribe(*this);
}

Status Engine::OnAssigned(std::span<const int32_t> partitions, std::vector<StartPosition>& starts) {
  Bump(counters_.rebalances);
  starts.clear();
  for (const int32_t partition : partitions) {
    auto task = std::make_unique<PartitionTask>(partition, operator_, task_options_);
    LF_RETURN_IF_ERROR(task->Load(store_));
    StartPosition& start = starts.emplace_back();
    start.offset = task->next_offset();
    if (changelog_ != nullptr) {
      // Fetch nothing until the changelog has brought the state up to date.
      LF_RETURN_IF_ERROR(changelog_->Start(partition, task->changelog_next()));
      restoring_.insert(partition);
      start.paused = true;
    }
    spdlog::info("partition {}-{} assigned: local checkpoint at {} with {} open windows{}",
                 options_.input_topic, partition,
                 task->next_offset() == kOffsetFromGroup ? std::string("none")
                                                         : std::to_string(task->next_offset()),
                 task->open_windows(),
                 changelog_ != nullptr
                     ? fmt::format("; restoring from {} offset {}", options_.changelog_topic,
                                   task->changelog_next())
                     : std::string());
    tasks_[partition] = std::move(task);
  }
  counters_.assigned_partitions.store(static_cast<int64_t>(tasks_.size()), std::memory_order_relaxed);
  counters_.restoring.store(!restoring_.empty(), std::memory_order_relaxed);
  return Status::Ok();
}

Status Engine::Restore() {
  if (restoring_.empty()) return Status::Ok();
  LF_RETURN_IF_ERROR(changelog_->Poll(options_.max_restore_records_per_poll, restore_batch_, caught_up_));
  for (const ChangelogRecord& record : restore_batch_) {
    auto it = tasks_.find(record.partition);
    if (it == tasks_.end() || !restoring(record.partition)) continue;  // revoked mid-restore
    const std::string_view* value = record.tombstone ? nullptr : &record.value;
    LF_RETURN_IF_ERROR(it->second->ApplyChangelog(record.offset, record.key, value));
  }
  for (const int32_t partition : caught_up_) {
    auto it = tasks_.find(partition);
    if (it == tasks_.end() || restoring_.erase(partition) == 0) continue;
    PartitionTask& task = *it->second;
    task.FinishRestore();
    // No seek: fetching starts at the local checkpoint or the group's committed offset, which are
    // never ahead of the changelog; records below the restored position are skipped in RunOnce.
    if (!paused_) LF_RETURN_IF_ERROR(source_.Resume(std::span<const int32_t>(&partition, 1)));
    spdlog::info("partition {}-{} restored: {} open windows, resuming at {}", options_.input_topic,
                 partition, task.open_windows(),
                 task.next_offset() == kOffsetFromGroup ? std::string("the group's committed offset")
                                                        : std::to_string(task.next_offset()));
  }
  return Status::Ok();
}

const std::vector<int32_t>& Engine::ActivePartitions() {
  active_.clear();
  for (const auto& [partition, task] : tasks_) {
    if (!restoring(partition)) active_.push_back(partition);
  }
  return active_;
}

Status Engine::OnRevoked(std::span<const int32_t> partitions, bool lost) {
  Bump(counters_.rebalances);
  // Whatever was processed for these partitions is committed before they go, unless they are
  // lost: another member may own them already, and writing now would interleave with it.
  Status committed = lost ? Status::Ok() : Commit();
  for (const int32_t partition : partitions) {
    if (restoring_.erase(partition) > 0) {
      const Status stopped = changelog_->Stop(partition);
      if (committed.ok() && !stopped.ok()) committed = stopped;
    }
    tasks_.erase(partition);
    spdlog::info("partition {}-{} {}", options_.input_topic, partition,
                 lost ? "lost (uncommitted work discarded; its next owner restores it)" : "revoked");
  }
  counters_.assigned_partitions.store(static_cast<int64_t>(tasks_.size()), std::memory_order_relaxed);
  // A failed commit here is fatal: the partitions are gone, the restart resumes from the last
  // checkpoint.
  if (!committed.ok()) return AbortedError("commit before revocation failed: " + committed.message());
  return Status::Ok();
}

void Engine::DeadLetter(const InputMessage& message, std::string_view payload, RejectReason reason,
                        int event_index) {
  const uint64_t before =
      counters_.invalid[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  source_header_.clear();
  source_header_ += options_.input_topic;
  source_header_ += '/';
  source_header_ += std::to_string(message.partition);
  source_header_ += '/';
  source_header_ += std::to_string(message.offset);
  Header headers[3] = {{"learnflow.error", RejectReasonCode(reason)},
                       {"learnflow.source", source_header_},
                       {"learnflow.event_index", {}}};
  size_t header_count = 2;
  if (event_index >= 0) {
    index_header_ = std::to_string(event_index);
    headers[2].value = index_header_;
    header_count = 3;
  }
  if (ShouldLog(before)) {
    spdlog::warn("dead-lettered {} ({}): reason {} (#{} of this reason)", source_header_,
                 event_index >= 0 ? "event " + index_header_ : std::string("message"),
                 RejectReasonCode(reason), before + 1);
  }
  Status s = sink_.Send(options_.dead_letter_topic, message.key, payload,
                        std::span<const Header>(headers, header_count));
  if (s.ok()) {
    Bump(counters_.dead_letters);
  } else if (sink_error_.ok()) {
    sink_error_ = std::move(s);
  }
}

void Engine::ProcessMessage(const InputMessage& message, PartitionTask& task) {
  Bump(counters_.consumed);
  task.Consumed(message.offset);
  if (message.payload.size() > options_.max_message_bytes) {
    DeadLetter(message, message.payload, RejectReason::kTooLarge, -1);
    return;
  }
  decoder_.Decode(message.payload, decoded_);
  const bool envelope = decoded_.is_envelope();
  for (const Reject& reject : decoded_.rejects) {
    const std::string_view payload =
        reject.reason == RejectReason::kAnonymous ? std::string_view(decoded_.redacted_payload)
                                                  : message.payload;
    DeadLetter(message, payload, reject.reason, envelope ? static_cast<int>(reject.index) : -1);
  }
  if (decoded_.skipped > 0) Bump(counters_.skipped, decoded_.skipped);
  // "The wall clock" is the record's own timestamp when it has one (set by the producer at
  // ingestion): the same on every replay, so the decision is too.
  const TimestampMs now = message.timestamp_ms > 0 ? message.timestamp_ms : clock_.NowMs();
  const TimestampMs future_limit = now + options_.max_future_ms;
  for (size_t i = 0; i < decoded_.events.size(); ++i) {
    const CanonicalEvent& event = decoded_.events[i];
    const int index = envelope ? static_cast<int>(decoded_.event_indexes[i]) : -1;
    if (event.event_time_ms > future_limit) {
      DeadLetter(message, message.payload, RejectReason::kFutureTime, index);
      continue;
    }
    if (event.kind == EventKind::kRetraction) {
      // Counted, not applied: retracting a counted event comes with the signal operators.
      Bump(counters_.retractions);
      continue;
    }
    switch (task.Process(event)) {
      case PartitionTask::Outcome::kCounted:
        Bump(counters_.events);
        break;
      case PartitionTask::Outcome::kDuplicate:
        Bump(counters_.duplicates);
        break;
      case PartitionTask::Outcome::kLate:
        Bump(counters_.late);
        DeadLetter(message, message.payload, RejectReason::kLate, index);
        break;
      case PartitionTask::Outcome::kNotCounted:
        break;
    }
  }
}

Status Engine::EmitFinal() {
  TimestampMs min_wm = PartitionTask::kNoWatermark;
  bool any = false;
  const PartitionTask::EmitFn emit = [this](std::string_view key, std::string_view value) {
    return sink_.Send(options_.learner_signals_topic, key, value);
  };
  for (auto& [partition, task] : tasks_) {
    if (restoring(partition)) continue;
    LF_ASSIGN_OR_RETURN(const size_t emitted, task->EmitFinal(emit));
    Bump(counters_.learner_records, emitted);
    const TimestampMs wm = task->watermark();
    if (wm != PartitionTask::kNoWatermark && (!any || wm < min_wm)) {
      min_wm = wm;
      any = true;
    }
  }
  // 0 = no watermark (no partition with data assigned): the lag metric is then absent.
  counters_.min_watermark_ms.store(any ? min_wm : 0, std::memory_order_relaxed);
  return Status::Ok();
}

Status Engine::Backpressure() {
  sink_.Poll();
  const size_t in_flight = sink_.InFlight();
  if (!paused_ && in_flight > options_.max_in_flight) {
    LF_RETURN_IF_ERROR(source_.Pause(ActivePartitions()));
    paused_ = true;
    spdlog::info("backpressure: {} records unacknowledged, pausing consumption", in_flight);
  } else if (paused_ && in_flight < options_.max_in_flight / 2) {
    LF_RETURN_IF_ERROR(source_.Resume(ActivePartitions()));
    paused_ = false;
    spdlog::info("backpressure released: resuming consumption");
  }
  return Status::Ok();
}

Status Engine::RunOnce() {
  LF_RETURN_IF_ERROR(Restore());
  counters_.restoring.store(!restoring_.empty(), std::memory_order_relaxed);
  // While restoring, poll briefly so the restore keeps moving.
  const int timeout = restoring_.empty() ? options_.poll_timeout_ms : 0;
  LF_RETURN_IF_ERROR(source_.Poll(timeout, options_.max_poll_records, batch_));
  counters_.broker_reachable.store(source_.BrokersReachable(), std::memory_order_relaxed);
  const auto batch_started = std::chrono::steady_clock::now();
  for (const InputMessage& message : batch_) {
    auto it = tasks_.find(message.partition);
    // A message of a partition we no longer own cannot arrive: the source drops fetched data of
    // revoked partitions. Treat it as a broken invariant.
    LF_CHECK(it != tasks_.end(), "message for unassigned partition " + std::to_string(message.partition));
    if (restoring(message.partition)) {
      // Fetching is paused before the first fetch of a restoring partition, so this is not
      // expected; say so rather than drop it silently.
      spdlog::error("message {}-{}@{} arrived while its partition restores; skipped", options_.input_topic,
                    message.partition, message.offset);
      continue;
    }
    // Already part of the state restored from the changelog.
    if (message.offset < it->second->next_offset()) continue;
    ProcessMessage(message, *it->second);
    MaybeCrash(CrashPoint::kMidBatch);
  }
  if (!sink_error_.ok()) {
    // The record is not queued but its input is marked consumed: never commit past it.
    return AbortedError("send failed: " + std::exchange(sink_error_, Status()).message());
  }
  LF_RETURN_IF_ERROR(EmitFinal());
  if (!batch_.empty()) {
    counters_.processing_latency.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_started).count());
  }
  LF_RETURN_IF_ERROR(Backpressure());
  if (clock_.NowMs() - last_commit_ms_ >= options_.commit_interval_ms) {
    LF_RETURN_IF_ERROR(Commit());
  }
  return Status::Ok();
}

Status Engine::Commit() {
  const auto started = std::chrono::steady_clock::now();
  Status s = CommitCycle();
  counters_.commit_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return s;
}

Status Engine::CommitCycle() {
  last_commit_ms_ = clock_.NowMs();
  wrote_changelog_.clear();
  if (changelog_ != nullptr) {
    for (auto& [partition, task] : tasks_) {
      if (restoring(partition)) continue;
      const int32_t p = partition;
      LF_ASSIGN_OR_RETURN(const bool wrote,
                          task->WriteChangelog([&](std::string_view key, const std::string_view* value) {
                            return sink_.SendTo(options_.changelog_topic, p, key, value);
                          }));
      if (wrote) wrote_changelog_.push_back(partition);
    }
  }
  offsets_.clear();
  for (auto& [partition, task] : tasks_) {
    if (!restoring(partition) && task->next_offset() != kOffsetFromGroup) {
      offsets_.push_back(PartitionOffset{partition, task->next_offset()});
    }
  }
  if (sink_.transactional()) {
    // Outputs, changelog records and input positions become visible together, or not at all.
    LF_RETURN_IF_ERROR(sink_.CommitTransaction(offsets_, options_.flush_timeout_ms));
  } else {
    LF_RETURN_IF_ERROR(FlushOutputs());
  }
  // Crash points count only commits that carry work (input consumed since the last one).
  const uint64_t consumed = counters_.consumed.load(std::memory_order_relaxed);
  const bool busy = consumed != consumed_at_last_commit_;
  consumed_at_last_commit_ = consumed;
  if (busy) MaybeCrash(CrashPoint::kAfterFlush);
  state_batch_.Clear();
  for (auto& [partition, task] : tasks_) {
    // A restoring task holds part of a replay: its local checkpoint stays as it was.
    if (restoring(partition)) continue;
    int64_t changelog_next = -1;
    if (std::find(wrote_changelog_.begin(), wrote_changelog_.end(), partition) != wrote_changelog_.end()) {
      changelog_next = sink_.LastDeliveredOffset(options_.changelog_topic, partition) + 1;
    }
    task->Checkpoint(state_batch_, changelog_next);
  }
  if (state_batch_.Count() > 0) LF_RETURN_IF_ERROR(store_.Write(state_batch_));
  if (busy) MaybeCrash(CrashPoint::kAfterStateWrite);
  Bump(counters_.commits);
  if (!offsets_.empty() && !sink_.transactional()) {
    const Status s = source_.Commit(offsets_);
    // The checkpoint is in the store; a failed group commit only delays lag reporting.
    if (!s.ok()) spdlog::warn("consumer group commit failed (state is checkpointed): {}", s.ToString());
  }
  return Status::Ok();
}

Status Engine::Run(const std::atomic<bool>& stop) {
  // Every error that reaches here is fatal: work may have been lost in memory, and the restart
  // resumes from the last checkpoint. Broker outages do not end up here: librdkafka retries, and
  // the commit waits for the flush (see FlushOutputs).
  while (!stop.load(std::memory_order_relaxed)) LF_RETURN_IF_ERROR(RunOnce());
  return Shutdown();
}

Status Engine::FlushOutputs() {
  // Unavailable means "not acknowledged yet" (brokers down): nothing is lost while the records
  // stay queued, so keep waiting, with readiness reporting not-ready meanwhile. Delivery failures
  // (records dropped after message.timeout.ms) are other codes and end the run.
  while (true) {
    Status s = sink_.Flush(options_.flush_timeout_ms);
    if (s.code() != StatusCode::kUnavailable) return s;
    counters_.broker_reachable.store(false, std::memory_order_relaxed);
    spdlog::warn("waiting for the brokers to acknowledge outputs: {}", s.message());
  }
}

Status Engine::Shutdown() {
  LF_RETURN_IF_ERROR(Commit());
  return source_.Close();
}

}  // namespace learnflow
