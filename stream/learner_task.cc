#include "stream/learner_task.h"

#include <algorithm>

#include "core/check.h"
#include "core/codec.h"
#include "core/prefetch.h"
#include "operators/cohort_signals.h"
#include "state/window_key.h"

namespace learnflow {
namespace {

// Meta key of a partition's position: "pos/" + BE32(partition).
std::string PositionKey(int32_t partition) { return "pos/" + PartitionPrefix(partition); }

}  // namespace

LearnerTask::LearnerTask(int32_t partition, const LearnerSignalsOperator& op,
                         const LearnerTaskOptions& options)
    : TaskBase(partition, PositionKey(partition)),
      op_(op),
      options_(options),
      windows_('W', Family::kWindows, PartitionPrefix(partition)),
      learners_('L', Family::kKeyed, PartitionPrefix(partition)) {
  AddTable(windows_);
  AddTable(learners_);
}

void LearnerTask::EncodePosition(std::string& out) const {
  AppendBigEndian64(out, OrderedFromSigned(max_event_time_));
}

Status LearnerTask::DecodePosition(std::string_view in) {
  if (in.size() != 8) return InternalError("bad learner task position");
  max_event_time_ = SignedFromOrdered(ReadBigEndian64(in));
  return Status::Ok();
}

TimestampMs LearnerTask::watermark() const {
  if (max_event_time_ == kNoWatermark) return kNoWatermark;
  return max_event_time_ - options_.max_out_of_orderness_ms;
}

bool LearnerTask::IsLate(TimestampMs event_time) const {
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return false;
  return op_.windows().IsFinal(op_.windows().WindowOf(event_time).end, wm);
}

LearnerTask::Outcome LearnerTask::Process(const CanonicalEvent& event) {
  const TimestampMs wm_before = watermark();
  if (IsLate(event.event_time_ms)) return Outcome::kLate;
  auto& [learner_id, learner_entry] = learners_.FindOrCreateItem(event.learner_id);
  LearnerState& learner = learner_entry.value.state;
  learners_.MarkChanged(learner_entry);
  op_.AddSessionTime(event.event_time_ms, learner);
  if (emitted_bound_ != kNoWatermark) op_.PruneSessions(emitted_bound_, learner);
  if (wm_before != kNoWatermark && !learner.pending.empty()) {
    // Attempts whose window is final can no longer receive an outcome.
    std::erase_if(learner.pending, [&](const LearnerState::PendingAttempt& a) {
      return op_.windows().IsFinal(a.window_end, wm_before);
    });
  }
  Outcome outcome = Outcome::kNotCounted;
  // System events move event time and sessions but open no window of their own.
  if (event.kind != EventKind::kSystem && event.kind != EventKind::kRetraction) {
    const TimeWindow window = op_.windows().WindowOf(event.event_time_ms);
    key_scratch_.clear();
    AppendLocalWindowKey(key_scratch_, window.end, event.learner_id, event.cohort_id);
    WindowTable::Entry& entry = FindOrOpenWindow(learner_entry, key_scratch_);
    if (!op_.Count(event, window, entry.value.state)) {
      outcome = Outcome::kDuplicate;
    } else {
      outcome = Outcome::kCounted;
      windows_.MarkChanged(entry);
      if (event.kind == EventKind::kAttempt) {
        ApplyAttempt(event, window, learner, entry);
      } else if (event.kind == EventKind::kOutcome) {
        ApplyOutcome(event, learner, entry);
      }
      if (learner.last_activity == kNoTime || event.event_time_ms > learner.last_activity) {
        learner.last_activity = event.event_time_ms;
        learner.last_cohort_id.assign(event.cohort_id);
        learner.inactivity_reported = false;
        Arm(learner_id, learner);
      }
    }
  }
  if (max_event_time_ == kNoWatermark || event.event_time_ms > max_event_time_) {
    max_event_time_ = event.event_time_ms;
  }
  FireTimers();
  return outcome;
}

uint64_t LearnerTask::KeyHash(std::string_view key) { return LearnerTable::Map::HashOf(key); }

void LearnerTask::Prefetch(uint64_t hash, int step) const {
  if (step == 0) {
    learners_.entries().PrefetchSlot(hash);
    return;
  }
  const LearnerTable::Entry* learner = learners_.Candidate(hash);
  if (learner == nullptr) return;
  // An entry's item starts with its key view, and the key's bytes come right before it
  // (core/string_key_map.h): a learner key fits the line before, a window key the two before.
  if (step == 1) {
    PrefetchRange(learner, sizeof(LearnerTable::Entry), kCacheLineBytes);
    return;
  }
  const WindowTable::Entry* window = learner->value.windows;
  if (step == 3) {
    if (window != nullptr) window->value.state.PrefetchBlocks();
    return;
  }
  const LearnerState& state = learner->value.state;
  if (state.bkt.on_heap()) PrefetchRange(state.bkt.data(), sizeof(state.bkt[0]));
  PrefetchRange(state.sessions.data(), sizeof(LearnerState::SessionSpan));
  if (window != nullptr) PrefetchRange(window, sizeof(WindowTable::Entry), 2 * kCacheLineBytes);
}

LearnerTask::WindowTable::Entry& LearnerTask::FindOrOpenWindow(LearnerTable::Entry& learner,
                                                               std::string_view key) {
  for (WindowTable::Entry* window = learner.value.windows; window != nullptr;
       window = window->value.next) {
    if (*window->key == key) return *window;
  }
  WindowTable::Entry& window = windows_.FindOrCreate(key);
  LF_CHECK(window.value.learner == nullptr, "an open window missing from its learner's list");
  Link(learner, window);
  return window;
}

void LearnerTask::Link(LearnerTable::Entry& learner, WindowTable::Entry& window) {
  window.value.learner = &learner;
  window.value.next = learner.value.windows;
  learner.value.windows = &window;
}

void LearnerTask::Unlink(WindowTable::Entry& window) {
  for (WindowTable::Entry** link = &window.value.learner->value.windows; *link != nullptr;
       link = &(*link)->value.next) {
    if (*link == &window) {
      *link = window.value.next;
      return;
    }
  }
  LF_CHECK(false, "an open window missing from its learner's list");
}

void LearnerTask::ApplyAttempt(const CanonicalEvent& event, TimeWindow window,
                               LearnerState& learner, WindowTable::Entry& window_entry) {
  LearnerSignalsOperator::AddAttempt(event.success, window_entry.value.state);
  if (event.success != Success::kUnknown && !event.skill_id.empty()) {
    op_.Observe(event.skill_id, event.success == Success::kTrue, learner, window_entry.value.state);
  }
  if (!event.attempt_ref.empty()) {
    LearnerState::PendingAttempt& attempt = learner.pending.emplace_back();
    attempt.ref = StableHash64(event.attempt_ref);
    attempt.window_end = window.end;
    attempt.cohort_id.assign(event.cohort_id);
    attempt.skill_id.assign(event.skill_id);
  }
}

void LearnerTask::ApplyOutcome(const CanonicalEvent& event, LearnerState& learner,
                               WindowTable::Entry& window_entry) {
  // The latest earlier attempt with this Attempt id that is still open and not joined yet
  // (attempts of final windows were pruned in Process).
  LearnerState::PendingAttempt* match = nullptr;
  if (!event.attempt_ref.empty()) {
    const uint64_t ref = StableHash64(event.attempt_ref);
    for (auto it = learner.pending.rbegin(); it != learner.pending.rend(); ++it) {
      if (it->ref == ref && !it->joined) {
        match = &*it;
        break;
      }
    }
  }
  if (match == nullptr) {
    // The grade is the only evidence of the attempt: it is an attempt of its own window.
    LearnerSignalsOperator::AddAttempt(event.success, window_entry.value.state);
    if (event.success != Success::kUnknown && !event.skill_id.empty()) {
      op_.Observe(event.skill_id, event.success == Success::kTrue, learner, window_entry.value.state);
    }
    return;
  }
  match->joined = true;
  if (event.success == Success::kUnknown) return;
  join_key_scratch_.clear();
  AppendLocalWindowKey(join_key_scratch_, match->window_end, event.learner_id, match->cohort_id);
  WindowTable::Entry* target = windows_.Find(join_key_scratch_);
  LF_CHECK(target != nullptr, "the window of a joinable attempt is open");
  LearnerSignalsOperator::AddOutcome(event.success, target->value.state);
  if (!match->skill_id.empty()) {
    op_.Observe(match->skill_id, event.success == Success::kTrue, learner, target->value.state);
  }
  windows_.MarkChanged(*target);
}

void LearnerTask::Arm(const std::string_view& learner_id, LearnerState& learner) {
  // Already queued: a stale deadline is moved when it fires (no heap update per event).
  if (learner.armed_deadline != kNoTime) return;
  const TimestampMs deadline = learner.last_activity + op_.params().inactivity_ms;
  timers_.push_back(Timer{deadline, &learner_id});
  std::push_heap(timers_.begin(), timers_.end(), LaterTimer{});
  learner.armed_deadline = deadline;
}

void LearnerTask::FireTimers() {
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return;
  while (!timers_.empty() && timers_.front().deadline <= wm) {
    std::pop_heap(timers_.begin(), timers_.end(), LaterTimer{});
    Timer timer = timers_.back();
    timers_.pop_back();
    const std::string_view learner_id = *timer.learner;
    LearnerTable::Entry* entry = learners_.Find(learner_id);
    LF_CHECK(entry != nullptr, "an inactivity timer without learner state");
    LearnerState& learner = entry->value.state;
    learner.armed_deadline = kNoTime;
    if (learner.inactivity_reported || learner.last_activity == kNoTime) continue;
    const TimestampMs deadline = learner.last_activity + op_.params().inactivity_ms;
    if (deadline > wm) {  // active again since it was armed
      learner.armed_deadline = deadline;
      timer.deadline = deadline;
      timers_.push_back(timer);
      std::push_heap(timers_.begin(), timers_.end(), LaterTimer{});
      continue;
    }
    value_scratch_.clear();
    LearnerSignalsOperator::AppendInactiveRecord(learner_id, learner.last_cohort_id,
                                                 learner.last_activity, value_scratch_);
    fired_.emplace_back(learner_id, value_scratch_);
    learner.inactivity_reported = true;
    learners_.MarkChanged(*entry);
  }
}

void LearnerTask::MarkActive(TimestampMs now_ms) {
  last_active_ms_ = now_ms;
  if (idle_sent_) {
    idle_sent_ = false;
    marker_sent_ = kNoWatermark;  // the next EmitFinal says "active" with the current bound
  }
}

Status LearnerTask::SendMarker(TaskOutput& out, TimestampMs bound, bool idle) {
  WatermarkMarker marker;
  marker.upstream_partition = partition();
  marker.upstream_count = options_.input_partitions;
  marker.bound = bound;
  marker.idle = idle;
  summary_scratch_.clear();
  AppendMarkerRecord(marker, summary_scratch_);
  return out.Broadcast(summary_scratch_);
}

StatusOr<size_t> LearnerTask::EmitFinal(TaskOutput& out, TimestampMs now_ms) {
  if (last_active_ms_ == kNoWatermark) last_active_ms_ = now_ms;  // idle time counts from here
  if (options_.input_partitions > 0 && options_.idle_timeout_ms > 0 && !idle_sent_ &&
      now_ms - last_active_ms_ >= options_.idle_timeout_ms) {
    LF_RETURN_IF_ERROR(SendMarker(out, marker_sent_, /*idle=*/true));
    idle_sent_ = true;
  }
  for (const auto& [learner_id, record] : fired_) {
    LF_RETURN_IF_ERROR(out.Emit(Output::kLearnerSignals, learner_id, record));
  }
  fired_.clear();
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return size_t{0};
  const TumblingWindows& windows = op_.windows();
  const TimestampMs bound = windows.FinalEndBound(wm);
  // Window ends are multiples of the size: the final ones end at or before `aligned`.
  const TimestampMs aligned = FloorDiv(bound, windows.size_ms()) * windows.size_ms();
  size_t emitted = 0;
  // After an error of `out` the search is repeated: the windows not sent are still in the table.
  const bool search = final_searched_ == kNoWatermark || aligned > final_searched_;
  if (search) CollectFinalWindows(aligned);
  WindowKeyParts parts;
  for (size_t i = 0; i < final_scratch_.size(); ++i) {
    PrefetchFinal(i);
    const auto it = final_scratch_[i];
    LF_CHECK(ParseLocalWindowKey(it->first, parts), "malformed window key in cache");
    const TimeWindow window{parts.window_end - windows.size_ms(), parts.window_end};
    LearnerTable::Entry* learner = it->second.value.learner;
    const LearnerWindowState& state = it->second.value.state;
    LearnerWindowRecord& record = record_scratch_;
    op_.MakeRecord(parts.key2, window, state,
                   LearnerSignalsOperator::SessionsStartingIn(learner->value.state, window), record);
    learner->value.state.SetLatest(record, &state.mastery);  // kept for the query API
    learners_.MarkChanged(*learner);
    const LearnerWindowSummary summary = op_.Summarize(record);
    value_scratch_.clear();
    op_.AppendLearnerRecord(parts.key1, record, summary, value_scratch_);
    LF_RETURN_IF_ERROR(out.Emit(Output::kLearnerSignals, parts.key1, value_scratch_));
    if (options_.input_partitions > 0) {
      LearnerSummary s;
      s.upstream_partition = partition();
      s.window_end = parts.window_end;
      s.learner_hash = StableHash64(parts.key1);
      s.struggling = summary.struggling;
      s.attempts = state.attempts;
      s.correct = state.correct;
      s.mean_mastery = summary.mean_mastery;
      s.active_minutes = state.minutes.size();
      s.help_requests = state.help_requests;
      s.record = value_scratch_;
      summary_scratch_.clear();
      AppendSummaryRecord(s, summary_scratch_);
      LF_RETURN_IF_ERROR(out.Repartition(parts.key2, summary_scratch_));
    }
    Unlink(it->second);
    windows_.Erase(it, /*delete_in_store=*/false);  // dropped by range in the checkpoint
    ++emitted;
  }
  final_scratch_.clear();
  if (search) final_searched_ = aligned;
  // Range tombstones only at window boundaries (not every millisecond the watermark moves).
  if (dropped_end_bound_ == kNoWatermark || aligned > dropped_end_bound_) dropped_end_bound_ = aligned;
  if (emitted_bound_ == kNoWatermark || aligned > emitted_bound_) emitted_bound_ = aligned;
  if (options_.input_partitions > 0 && !idle_sent_ &&
      (marker_sent_ == kNoWatermark || aligned > marker_sent_)) {
    LF_RETURN_IF_ERROR(SendMarker(out, aligned, /*idle=*/false));
    marker_sent_ = aligned;
  }
  return emitted;
}

void LearnerTask::PrefetchFinal(size_t i) const {
  // The windows come in key order, scattered in memory, and each emission touches the window,
  // its learner and the learner's sessions and latest record: four or more cache misses in a
  // row. Their addresses are known ahead: the window kWindowAhead places on, then (its entry
  // arrived by now) its learner, then (that arrived) the learner's heap blocks.
  constexpr size_t kWindowAhead = 12;
  constexpr size_t kLearnerAhead = 7;
  constexpr size_t kBlocksAhead = 3;
  const size_t n = final_scratch_.size();
  if (i + kWindowAhead < n) {
    // By the item's address alone, with the line before it where its key starts (StringKeyMap
    // stores the key right before the item), as CollectFinalWindows does.
    const auto& item = *final_scratch_[i + kWindowAhead];
    PrefetchRange(&item, sizeof(item), kCacheLineBytes);
  }
  if (i + kLearnerAhead < n) {
    PrefetchRange(final_scratch_[i + kLearnerAhead]->second.value.learner,
                  sizeof(LearnerTable::Entry));
  }
  if (i + kBlocksAhead < n) {
    const LearnerState& learner =
        final_scratch_[i + kBlocksAhead]->second.value.learner->value.state;
    PrefetchRange(learner.sessions.data(), learner.sessions.size() * sizeof(learner.sessions[0]));
    PrefetchRange(learner.latest.data(), learner.latest.size());
  }
}

void LearnerTask::AfterLoad() {
  final_searched_ = kNoWatermark;  // the table holds other windows now
  timers_.clear();
  for (auto& [learner_id, entry] : learners_.entries()) {
    entry.value.windows = nullptr;
    LearnerState& learner = entry.value.state;
    learner.armed_deadline = kNoTime;
    if (!learner.inactivity_reported && learner.last_activity != kNoTime) {
      learner.armed_deadline = learner.last_activity + op_.params().inactivity_ms;
      timers_.push_back(Timer{learner.armed_deadline, &learner_id});
    }
  }
  std::make_heap(timers_.begin(), timers_.end(), LaterTimer{});  // linear, not one push each
  // Each open window into its learner's list (in memory only).
  WindowKeyParts parts;
  for (auto& [key, window] : windows_.entries()) {
    LF_CHECK(ParseLocalWindowKey(key, parts), "malformed window key in cache");
    LearnerTable::Entry* learner = learners_.Find(parts.key1);
    LF_CHECK(learner != nullptr, "a learner window without learner state");
    Link(*learner, window);
  }
}

void LearnerTask::AfterRestore() {
  // Windows the restored watermark has made final were emitted by the previous owner; one can be
  // left over when a compacted changelog has dropped its tombstone.
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return;
  const TimestampMs bound = op_.windows().FinalEndBound(wm);
  CollectFinalWindows(bound);
  for (const auto it : final_scratch_) windows_.Erase(it, /*delete_in_store=*/false);
  if (!final_scratch_.empty()) RequestRewrite();
  final_scratch_.clear();
}

void LearnerTask::CollectFinalWindows(TimestampMs bound) {
  final_scratch_.clear();
  WindowKeyParts parts;
  auto& entries = windows_.entries();
  // Items lie scattered in memory: the window kKeyAhead items on is prefetched, by the item's
  // address alone (reading its key view would wait for it): the item's first line and the line
  // before, where a key of up to 64 bytes starts (StringKeyMap stores it right before).
  constexpr int kKeyAhead = 8;
  auto ahead = entries.begin();
  for (int i = 0; i < kKeyAhead && ahead != entries.end(); ++i) ++ahead;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (ahead != entries.end()) {
      PrefetchRange(&*ahead, kCacheLineBytes, kCacheLineBytes);
      ++ahead;
    }
    LF_CHECK(ParseLocalWindowKey(it->first, parts), "malformed window key in cache");
    if (parts.window_end <= bound) final_scratch_.push_back(it);
  }
  // Key order: window end, learner, cohort (the order of the records, replays included).
  SortByKey(
      final_scratch_,
      [](const WindowTable::Map::iterator& it) { return std::string_view(it->first); },
      final_sort_scratch_);
}

void LearnerTask::BeforeCheckpoint(StateBatch& batch, bool rewrite) {
  if (rewrite) {
    // The tables replace the partition's whole state; nothing else to drop.
    stored_dropped_bound_ = dropped_end_bound_;
    return;
  }
  if (dropped_end_bound_ == kNoWatermark ||
      (stored_dropped_bound_ != kNoWatermark && dropped_end_bound_ <= stored_dropped_bound_)) {
    return;
  }
  key_scratch_.clear();
  value_scratch_.clear();
  // Windows ending in (previous bound, bound]: [partition | previous + 1, partition | bound + 1).
  if (stored_dropped_bound_ == kNoWatermark) {
    AppendPartitionPrefix(key_scratch_, partition());
  } else {
    AppendPartitionTimeBound(key_scratch_, partition(), stored_dropped_bound_ + 1);
  }
  AppendPartitionTimeBound(value_scratch_, partition(), dropped_end_bound_ + 1);
  batch.DeleteRange(Family::kWindows, key_scratch_, value_scratch_);
  stored_dropped_bound_ = dropped_end_bound_;
}

}  // namespace learnflow
