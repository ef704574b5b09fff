#include "stream/partition_task.h"

#include "state/window_key.h"

namespace learnflow {
namespace {

// Meta key of a partition's position: "pos/" + BE32(partition).
void AppendPositionKey(std::string& out, int32_t partition) {
  out += "pos/";
  AppendBigEndian32(out, static_cast<uint32_t>(partition));
}

}  // namespace

PartitionTask::PartitionTask(int32_t partition, const LearnerWindowOperator& op,
                             const TaskOptions& options)
    : partition_(partition), op_(op), options_(options) {}

Status PartitionTask::Load(const StateStore& store) {
  std::string key;
  AppendPositionKey(key, partition_);
  std::string value;
  bool found = false;
  LF_RETURN_IF_ERROR(store.Get(Family::kMeta, key, value, found));
  if (found) {
    if (value.size() != 24) return InternalError("corrupt position of partition " + std::to_string(partition_));
    next_offset_ = static_cast<int64_t>(ReadBigEndian64(value));
    max_event_time_ = SignedFromOrdered(ReadBigEndian64(std::string_view(value).substr(8)));
    changelog_next_ = static_cast<int64_t>(ReadBigEndian64(std::string_view(value).substr(16)));
    logged_offset_ = next_offset_;
  }
  std::string begin, end;
  AppendPartitionPrefix(begin, partition_);
  AppendPartitionPrefix(end, partition_ + 1);
  Status decode_status;
  LF_RETURN_IF_ERROR(store.Scan(Family::kWindows, begin, end,
                                [&](std::string_view k, std::string_view v) {
                                  Entry entry;
                                  entry.logged = true;  // checkpoints follow changelog writes
                                  decode_status = op_.DecodeState(v, entry.state);
                                  if (!decode_status.ok()) return false;
                                  windows_.emplace(std::string(k.substr(4)), std::move(entry));
                                  return true;
                                }));
  return decode_status;
}

TimestampMs PartitionTask::watermark() const {
  if (max_event_time_ == kNoWatermark) return kNoWatermark;
  return max_event_time_ - options_.max_out_of_orderness_ms;
}

bool PartitionTask::IsLate(TimestampMs event_time) const {
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return false;
  return op_.windows().IsFinal(op_.windows().WindowOf(event_time).end, wm);
}

PartitionTask::Outcome PartitionTask::Process(const CanonicalEvent& event) {
  if (IsLate(event.event_time_ms)) return Outcome::kLate;
  if (event.event_time_ms > max_event_time_) max_event_time_ = event.event_time_ms;
  // System events move event time but open no window of their own.
  if (event.kind == EventKind::kSystem) return Outcome::kNotCounted;
  const TimeWindow window = op_.windows().WindowOf(event.event_time_ms);
  key_scratch_.clear();
  AppendLocalWindowKey(key_scratch_, window.end, event.learner_id, event.cohort_id);
  auto it = windows_.find(std::string_view(key_scratch_));
  if (it == windows_.end()) it = windows_.emplace(key_scratch_, Entry{}).first;
  if (!op_.Add(event, it->second.state)) return Outcome::kDuplicate;
  it->second.dirty = true;
  it->second.unlogged_change = true;
  return Outcome::kCounted;
}

StatusOr<size_t> PartitionTask::EmitFinal(const EmitFn& emit) {
  const TimestampMs wm = watermark();
  if (wm == kNoWatermark) return size_t{0};
  const TimestampMs bound = op_.windows().FinalEndBound(wm);
  size_t emitted = 0;
  auto it = windows_.begin();
  WindowKeyParts parts;
  while (it != windows_.end()) {
    LF_CHECK(ParseLocalWindowKey(it->first, parts), "malformed window key in cache");
    if (parts.window_end > bound) break;
    value_scratch_.clear();
    const TimeWindow window{parts.window_end - op_.windows().size_ms(), parts.window_end};
    op_.AppendRecord(parts.key1, parts.key2, window, it->second.state, value_scratch_);
    LF_RETURN_IF_ERROR(emit(parts.key1, value_scratch_));
    auto next = std::next(it);
    if (it->second.logged) {
      tombstones_.push_back(std::move(windows_.extract(it).key()));  // the key moves, no copy
    } else {
      windows_.erase(it);
    }
    it = next;
    ++emitted;
  }
  // Range tombstones only at window boundaries (not every millisecond the watermark moves).
  const TimestampMs aligned = FloorDiv(bound, op_.windows().size_ms()) * op_.windows().size_ms();
  if (aligned > dropped_end_bound_) dropped_end_bound_ = aligned;
  return emitted;
}

StatusOr<bool> PartitionTask::WriteChangelog(const ChangelogFn& send) {
  bool changed = !tombstones_.empty() || next_offset_ != logged_offset_;
  for (const std::string& local_key : tombstones_) {
    key_scratch_.assign(1, 'W');
    key_scratch_ += local_key;
    LF_RETURN_IF_ERROR(send(key_scratch_, nullptr));
  }
  tombstones_.clear();
  for (auto& [local_key, entry] : windows_) {
    if (!entry.unlogged_change) continue;
    key_scratch_.assign(1, 'W');
    key_scratch_ += local_key;
    value_scratch_.clear();
    op_.EncodeState(entry.state, value_scratch_);
    const std::string_view value(value_scratch_);
    LF_RETURN_IF_ERROR(send(key_scratch_, &value));
    entry.unlogged_change = false;
    entry.logged = true;
    changed = true;
  }
  if (!changed) return false;
  value_scratch_.clear();
  AppendBigEndian64(value_scratch_, static_cast<uint64_t>(next_offset_));
  AppendBigEndian64(value_scratch_, OrderedFromSigned(max_event_time_));
  const std::string_view position(value_scratch_);
  LF_RETURN_IF_ERROR(send("P", &position));
  logged_offset_ = next_offset_;
  return true;
}

Status PartitionTask::ApplyChangelog(int64_t offset, std::string_view key, const std::string_view* value) {
  const auto corrupt = [&] {
    return InternalError("corrupt changelog record at offset " + std::to_string(offset) +
                         " of partition " + std::to_string(partition_));
  };
  if (key == "P") {
    if (value == nullptr || value->size() != 16) return corrupt();
    for (PendingRecord& record : pending_) {
      if (record.tombstone) {
        auto it = windows_.find(std::string_view(record.key));
        if (it != windows_.end()) windows_.erase(it);
        continue;
      }
      Entry entry;
      LF_RETURN_IF_ERROR(op_.DecodeState(record.value, entry.state));
      entry.logged = true;
      entry.dirty = true;
      windows_.insert_or_assign(std::move(record.key), std::move(entry));
    }
    pending_.clear();
    next_offset_ = static_cast<int64_t>(ReadBigEndian64(*value));
    max_event_time_ = SignedFromOrdered(ReadBigEndian64(value->substr(8)));
    logged_offset_ = next_offset_;
    changelog_next_ = offset + 1;
    full_rewrite_ = true;
    return Status::Ok();
  }
  if (key.empty() || key[0] != 'W') return corrupt();
  WindowKeyParts parts;
  if (!ParseLocalWindowKey(key.substr(1), parts)) return corrupt();
  PendingRecord& record = pending_.emplace_back();
  record.key.assign(key.substr(1));
  record.tombstone = value == nullptr;
  if (value != nullptr) record.value.assign(*value);
  return Status::Ok();
}

void PartitionTask::FinishRestore() {
  // Records after the last 'P' belong to a commit cut short. The next 'P' this task writes would
  // apply them on a later restore, so this task's next commit overrides each of their keys with
  // the state it really has: the window's value, or a tombstone.
  for (PendingRecord& record : pending_) {
    auto it = windows_.find(std::string_view(record.key));
    if (it != windows_.end()) {
      it->second.unlogged_change = true;
      it->second.logged = true;
    } else if (!record.tombstone) {
      tombstones_.push_back(std::move(record.key));
    }
  }
  pending_.clear();
  // Windows the restored watermark has made final were emitted by the previous owner; one can be
  // left over when a compacted changelog has dropped its tombstone.
  const TimestampMs wm = watermark();
  if (wm != kNoWatermark) {
    const TimestampMs bound = op_.windows().FinalEndBound(wm);
    WindowKeyParts parts;
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (!ParseLocalWindowKey(it->first, parts) || parts.window_end > bound) break;
      it = windows_.erase(it);
      full_rewrite_ = true;
    }
  }
}

