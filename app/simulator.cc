#include "app/simulator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "core/check.h"
#include "core/json_writer.h"

namespace learnflow {
namespace {

constexpr int kSkillsPerCourse = 5;
constexpr int kItemsPerSkill = 4;
constexpr int kPagesPerSkill = 3;
constexpr int64_t kMaxLearners = 10'000'000;
constexpr int64_t kMaxCohorts = 10'000;
constexpr TimestampMs kMaxStartMs = 253402300799999;  // 9999-12-31T23:59:59.999Z
// Mean gap between two events of one learner's session ("a few minutes apart" in a class is
// closer to 1-2 minutes); it sets how many sessions run at once.
constexpr double kSessionSpacingMs = 90.0 * kMsPerSecond;
constexpr TimestampMs kMinIdleMs = 35 * kMsPerMinute;  // > windows.session_gap_ms (30 min)
constexpr TimestampMs kMaxExtraIdleMs = 20 * kMsPerHour;

constexpr std::string_view kBase = "https://lms.example.org";
constexpr std::string_view kAdlVerbs = "http://adlnet.gov/expapi/verbs/";
constexpr std::string_view kLoggedOutVerb = "https://w3id.org/xapi/adl/verbs/logged-out";
constexpr std::string_view kSkillExtension = "https://learnflow.dev/xapi/skill";
constexpr std::string_view kCohortExtension = "https://learnflow.dev/xapi/cohort";
constexpr std::string_view kCaliperContext = "http://purl.imsglobal.org/ctx/caliper/v1p2";

// Relative activity per UTC hour of the day: quiet nights, busy school hours, homework evenings.
constexpr double kHourWeight[24] = {0.08, 0.05, 0.04, 0.04, 0.05, 0.10, 0.25, 0.50,
                                    0.90, 1.00, 1.00, 1.00, 0.80, 0.95, 1.00, 1.00,
                                    0.90, 0.80, 0.85, 0.90, 0.85, 0.60, 0.35, 0.15};

enum class Format : uint8_t { kXapi, kCaliper, kMoodle, kMixed };

constexpr std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kXapi:
      return "xapi";
    case Format::kCaliper:
      return "caliper";
    case Format::kMoodle:
      return "moodle";
    case Format::kMixed:
      return "mixed";
  }
  return "xapi";
}

std::optional<Format> ParseFormat(std::string_view name) {
  for (Format f : {Format::kXapi, Format::kCaliper, Format::kMoodle, Format::kMixed}) {
    if (FormatName(f) == name) return f;
  }
  return std::nullopt;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t Hash(uint64_t a, uint64_t b) {
  uint64_t state = a ^ (b * 0xD6E8FEB86659FD93ULL);
  return SplitMix64(state);
}

double UnitFromBits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// xoshiro256** (Blackman and Vigna), seeded through splitmix64: fast, and the same sequence on
// every platform, unlike the std distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return UnitFromBits(Next()); }  // [0, 1)
  // [0, n). REQUIRES: n > 0.
  int64_t Below(int64_t n) {
    return std::min<int64_t>(n - 1, static_cast<int64_t>(Uniform() * static_cast<double>(n)));
  }
  bool Chance(double p) { return Uniform() < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Appends JSON without a DOM: commas are tracked per nesting level.
class Json {
 public:
  // `joined` is a scratch buffer for Str2(), reused across messages.
  Json(std::string& out, std::string& joined) : out_(out), joined_(joined) {}

  Json& Open() { return Begin('{'); }
  Json& Close() { return End('}'); }
  Json& OpenArray() { return Begin('['); }
  Json& CloseArray() { return End(']'); }
  Json& Key(std::string_view key) {
    Comma();
    AppendJsonString(out_, key);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  Json& Str(std::string_view value) {
    Comma();
    AppendJsonString(out_, value);
    return *this;
  }
  // The concatenation a + b as one string, e.g. Str2(course, "/home").
  Json& Str2(std::string_view a, std::string_view b) {
    joined_.assign(a);
    joined_.append(b);
    return Str(joined_);
  }
  Json& Int(int64_t value) {
    Comma();
    AppendJsonInt(out_, value);
    return *this;
  }
  Json& Num(double value) {
    Comma();
    AppendJsonDouble(out_, value);
    return *this;
  }
  Json& Bool(bool value) {
    Comma();
    out_ += value ? "true" : "false";
    return *this;
  }
  Json& Null() {
    Comma();
    out_ += "null";
    return *this;
  }
  Json& Time(TimestampMs ms) {
    Comma();
    out_.push_back('"');
    AppendIso8601Millis(ms, out_);
    out_.push_back('"');
    return *this;
  }

 private:
  Json& Begin(char c) {
    Comma();
    out_.push_back(c);
    LF_CHECK(depth_ + 1 < kMaxDepth, "JSON nesting too deep");
    first_[++depth_] = true;
    return *this;
  }
  Json& End(char c) {
    out_.push_back(c);
    --depth_;
    return *this;
  }
  void Comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_[depth_]) out_.push_back(',');
    first_[depth_] = false;
  }

  static constexpr int kMaxDepth = 16;
  std::string& out_;
  std::string& joined_;
  bool first_[kMaxDepth] = {true};
  int depth_ = 0;
  bool after_key_ = false;
};

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

void AppendPadded(std::string& out, int64_t value, int width) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  for (int pad = width - static_cast<int>(result.ptr - buffer); pad > 0; --pad) out.push_back('0');
  out.append(buffer, result.ptr);
}

void AppendUuid(Rng& rng, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t hi = rng.Next();
  uint64_t lo = rng.Next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                         // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    const uint64_t word = i < 16 ? hi : lo;
    out.push_back(kHex[(word >> (60 - 4 * (i % 16))) & 0xF]);
  }
}

