#include "operators/learner_signals.h"

#include <algorithm>

#include "core/codec.h"
#include "core/json_writer.h"

namespace learnflow {
namespace {

constexpr uint8_t kWindowStateVersion = 2;
// 2 adds the latest learner_window record; 1 is still read (without it).
constexpr uint8_t kLearnerStateVersion = 2;
constexpr uint8_t kLearnerStateVersionWithoutLatest = 1;

Status Corrupt(std::string_view what) { return InternalError("corrupt " + std::string(what) + " state"); }

// A skill map's entry, by name or by id.
std::string_view SkillName(const std::pair<std::string, double>& value) { return value.first; }
double SkillP(const std::pair<std::string, double>& value) { return value.second; }
std::string_view SkillName(const SkillProbability& value) { return SkillIds::Name(value.skill); }
double SkillP(const SkillProbability& value) { return value.p; }

template <typename Values>
void PutSkillValues(std::string& out, const Values& values) {
  PutU64(out, values.size());
  for (const auto& value : values) {
    PutString(out, SkillName(value));
    PutDouble(out, SkillP(value));
  }
}

template <typename Values>
std::optional<double> MeanOfValues(const Values& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& value : values) sum += SkillP(value);
  return sum / static_cast<double>(values.size());
}

template <typename Values>
void AppendSkillValues(const Values& values, std::string& out) {
  out += '{';
  bool first = true;
  for (const auto& value : values) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, SkillName(value));
    out += ':';
    AppendJsonDouble(out, SkillP(value));
  }
  out += '}';
}

void SetSkillValue(std::pair<std::string, double>& value, std::string_view skill, double p) {
  value.first.assign(skill);
  value.second = p;
}
void SetSkillValue(SkillProbability& value, std::string_view skill, double p) {
  value.skill = SkillIds::Intern(skill);
  value.p = p;
}

// Reads a skill -> p map into `values` (in the stored order), or only checks it when `values`
// is null.
template <typename Values>
bool GetSkillValues(ByteReader& in, Values* values) {
  uint64_t n = 0;
  if (!in.Count(n, 12)) return false;
  if (values != nullptr) values->resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view skill;
    double p = 0;
    if (!in.String(skill) || !in.Double(p)) return false;
    if (values != nullptr) SetSkillValue((*values)[i], skill, p);
  }
  return true;
}

// The entry for `skill` in a set kept in name order, inserted with `initial` when missing. The
// sets are small (a learner's skills, a window's): a scan of ids, names compared only to insert.
double& SkillValue(SkillProbabilities& values, SkillId skill, double initial) {
  for (SkillProbability& value : values) {
    if (value.skill == skill) return value.p;
  }
  auto it = std::lower_bound(values.begin(), values.end(), skill,
                             [](const SkillProbability& value, SkillId s) {
                               return SkillIds::NameLess(value.skill, s);
                             });
  it = values.insert(it, SkillProbability{});
  it->skill = skill;
  it->p = initial;
  return it->p;
}

}  // namespace

void LearnerWindowState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(kWindowStateVersion));
  PutString(out, course_id);
  PutU64(out, events);
  PutU64(out, attempts);
  PutU64(out, known);
  PutU64(out, correct);
  PutU64(out, help_requests);
  PutU64(out, minutes.size());
  for (const uint32_t m : minutes) PutU32(out, m);
  PutSkillValues(out, mastery);
  PutU64(out, seen_event_ids.size());
  for (const uint64_t id : seen_event_ids) PutU64(out, id);
}

Status LearnerWindowState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  std::string_view course;
  uint64_t n = 0;
  if (!in.Byte(version) || version != kWindowStateVersion || !in.String(course) ||
      !in.U64(events) || !in.U64(attempts) || !in.U64(known) || !in.U64(correct) ||
      !in.U64(help_requests) || !in.Count(n, 4)) {
    return Corrupt("learner window");
  }
  course_id.assign(course);
  minutes.resize(n);
  for (uint32_t& m : minutes) in.U32(m);
  if (!GetSkillValues(in, &mastery) || !in.Count(n, 8)) return Corrupt("learner window");
  seen_event_ids.resize(n);
  for (uint64_t& id : seen_event_ids) in.U64(id);
  if (!in.done()) return Corrupt("learner window");
  return Status::Ok();
}

