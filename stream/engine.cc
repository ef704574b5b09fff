#include "stream/engine.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/allocator.h"
#include "core/prefetch.h"
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
      sink_(sink),
      decoder_(decoder),
      store_(store),
      clock_(clock),
      learner_op_(options_.signals),
      cohort_op_(options_.signals),
      learners_(StageOptions{.topic = options_.input_topic,
                             .changelog_topic = options_.changelog_topic,
                             .max_restore_records_per_poll = options_.max_restore_records_per_poll},
                source, changelog, store,
                [this](int32_t partition) {
                  return std::make_unique<LearnerTask>(partition, learner_op_, learner_options_);
                },
                [this] { return Commit(); }, counters_),
      state_batch_(store) {
  learner_options_.max_out_of_orderness_ms = options_.max_out_of_orderness_ms;
  learner_options_.idle_timeout_ms = options_.idle_timeout_ms;
  batch_.reserve(options_.max_poll_records);
  learners_.SetQueryable(queryable_learners_);
  if (options_.pseudonymization_key) pseudonymizer_.emplace(*options_.pseudonymization_key);
}

Engine::~Engine() = default;

void Engine::EnableCohortStage(Source& source, ChangelogReader* changelog) {
  LF_CHECK(options_.repartition_partitions > 0 && options_.input_partitions > 0 &&
               !options_.repartition_topic.empty(),
           "the cohort stage needs the repartition topic and both partition counts");
  learner_options_.input_partitions = options_.input_partitions;
  cohorts_ = std::make_unique<Stage<CohortTask>>(
      StageOptions{.topic = options_.repartition_topic,
                   .changelog_topic = options_.cohort_changelog_topic,
                   .max_restore_records_per_poll = options_.max_restore_records_per_poll,
                   .counts_assigned_partitions = false},
      source, changelog, store_,
      [this](int32_t partition) { return std::make_unique<CohortTask>(partition, cohort_op_); },
      [this] { return Commit(); }, counters_);
  cohorts_->SetQueryable(queryable_cohorts_);
}

Status Engine::Start() {
  last_commit_ms_ = clock_.NowMs();
  last_checkpoint_ms_ = last_commit_ms_;
  LF_RETURN_IF_ERROR(learners_.Start());
  if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->Start());
  return Status::Ok();
}