// Per-learner parameters, derived from (seed, learner) so nothing needs storing.
struct Profile {
  double ability;   // 0..1
  double p_known0;  // a skill is already known at the start
  double p_learn;   // unknown -> known after an attempt
  double p_forget;  // known -> unknown after an attempt
  double p_slip;
  double p_guess;
  double help_rate;
};

Profile ProfileOf(uint64_t seed, int64_t learner, bool struggling_cohort) {
  const uint64_t h = Hash(seed ^ 0x5EED5EED5EED5EEDULL, static_cast<uint64_t>(learner));
  const double u = UnitFromBits(h);
  const double v = UnitFromBits(Hash(h, 1));
  double ability;
  if (struggling_cohort) {
    ability = 0.02 + 0.23 * u;
  } else if (v < 0.08) {
    ability = 0.05 + 0.25 * u;  // a weak learner in an ordinary cohort
  } else {
    ability = 0.45 + 0.55 * u;
  }
  Profile p;
  p.ability = ability;
  p.p_known0 = 0.05 + 0.75 * ability;
  p.p_learn = 0.01 + 0.30 * ability * std::sqrt(ability);
  p.p_forget = 0.12 * (1 - ability) * (1 - ability);
  p.p_slip = 0.05 + 0.10 * (1 - ability);
  p.p_guess = 0.2;
  p.help_rate = 0.03 + 0.12 * (1 - ability);
  return p;
}

enum class Action : uint8_t { kStart, kView, kAttempt, kHelp, kComplete, kEnd };

}  // namespace

Status ValidateSimulatorOptions(const SimulatorOptions& o) {
  const auto bad = [](std::string_view option, const std::string& problem) {
    return InvalidArgumentError("simulator: " + std::string(option) + ": " + problem);
  };
  if (o.learners < 1 || o.learners > kMaxLearners) {
    return bad("learners", "expected 1 .. " + std::to_string(kMaxLearners) + ", got " +
                               std::to_string(o.learners));
  }
  if (o.events < 0)
    return bad("events", "expected >= 0 (0 = unbounded), got " + std::to_string(o.events));
  if (!ParseFormat(o.format)) {
    return bad("format", "expected xapi, caliper, moodle or mixed, got \"" + o.format + "\"");
  }
  if (o.cohorts < 1 || o.cohorts > std::min(o.learners, kMaxCohorts)) {
    return bad("cohorts", "expected 1 .. " + std::to_string(std::min(o.learners, kMaxCohorts)) +
                              " (at most one per learner), got " + std::to_string(o.cohorts));
  }
  if (o.start_ms < 0 || o.start_ms > kMaxStartMs) {
    return bad("start_ms",
               "expected a time between 1970 and 9999, got " + std::to_string(o.start_ms));
  }
  if (!std::isfinite(o.simulated_ms_per_event) || o.simulated_ms_per_event <= 0 ||
      o.simulated_ms_per_event > static_cast<double>(kMsPerDay)) {
    return bad("simulated_ms_per_event", "expected a number > 0 and <= 86400000");
  }
  if (o.max_jitter_ms < 0 || o.max_jitter_ms > kMsPerDay) {
    return bad("max_jitter_ms", "expected 0 .. 86400000, got " + std::to_string(o.max_jitter_ms));
  }
  return Status::Ok();
}

// Names and ids of the simulated world, shared by the generator and DecoderSettingsFor().
namespace {

void AppendCohortName(std::string& out, int64_t cohort) {  // cohort is 0-based
  out += "cohort-";
  AppendPadded(out, cohort + 1, 2);
}
void AppendCourseIri(std::string& out, int64_t cohort) {
  out += kBase;
  out += "/courses/course-";
  AppendPadded(out, cohort + 1, 2);
}
void AppendSkillIri(std::string& out, int64_t cohort, int skill) {
  out += kBase;
  out += "/skills/course-";
  AppendPadded(out, cohort + 1, 2);
  out += "/skill-";
  AppendInt(out, skill + 1);
}
int64_t MoodleCourseId(int64_t cohort) { return 101 + cohort; }
int64_t MoodleQuizCmid(int64_t cohort, int skill) { return 1000 + (cohort + 1) * 100 + skill * 10; }
int64_t MoodlePageCmid(int64_t cohort, int skill, int page) {
  return MoodleQuizCmid(cohort, skill) + 1 + page;
}
int64_t MoodleUserId(int64_t learner) { return 101 + learner; }  // learner is 0-based

}  // namespace

SimulatorDecoderSettings DecoderSettingsFor(const SimulatorOptions& options) {
  SimulatorDecoderSettings settings;
  settings.caliper_help_tools.emplace_back(kHintToolId);
  for (int64_t cohort = 0; cohort < options.cohorts; ++cohort) {
    std::string name;
    AppendCohortName(name, cohort);
    settings.moodle_cohort_by_course[std::to_string(MoodleCourseId(cohort))] = name;
    for (int skill = 0; skill < kSkillsPerCourse; ++skill) {
      std::string iri;
      AppendSkillIri(iri, cohort, skill);
      settings.moodle_skill_by_item[std::to_string(MoodleQuizCmid(cohort, skill))] = iri;
      for (int page = 0; page < kPagesPerSkill; ++page) {
        settings.moodle_skill_by_item[std::to_string(MoodlePageCmid(cohort, skill, page))] = iri;
      }
    }
  }
  return settings;
}

class Simulator::Impl {
 public:
  explicit Impl(SimulatorOptions options)
      : options_(std::move(options)),
        format_(*ParseFormat(options_.format)),
        rng_(options_.seed),
        learners_(static_cast<size_t>(options_.learners)),
        nominal_ms_(static_cast<double>(options_.start_ms)),
        max_event_ms_(std::numeric_limits<TimestampMs>::min()) {
    double sum = 0;
    for (double w : kHourWeight) sum += w;
    mean_weight_ = sum / 24.0;
    // Moodle row ids differ per seed, so runs with different seeds do not share event ids.
    moodle_row_id_ = 1 + static_cast<int64_t>(options_.seed % 1000) * 10'000'000;
  }

