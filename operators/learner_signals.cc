#include "operators/learner_signals.h"

#include <algorithm>

#include "core/check.h"
#include "core/codec.h"
#include "core/json_writer.h"
#include "core/prefetch.h"

namespace learnflow {
namespace {

// Version 3 writes counts, lengths and counters as varints, skill names front-coded, a
// learner's session ends as lengths, and the latest record's skills as positions in the
// learner's BKT set; versions 2 (fixed widths) and 1 (a learner without the latest record) are
// still read. A learner window of version 4 is laid out as version 3, with its event ids hashed
// by EventIdHash64 instead of StableHash64; a window read from an older version keeps hashing
// with StableHash64 (and is written as version 3) until it is final, so that its duplicates are
// still recognised.
constexpr uint8_t kWindowStateVersion = 4;
constexpr uint8_t kWindowStateVersionFnvIds = 3;
constexpr uint8_t kWindowStateVersionFixed = 2;
constexpr uint8_t kLearnerStateVersion = 3;
constexpr uint8_t kLearnerStateVersionFixed = 2;
constexpr uint8_t kLearnerStateVersionWithoutLatest = 1;

Status Corrupt(std::string_view what) { return InternalError("corrupt " + std::string(what) + " state"); }

// Reads the fields that version 3 writes as varints and older versions with fixed widths.
class FieldReader {
 public:
  FieldReader(ByteReader& in, bool varint) : in_(in), varint_(varint) {}

  bool Number(uint64_t& v) { return varint_ ? in_.Varint(v) : in_.U64(v); }
  bool Text(std::string_view& s) { return varint_ ? in_.VarString(s) : in_.String(s); }
  // A count of items of at least `min_item_bytes` each in version 3 (`fixed_item_bytes` before).
  bool Count(uint64_t& n, size_t min_item_bytes, size_t fixed_item_bytes) {
    return varint_ ? in_.VarCount(n, min_item_bytes) : in_.Count(n, fixed_item_bytes);
  }
  ByteReader& in() { return in_; }
  bool varint() const { return varint_; }

