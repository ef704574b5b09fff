// Simulator: synthetic learner events as JSON messages (xAPI statements, Caliper 1.2 envelopes,
// Moodle logstore_standard_log rows), for `learnflow simulate`, `learnflow demo`, tests and
// benchmarks. The output is a pure function of the options: the same seed gives byte-identical
// messages on every platform (own PRNG, no std distributions, no wall clock).
//
//   SimulatorOptions options;
//   options.format = "mixed";
//   Simulator simulator(options);
//   SimulatedMessage message;
//   while (simulator.Next(message)) sink.Send(topic, message.key, message.payload);
//
// The model. Learner n (1-based) belongs to cohort "cohort-NN" = (n-1) % cohorts + 1, which
// takes course "course-NN" with 5 skills of 4 items each. Each learner has an ability; for
// every skill a hidden "known" state that practice turns on (BKT-like: an attempt succeeds with
// 1-slip when known, with the guess rate otherwise) and, for weak learners, forgetting turns off
// again. cohort-01 struggles: low ability, little learning, much forgetting, so its accuracy
// stays low and struggling-cohort alerts fire; elsewhere about 8% of learners are weak.
// Events come in sessions of 8-30 messages (a view first, then views, attempts and help
// requests about 90 s apart, usually a session end), then a rest of 35 minutes to 20 hours
// (shorter only for class members or when the settings leave no rested learner). Event time
// advances by about simulated_ms_per_event per message, slower at night when daily_rhythm is
// on; on weekdays 09:00-17:00 UTC one cohort per hour holds a class (most sessions then come
// from its members), so hourly cohort windows reach signals.min_cohort_size.
// Event times are out of order by at most max_jitter_ms (never older than the newest earlier
// event minus max_jitter_ms), but in order per learner.
//
// Formats. xapi: learner "https://lms.example.org|learner-00042", cohort from the
// https://learnflow.dev/xapi/cohort context extension, skill from the
// https://learnflow.dev/xapi/skill extension, course = grouping activity. caliper: envelopes of
// one event, learner "https://lms.example.org/users/42"; an attempt is an AssessmentItemEvent
// Completed followed (next message) by a GradeEvent Graded on the same Attempt id; help is a
// ToolUseEvent on kHintToolId. moodle: learner = userid (100 + n) as text, course = courseid
// (100 + cohort number); quiz attempts have unknown success (the log holds none) and logouts
// are edulevel 0 (skipped by the decoder); the cohort is the courseid unless the decoder maps it
// (see SimulatorDecoderSettings). mixed: learner n uses xapi, caliper, moodle for n % 3 = 1, 2, 0.
//
// Lifecycle: a Simulator is single-threaded and owns its state (16 bytes per learner).
// Next() reuses the buffers of the message it is given: call it in a loop with the same
// SimulatedMessage to avoid allocating in steady state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "core/time.h"

namespace learnflow {

// 2026-01-05T08:00:00Z, a Monday morning.
inline constexpr TimestampMs kDefaultSimulatorStartMs = 1767600000000;
// Caliper ToolUseEvent object id of the hint tool: a help request once it is listed in
// decoding.caliper_help_tools (a view otherwise).
inline constexpr std::string_view kHintToolId = "https://lms.example.org/tools/hint";

struct SimulatorOptions {
  int64_t learners = 200;       // 1 .. 10,000,000
  int64_t events = 10000;       // messages to produce; 0 = unbounded
  std::string format = "xapi";  // xapi | caliper | moodle | mixed
  uint64_t seed = 1;
  TimestampMs start_ms = kDefaultSimulatorStartMs;  // event time of the first message
  int64_t cohorts = 8;                              // 1 .. learners
  // Mean event-time advance per message: by default 10000 messages span 2 days.
  double simulated_ms_per_event = 2.0 * kMsPerDay / 10000.0;
  // Bounded out-of-orderness: keep it below processing.max_out_of_orderness_ms (60 s) unless
  // late events are wanted. 0 .. 1 day.
  TimestampMs max_jitter_ms = 20000;
  // Fewer events at night (event time advances faster then). Turn off when event time must
  // follow a wall clock at a fixed message rate.
  bool daily_rhythm = true;
};

// InvalidArgument naming the bad option, e.g. "simulator: format: expected xapi, caliper,
// moodle or mixed, got \"json\"".
Status ValidateSimulatorOptions(const SimulatorOptions& options);

// One message plus the ground truth of what EventDecoder with DecoderOptions::Defaults() makes
// of it (tests compare the two).
struct SimulatedMessage {
  std::string key;      // the canonical learner id (producers key by learner)
  std::string payload;  // JSON
  TimestampMs event_time_ms = 0;
  std::string learner_id;
  std::string cohort_id;
  std::string course_id;
  std::string item_id;
  std::string skill_id;
  std::string_view format;  // "xapi", "caliper" or "moodle" (static storage)
  EventKind kind = EventKind::kOther;
  Success success = Success::kUnknown;  // attempts (xAPI) and outcomes (Caliper GradeEvent)
  // Understood but feeding no learner signal: Moodle rows with edulevel != 2. No event decodes.
  bool skipped = false;
};

// Decoding settings under which all three formats agree: Moodle courses map to the same
// cohort ids and Moodle quizzes to the same skill ids as xAPI and Caliper, and the Caliper
// hint tool counts as help. Copy them into the `decoding` section (or DecoderOptions).
struct SimulatorDecoderSettings {
  std::vector<std::string> caliper_help_tools;
  std::map<std::string, std::string> moodle_cohort_by_course;
  std::map<std::string, std::string> moodle_skill_by_item;
};
SimulatorDecoderSettings DecoderSettingsFor(const SimulatorOptions& options);

class Simulator {
 public:
  // REQUIRES: ValidateSimulatorOptions(options).ok() (checked: a bad option aborts).
  explicit Simulator(SimulatorOptions options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Writes the next message into `out` (reusing its buffers). Returns false, leaving `out`
  // untouched, once `events` messages have been produced.
  bool Next(SimulatedMessage& out);

  int64_t produced() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace learnflow