  bool Next(SimulatedMessage& out) {
    if (options_.events > 0 && produced_ >= options_.events) return false;
    AdvanceClock();
    if (pending_grade_ >= 0) {
      const size_t index = static_cast<size_t>(pending_grade_);
      pending_grade_ = -1;
      EmitGrade(active_[index], out);
      FinishStep(index);
    } else {
      const size_t index = PickSession();
      Act(index, out);
      FinishStep(index);
    }
    ++produced_;
    return true;
  }

  int64_t produced() const { return produced_; }

 private:
  struct LearnerState {
    TimestampMs last_ms = std::numeric_limits<TimestampMs>::min();  // latest event time
    int32_t idle_until_min = 0;  // minutes after start_ms before a new session starts
    uint8_t known = 0;           // bit s: skill s is known
    bool initialized = false;
    bool in_session = false;
    uint8_t next_skill = 0;
  };
  struct Session {
    int64_t learner = 0;
    int32_t events_left = 0;
    int8_t skill = 0;
    int8_t item = 0;
    bool started = false;
    bool explicit_end = true;
    bool last_failed = false;
    uint8_t successes = 0;
    TimestampMs started_ms = 0;
    uint64_t id = 0;
    // Caliper: the attempt waiting for its GradeEvent.
    bool grade_success = false;
    int8_t grade_raw = 0;
    int8_t grade_max = 0;
    int64_t attempt_no = 0;
  };

  int64_t CohortOf(int64_t learner) const { return learner % options_.cohorts; }

  Format FormatOf(int64_t learner) const {
    if (format_ != Format::kMixed) return format_;
    constexpr Format kRotation[] = {Format::kXapi, Format::kCaliper, Format::kMoodle};
    return kRotation[learner % 3];  // learner n = index + 1: n % 3 == 1 -> xapi
  }

  double HourWeight() const {
    if (!options_.daily_rhythm) return mean_weight_;
    const int64_t hour = FloorDiv(static_cast<int64_t>(nominal_ms_), kMsPerHour) % 24;
    return kHourWeight[hour];
  }

  // Mean event-time advance per message at the current time of day.
  double ExpectedStepMs() const {
    return options_.simulated_ms_per_event * mean_weight_ / HourWeight();
  }

  void AdvanceClock() {
    if (produced_ == 0) return;  // the first message is at start_ms
    nominal_ms_ += ExpectedStepMs() * (0.5 + rng_.Uniform());
  }

  // The cohort holding a class now (weekdays 09:00-17:00 UTC), or -1.
  int64_t LessonCohort() const {
    const int64_t now = static_cast<int64_t>(nominal_ms_);
    const int64_t day = FloorDiv(now, kMsPerDay);
    const int64_t weekday = (day + 3) % 7;  // 0 = Monday (1970-01-01 was a Thursday)
    const int64_t hour = FloorDiv(now, kMsPerHour) % 24;
    if (weekday >= 5 || hour < 9 || hour >= 17) return -1;
    return (hour - 9 + 8 * day) % options_.cohorts;
  }

  int32_t NowMinutes() const {
    return static_cast<int32_t>((static_cast<int64_t>(nominal_ms_) - options_.start_ms) /
                                kMsPerMinute);
  }

  // Continues a running session or starts one; returns its index in active_.
  size_t PickSession() {
    const int64_t lesson = LessonCohort();
    double target = kSessionSpacingMs / ExpectedStepMs();
    if (lesson >= 0) target *= 1.5;
    const double max_active = std::max(1.0, static_cast<double>(options_.learners) * 0.6);
    target = std::clamp(target, 1.0, max_active);
    const bool start =
        active_.empty() || (static_cast<double>(active_.size()) < target && rng_.Chance(0.6));
    if (start) {
      const int64_t learner = ChooseIdleLearner(lesson);
      if (learner >= 0) return StartSession(learner);
    }
    return static_cast<size_t>(rng_.Below(static_cast<int64_t>(active_.size())));
  }

  // A learner not in a session, preferring class members during a class and learners whose
  // idle time is over; -1 when every learner is in a session.
  int64_t ChooseIdleLearner(int64_t lesson) {
    const int64_t n = options_.learners;
    const int32_t now_min = NowMinutes();
    for (int attempt = 0; attempt < 16; ++attempt) {
      int64_t learner;
      const bool in_class = lesson >= 0 && rng_.Chance(0.7);
      if (in_class) {
        const int64_t members = (n - lesson + options_.cohorts - 1) / options_.cohorts;
        learner = lesson + options_.cohorts * rng_.Below(members);
      } else {
        learner = rng_.Below(n);
      }
      const LearnerState& state = learners_[static_cast<size_t>(learner)];
      if (state.in_session) continue;
      if (in_class || state.idle_until_min <= now_min) return learner;
    }
    // Dense settings (many events per learner-hour): anyone not in a session will do.
    if (static_cast<int64_t>(active_.size()) >= n) return -1;
    int64_t learner = rng_.Below(n);
    while (learners_[static_cast<size_t>(learner)].in_session) learner = (learner + 1) % n;
    return learner;
  }

  size_t StartSession(int64_t learner) {
    LearnerState& state = learners_[static_cast<size_t>(learner)];
    if (!state.initialized) {
      const Profile p = ProfileOf(options_.seed, learner, CohortOf(learner) == 0);
      for (int skill = 0; skill < kSkillsPerCourse; ++skill) {
        if (rng_.Chance(p.p_known0)) state.known |= static_cast<uint8_t>(1u << skill);
      }
      state.next_skill = static_cast<uint8_t>(rng_.Below(kSkillsPerCourse));
      state.initialized = true;
    }
    state.in_session = true;
    Session session;
    session.learner = learner;
    session.events_left = static_cast<int32_t>(8 + rng_.Below(23));
    const Format format = FormatOf(learner);
    session.explicit_end = rng_.Chance(format == Format::kMoodle ? 0.6 : 0.85);
    session.skill =
        static_cast<int8_t>(rng_.Chance(0.3) ? rng_.Below(kSkillsPerCourse) : state.next_skill);
    session.item = static_cast<int8_t>(rng_.Below(kItemsPerSkill));
    session.id = rng_.Next();
    active_.push_back(session);
    return active_.size() - 1;
  }