 private:
  ByteReader& in_;
  bool varint_;
};

// A skill map's entry, by name or by id.
std::string_view SkillName(const std::pair<std::string, double>& value) { return value.first; }
double SkillP(const std::pair<std::string, double>& value) { return value.second; }
std::string_view SkillName(const SkillProbability& value) { return SkillIds::Name(value.skill); }
double SkillP(const SkillProbability& value) { return value.p; }

// Each name after the length of the prefix it shares with the one before (front coding): the
// skills of a source are IRIs that share most of their bytes, and a set is in name order.
void PutSkillValues(std::string& out, const SkillProbabilities& values) {
  PutVarint(out, values.size());
  std::string_view previous;
  for (const SkillProbability& value : values) {
    const std::string_view name = SkillIds::Name(value.skill);
    const size_t shared = SharedPrefixLength(name, previous);
    PutVarint(out, shared);
    PutVarString(out, name.substr(shared));
    PutDouble(out, value.p);
    previous = name;
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
bool GetSkillValues(FieldReader& in, Values* values) {
  uint64_t n = 0;
  if (!in.Count(n, 10, 12)) return false;
  if (values != nullptr) values->resize(n);
  thread_local std::string name;  // version 3: the previous name, then this one
  name.clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view skill;
    double p = 0;
    if (in.varint()) {
      // The shared prefix must be the longest (one encoding per value).
      uint64_t shared = 0;
      std::string_view suffix;
      if (!in.in().Varint(shared) || shared > name.size() || !in.Text(suffix) ||
          (shared < name.size() && !suffix.empty() && suffix[0] == name[shared])) {
        return false;
      }
      name.resize(shared);
      name.append(suffix);
      skill = name;
    } else if (!in.Text(skill)) {
      return false;
    }
    if (!in.in().Double(p)) return false;
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

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// The latest record's fields after its mastery map, identical in memory and persisted: cohort,
// course, then events, attempts, known, correct, help requests, active minutes and sessions.
constexpr int kLatestCounters = 7;

// Reads (checks) those fields; `r`, when not null, receives them.
bool ReadLatestTail(ByteReader& in, LearnerWindowRecord* r) {
  std::string_view cohort, course;
  uint64_t counters[kLatestCounters];
  if (!in.VarString(cohort) || !in.VarString(course)) return false;
  for (uint64_t& c : counters) {
    if (!in.Varint(c)) return false;
  }
  if (r != nullptr) {
    r->cohort_id.assign(cohort);
    r->course_id.assign(course);
    r->events = counters[0];
    r->attempts = counters[1];
    r->known = counters[2];
    r->correct = counters[3];
    r->help_requests = counters[4];
    r->active_minutes = counters[5];
    r->sessions = static_cast<int64_t>(counters[6]);
  }
  return true;
}

// Reads a latest record as version 2 wrote it (after the pending attempts).
bool ReadLatestFixed(ByteReader& in, LearnerWindowRecord& r) {
  if (!in.I64(r.window_end)) return false;
  if (r.window_end == kNoTime) return true;
  std::string_view cohort, course;
  if (!in.String(cohort) || !in.String(course) || !in.U64(r.events) || !in.U64(r.attempts) ||
      !in.U64(r.known) || !in.U64(r.correct) || !in.U64(r.help_requests) ||
      !in.U64(r.active_minutes) || !in.I64(r.sessions)) {
    return false;
  }
  r.cohort_id.assign(cohort);
  r.course_id.assign(course);
  FieldReader fields(in, /*varint=*/false);
  return GetSkillValues(fields, &r.mastery);
}

// The first bytes of a set's items, when they are not inline (its owner's lines are the
// caller's).
template <typename Items>
void PrefetchItems(const Items& items) {
  constexpr size_t kAtMost = 2 * kCacheLineBytes;
  PrefetchRange(items.data(), std::min(items.size() * sizeof(items[0]), kAtMost));
}

}  // namespace

void LearnerWindowState::PrefetchBlocks() const {
  if (minutes.on_heap()) PrefetchItems(minutes);
  if (mastery.on_heap()) PrefetchItems(mastery);
  if (seen_event_ids.on_heap()) PrefetchItems(seen_event_ids);
}

void LearnerState::PrefetchBlocks() const {
  if (bkt.on_heap()) PrefetchItems(bkt);
  PrefetchItems(sessions);
  PrefetchItems(pending);
  PrefetchItems(latest);
}

void LearnerWindowState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(fnv_event_ids ? kWindowStateVersionFnvIds : kWindowStateVersion));
  PutVarString(out, course_id);
  PutVarint(out, events);
  PutVarint(out, attempts);
  PutVarint(out, known);
  PutVarint(out, correct);
  PutVarint(out, help_requests);
  PutVarint(out, minutes.size());
  for (const uint32_t m : minutes) PutVarint(out, m);
  PutSkillValues(out, mastery);
  PutVarint(out, seen_event_ids.size());
  for (const uint64_t id : seen_event_ids) PutU64(out, id);
}

Status LearnerWindowState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  if (!in.Byte(version) || (version != kWindowStateVersion && version != kWindowStateVersionFnvIds &&
                            version != kWindowStateVersionFixed)) {
    return Corrupt("learner window");
  }
  const bool varint = version != kWindowStateVersionFixed;
  fnv_event_ids = version != kWindowStateVersion;
  FieldReader fields(in, varint);
  std::string_view course;
  uint64_t n = 0;
  if (!fields.Text(course) || !fields.Number(events) || !fields.Number(attempts) ||
      !fields.Number(known) || !fields.Number(correct) || !fields.Number(help_requests) ||
      !fields.Count(n, 1, 4)) {
    return Corrupt("learner window");
  }
  course_id.assign(course);
  minutes.resize(n);
  for (uint32_t& m : minutes) {
    if (varint) {
      uint64_t minute = 0;
      if (!in.Varint(minute) || minute > UINT32_MAX) return Corrupt("learner window");
      m = static_cast<uint32_t>(minute);
    } else if (!in.U32(m)) {
      return Corrupt("learner window");
    }
  }
  if (!GetSkillValues(fields, &mastery) || !fields.Count(n, 8, 8)) return Corrupt("learner window");
  seen_event_ids.resize(n);
  for (uint64_t& id : seen_event_ids) in.U64(id);
  if (!in.done()) return Corrupt("learner window");
  return Status::Ok();
}

void LearnerState::Encode(std::string& out) const {
  out.push_back(static_cast<char>(kLearnerStateVersion));
  PutI64(out, last_activity);
  PutVarString(out, last_cohort_id);
  out.push_back(inactivity_reported ? 1 : 0);
  PutSkillValues(out, bkt);
  PutVarint(out, sessions.size());
  for (const SessionSpan& span : sessions) {
    PutI64(out, span.first);
    // Unsigned: wraps instead of overflowing for any span a corrupt older value held.
    PutVarint(out, static_cast<uint64_t>(span.last) - static_cast<uint64_t>(span.first));
  }
  PutVarint(out, pending.size());
  for (const PendingAttempt& attempt : pending) {
    PutU64(out, attempt.ref);
    PutI64(out, attempt.window_end);
    PutVarString(out, attempt.cohort_id);
    PutVarString(out, attempt.skill_id);
    out.push_back(attempt.joined ? 1 : 0);
  }
  EncodeLatest(out);
}

// In memory, `latest` is: window end (8 bytes), the mastery map (a varint count, then per skill
// its id in 4 bytes and p in 8), then the tail (ReadLatestTail). Persisted, each skill is its
// position in `bkt` as a varint instead (a window's skills are the learner's), or `bkt.size()`
// followed by the name when it is not there. No latest record: the window end kNoTime alone.
void LearnerState::EncodeLatest(std::string& out) const {
  if (latest.empty()) {
    PutI64(out, kNoTime);
    return;
  }
  ByteReader in(latest);
  int64_t window_end = 0;
  uint64_t n = 0;
  in.I64(window_end);
  in.Varint(n);
  PutI64(out, window_end);
  PutVarint(out, n);
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t skill = 0;
    double p = 0;
    in.U32(skill);
    in.Double(p);
    size_t at = 0;
    while (at < bkt.size() && bkt[at].skill != skill) ++at;
    PutVarint(out, at);
    if (at == bkt.size()) PutVarString(out, SkillIds::Name(skill));
    PutDouble(out, p);
  }
  out += in.rest();
}