void Engine::DeadLetter(std::string_view topic, const InputMessage& message,
                        std::string_view payload, RejectReason reason, int event_index) {
  const uint64_t before =
      counters_.invalid[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  source_header_.clear();
  source_header_ += topic;
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

void Engine::ProcessMessage(const InputMessage& message, LearnerTask& task) {
  Bump(counters_.consumed);
  task.Consumed(message.offset);
  const std::string_view topic = options_.input_topic;
  if (message.payload.size() > options_.max_message_bytes) {
    DeadLetter(topic, message, message.payload, RejectReason::kTooLarge, -1);
    return;
  }
  decoder_.Decode(message.payload, decoded_);
  const bool envelope = decoded_.is_envelope();
  for (const Reject& reject : decoded_.rejects) {
    const std::string_view payload =
        reject.reason == RejectReason::kAnonymous ? std::string_view(decoded_.redacted_payload)
                                                  : message.payload;
    DeadLetter(topic, message, payload, reject.reason, envelope ? static_cast<int>(reject.index) : -1);
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
      DeadLetter(topic, message, message.payload, RejectReason::kFutureTime, index);
      continue;
    }
    if (pseudonymizer_) {
      // Before anything else sees the event: state, outputs and logs know only the pseudonym.
      pseudonymized_ = event;
      pseudonymized_.learner_id = pseudonymizer_->Apply(event.learner_id, pseudonym_);
      ProcessEvent(message, pseudonymized_, index, task);
    } else {
      ProcessEvent(message, event, index, task);
    }
  }
}

void Engine::ProcessEvent(const InputMessage& message, const CanonicalEvent& event, int index,
                          LearnerTask& task) {
  if (event.kind == EventKind::kRetraction) {
    // Counted, not applied: retracting a counted event is not supported yet.
    Bump(counters_.retractions);
    return;
  }
  switch (task.Process(event)) {
    case LearnerTask::Outcome::kCounted:
      Bump(counters_.events);
      break;
    case LearnerTask::Outcome::kDuplicate:
      Bump(counters_.duplicates);
      break;
    case LearnerTask::Outcome::kLate:
      Bump(counters_.late);
      DeadLetter(options_.input_topic, message, message.payload, RejectReason::kLate, index);
      break;
    case LearnerTask::Outcome::kNotCounted:
      break;
  }
}

void Engine::ProcessRepartitioned(const InputMessage& message, CohortTask& task) {
  Bump(counters_.repartition_consumed);
  task.Consumed(message.offset);
  switch (task.Process(message.key, message.payload)) {
    case CohortTask::Outcome::kAdded:
    case CohortTask::Outcome::kMarker:
      break;
    case CohortTask::Outcome::kDuplicate:
      Bump(counters_.repartition_duplicates);
      break;
    case CohortTask::Outcome::kLate:
      // A learner record from an upstream partition that was idle when the cohort window closed.
      Bump(counters_.late);
      DeadLetter(options_.repartition_topic, message, task.last_record(), RejectReason::kLate, -1);
      break;
    case CohortTask::Outcome::kInvalid:
      DeadLetter(options_.repartition_topic, message, message.payload, RejectReason::kInvalidJson, -1);
      break;
  }
}

Status Engine::Emit(Output output, std::string_view key, std::string_view value) {
  switch (output) {
    case Output::kLearnerSignals:
      Bump(counters_.learner_records);
      return sink_.Send(options_.learner_signals_topic, key, value);
    case Output::kCohortSignals:
      Bump(counters_.cohort_records);
      return sink_.Send(options_.cohort_signals_topic, key, value);
    case Output::kAlerts:
      Bump(counters_.alerts);
      return sink_.Send(options_.alerts_topic, key, value);
  }
  return InternalError("unknown output");
}

Status Engine::Repartition(std::string_view key, std::string_view value) {
  LF_RETURN_IF_ERROR(sink_.Send(options_.repartition_topic, key, value));
  Bump(counters_.repartition_sent);
  return Status::Ok();
}

Status Engine::Broadcast(std::string_view value) {
  for (int32_t p = 0; p < options_.repartition_partitions; ++p) {
    LF_RETURN_IF_ERROR(sink_.SendTo(options_.repartition_topic, p, {}, &value));
    Bump(counters_.repartition_sent);
  }
  return Status::Ok();
}

void Engine::OnCohortWindow(std::string_view cohort_id, const CohortWindowSummary& summary,
                            bool firing) {
  if (cohort_observer_) cohort_observer_(cohort_id, summary, firing);
}

Status Engine::EmitFinal(TimestampMs now_ms) {
  TimestampMs min_wm = LearnerTask::kNoWatermark;
  bool any = false;
  LF_RETURN_IF_ERROR(learners_.ForEachActive([&](LearnerTask& task) -> Status {
    LF_RETURN_IF_ERROR(task.EmitFinal(*this, now_ms).status());
    const TimestampMs wm = task.watermark();
    if (wm != LearnerTask::kNoWatermark && (!any || wm < min_wm)) {
      min_wm = wm;
      any = true;
    }
    return Status::Ok();
  }));
  // 0 = no watermark (no partition with data assigned): the lag metric is then absent.
  counters_.min_watermark_ms.store(any ? min_wm : 0, std::memory_order_relaxed);
  if (cohorts_ != nullptr) {
    LF_RETURN_IF_ERROR(cohorts_->ForEachActive(
        [&](CohortTask& task) -> Status { return task.EmitFinal(*this).status(); }));
  }
  return Status::Ok();
}

Status Engine::Backpressure() {
  sink_.Poll();
  const size_t in_flight = sink_.InFlight();
  if (!paused_ && in_flight > options_.max_in_flight) {
    LF_RETURN_IF_ERROR(learners_.Pause());
    if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->Pause());
    paused_ = true;
    spdlog::info("backpressure: {} records unacknowledged, pausing consumption", in_flight);
  } else if (paused_ && in_flight < options_.max_in_flight / 2) {
    LF_RETURN_IF_ERROR(learners_.Resume());
    if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->Resume());
    paused_ = false;
    spdlog::info("backpressure released: resuming consumption");
  }
  return Status::Ok();
}