  // After a message: ends the session when it has no events left.
  void FinishStep(size_t index) {
    Session& session = active_[index];
    if (session.events_left > 0 || pending_grade_ >= 0) return;
    LearnerState& state = learners_[static_cast<size_t>(session.learner)];
    state.in_session = false;
    const double u = rng_.Uniform();
    const TimestampMs idle = kMinIdleMs + static_cast<TimestampMs>(u * u * kMaxExtraIdleMs);
    state.idle_until_min = NowMinutes() + static_cast<int32_t>(idle / kMsPerMinute);
    active_[index] = active_.back();
    active_.pop_back();
  }

  // Event time of a message now: jittered into the past by at most max_jitter_ms, never before
  // the learner's previous event nor before the newest earlier event minus max_jitter_ms.
  TimestampMs EventTime(LearnerState& state, bool whole_seconds) {
    const TimestampMs nominal = static_cast<TimestampMs>(nominal_ms_);
    TimestampMs jitter = 0;
    if (options_.max_jitter_ms > 0 && produced_ > 0) {
      const TimestampMs bound = rng_.Chance(0.85)
                                    ? std::min<TimestampMs>(2000, options_.max_jitter_ms)
                                    : options_.max_jitter_ms;
      jitter = rng_.Below(bound + 1);
    }
    TimestampMs t = std::max(nominal - jitter, state.last_ms);
    if (whole_seconds) t = FloorDiv(t, kMsPerSecond) * kMsPerSecond;
    if (max_event_ms_ != std::numeric_limits<TimestampMs>::min()) {
      const TimestampMs lower = max_event_ms_ - options_.max_jitter_ms;
      if (t < lower) {
        t = whole_seconds ? FloorDiv(lower + kMsPerSecond - 1, kMsPerSecond) * kMsPerSecond : lower;
      }
    }
    state.last_ms = t;
    max_event_ms_ = std::max(max_event_ms_, t);
    return t;
  }

  // When the message reached the LRS / sensor: a little after the nominal time.
  TimestampMs StoredTime(TimestampMs event_ms) {
    return std::max(event_ms, static_cast<TimestampMs>(nominal_ms_)) + 20 + rng_.Below(800);
  }

  void Act(size_t index, SimulatedMessage& out) {
    Session& s = active_[index];
    LearnerState& state = learners_[static_cast<size_t>(s.learner)];
    const Profile p = ProfileOf(options_.seed, s.learner, CohortOf(s.learner) == 0);
    const Format format = FormatOf(s.learner);
    Action action;
    if (!s.started) {
      action = Action::kStart;
      s.started = true;
    } else if (s.events_left == 1 && s.explicit_end) {
      action = Action::kEnd;
    } else {
      const double help = std::min(0.5, p.help_rate * (s.last_failed ? 2.5 : 1.0));
      const double r = rng_.Uniform();
      if (r < help) {
        action = Action::kHelp;
      } else if (r < help + 0.22) {
        action = Action::kView;
      } else if (r < help + 0.25 && s.successes >= 2) {
        action = Action::kComplete;
      } else {
        action = Action::kAttempt;
      }
    }
    --s.events_left;
    const uint8_t skill_bit = static_cast<uint8_t>(1u << s.skill);
    bool success = false;
    int raw = 0;
    int max = 0;
    int page = 0;
    switch (action) {
      case Action::kAttempt: {
        if (rng_.Chance(0.12)) {  // move on to the next skill
          s.skill = static_cast<int8_t>((s.skill + 1) % kSkillsPerCourse);
          state.next_skill = static_cast<uint8_t>(s.skill);
          s.successes = 0;
        }
        s.item = static_cast<int8_t>(rng_.Below(kItemsPerSkill));
        const uint8_t bit = static_cast<uint8_t>(1u << s.skill);
        const bool known = (state.known & bit) != 0;
        success = known ? !rng_.Chance(p.p_slip) : rng_.Chance(p.p_guess);
        if (!known && rng_.Chance(p.p_learn)) state.known |= bit;
        if (known && rng_.Chance(p.p_forget)) state.known &= static_cast<uint8_t>(~bit);
        max = 1 + s.item % 3;
        const int half = (max + 1) / 2;  // raw >= max / 2 is a success, as Caliper scores it
        raw = success ? half + static_cast<int>(rng_.Below(max - half + 1))
                      : static_cast<int>(rng_.Below(half));
        s.last_failed = !success;
        s.successes = static_cast<uint8_t>(success ? std::min(s.successes + 1, 100) : 0);
        s.attempt_no = ++attempts_;
        break;
      }
      case Action::kView:
        page = static_cast<int>(rng_.Below(kPagesPerSkill));
        if ((state.known & skill_bit) == 0 && rng_.Chance(p.p_learn * 0.3))
          state.known |= skill_bit;
        break;
      case Action::kHelp:
        if ((state.known & skill_bit) == 0 && rng_.Chance(p.p_learn * 0.5))
          state.known |= skill_bit;
        break;
      default:
        break;
    }

    out.payload.clear();
    out.format = FormatName(format);
    out.kind = EventKind::kOther;
    out.success = Success::kUnknown;
    out.skipped = false;
    Context c{s, state, format, action, success, raw, max, page};
    switch (format) {
      case Format::kXapi:
        EmitXapi(c, out);
        break;
      case Format::kCaliper:
        EmitCaliper(c, out);
        if (action == Action::kAttempt) {
          s.grade_success = success;
          s.grade_raw = static_cast<int8_t>(raw);
          s.grade_max = static_cast<int8_t>(max);
          pending_grade_ = static_cast<int64_t>(index);
        }
        break;
      default:
        EmitMoodle(c, out);
        break;
    }
  }

