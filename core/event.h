// The canonical learning event: what every input format (xAPI, Caliper, Moodle log) decodes to.
// Field semantics are those of DESIGN §6.
//
// A CanonicalEvent is a view: its string fields point into the decoder's buffers (or the message)
// and are valid only until the decoder decodes the next message. Operators that keep a field
// beyond that copy it into their own state. Plain value type; no thread-safety of its own.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "core/time.h"

namespace learnflow {

enum class EventKind : uint8_t {
  kAttempt,     // an answer to an item (success may be unknown)
  kOutcome,     // Caliper GradeEvent: the outcome of an earlier attempt, joined on attempt_ref
  kView,        // content viewed, navigated, progressed
  kHelp,        // a help request (hint, tutor question)
  kCompletion,  // an activity completed
  kSessionEnd,  // learner ended the session (logged out, exited, ...); counts as an event
  kSystem,      // launched / timed out: closes sessions, does not count toward events or minutes
  kRetraction,  // xAPI voided: retracts `retracts_event_id`
  kOther,       // valid, counted as an event, no further meaning
};

std::string_view EventKindName(EventKind kind);

enum class Success : uint8_t { kUnknown, kTrue, kFalse };

struct CanonicalEvent {
  std::string_view event_id;
  std::string_view learner_id;
  std::string_view course_id;
  std::string_view cohort_id;   // falls back to course_id; empty when neither is known
  std::string_view item_id;
  std::string_view skill_id;    // never empty for attempts: falls back to item_id
  std::string_view attempt_ref;        // Caliper Attempt id (Completed and Graded), else empty
  std::string_view retracts_event_id;  // kRetraction only: the voided statement's id
  TimestampMs event_time_ms = 0;
  // xAPI `stored` when present alongside `timestamp` (offline-sync delay), else kNoTime.
  TimestampMs stored_time_ms = kNoTime;
  double score = kNoScore;  // in [0, 1], or kNoScore
  EventKind kind = EventKind::kOther;
  Success success = Success::kUnknown;
  bool closes_session = false;  // session_end and system kinds

  static constexpr TimestampMs kNoTime = std::numeric_limits<TimestampMs>::min();
  static constexpr double kNoScore = -1.0;
  bool has_score() const { return score >= 0.0; }
};

}  // namespace learnflow
