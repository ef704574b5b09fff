// BenchEvents: compact xAPI statements (~320 bytes) for the benchmarks, with exact control over
// the number of learners, cohorts and skills (app/simulator.h models learning and writes fuller
// statements of ~900 bytes; the benchmarks want the size of a typical tutor statement and
// every learner of a million to appear in a few million events).
//
//   BenchEventsOptions options{.events = 2000000, .learners = 100000};
//   BenchEvents events(options);
//   BenchEvent e;
//   while (events.Next(e)) producer.Send(e.key, e.payload);
//
// The stream. `active_sessions` learners are in a session at any time; each event belongs to one
// of them, picked at random, and a session ends after `events_per_session` events, when the next
// learner of a fixed permutation of all learners starts one (so the first learners/active
// sessions sessions cover every learner once before any learner returns). Events: answered
// (55 %, success with the learner's ability: cohort 1 struggles), experienced (30 %), asked
// (10 %, a help request), completed (5 %). Learner n (0-based) is in cohort n % cohorts and
// practises skills of that cohort (skills / cohorts of them). Event time starts at
// 2026-01-05T08:00:00Z and advances `ms_per_event` per event, in order (no jitter). The learner
// is an mbox (`mailto:l0000042@example.org`), the object one activity per skill
// (`https://lms.example.org/s/0042`, so item_id = skill_id), the cohort the
// https://learnflow.dev/xapi/cohort context extension. Output is a pure function of the options.
//
// Threading: one object per thread. Next() reuses the buffers of `out`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace learnflow::bench {

struct BenchEventsOptions {
  int64_t events = 2000000;
  int64_t learners = 100000;
  int64_t cohorts = 500;
  int64_t skills = 2000;  // >= cohorts; skills / cohorts per cohort
  int64_t active_sessions = 2000;
  // 0: as many as spread the events over every learner about once (2 .. 8).
  int64_t events_per_session = 0;
  double ms_per_event = 20;  // event time advance per event
  uint64_t seed = 1;
};

struct BenchEvent {
  std::string key;  // the canonical learner id (the mbox)
  std::string payload;
  int64_t learner = 0;  // 0-based learner number
  TimestampMs event_time_ms = 0;
};

class BenchEvents {
 public:
  explicit BenchEvents(const BenchEventsOptions& options);

  // Writes the next event into `out`; false once `events` were written.
  bool Next(BenchEvent& out);
  int64_t produced() const { return produced_; }
  int64_t events_per_session() const { return events_per_session_; }

 private:
  uint64_t Random();
  int64_t NextLearner();

  BenchEventsOptions options_;
  int64_t events_per_session_;
  int64_t produced_ = 0;
  uint64_t rng_;
  int64_t started_ = 0;  // sessions started so far
  uint64_t stride_ = 1;  // permutation of learners: learner = started * stride % learners
  struct Slot {
    int64_t learner = 0;
    int64_t left = 0;
  };
  std::vector<Slot> slots_;
  std::string scratch_;
};

}  // namespace learnflow::bench