  struct Context {
    Session& s;
    LearnerState& state;
    Format format;
    Action action;
    bool success;
    int raw;
    int max;
    int page;
  };

  // ---- common identity fields ------------------------------------------------------------------

  void FillIdentity(const Session& s, Format format, SimulatedMessage& out) {
    const int64_t n = s.learner + 1;
    const int64_t cohort = CohortOf(s.learner);
    out.learner_id.clear();
    out.cohort_id.clear();
    out.course_id.clear();
    switch (format) {
      case Format::kXapi:
        out.learner_id += kBase;
        out.learner_id += "|learner-";
        AppendPadded(out.learner_id, n, 5);
        AppendCohortName(out.cohort_id, cohort);
        AppendCourseIri(out.course_id, cohort);
        break;
      case Format::kCaliper:
        out.learner_id += kBase;
        out.learner_id += "/users/";
        AppendInt(out.learner_id, n);
        AppendCohortName(out.cohort_id, cohort);
        AppendCourseIri(out.course_id, cohort);
        break;
      default:
        AppendInt(out.learner_id, MoodleUserId(s.learner));
        AppendInt(out.course_id, MoodleCourseId(cohort));
        out.cohort_id = out.course_id;
        break;
    }
    out.key = out.learner_id;
  }

  // Item IRIs: <course>/items/s<skill>-q<item>, <course>/pages/s<skill>-p<page>.
  void AppendItemIri(std::string& out, int64_t cohort, int skill, int item) {
    AppendCourseIri(out, cohort);
    out += "/items/s";
    AppendInt(out, skill + 1);
    out += "-q";
    AppendInt(out, item + 1);
  }
  void AppendPageIri(std::string& out, int64_t cohort, int skill, int page) {
    AppendCourseIri(out, cohort);
    out += "/pages/s";
    AppendInt(out, skill + 1);
    out += "-p";
    AppendInt(out, page + 1);
  }
  void AppendQuizIri(std::string& out, int64_t cohort, int skill) {
    AppendCourseIri(out, cohort);
    out += "/quizzes/s";
    AppendInt(out, skill + 1);
  }

  // ---- xAPI ------------------------------------------------------------------------------------

  void EmitXapi(const Context& c, SimulatedMessage& out) {
    const Session& s = c.s;
    const int64_t cohort = CohortOf(s.learner);
    FillIdentity(s, Format::kXapi, out);
    const TimestampMs t = EventTime(c.state, false);
    out.event_time_ms = t;

    std::string_view verb;
    std::string_view verb_iri_prefix = kAdlVerbs;
    std::string_view activity_type;
    bool with_skill = true;
    item_.clear();
    switch (c.action) {
      case Action::kStart:
        verb = "initialized";
        activity_type = "http://adlnet.gov/expapi/activities/course";
        item_ = out.course_id;
        with_skill = false;
        out.kind = EventKind::kView;
        break;
      case Action::kView:
        verb = rng_.Chance(0.8) ? "experienced" : "progressed";
        activity_type = "http://adlnet.gov/expapi/activities/lesson";
        AppendPageIri(item_, cohort, s.skill, c.page);
        out.kind = EventKind::kView;
        break;
      case Action::kAttempt:
        verb = "answered";
        activity_type = "http://adlnet.gov/expapi/activities/cmi.interaction";
        AppendItemIri(item_, cohort, s.skill, s.item);
        out.kind = EventKind::kAttempt;
        out.success = c.success ? Success::kTrue : Success::kFalse;
        break;
      case Action::kHelp:
        verb = "asked";
        activity_type = "http://adlnet.gov/expapi/activities/interaction";
        AppendItemIri(item_, cohort, s.skill, s.item);
        item_ += "/hint";
        out.kind = EventKind::kHelp;
        break;
      case Action::kComplete:
        verb = "completed";
        activity_type = "http://adlnet.gov/expapi/activities/module";
        AppendQuizIri(item_, cohort, s.skill);
        out.kind = EventKind::kCompletion;
        break;
      case Action::kEnd:
        if (rng_.Chance(0.3)) {
          verb = kLoggedOutVerb;
          verb_iri_prefix = {};
        } else {
          verb = "terminated";
        }
        activity_type = "http://adlnet.gov/expapi/activities/course";
        item_ = out.course_id;
        with_skill = false;
        out.kind = EventKind::kSessionEnd;
        break;
    }
    skill_.clear();
    if (with_skill) AppendSkillIri(skill_, cohort, s.skill);
    out.item_id = item_;
    out.skill_id = with_skill ? skill_ : item_;

    Json j(out.payload, joined_);
    j.Open();
    j.Key("id");
    scratch_.clear();
    AppendUuid(rng_, scratch_);
    j.Str(scratch_);
    j.Key("actor").Open();
    j.Key("objectType").Str("Agent");
    scratch_ = "Learner ";
    AppendInt(scratch_, s.learner + 1);
    j.Key("name").Str(scratch_);
    j.Key("account").Open().Key("homePage").Str(kBase);
    scratch_ = "learner-";
    AppendPadded(scratch_, s.learner + 1, 5);
    j.Key("name").Str(scratch_).Close();
    j.Close();
    j.Key("verb").Open().Key("id").Str2(verb_iri_prefix, verb);
    const std::string_view display = verb.substr(verb.rfind('/') + 1);
    j.Key("display").Open().Key("en-US").Str(display).Close().Close();
    j.Key("object").Open().Key("objectType").Str("Activity").Key("id").Str(item_);
    j.Key("definition").Open().Key("type").Str(activity_type);
    if (c.action == Action::kAttempt) j.Key("interactionType").Str("choice");
    if (with_skill) j.Key("extensions").Open().Key(kSkillExtension).Str(skill_).Close();
    j.Close().Close();
    if (c.action == Action::kAttempt) {
      j.Key("result").Open().Key("success").Bool(c.success).Key("completion").Bool(true);
      j.Key("score").Open();
      j.Key("scaled").Num(static_cast<double>(c.raw) / c.max);
      j.Key("raw").Int(c.raw).Key("min").Int(0).Key("max").Int(c.max).Close();
      scratch_ = "PT";
      AppendInt(scratch_, 5 + rng_.Below(85));
      scratch_ += "S";
      j.Key("duration").Str(scratch_).Close();
    } else if (c.action == Action::kComplete) {
      j.Key("result").Open().Key("completion").Bool(true).Close();
    }
    j.Key("context").Open();
    j.Key("platform").Str("learnflow simulator");
    j.Key("contextActivities").Open().Key("grouping").OpenArray().Open();
    j.Key("objectType").Str("Activity").Key("id").Str(out.course_id);
    j.Key("definition").Open().Key("type").Str("http://adlnet.gov/expapi/activities/course");
    j.Close().Close().CloseArray().Close();
    j.Key("extensions").Open().Key(kCohortExtension).Str(out.cohort_id).Close();
    j.Close();
    j.Key("timestamp").Time(t);
    j.Key("stored").Time(StoredTime(t));
    j.Key("version").Str("1.0.3");
    j.Close();
  }

