#include "operators/cohort_signals.h"

#include <algorithm>
#include <cmath>

#include "core/codec.h"
#include "core/json_writer.h"

namespace learnflow {
namespace {

constexpr uint8_t kCohortWindowVersion = 1;
// 2 adds the latest window's summary; 1 is still read (without it).
constexpr uint8_t kCohortStateVersion = 2;
constexpr uint8_t kCohortStateVersionWithoutLatest = 1;


}  // namespace

void AppendSummaryRecord(const LearnerSummary& s, std::string& out) {
  out.push_back('R');
  PutU32(out, static_cast<uint32_t>(s.upstream_partition));
  PutI64(out, s.window_end);
  PutU64(out, s.learner_hash);
  out.push_back(s.struggling ? 1 : 0);
  PutU64(out, s.attempts);
  PutU64(out, s.correct);
  out.push_back(s.mean_mastery ? 1 : 0);
  PutDouble(out, s.mean_mastery.value_or(0.0));
  PutU64(out, s.active_minutes);
  PutU64(out, s.help_requests);
  out.append(s.record);
}

void AppendMarkerRecord(const WatermarkMarker& m, std::string& out) {
  out.push_back('M');
  PutU32(out, static_cast<uint32_t>(m.upstream_partition));
  PutU32(out, static_cast<uint32_t>(m.upstream_count));
  PutI64(out, m.bound);
  out.push_back(m.idle ? 1 : 0);
}

RepartitionRecordType ParseRepartitionRecord(std::string_view bytes, LearnerSummary& s,
                                             WatermarkMarker& m) {
  if (bytes.empty()) return RepartitionRecordType::kInvalid;
  ByteReader in(bytes.substr(1));
  uint32_t partition = 0;
  uint8_t flag = 0;
  if (bytes[0] == 'M') {
    uint32_t count = 0;
    if (!in.U32(partition) || !in.U32(count) || !in.I64(m.bound) || !in.Byte(flag) || !in.done() ||
        partition >= count || count > (1u << 20)) {
      return RepartitionRecordType::kInvalid;
    }
    m.upstream_partition = static_cast<int32_t>(partition);
    m.upstream_count = static_cast<int32_t>(count);
    m.idle = flag != 0;
    return RepartitionRecordType::kMarker;
  }
  if (bytes[0] != 'R') return RepartitionRecordType::kInvalid;
  uint8_t has_mean = 0;
  double mean = 0;
  if (!in.U32(partition) || !in.I64(s.window_end) || !in.U64(s.learner_hash) || !in.Byte(flag) ||
      !in.U64(s.attempts) || !in.U64(s.correct) || !in.Byte(has_mean) || !in.Double(mean) ||
      !in.U64(s.active_minutes) || !in.U64(s.help_requests) || partition > (1u << 20)) {
    return RepartitionRecordType::kInvalid;
  }
  s.upstream_partition = static_cast<int32_t>(partition);
  s.struggling = flag != 0;
  s.mean_mastery = has_mean != 0 ? std::optional<double>(mean) : std::nullopt;
  s.record = in.rest();
  return RepartitionRecordType::kSummary;
}

void CohortWindowState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(kCohortWindowVersion));
  PutU64(out, attempts);
  PutU64(out, correct);
  PutU64(out, active_minutes);
  PutU64(out, help_requests);
  PutU64(out, members.size());
  for (const Member& m : members) {
    PutU64(out, m.learner_hash);
    PutDouble(out, m.mean_mastery);
    out.push_back(m.struggling ? 1 : 0);
  }
}

Status CohortWindowState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint64_t n = 0;
  if (!in.Byte(version) || version != kCohortWindowVersion || !in.U64(attempts) ||
      !in.U64(correct) || !in.U64(active_minutes) || !in.U64(help_requests) || !in.Count(n, 17)) {
    return InternalError("corrupt cohort window state");
  }
  members.resize(n);
  for (Member& m : members) {
    uint8_t struggling = 0;
    in.U64(m.learner_hash);
    in.Double(m.mean_mastery);
    in.Byte(struggling);
    m.struggling = struggling != 0;
  }
  if (!in.done()) return InternalError("corrupt cohort window state");
  return Status::Ok();
}

void CohortState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(kCohortStateVersion));
  out.push_back(firing ? 1 : 0);
  PutI64(out, last_window_end);
  PutI64(out, latest.active_learners);
  PutI64(out, latest.struggling_learners);
  PutDouble(out, latest.struggling_share);
  PutDouble(out, latest.accuracy.value_or(std::nan("")));
  PutDouble(out, latest.mean_mastery.value_or(std::nan("")));
  PutI64(out, latest.active_minutes);
  PutI64(out, latest.help_requests);
}