void LearnerState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(kLearnerStateVersion));
  PutI64(out, last_activity);
  PutString(out, last_cohort_id);
  out.push_back(inactivity_reported ? 1 : 0);
  PutSkillValues(out, bkt);
  PutU64(out, sessions.size());
  for (const SessionSpan& span : sessions) {
    PutI64(out, span.first);
    PutI64(out, span.last);
  }
  PutU64(out, pending.size());
  for (const PendingAttempt& attempt : pending) {
    PutU64(out, attempt.ref);
    PutI64(out, attempt.window_end);
    PutString(out, attempt.cohort_id);
    PutString(out, attempt.skill_id);
    out.push_back(attempt.joined ? 1 : 0);
  }
  if (latest.empty()) {
    PutI64(out, kNoTime);
  } else {
    out += latest;
  }
}

void LearnerState::SetLatest(const LearnerWindowRecord& record) {
  latest.clear();
  if (record.window_end == kNoTime) return;
  // One allocation of the exact size: appending would leave up to twice the bytes allocated,
  // for every learner.
  size_t size = 8 + 4 + record.cohort_id.size() + 4 + record.course_id.size() + 7 * 8 + 8;
  for (const auto& [skill, p] : record.mastery) size += 4 + skill.size() + 8;
  if (latest.capacity() > size + 32) latest = std::string();
  latest.reserve(size);
  PutI64(latest, record.window_end);
  PutString(latest, record.cohort_id);
  PutString(latest, record.course_id);
  PutU64(latest, record.events);
  PutU64(latest, record.attempts);
  PutU64(latest, record.known);
  PutU64(latest, record.correct);
  PutU64(latest, record.help_requests);
  PutU64(latest, record.active_minutes);
  PutI64(latest, record.sessions);
  PutSkillValues(latest, record.mastery);
}

namespace {

// Reads an encoded latest record (SetLatest's layout) into `r`: every field, or only the
// numbers when `with_text` is false (the strings and the mastery map are then only checked).
bool ReadLatest(ByteReader& in, LearnerWindowRecord& r, bool with_text) {
  if (!in.I64(r.window_end)) return false;
  if (r.window_end == kNoTime) return true;
  std::string_view cohort, course;
  if (!in.String(cohort) || !in.String(course) || !in.U64(r.events) || !in.U64(r.attempts) ||
      !in.U64(r.known) || !in.U64(r.correct) || !in.U64(r.help_requests) ||
      !in.U64(r.active_minutes) || !in.I64(r.sessions) ||
      !GetSkillValues(in, with_text ? &r.mastery : nullptr)) {
    return false;
  }
  if (with_text) {
    r.cohort_id.assign(cohort);
    r.course_id.assign(course);
  }
  return true;
}

}  // namespace

Status LearnerState::GetLatest(LearnerWindowRecord& record) const {
  record = LearnerWindowRecord{};
  if (latest.empty()) return Status::Ok();
  ByteReader in(latest);
  if (!ReadLatest(in, record, /*with_text=*/true) || !in.done()) {
    return Corrupt("learner latest record");
  }
  return Status::Ok();
}

Status LearnerState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  uint8_t reported = 0;
  std::string_view cohort;
  uint64_t n = 0;
  if (!in.Byte(version) ||
      (version != kLearnerStateVersion && version != kLearnerStateVersionWithoutLatest) ||
      !in.I64(last_activity) ||
      !in.String(cohort) || !in.Byte(reported) || !GetSkillValues(in, &bkt) || !in.Count(n, 16)) {
    return Corrupt("learner");
  }
  last_cohort_id.assign(cohort);
  inactivity_reported = reported != 0;
  sessions.resize(n);
  for (SessionSpan& span : sessions) {
    in.I64(span.first);
    in.I64(span.last);
  }
  if (!in.Count(n, 25)) return Corrupt("learner");
  pending.resize(n);
  for (PendingAttempt& attempt : pending) {
    std::string_view c, s;
    uint8_t joined = 0;
    if (!in.U64(attempt.ref) || !in.I64(attempt.window_end) || !in.String(c) || !in.String(s) ||
        !in.Byte(joined)) {
      return Corrupt("learner");
    }
    attempt.cohort_id.assign(c);
    attempt.skill_id.assign(s);
    attempt.joined = joined != 0;
  }
  latest.clear();
  if (version == kLearnerStateVersion) {
    // Checked without building its strings; kept as the bytes it is.
    const std::string_view record = in.rest();
    LearnerWindowRecord figures;
    if (!ReadLatest(in, figures, /*with_text=*/false)) return Corrupt("learner");
    if (figures.window_end != kNoTime) {
      latest.assign(record.substr(0, record.size() - in.rest().size()));
    }
  }
  if (!in.done()) return Corrupt("learner");
  armed_deadline = kNoTime;
  return Status::Ok();
}