bool LearnerState::DecodeLatest(ByteReader& in) {
  int64_t window_end = 0;
  uint64_t n = 0;
  if (!in.I64(window_end)) return false;
  if (window_end == kNoTime) return true;
  if (!in.VarCount(n, 9)) return false;
  // Written straight into `latest`, in the memory form. A persisted skill that is a position
  // below 128 in `bkt` (the usual case) takes 9 bytes, so the size reserved is then exact; one
  // kept by name leaves it larger.
  latest.reserve(8 + VarintSize(n) + 12 * n + (in.rest().size() - 9 * n));
  PutI64(latest, window_end);
  PutVarint(latest, n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t at = 0;
    double p = 0;
    SkillId skill = 0;
    if (!in.Varint(at) || at > bkt.size()) return false;
    if (at < bkt.size()) {
      skill = bkt[at].skill;
    } else {
      std::string_view name;
      if (!in.VarString(name)) return false;
      skill = SkillIds::Intern(name);
    }
    if (!in.Double(p)) return false;
    PutU32(latest, skill);
    PutDouble(latest, p);
  }
  const std::string_view tail = in.rest();
  if (!ReadLatestTail(in, nullptr)) return false;
  latest.append(tail.substr(0, tail.size() - in.rest().size()));
  return true;
}

void LearnerState::SetLatest(const LearnerWindowRecord& record, const SkillProbabilities* ids) {
  LF_CHECK(ids == nullptr || ids->size() == record.mastery.size(),
           "SetLatest: one skill id per mastery entry");
  latest.clear();
  if (record.window_end == kNoTime) return;
  const uint64_t counters[kLatestCounters] = {
      record.events,        record.attempts,       record.known,
      record.correct,       record.help_requests,  record.active_minutes,
      static_cast<uint64_t>(record.sessions)};
  // One allocation of the exact size: appending would leave up to twice the bytes allocated,
  // for every learner.
  size_t size = 8 + VarintSize(record.mastery.size()) + record.mastery.size() * 12 +
                VarintSize(record.cohort_id.size()) + record.cohort_id.size() +
                VarintSize(record.course_id.size()) + record.course_id.size();
  for (const uint64_t c : counters) size += VarintSize(c);
  if (latest.capacity() > size + 32) latest = std::string();
  latest.reserve(size);
  PutI64(latest, record.window_end);
  PutVarint(latest, record.mastery.size());
  for (size_t i = 0; i < record.mastery.size(); ++i) {
    const auto& [skill, p] = record.mastery[i];
    PutU32(latest, ids != nullptr ? (*ids)[i].skill : SkillIds::Intern(skill));
    PutDouble(latest, p);
  }
  PutVarString(latest, record.cohort_id);
  PutVarString(latest, record.course_id);
  for (const uint64_t c : counters) PutVarint(latest, c);
}

