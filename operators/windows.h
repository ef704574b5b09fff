// Time windows and window assigners (event time, milliseconds, windows are [start, end)).
//
// TumblingWindows are aligned to the Unix epoch: with size 1 h, 10:59:59.999 belongs to
// [10:00, 11:00) and 11:00:00.000 to [11:00, 12:00). HoppingWindows of size S advancing by A
// (A <= S) are aligned the same way; an event belongs to every window that contains it (S / A of
// them when A divides S). Sessions (SessionWindows) are per key: an event opens [t, t + gap), and
// sessions that overlap merge, also when a late-arriving event bridges two of them. A window is
// *final* once the watermark has reached end + grace; events for a final window are late.
//
// The assigners are immutable value types and thread-safe; a SessionSet is the per-key mutable
// state of a session window operator, owned by its caller.
#pragma once

#include <cstdint>
#include <vector>

#include "core/check.h"
#include "core/time.h"

namespace learnflow {

struct TimeWindow {
  TimestampMs start = 0;
  TimestampMs end = 0;
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

class TumblingWindows {
 public:
  // REQUIRES: size_ms > 0, grace_ms >= 0.
  TumblingWindows(TimestampMs size_ms, TimestampMs grace_ms) : size_ms_(size_ms), grace_ms_(grace_ms) {
    LF_CHECK(size_ms > 0 && grace_ms >= 0, "window size must be > 0 and grace >= 0");
  }

  TimeWindow WindowOf(TimestampMs t) const {
    const TimestampMs start = FloorDiv(t, size_ms_) * size_ms_;
    return TimeWindow{start, start + size_ms_};
  }
  // The window has been closed for good by `watermark`.
  bool IsFinal(TimestampMs window_end, TimestampMs watermark) const {
    return watermark >= window_end + grace_ms_;
  }
  // Every window with end <= this bound is final at `watermark`.
  TimestampMs FinalEndBound(TimestampMs watermark) const { return watermark - grace_ms_; }

  TimestampMs size_ms() const { return size_ms_; }
  TimestampMs grace_ms() const { return grace_ms_; }

 private:
  TimestampMs size_ms_;
  TimestampMs grace_ms_;
};

class HoppingWindows {
 public:
  // REQUIRES: 0 < advance_ms <= size_ms, grace_ms >= 0.
  HoppingWindows(TimestampMs size_ms, TimestampMs advance_ms, TimestampMs grace_ms)
      : size_ms_(size_ms), advance_ms_(advance_ms), grace_ms_(grace_ms) {
    LF_CHECK(advance_ms > 0 && advance_ms <= size_ms && grace_ms >= 0,
             "hopping windows need 0 < advance <= size and grace >= 0");
  }

  // Calls fn(TimeWindow) for every window containing `t`, in increasing start order.
  template <typename Fn>
  void ForEachWindowOf(TimestampMs t, Fn&& fn) const {
    const TimestampMs last_start = FloorDiv(t, advance_ms_) * advance_ms_;
    TimestampMs start = last_start;
    while (start - advance_ms_ > t - size_ms_) start -= advance_ms_;
    for (; start <= last_start; start += advance_ms_) fn(TimeWindow{start, start + size_ms_});
  }
  bool IsFinal(TimestampMs window_end, TimestampMs watermark) const {
    return watermark >= window_end + grace_ms_;
  }

  TimestampMs size_ms() const { return size_ms_; }
  TimestampMs advance_ms() const { return advance_ms_; }

 private:
  TimestampMs size_ms_;
  TimestampMs advance_ms_;
  TimestampMs grace_ms_;
};

struct Session {
  TimestampMs start = 0;  // first event
  TimestampMs end = 0;    // last event + gap (exclusive)
  int64_t events = 0;
  friend bool operator==(const Session&, const Session&) = default;
};

// The open sessions of one key, ordered by start, never overlapping.
class SessionSet {
 public:
  // Adds an event at `t`: extends or opens a session and merges every session it now overlaps.
  // Returns the resulting session; `merged_away` receives the sessions (as they were) that were
  // absorbed into it, so an aggregate can combine their states. Touching sessions ([a, b) and
  // [b, c)) merge: an event exactly `gap` after the previous one continues the session.
  Session Add(TimestampMs t, TimestampMs gap, std::vector<Session>& merged_away);
  // Removes and passes to fn(Session) the sessions with end + grace <= watermark, oldest first.
  template <typename Fn>
  void TakeFinal(TimestampMs watermark, TimestampMs grace, Fn&& fn) {
    size_t n = 0;
    while (n < sessions_.size() && sessions_[n].end + grace <= watermark) fn(sessions_[n++]);
    sessions_.erase(sessions_.begin(), sessions_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // Whether an event at `t` would only touch final sessions or open one that is final already.
  bool IsLate(TimestampMs t, TimestampMs gap, TimestampMs grace, TimestampMs watermark) const {
    return t + gap + grace <= watermark;
  }
  const std::vector<Session>& sessions() const { return sessions_; }

 private:
  std::vector<Session> sessions_;
};

}  // namespace learnflow
