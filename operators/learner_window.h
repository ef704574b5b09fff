// LearnerWindowOperator: the per-learner tumbling-window aggregate behind the
// `learner_window` records of `learnflow.learner-signals` (DESIGN §8).
//
// The operator is immutable (const methods only); the mutable aggregate of one
// (learner_id, cohort_id, window) lives in a LearnerWindowState that the caller owns (a window
// store). Counting: an event counts once per distinct event_id (duplicates within the window's
// lifetime are ignored) and `system` events do not count.
//
// Thread-safety: the operator may be shared by threads; a state object may not.
// Errors: DecodeState() rejects truncated or corrupt state bytes with an Internal status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "operators/windows.h"

namespace learnflow {

struct LearnerWindowState {
  std::string course_id;
  uint64_t events = 0;
  // Hashes of the event ids counted so far, sorted (duplicate detection).
  std::vector<uint64_t> seen_event_ids;
};

class LearnerWindowOperator {
 public:
  explicit LearnerWindowOperator(TumblingWindows windows) : windows_(windows) {}

  const TumblingWindows& windows() const { return windows_; }

  // Adds `event` to `state`. Returns false (and changes nothing) when the event is a duplicate or
  // does not count (system events).
  bool Add(const CanonicalEvent& event, LearnerWindowState& state) const;

  // Appends the output record (one JSON object, no newline) for a final window.
  void AppendRecord(std::string_view learner_id, std::string_view cohort_id, TimeWindow window,
                    const LearnerWindowState& state, std::string& out) const;

  // Binary state encoding for the state store.
  void EncodeState(const LearnerWindowState& state, std::string& out) const;
  Status DecodeState(std::string_view bytes, LearnerWindowState& state) const;

 private:
  TumblingWindows windows_;
};

// 64-bit FNV-1a: stable across runs and machines (it is persisted in state).
uint64_t StableHash64(std::string_view bytes);

}  // namespace learnflow