void PartitionTask::Checkpoint(StateBatch& batch, int64_t changelog_next) {
  if (changelog_next >= 0) changelog_next_ = changelog_next;
  if (full_rewrite_) {
    // After a restore the memory holds the partition's whole state: replace what is on disk.
    key_scratch_.clear();
    AppendPartitionPrefix(key_scratch_, partition_);
    value_scratch_.clear();
    AppendPartitionPrefix(value_scratch_, partition_ + 1);
    batch.DeleteRange(Family::kWindows, key_scratch_, value_scratch_);
    for (auto& [local_key, entry] : windows_) entry.dirty = true;
    full_rewrite_ = false;
    stored_dropped_bound_ = dropped_end_bound_;
  }
  if (dropped_end_bound_ > stored_dropped_bound_) {
    key_scratch_.clear();
    value_scratch_.clear();
    // Windows ending in (previous bound, bound]: [partition | previous + 1, partition | bound + 1).
    if (stored_dropped_bound_ == kNoWatermark) {
      AppendPartitionPrefix(key_scratch_, partition_);
    } else {
      AppendPartitionTimeBound(key_scratch_, partition_, stored_dropped_bound_ + 1);
    }
    AppendPartitionTimeBound(value_scratch_, partition_, dropped_end_bound_ + 1);
    batch.DeleteRange(Family::kWindows, key_scratch_, value_scratch_);
    stored_dropped_bound_ = dropped_end_bound_;
  }
  for (auto& [local_key, entry] : windows_) {
    if (!entry.dirty) continue;
    key_scratch_.clear();
    AppendPartitionPrefix(key_scratch_, partition_);
    key_scratch_ += local_key;
    value_scratch_.clear();
    op_.EncodeState(entry.state, value_scratch_);
    batch.Put(Family::kWindows, key_scratch_, value_scratch_);
    entry.dirty = false;
  }
  if (next_offset_ != kOffsetFromGroup) {
    key_scratch_.clear();
    AppendPositionKey(key_scratch_, partition_);
    value_scratch_.clear();
    AppendBigEndian64(value_scratch_, static_cast<uint64_t>(next_offset_));
    AppendBigEndian64(value_scratch_, OrderedFromSigned(max_event_time_));
    AppendBigEndian64(value_scratch_, static_cast<uint64_t>(changelog_next_));
    batch.Put(Family::kMeta, key_scratch_, value_scratch_);
  }
}

}  // namespace learnflow
