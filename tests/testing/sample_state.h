// A sample of persisted learner state shared by the state and query tests. Header-only: the
// tests that use it link the operators library, which learnflow_testing does not.
#pragma once

#include <string>
#include <string_view>

#include "core/time.h"
#include "operators/learner_signals.h"

namespace learnflow::testing {

// A latest learner_window record with every field set: cohort "c1", 7 events, 5 attempts,
// 4 known, 1 correct, 2 help requests, 6 active minutes, 1 session, mastery {fractions: 0.25}.
inline LearnerWindowRecord SampleLatestRecord(TimestampMs window_end, std::string_view course_id) {
  LearnerWindowRecord latest;
  latest.window_end = window_end;
  latest.cohort_id = "c1";
  latest.course_id = std::string(course_id);
  latest.events = 7;
  latest.attempts = 5;
  latest.known = 4;
  latest.correct = 1;
  latest.help_requests = 2;
  latest.active_minutes = 6;
  latest.sessions = 1;
  latest.mastery = {{"fractions", 0.25}};
  return latest;
}

}  // namespace learnflow::testing