// A polled batch is large, and its payloads are rarely in cache when their turn comes: asking
// for the bytes of the message kPrefetchAhead places ahead hides those misses behind the work of
// the current one.
constexpr size_t kPrefetchAhead = 2;
constexpr size_t kPrefetchBytes = 1024;

static void PrefetchPayload(std::string_view payload) {
  PrefetchRange(payload.data(), std::min(payload.size(), kPrefetchBytes));
}

struct NoLookahead {
  void operator()(size_t /*i*/) const {}
};

// Feeds one polled batch to the tasks of `stage` through `process`; `ahead(i)` runs before the
// message at i.
template <typename Task, typename Process, typename Ahead = NoLookahead>
static void FeedBatch(Stage<Task>& stage, const std::vector<InputMessage>& batch, Process&& process,
                      Ahead&& ahead = {}) {
  for (size_t i = 0; i < batch.size(); ++i) {
    ahead(i);
    const InputMessage& message = batch[i];
    if (i + kPrefetchAhead < batch.size()) PrefetchPayload(batch[i + kPrefetchAhead].payload);
    Task* task = stage.Find(message.partition);
    // A message of a partition we no longer own cannot arrive: the source drops fetched data of
    // revoked partitions. Treat it as a broken invariant.
    LF_CHECK(task != nullptr, "message for unassigned partition " + std::to_string(message.partition) +
                                  " of " + stage.options().topic);
    if (stage.restoring(message.partition)) {
      // Fetching is paused before the first fetch of a restoring partition, so this is not
      // expected; say so rather than drop it silently.
      spdlog::error("message {}-{}@{} arrived while its partition restores; skipped",
                    stage.options().topic, message.partition, message.offset);
      continue;
    }
    // Already part of the state restored from the changelog.
    if (message.offset < task->next_offset()) continue;
    process(message, *task);
  }
}

void Engine::PrefetchLearners(size_t i) {
  // Each event looks its learner up, then the learner's window, BKT and sessions: dependent
  // cache misses (100,000 learners' state does not fit the caches). The message keys name the
  // learners a few messages ahead, so the lookups are prepared in steps that each find the
  // previous one's line arrived: the key's bytes, its hash and table slot, the learner's entry,
  // its window and blocks, the window's sets.
  constexpr size_t kKeyAhead = 12;
  constexpr size_t kSlotAhead = 10;
  constexpr size_t kEntryAhead = 5;
  constexpr size_t kStateAhead = 2;
  constexpr size_t kBlocksAhead = 1;
  static_assert(kSlotAhead < kLookahead);
  const size_t n = batch_.size();
  const auto hash_slot = [this](size_t j) {
    const InputMessage& message = batch_[j];
    Lookahead& next = lookahead_[j % kLookahead];
    next.task = message.key.empty() ? nullptr : learners_.Find(message.partition);
    if (next.task == nullptr) return;
    next.hash = LearnerTask::KeyHash(message.key);
    next.task->Prefetch(next.hash, 0);
  };
  if (i == 0) {
    // The batch's first messages get their hints late; what matters is that every step reads
    // an entry of this batch.
    for (size_t j = 0; j < std::min(kSlotAhead, n); ++j) hash_slot(j);
  }
  if (i + kKeyAhead < n) {
    const std::string_view key = batch_[i + kKeyAhead].key;
    PrefetchRange(key.data(), key.size());
  }
  if (i + kSlotAhead < n) hash_slot(i + kSlotAhead);
  for (const auto& [ahead, step] :
       {std::pair{kEntryAhead, 1}, std::pair{kStateAhead, 2}, std::pair{kBlocksAhead, 3}}) {
    if (i + ahead >= n) continue;
    const Lookahead& next = lookahead_[(i + ahead) % kLookahead];
    if (next.task != nullptr) next.task->Prefetch(next.hash, step);
  }
}

Status Engine::PollCohortStage() {
  LF_RETURN_IF_ERROR(cohorts_->Restore());
  LF_RETURN_IF_ERROR(cohorts_->source().Poll(0, options_.max_poll_records, batch_));
  FeedBatch(*cohorts_, batch_, [this](const InputMessage& m, CohortTask& t) { ProcessRepartitioned(m, t); });
  return Status::Ok();
}