void AppendWindowBounds(TimeWindow window, std::string& out) {
  out += R"(,"window_start":")";
  AppendIso8601Millis(window.start, out);
  out += R"(","window_end":")";
  AppendIso8601Millis(window.end, out);
  out += '"';
}

LearnerSignalsOperator::LearnerSignalsOperator(const SignalParams& params)
    : params_(params), windows_(params.window_size_ms, params.grace_ms) {}

bool LearnerSignalsOperator::Count(const CanonicalEvent& event, TimeWindow window,
                                   LearnerWindowState& state) const {
  const uint64_t id = StableHash64(event.event_id);
  auto it = std::lower_bound(state.seen_event_ids.begin(), state.seen_event_ids.end(), id);
  if (it != state.seen_event_ids.end() && *it == id) return false;
  state.seen_event_ids.insert(it, id);
  if (state.course_id.empty() && !event.course_id.empty()) state.course_id.assign(event.course_id);
  ++state.events;
  if (event.kind == EventKind::kHelp) ++state.help_requests;
  const auto minute = static_cast<uint32_t>(FloorDiv(event.event_time_ms, kMsPerMinute) -
                                            FloorDiv(window.start, kMsPerMinute));
  auto m = std::lower_bound(state.minutes.begin(), state.minutes.end(), minute);
  if (m == state.minutes.end() || *m != minute) state.minutes.insert(m, minute);
  return true;
}

void LearnerSignalsOperator::AddAttempt(Success success, LearnerWindowState& state) {
  ++state.attempts;
  AddOutcome(success, state);
}

void LearnerSignalsOperator::AddOutcome(Success success, LearnerWindowState& state) {
  if (success == Success::kUnknown) return;
  ++state.known;
  if (success == Success::kTrue) ++state.correct;
}

double LearnerSignalsOperator::BktUpdate(double p, bool correct) const {
  const double slip = params_.p_slip;
  const double guess = params_.p_guess;
  const double posterior = correct ? p * (1 - slip) / (p * (1 - slip) + (1 - p) * guess)
                                   : p * slip / (p * slip + (1 - p) * (1 - guess));
  return posterior + (1 - posterior) * params_.p_learn;
}

void LearnerSignalsOperator::Observe(std::string_view skill, bool correct, LearnerState& learner,
                                     LearnerWindowState& state) const {
  const SkillId id = SkillIds::Intern(skill);
  double& p = SkillValue(learner.bkt, id, params_.p_init);
  p = BktUpdate(p, correct);
  SkillValue(state.mastery, id, 0.0) = p;
}

void LearnerSignalsOperator::AddSessionTime(TimestampMs t, LearnerState& learner) const {
  auto& spans = learner.sessions;
  const TimestampMs gap = params_.session_gap_ms;
  // The first span starting after t; the one before it (if any) is the candidate to extend.
  auto next = std::upper_bound(spans.begin(), spans.end(), t,
                               [](TimestampMs v, const LearnerState::SessionSpan& s) { return v < s.first; });
  const bool has_prev = next != spans.begin();
  auto prev = has_prev ? std::prev(next) : spans.end();
  if (has_prev && t <= prev->last) return;  // inside a span
  const bool join_prev = has_prev && t - prev->last <= gap;
  const bool join_next = next != spans.end() && next->first - t <= gap;
  if (join_prev && join_next) {
    prev->last = next->last;
    spans.erase(next);
  } else if (join_prev) {
    prev->last = t;
  } else if (join_next) {
    next->first = t;
  } else {
    spans.insert(next, LearnerState::SessionSpan{t, t});
  }
}

int64_t LearnerSignalsOperator::SessionsStartingIn(const LearnerState& learner, TimeWindow window) {
  int64_t n = 0;
  for (const LearnerState::SessionSpan& span : learner.sessions) {
    if (span.first >= window.start && span.first < window.end) ++n;
  }
  return n;
}

