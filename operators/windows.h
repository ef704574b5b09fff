// Time windows and window assigners (event time, milliseconds, windows are [start, end)).
//
// TumblingWindows are aligned to the Unix epoch: with size 1 h, 10:59:59.999 belongs to
// [10:00, 11:00) and 11:00:00.000 to [11:00, 12:00). A window is *final* once the watermark has
// reached end + grace; events for a final window are late.
//
// Immutable value types; thread-safe.
#pragma once

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

}  // namespace learnflow
