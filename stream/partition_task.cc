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
    if (value.size() != 16) return InternalError("corrupt position of partition " + std::to_string(partition_));
    next_offset_ = static_cast<int64_t>(ReadBigEndian64(value));
    max_event_time_ = SignedFromOrdered(ReadBigEndian64(std::string_view(value).substr(8)));
  }
  std::string begin, end;
  AppendPartitionPrefix(begin, partition_);
  AppendPartitionPrefix(end, partition_ + 1);
  Status decode_status;
  LF_RETURN_IF_ERROR(store.Scan(Family::kWindows, begin, end,
                                [&](std::string_view k, std::string_view v) {
                                  Entry entry;
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
  const TimeWindow window = op_.windows().WindowOf(event.event_time_ms);
  key_scratch_.clear();
  AppendLocalWindowKey(key_scratch_, window.end, event.learner_id, event.cohort_id);
  auto it = windows_.find(std::string_view(key_scratch_));
  if (it == windows_.end()) it = windows_.emplace(key_scratch_, Entry{}).first;
  if (!op_.Add(event, it->second.state)) return Outcome::kDuplicate;
  it->second.dirty = true;
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
    it = windows_.erase(it);
    ++emitted;
  }
  if (bound > dropped_end_bound_) dropped_end_bound_ = bound;
  return emitted;
}

void PartitionTask::Checkpoint(StateBatch& batch) {
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
    batch.Put(Family::kMeta, key_scratch_, value_scratch_);
  }
}

}  // namespace learnflow