Status Engine::RunOnce() {
  LF_RETURN_IF_ERROR(learners_.Restore());
  const bool restoring = learners_.restoring() || (cohorts_ != nullptr && cohorts_->restoring());
  counters_.restoring.store(restoring, std::memory_order_relaxed);
  // While restoring, poll briefly so the restore keeps moving.
  const int timeout = restoring ? 0 : options_.poll_timeout_ms;
  LF_RETURN_IF_ERROR(learners_.source().Poll(timeout, options_.max_poll_records, batch_));
  counters_.broker_reachable.store(learners_.source().BrokersReachable(), std::memory_order_relaxed);
  const auto batch_started = std::chrono::steady_clock::now();
  const size_t polled = batch_.size();
  const TimestampMs now_ms = clock_.NowMs();
  FeedBatch(
      learners_, batch_,
      [this, now_ms](const InputMessage& m, LearnerTask& t) {
        t.MarkActive(now_ms);
        ProcessMessage(m, t);
        MaybeCrash(CrashPoint::kMidBatch);
      },
      [this](size_t i) { PrefetchLearners(i); });
  if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(PollCohortStage());
  if (!sink_error_.ok()) {
    // The record is not queued but its input is marked consumed: never commit past it.
    return AbortedError("send failed: " + std::exchange(sink_error_, Status()).message());
  }
  LF_RETURN_IF_ERROR(EmitFinal(now_ms));
  if (polled > 0) {
    counters_.processing_latency.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_started).count(),
        polled);
  }
  LF_RETURN_IF_ERROR(Backpressure());
  if (clock_.NowMs() - last_commit_ms_ >= options_.commit_interval_ms) {
    LF_RETURN_IF_ERROR(Commit(/*settle=*/false));
  }
  return Status::Ok();
}

Status Engine::Commit() { return Commit(/*settle=*/true); }

Status Engine::Commit(bool settle) {
  const auto started = std::chrono::steady_clock::now();
  Status s = CommitCycle(settle);
  counters_.commit_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return s;
}

Status Engine::CommitCycle(bool settle) {
  last_commit_ms_ = clock_.NowMs();
  // Exactly-once: the records that close the commit in the changelogs ("P") go with the rest
  // of the transaction. At-least-once: only once everything before them is acknowledged. A
  // restore trusts them, so they must never be durable while an output, a repartitioned record
  // or a changelog record of their commit is not: a crash in between would skip it. Unless the
  // commit is settled, they are not waited for: the local checkpoint points a restore at them
  // (it holds their commit, and re-reading it changes nothing), and the group positions, which
  // a restore elsewhere falls back on when the changelog has no "P", wait for the next commit.
  const bool transactional = sink_.transactional();
  LF_RETURN_IF_ERROR(learners_.WriteChangelogs(sink_, transactional));
  if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->WriteChangelogs(sink_, transactional));
  learners_.CollectOffsets(offsets_);
  cohort_offsets_.clear();
  if (cohorts_ != nullptr) cohorts_->CollectOffsets(cohort_offsets_);
  if (transactional) {
    // Outputs, changelog records and input positions become visible together, or not at all.
    LF_RETURN_IF_ERROR(WaitWhileUnavailable("to commit the transaction", [this] {
      return sink_.CommitTransaction(offsets_, options_.flush_timeout_ms);
    }));
  } else {
    LF_RETURN_IF_ERROR(FlushOutputs());
    // That flush covered the previous commit's position records too.
    if (std::exchange(unsettled_, false)) {
      CommitGroups(unsettled_offsets_, unsettled_cohort_offsets_);
    }
    LF_RETURN_IF_ERROR(learners_.WritePositions(sink_));
    if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->WritePositions(sink_));
    if (settle && sink_.InFlight() > 0) LF_RETURN_IF_ERROR(FlushOutputs());
  }
  // Crash points count only commits that carry work (input consumed since the last one).
  const uint64_t consumed = counters_.consumed.load(std::memory_order_relaxed);
  const bool busy = consumed != consumed_at_last_commit_;
  consumed_at_last_commit_ = consumed;
  if (busy) MaybeCrash(CrashPoint::kAfterFlush);
  if (CheckpointDue(settle)) {
    last_checkpoint_ms_ = last_commit_ms_;
    state_batch_.Clear();
    learners_.Checkpoint(state_batch_, sink_);
    if (cohorts_ != nullptr) cohorts_->Checkpoint(state_batch_, sink_);
    if (state_batch_.Count() > 0) LF_RETURN_IF_ERROR(store_.Write(state_batch_));
    learners_.PublishQueryable();
    if (cohorts_ != nullptr) cohorts_->PublishQueryable();
    Bump(counters_.checkpoints);
  }
  // Passed by every busy commit, whether or not its checkpoint was due.
  if (busy) MaybeCrash(CrashPoint::kAfterStateWrite);
  Bump(counters_.commits);
  // Exactly-once: the input positions went with the transaction. The cohort stage's consumer
  // is another group; its positions are committed here in both modes (the store holds the
  // authoritative ones).
  if (!transactional && settle) {
    CommitGroups(offsets_, cohort_offsets_);
  } else if (!transactional) {
    unsettled_offsets_.assign(offsets_.begin(), offsets_.end());
    unsettled_cohort_offsets_.assign(cohort_offsets_.begin(), cohort_offsets_.end());
    unsettled_ = true;
  } else {
    if (!offsets_.empty()) {
      // The transaction carried the group offsets; the consumer still needs its positions for
      // the lag it reports (librdkafka's consumer_lag_stored).
      if (Status s = learners_.source().StorePositions(offsets_); !s.ok()) {
        spdlog::debug("storing consumer positions for lag monitoring: {}", s.message());
      }
    }
    if (cohorts_ != nullptr) cohorts_->CommitGroup(cohort_offsets_);
  }
  MaybeTrimMemory();
  return Status::Ok();
}