void LearnerSignalsOperator::PruneSessions(TimestampMs bound, LearnerState& learner) const {
  // Spans are sorted and disjoint, so their last times are sorted too.
  auto& spans = learner.sessions;
  size_t n = 0;
  while (n < spans.size() && bound - spans[n].last > params_.session_gap_ms) ++n;
  spans.erase(spans.begin(), spans.begin() + static_cast<std::ptrdiff_t>(n));
}

void LearnerSignalsOperator::MakeRecord(std::string_view cohort_id, TimeWindow window,
                                        const LearnerWindowState& state, int64_t sessions,
                                        LearnerWindowRecord& out) const {
  out.window_end = window.end;
  out.cohort_id.assign(cohort_id);
  out.course_id.assign(state.course_id);
  out.events = state.events;
  out.attempts = state.attempts;
  out.known = state.known;
  out.correct = state.correct;
  out.help_requests = state.help_requests;
  out.active_minutes = state.minutes.size();
  out.sessions = sessions;
  out.mastery.resize(state.mastery.size());
  for (size_t i = 0; i < state.mastery.size(); ++i) {
    out.mastery[i].first.assign(SkillIds::Name(state.mastery[i].skill));
    out.mastery[i].second = state.mastery[i].p;
  }
}

LearnerWindowSummary LearnerSignalsOperator::Summarize(const LearnerWindowRecord& record) const {
  LearnerWindowSummary s;
  if (record.known > 0) {
    s.accuracy = static_cast<double>(record.correct) / static_cast<double>(record.known);
  }
  s.mean_mastery = MeanOf(record.mastery);
  s.struggling = record.attempts >= static_cast<uint64_t>(params_.min_attempts) &&
                 ((s.accuracy && *s.accuracy < params_.accuracy_threshold) ||
                  (s.mean_mastery && *s.mean_mastery < params_.mastery_threshold));
  return s;
}

void LearnerSignalsOperator::AppendLearnerRecord(std::string_view learner_id,
                                                 const LearnerWindowRecord& record,
                                                 const LearnerWindowSummary& summary,
                                                 std::string& out) const {
  out += R"({"kind":"learner_window","schema_version":1,"learner_id":)";
  AppendJsonString(out, learner_id);
  out += R"(,"course_id":)";
  if (record.course_id.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, record.course_id);
  }
  out += R"(,"cohort_id":)";
  AppendJsonString(out, record.cohort_id);
  AppendWindowBounds(TimeWindow{record.window_end - windows_.size_ms(), record.window_end}, out);
  out += R"(,"events":)";
  AppendJsonInt(out, static_cast<int64_t>(record.events));
  out += R"(,"attempts":)";
  AppendJsonInt(out, static_cast<int64_t>(record.attempts));
  out += R"(,"correct":)";
  AppendJsonInt(out, static_cast<int64_t>(record.correct));
  out += R"(,"accuracy":)";
  AppendJsonOptional(out, summary.accuracy);
  out += R"(,"help_requests":)";
  AppendJsonInt(out, static_cast<int64_t>(record.help_requests));
  out += R"(,"active_minutes":)";
  AppendJsonInt(out, static_cast<int64_t>(record.active_minutes));
  out += R"(,"sessions":)";
  AppendJsonInt(out, record.sessions);
  out += R"(,"mastery":)";
  AppendSkillMap(record.mastery, out);
  out += R"(,"mean_mastery":)";
  AppendJsonOptional(out, summary.mean_mastery);
  out += R"(,"struggling":)";
  out += summary.struggling ? "true" : "false";
  out += '}';
}

std::optional<double> MeanOf(const std::vector<std::pair<std::string, double>>& values) {
  return MeanOfValues(values);
}
std::optional<double> MeanOf(const SkillProbabilities& values) { return MeanOfValues(values); }

void AppendSkillMap(const std::vector<std::pair<std::string, double>>& values, std::string& out) {
  AppendSkillValues(values, out);
}
void AppendSkillMap(const SkillProbabilities& values, std::string& out) {
  AppendSkillValues(values, out);
}

void LearnerSignalsOperator::AppendInactiveRecord(std::string_view learner_id,
                                                  std::string_view cohort_id,
                                                  TimestampMs last_event_time, std::string& out) {
  out += R"({"kind":"inactive","schema_version":1,"learner_id":)";
  AppendJsonString(out, learner_id);
  out += R"(,"cohort_id":)";
  AppendJsonString(out, cohort_id);
  out += R"(,"last_event_time":")";
  AppendIso8601Millis(last_event_time, out);
  out += R"("})";
}

}  // namespace learnflow