Status CohortState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint8_t f = 0;
  if (!in.Byte(version) ||
      (version != kCohortStateVersion && version != kCohortStateVersionWithoutLatest) ||
      !in.Byte(f) || !in.I64(last_window_end)) {
    return InternalError("corrupt cohort state");
  }
  firing = f != 0;
  latest = CohortWindowSummary{};
  if (version == kCohortStateVersion) {
    double accuracy = 0;
    double mastery = 0;
    if (!in.I64(latest.active_learners) || !in.I64(latest.struggling_learners) ||
        !in.Double(latest.struggling_share) || !in.Double(accuracy) || !in.Double(mastery) ||
        !in.I64(latest.active_minutes) || !in.I64(latest.help_requests)) {
      return InternalError("corrupt cohort state");
    }
    if (!std::isnan(accuracy)) latest.accuracy = accuracy;
    if (!std::isnan(mastery)) latest.mean_mastery = mastery;
  }
  if (!in.done()) return InternalError("corrupt cohort state");
  return Status::Ok();
}

CohortSignalsOperator::CohortSignalsOperator(const SignalParams& params)
    : params_(params), windows_(params.window_size_ms, params.grace_ms) {}

bool CohortSignalsOperator::Add(const LearnerSummary& s, CohortWindowState& state) const {
  auto it = std::lower_bound(state.members.begin(), state.members.end(), s.learner_hash,
                             [](const CohortWindowState::Member& m, uint64_t h) { return m.learner_hash < h; });
  if (it != state.members.end() && it->learner_hash == s.learner_hash) return false;
  state.members.insert(it, CohortWindowState::Member{
                               s.learner_hash, s.mean_mastery.value_or(std::nan("")), s.struggling});
  state.attempts += s.attempts;
  state.correct += s.correct;
  state.active_minutes += s.active_minutes;
  state.help_requests += s.help_requests;
  return true;
}

CohortWindowSummary CohortSignalsOperator::Summarize(const CohortWindowState& state) const {
  CohortWindowSummary s;
  s.active_learners = static_cast<int64_t>(state.members.size());
  double mastery_sum = 0;
  int64_t mastery_n = 0;
  // Members are in hash order, so the sum is the same whatever order the records arrived in.
  for (const CohortWindowState::Member& m : state.members) {
    if (m.struggling) ++s.struggling_learners;
    if (!std::isnan(m.mean_mastery)) {
      mastery_sum += m.mean_mastery;
      ++mastery_n;
    }
  }
  if (s.active_learners > 0) {
    s.struggling_share = static_cast<double>(s.struggling_learners) / static_cast<double>(s.active_learners);
  }
  if (state.attempts > 0) {
    s.accuracy = static_cast<double>(state.correct) / static_cast<double>(state.attempts);
  }
  if (mastery_n > 0) s.mean_mastery = mastery_sum / static_cast<double>(mastery_n);
  s.active_minutes = static_cast<int64_t>(state.active_minutes);
  s.help_requests = static_cast<int64_t>(state.help_requests);
  return s;
}

bool CohortSignalsOperator::Meets(const CohortWindowSummary& s) const {
  return s.active_learners >= params_.min_cohort_size &&
         s.struggling_share >= params_.cohort_struggling_share;
}

void CohortSignalsOperator::AppendCohortRecord(std::string_view cohort_id, TimeWindow window,
                                               const CohortWindowSummary& s,
                                               std::string& out) const {
  out += R"({"kind":"cohort_window","schema_version":1,"cohort_id":)";
  AppendJsonString(out, cohort_id);
  AppendWindowBounds(window, out);
  out += R"(,"active_learners":)";
  AppendJsonInt(out, s.active_learners);
  out += R"(,"struggling_learners":)";
  AppendJsonInt(out, s.struggling_learners);
  out += R"(,"struggling_share":)";
  AppendJsonDouble(out, s.struggling_share);
  out += R"(,"accuracy":)";
  AppendJsonOptional(out, s.accuracy);
  out += R"(,"mean_mastery":)";
  AppendJsonOptional(out, s.mean_mastery);
  out += R"(,"active_minutes":)";
  AppendJsonInt(out, s.active_minutes);
  out += R"(,"help_requests":)";
  AppendJsonInt(out, s.help_requests);
  out += '}';
}

void CohortSignalsOperator::AppendAlert(std::string_view cohort_id, TimeWindow window, bool firing,
                                        const CohortWindowSummary& s, std::string& out) const {
  out += R"({"kind":"alert","schema_version":1,"type":"struggling_cohort","state":")";
  out += firing ? "firing" : "resolved";
  out += R"(","cohort_id":)";
  AppendJsonString(out, cohort_id);
  AppendWindowBounds(window, out);
  out += R"(,"active_learners":)";
  AppendJsonInt(out, s.active_learners);
  out += R"(,"struggling_share":)";
  AppendJsonDouble(out, s.struggling_share);
  out += R"(,"threshold":)";
  AppendJsonDouble(out, params_.cohort_struggling_share);
  out += '}';
}

}  // namespace learnflow