Status LearnerState::GetLatest(LearnerWindowRecord& record) const {
  record = LearnerWindowRecord{};
  if (latest.empty()) return Status::Ok();
  ByteReader in(latest);
  uint64_t n = 0;
  if (!in.I64(record.window_end) || !in.VarCount(n, 12)) return Corrupt("learner latest record");
  record.mastery.resize(n);
  for (auto& [skill, p] : record.mastery) {
    uint32_t id = 0;
    in.U32(id);
    in.Double(p);
    skill.assign(SkillIds::Name(id));
  }
  if (!ReadLatestTail(in, &record) || !in.done()) return Corrupt("learner latest record");
  return Status::Ok();
}

Status LearnerState::Decode(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t version = 0;
  if (!in.Byte(version) ||
      (version != kLearnerStateVersion && version != kLearnerStateVersionFixed &&
       version != kLearnerStateVersionWithoutLatest)) {
    return Corrupt("learner");
  }
  const bool varint = version == kLearnerStateVersion;
  FieldReader fields(in, varint);
  uint8_t reported = 0;
  std::string_view cohort;
  uint64_t n = 0;
  if (!in.I64(last_activity) || !fields.Text(cohort) || !in.Byte(reported) ||
      !GetSkillValues(fields, &bkt) || !fields.Count(n, 9, 16)) {
    return Corrupt("learner");
  }
  last_cohort_id.assign(cohort);
  inactivity_reported = reported != 0;
  sessions.resize(n);
  for (SessionSpan& span : sessions) {
    uint64_t length = 0;
    if (!in.I64(span.first)) return Corrupt("learner");
    if (varint) {
      if (!in.Varint(length)) return Corrupt("learner");
      span.last = static_cast<TimestampMs>(static_cast<uint64_t>(span.first) + length);
    } else if (!in.I64(span.last)) {
      return Corrupt("learner");
    }
  }
  if (!fields.Count(n, 19, 25)) return Corrupt("learner");
  pending.resize(n);
  for (PendingAttempt& attempt : pending) {
    std::string_view c, s;
    uint8_t joined = 0;
    if (!in.U64(attempt.ref) || !in.I64(attempt.window_end) || !fields.Text(c) ||
        !fields.Text(s) || !in.Byte(joined)) {
      return Corrupt("learner");
    }
    attempt.cohort_id.assign(c);
    attempt.skill_id.assign(s);
    attempt.joined = joined != 0;
  }
  latest.clear();
  if (varint) {
    if (!DecodeLatest(in)) {
      latest.clear();  // no part of a corrupt record
      return Corrupt("learner");
    }
  } else if (version == kLearnerStateVersionFixed) {
    LearnerWindowRecord record;
    if (!ReadLatestFixed(in, record)) return Corrupt("learner");
    SetLatest(record);
  }
  if (!in.done()) return Corrupt("learner");
  armed_deadline = kNoTime;
  return Status::Ok();
}

void AppendWindowBounds(TimeWindow window, std::string& out) {
  // A watermark step makes one window final for many keys, so the records of a window come in
  // runs: its bounds are formatted once per run (per thread, as the operator is shared).
  struct Cached {
    TimeWindow window{kNoTime, kNoTime};
    std::string text;
  };
  thread_local Cached cached;
  if (cached.window != window) {
    cached.window = window;
    cached.text.assign(R"(,"window_start":")");
    AppendIso8601Millis(window.start, cached.text);
    cached.text += R"(","window_end":")";
    AppendIso8601Millis(window.end, cached.text);
    cached.text += '"';
  }
  out += cached.text;
}

LearnerSignalsOperator::LearnerSignalsOperator(const SignalParams& params)
    : params_(params), windows_(params.window_size_ms, params.grace_ms) {}

bool LearnerSignalsOperator::Count(const CanonicalEvent& event, TimeWindow window,
                                   LearnerWindowState& state) const {
  const uint64_t id =
      state.fnv_event_ids ? StableHash64(event.event_id) : EventIdHash64(event.event_id);
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
