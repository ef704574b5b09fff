#include "stream/cohort_task.h"

#include "core/check.h"
#include "core/codec.h"
#include "state/window_key.h"

namespace learnflow {
namespace {

// Meta key of a repartition partition's position: "cpos/" + BE32(partition).
std::string PositionKey(int32_t partition) { return "cpos/" + PartitionPrefix(partition); }

constexpr size_t kMaxUpstreams = 1 << 20;

}  // namespace

CohortTask::CohortTask(int32_t partition, const CohortSignalsOperator& op)
    : TaskBase(partition, PositionKey(partition)),
      op_(op),
      windows_('W', Family::kCohortWindows, PartitionPrefix(partition)),
      cohorts_('C', Family::kCohortKeyed, PartitionPrefix(partition)) {
  AddTable(windows_);
  AddTable(cohorts_);
}

void CohortTask::EncodePosition(std::string& out) const {
  PutU32(out, static_cast<uint32_t>(upstream_.size()));
  for (const Upstream& u : upstream_) {
    PutI64(out, u.bound);
    out.push_back(u.idle ? 1 : 0);
  }
}

Status CohortTask::DecodePosition(std::string_view bytes) {
  ByteReader in(bytes);
  uint32_t n = 0;
  if (!in.U32(n) || n > kMaxUpstreams || bytes.size() != 4 + size_t{n} * 9) {
    return InternalError("bad cohort task position");
  }
  upstream_.assign(n, Upstream{});
  for (Upstream& u : upstream_) {
    uint8_t idle = 0;
    in.I64(u.bound);
    in.Byte(idle);
    u.idle = idle != 0;
  }
  return Status::Ok();
}

TimestampMs CohortTask::FinalBound() const {
  TimestampMs bound = kNoBound;
  bool any = false;
  for (const Upstream& u : upstream_) {
    if (u.idle) continue;
    if (u.bound == kNoBound) return kNoBound;  // an upstream that has not spoken yet
    if (!any || u.bound < bound) bound = u.bound;
    any = true;
  }
  return any ? bound : kNoBound;
}

CohortTask::Outcome CohortTask::Process(std::string_view key, std::string_view value) {
  switch (ParseRepartitionRecord(value, last_summary_, marker_)) {
    case RepartitionRecordType::kInvalid:
      last_summary_.record = value;
      return Outcome::kInvalid;
    case RepartitionRecordType::kMarker: {
      if (static_cast<size_t>(marker_.upstream_count) > upstream_.size()) {
        upstream_.resize(static_cast<size_t>(marker_.upstream_count));
      }
      Upstream& u = upstream_[static_cast<size_t>(marker_.upstream_partition)];
      if (u.bound == kNoBound || marker_.bound > u.bound) u.bound = marker_.bound;
      u.idle = marker_.idle;
      return Outcome::kMarker;
    }
    case RepartitionRecordType::kSummary:
      break;
  }
  const LearnerSummary& s = last_summary_;
  const TimestampMs final_bound = FinalBound();
  if (final_bound != kNoBound && s.window_end <= final_bound) {
    const size_t p = static_cast<size_t>(s.upstream_partition);
    const bool replay = p < upstream_.size() && upstream_[p].bound != kNoBound &&
                        s.window_end <= upstream_[p].bound;
    return replay ? Outcome::kDuplicate : Outcome::kLate;
  }
  key_scratch_.clear();
  AppendLocalWindowKey(key_scratch_, s.window_end, key, {});
  auto& entry = windows_.FindOrCreate(key_scratch_);
  if (!op_.Add(s, entry.value)) return Outcome::kDuplicate;
  windows_.MarkChanged(entry);
  return Outcome::kAdded;
}

StatusOr<size_t> CohortTask::EmitFinal(TaskOutput& out) {
  const TimestampMs bound = FinalBound();
  if (bound == kNoBound) return size_t{0};
  size_t emitted = 0;
  WindowKeyParts parts;
  auto& entries = windows_.entries();
  for (auto it = entries.begin(); it != entries.end();) {
    LF_CHECK(ParseLocalWindowKey(it->first, parts), "malformed cohort window key in cache");
    if (parts.window_end > bound) break;
    const TimeWindow window{parts.window_end - op_.windows().size_ms(), parts.window_end};
    const CohortWindowSummary summary = op_.Summarize(it->second.value);
    value_scratch_.clear();
    op_.AppendCohortRecord(parts.key1, window, summary, value_scratch_);
    LF_RETURN_IF_ERROR(out.Emit(Output::kCohortSignals, parts.key1, value_scratch_));
    auto& cohort = cohorts_.FindOrCreate(parts.key1);
    const bool meets = op_.Meets(summary);
    if (meets != cohort.value.firing) {
      value_scratch_.clear();
      op_.AppendAlert(parts.key1, window, meets, summary, value_scratch_);
      LF_RETURN_IF_ERROR(out.Emit(Output::kAlerts, parts.key1, value_scratch_));
      cohort.value.firing = meets;
    }
    cohort.value.last_window_end = parts.window_end;
    cohort.value.latest = summary;
    cohorts_.MarkChanged(cohort);
    out.OnCohortWindow(parts.key1, summary, cohort.value.firing);
    it = windows_.Erase(it, /*delete_in_store=*/true);
    ++emitted;
  }
  return emitted;
}

}  // namespace learnflow