bool Engine::CheckpointDue(bool settle) const {
  // Without a changelog the store is a stage's only copy of its state.
  const bool changelogs =
      !options_.changelog_topic.empty() &&
      (cohorts_ == nullptr || !options_.cohort_changelog_topic.empty());
  return settle || !changelogs ||
         last_commit_ms_ - last_checkpoint_ms_ >= options_.checkpoint_interval_ms;
}

void Engine::CommitGroups(std::span<const PartitionOffset> offsets,
                          std::span<const PartitionOffset> cohort_offsets) {
  learners_.CommitGroup(offsets);
  if (cohorts_ != nullptr) cohorts_->CommitGroup(cohort_offsets);
}

void Engine::MaybeTrimMemory() {
  if (options_.memory_trim_interval_ms <= 0) return;
  const TimestampMs now = clock_.NowMs();
  if (now - last_memory_trim_ms_ < options_.memory_trim_interval_ms) return;
  last_memory_trim_ms_ = now;
  ReleaseFreeMemory();
}

Status Engine::Run(const std::atomic<bool>& stop) {
  // Every error that reaches here is fatal: work may have been lost in memory, and the restart
  // resumes from the last checkpoint. Broker outages do not end up here: librdkafka retries, and
  // the commit waits for the flush (see FlushOutputs).
  while (!stop.load(std::memory_order_relaxed)) LF_RETURN_IF_ERROR(RunOnce());
  return Shutdown();
}

Status Engine::FlushOutputs() {
  return WaitWhileUnavailable("for the brokers to acknowledge outputs",
                              [this] { return sink_.Flush(options_.flush_timeout_ms); });
}

template <typename Attempt>
Status Engine::WaitWhileUnavailable(std::string_view what, Attempt attempt) {
  // Unavailable means "not done yet" (brokers down, a coordinator moving): nothing is lost while
  // the records stay queued or the transaction stays open, so keep trying, with readiness
  // reporting not-ready meanwhile. Delivery failures (records dropped after message.timeout.ms)
  // and aborted transactions are other codes and end the run.
  while (true) {
    Status s = attempt();
    if (s.code() != StatusCode::kUnavailable) return s;
    counters_.broker_reachable.store(false, std::memory_order_relaxed);
    spdlog::warn("waiting {}: {}", what, s.message());
  }
}

Status Engine::Shutdown() {
  LF_RETURN_IF_ERROR(Commit());
  LF_RETURN_IF_ERROR(learners_.source().Close());
  if (cohorts_ != nullptr) LF_RETURN_IF_ERROR(cohorts_->source().Close());
  return Status::Ok();
}

}  // namespace learnflow