  // ---- Caliper ---------------------------------------------------------------------------------

  void AppendUserIri(std::string& out, int64_t learner) {
    out += kBase;
    out += "/users/";
    AppendInt(out, learner + 1);
  }
  void AppendSessionIri(std::string& out, uint64_t id) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += kBase;
    out += "/sessions/";
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(id >> shift) & 0xF]);
  }
  void AppendAttemptIri(std::string& out, const Session& s) {
    AppendItemIri(out, CohortOf(s.learner), s.skill, s.item);
    out += "/users/";
    AppendInt(out, s.learner + 1);
    out += "/attempts/";
    AppendInt(out, s.attempt_no);
  }

  // Envelope, event id, type and the common fields up to (excluding) "object".
  void BeginCaliper(Json& j, TimestampMs t, std::string_view type, std::string_view profile,
                    std::string_view action, bool actor_is_learner, const Session& s) {
    j.Open();
    j.Key("sensor").Str2(kBase, "/sensors/learnflow-simulator");
    j.Key("sendTime").Time(StoredTime(t));
    j.Key("dataVersion").Str(kCaliperContext);
    j.Key("data").OpenArray().Open();
    j.Key("@context").Str(kCaliperContext);
    scratch_ = "urn:uuid:";
    AppendUuid(rng_, scratch_);
    j.Key("id").Str(scratch_);
    j.Key("type").Str(type);
    j.Key("profile").Str(profile);
    j.Key("actor").Open();
    if (actor_is_learner) {
      scratch_.clear();
      AppendUserIri(scratch_, s.learner);
      j.Key("id").Str(scratch_).Key("type").Str("Person");
    } else if (type == "GradeEvent") {
      j.Key("id").Str2(kBase, "/autograder").Key("type").Str("SoftwareApplication");
    } else {
      j.Key("id").Str(kBase).Key("type").Str("SoftwareApplication");
    }
    j.Close();
    j.Key("action").Str(action);
  }

  // The fields after "object": time, app, group, session, cohort extension; closes everything.
  void EndCaliper(Json& j, TimestampMs t, const Session& s, const SimulatedMessage& out,
                  bool with_session) {
    j.Key("eventTime").Time(t);
    j.Key("edApp").Open().Key("id").Str(kBase).Key("type").Str("SoftwareApplication").Close();
    j.Key("group").Open();
    j.Key("id").Str2(out.course_id, "/sections/1").Key("type").Str("CourseSection");
    j.Key("subOrganizationOf").Open().Key("id").Str(out.course_id);
    j.Key("type").Str("CourseOffering").Close();
    j.Close();
    if (with_session) {
      scratch_.clear();
      AppendSessionIri(scratch_, s.id);
      j.Key("session").Open().Key("id").Str(scratch_).Key("type").Str("Session");
      j.Key("startedAtTime").Time(s.started_ms).Close();
    }
    j.Key("extensions").Open().Key("cohort").Str(out.cohort_id).Close();
    j.Close().CloseArray().Close();
  }

  // An AssessmentItem with its learning objective (the skill) and quiz.
  void WriteItem(Json& j, const Session& s) {
    const int64_t cohort = CohortOf(s.learner);
    j.Open().Key("id").Str(item_).Key("type").Str("AssessmentItem");
    scratch_ = "Question ";
    AppendInt(scratch_, s.item + 1);
    j.Key("name").Str(scratch_);
    j.Key("isPartOf").Open().Key("id").Str(QuizIri(cohort, s.skill)).Key("type").Str("Assessment");
    j.Close();
    j.Key("learningObjectives").OpenArray().Open().Key("id").Str(skill_);
    j.Key("type").Str("LearningObjective").Close().CloseArray();
    j.Key("maxScore").Int(1 + s.item % 3);
    j.Close();
  }

  const std::string& QuizIri(int64_t cohort, int skill) {
    quiz_.clear();
    AppendQuizIri(quiz_, cohort, skill);
    return quiz_;
  }

  void EmitCaliper(const Context& c, SimulatedMessage& out) {
    Session& s = c.s;
    const int64_t cohort = CohortOf(s.learner);
    FillIdentity(s, Format::kCaliper, out);
    const TimestampMs t = EventTime(c.state, false);
    out.event_time_ms = t;
    if (c.action == Action::kStart) s.started_ms = t;
    skill_.clear();
    AppendSkillIri(skill_, cohort, s.skill);
    item_.clear();
    Json j(out.payload, joined_);
    switch (c.action) {
      case Action::kStart:
        item_ = out.course_id;
        item_ += "/home";
        BeginCaliper(j, t, "NavigationEvent", "ReadingProfile", "NavigatedTo", true, s);
        j.Key("object").Open().Key("id").Str(item_).Key("type").Str("WebPage");
        j.Key("name").Str("Course home").Close();
        out.kind = EventKind::kView;
        out.skill_id = item_;
        break;
      case Action::kView:
      case Action::kComplete:  // no Caliper completion in DESIGN §6: a view of the quiz page
        if (c.action == Action::kView) {
          AppendPageIri(item_, cohort, s.skill, c.page);
        } else {
          AppendQuizIri(item_, cohort, s.skill);
        }
        BeginCaliper(j, t, "ViewEvent", "ReadingProfile", "Viewed", true, s);
        j.Key("object").Open().Key("id").Str(item_).Key("type").Str("Document");
        j.Key("learningObjectives").OpenArray().Open().Key("id").Str(skill_);
        j.Key("type").Str("LearningObjective").Close().CloseArray();
        j.Key("isPartOf").Open().Key("id").Str(out.course_id).Key("type").Str("CourseOffering");
        j.Close().Close();
        out.kind = EventKind::kView;
        out.skill_id = skill_;
        break;
      case Action::kAttempt: {
        AppendItemIri(item_, cohort, s.skill, s.item);
        BeginCaliper(j, t, "AssessmentItemEvent", "AssessmentProfile", "Completed", true, s);
        j.Key("object");
        WriteItem(j, s);
        attempt_.clear();
        AppendAttemptIri(attempt_, s);
        j.Key("generated").Open();
        j.Key("id").Str2(attempt_, "/response").Key("type").Str("MultipleChoiceResponse");
        j.Key("attempt").Open().Key("id").Str(attempt_).Key("type").Str("Attempt");
        scratch_.clear();
        AppendUserIri(scratch_, s.learner);
        j.Key("assignee").Str(scratch_).Key("assignable").Str(item_);
        j.Key("count").Int(1).Key("endedAtTime").Time(t).Close();
        j.Key("values").OpenArray().Str(c.success ? "correct-choice" : "other-choice").CloseArray();
        j.Close();
        out.kind = EventKind::kAttempt;
        out.skill_id = skill_;
        break;
      }
      case Action::kHelp:
        item_ = kHintToolId;
        BeginCaliper(j, t, "ToolUseEvent", "ToolUseProfile", "Used", true, s);
        j.Key("object").Open().Key("id").Str(item_).Key("type").Str("SoftwareApplication");
        j.Key("name").Str("Hints").Close();
        out.kind = EventKind::kView;  // kHelp once kHintToolId is in caliper_help_tools
        out.skill_id = item_;
        break;
      case Action::kEnd:
        if (rng_.Chance(0.15)) {
          AppendSessionIri(item_, s.id);
          BeginCaliper(j, t, "SessionEvent", "SessionProfile", "TimedOut", false, s);
          j.Key("object").Open().Key("id").Str(item_).Key("type").Str("Session");
          scratch_.clear();
          AppendUserIri(scratch_, s.learner);
          j.Key("user").Open().Key("id").Str(scratch_).Key("type").Str("Person").Close();
          j.Key("startedAtTime").Time(s.started_ms).Key("endedAtTime").Time(t).Close();
          out.kind = EventKind::kSystem;
        } else {
          item_ = kBase;
          BeginCaliper(j, t, "SessionEvent", "SessionProfile", "LoggedOut", true, s);
          j.Key("object").Open().Key("id").Str(item_).Key("type").Str("SoftwareApplication");
          j.Close();
          out.kind = EventKind::kSessionEnd;
        }
        out.skill_id = item_;
        break;
    }
    out.item_id = item_;
    EndCaliper(j, t, s, out, c.action != Action::kEnd);
  }

  void EmitGrade(Session& s, SimulatedMessage& out) {
    LearnerState& state = learners_[static_cast<size_t>(s.learner)];
    const int64_t cohort = CohortOf(s.learner);
    out.payload.clear();
    out.format = FormatName(Format::kCaliper);
    out.skipped = false;
    FillIdentity(s, Format::kCaliper, out);
    const TimestampMs t = EventTime(state, false);
    out.event_time_ms = t;
    item_.clear();
    AppendItemIri(item_, cohort, s.skill, s.item);
    skill_.clear();
    AppendSkillIri(skill_, cohort, s.skill);
    attempt_.clear();
    AppendAttemptIri(attempt_, s);
    Json j(out.payload, joined_);
    BeginCaliper(j, t, "GradeEvent", "GradingProfile", "Graded", false, s);
    j.Key("object").Open().Key("id").Str(attempt_).Key("type").Str("Attempt");
    scratch_.clear();
    AppendUserIri(scratch_, s.learner);
    j.Key("assignee").Open().Key("id").Str(scratch_).Key("type").Str("Person").Close();
    j.Key("assignable");
    WriteItem(j, s);
    j.Key("count").Int(1).Close();
    j.Key("generated").Open().Key("id").Str2(attempt_, "/scores/1").Key("type").Str("Score");
    j.Key("attempt").Str(attempt_);
    j.Key("maxScore").Num(static_cast<double>(s.grade_max));
    j.Key("scoreGiven").Num(static_cast<double>(s.grade_raw));
    j.Key("scoredBy").Str2(kBase, "/autograder").Close();
    out.kind = EventKind::kOutcome;
    out.success = s.grade_success ? Success::kTrue : Success::kFalse;
    out.item_id = item_;
    out.skill_id = skill_;
    EndCaliper(j, t, s, out, true);
  }

  // ---- Moodle ----------------------------------------------------------------------------------

  void EmitMoodle(const Context& c, SimulatedMessage& out) {
    const Session& s = c.s;
    const int64_t cohort = CohortOf(s.learner);
    const int64_t user = MoodleUserId(s.learner);
    const int64_t course = MoodleCourseId(cohort);
    FillIdentity(s, Format::kMoodle, out);
    const TimestampMs t = EventTime(c.state, true);
    out.event_time_ms = t;

    std::string_view event_name, component, action, target, object_table, crud = "r";
    int64_t object_id = 0;
    int64_t context_instance = course;
    int context_level = 50;
    int edulevel = 2;
    int64_t row_course = course;
    bool with_other = false;
    int64_t quiz_id = 0;
    const int64_t quiz_cmid = MoodleQuizCmid(cohort, s.skill);
    switch (c.action) {
      case Action::kStart:
        event_name = "\\core\\event\\course_viewed";
        component = "core";
        action = "viewed";
        target = "course";
        out.kind = EventKind::kView;
        break;
      case Action::kView:
        event_name = "\\mod_page\\event\\course_module_viewed";
        component = "mod_page";
        action = "viewed";
        target = "course_module";
        object_table = "page";
        object_id = MoodlePageCmid(cohort, s.skill, c.page) - 900;
        context_instance = MoodlePageCmid(cohort, s.skill, c.page);
        context_level = 70;
        out.kind = EventKind::kView;
        break;
      case Action::kComplete:
        event_name = "\\mod_quiz\\event\\course_module_viewed";
        component = "mod_quiz";
        action = "viewed";
        target = "course_module";
        object_table = "quiz";
        object_id = quiz_cmid - 900;
        context_instance = quiz_cmid;
        context_level = 70;
        out.kind = EventKind::kView;
        break;
      case Action::kAttempt:
        event_name = "\\mod_quiz\\event\\attempt_submitted";
        component = "mod_quiz";
        action = "submitted";
        target = "attempt";
        object_table = "quiz_attempts";
        object_id = s.attempt_no;
        crud = "u";
        context_instance = quiz_cmid;
        context_level = 70;
        with_other = true;
        quiz_id = quiz_cmid - 900;
        out.kind = EventKind::kAttempt;  // the log holds no correctness
        break;
      case Action::kHelp:
        event_name = "\\mod_forum\\event\\discussion_created";
        component = "mod_forum";
        action = "created";
        target = "discussion";
        object_table = "forum_discussions";
        object_id = 7000 + attempts_;
        crud = "c";
        context_instance = 1000 + (cohort + 1) * 100 + 99;  // the course's help forum
        context_level = 70;
        out.kind = EventKind::kView;
        break;
      case Action::kEnd:
        event_name = "\\core\\event\\user_loggedout";
        component = "core";
        action = "loggedout";
        target = "user";
        object_table = "user";
        object_id = user;
        context_instance = 0;
        context_level = 10;
        edulevel = 0;
        row_course = 0;
        out.skipped = true;
        break;
    }
    out.item_id.clear();
    AppendInt(out.item_id, context_instance);
    out.skill_id = out.item_id;
    if (c.action == Action::kEnd) out.course_id.clear();

    Json j(out.payload, joined_);
    j.Open();
    j.Key("id").Int(moodle_row_id_++);
    j.Key("eventname").Str(event_name);
    j.Key("component").Str(component);
    j.Key("action").Str(action);
    j.Key("target").Str(target);
    if (object_table.empty()) {
      j.Key("objecttable").Null().Key("objectid").Null();
    } else {
      j.Key("objecttable").Str(object_table).Key("objectid").Int(object_id);
    }
    j.Key("crud").Str(crud);
    j.Key("edulevel").Int(edulevel);
    j.Key("contextid").Int(context_level == 10 ? 1 : 5000 + context_instance);
    j.Key("contextlevel").Int(context_level);
    j.Key("contextinstanceid").Int(context_instance);
    j.Key("userid").Int(user);
    j.Key("courseid").Int(row_course);
    if (c.action == Action::kAttempt) {
      j.Key("relateduserid").Int(user);
    } else {
      j.Key("relateduserid").Null();
    }
    j.Key("anonymous").Int(0);
    j.Key("other");
    if (!with_other) {
      j.Str("null");
    } else if (rng_.Chance(0.25)) {  // older sites store `other` PHP-serialised
      scratch_ = "a:2:{s:11:\"submitterid\";i:";
      AppendInt(scratch_, user);
      scratch_ += ";s:6:\"quizid\";i:";
      AppendInt(scratch_, quiz_id);
      scratch_ += ";}";
      j.Str(scratch_);
    } else {
      scratch_ = "{\"submitterid\":";
      AppendInt(scratch_, user);
      scratch_ += ",\"quizid\":";
      AppendInt(scratch_, quiz_id);
      scratch_ += "}";
      j.Str(scratch_);
    }
    j.Key("timecreated").Int(t / kMsPerSecond);
    j.Key("origin").Str("web");
    scratch_ = "10.";
    AppendInt(scratch_, (user / 65536) % 256);
    scratch_ += ".";
    AppendInt(scratch_, (user / 256) % 256);
    scratch_ += ".";
    AppendInt(scratch_, user % 256);
    j.Key("ip").Str(scratch_);
    j.Key("realuserid").Null();
    j.Close();
  }

  const SimulatorOptions options_;
  const Format format_;
  Rng rng_;
  std::vector<LearnerState> learners_;
  std::vector<Session> active_;
  double nominal_ms_;  // event time before jitter; advances every message
  double mean_weight_ = 1;
  TimestampMs max_event_ms_;
  int64_t produced_ = 0;
  int64_t attempts_ = 0;
  int64_t pending_grade_ = -1;  // index in active_ of the session owing a GradeEvent
  int64_t moodle_row_id_ = 1;
  // Reused buffers.
  std::string scratch_;
  std::string item_;
  std::string skill_;
  std::string quiz_;
  std::string attempt_;
  std::string joined_;
};

Simulator::Simulator(SimulatorOptions options) {
  const Status valid = ValidateSimulatorOptions(options);
  LF_CHECK(valid.ok(), valid.message());
  impl_ = std::make_unique<Impl>(std::move(options));
}

Simulator::~Simulator() = default;

bool Simulator::Next(SimulatedMessage& out) { return impl_->Next(out); }

int64_t Simulator::produced() const { return impl_->produced(); }

}  // namespace learnflow
