// Event-time vocabulary: milliseconds since the Unix epoch (UTC), ISO 8601 parsing and formatting,
// and an injectable wall clock.
//
//   std::optional<int64_t> t = ParseIso8601Millis("2026-11-22T10:00:00+01:00");  // 09:00Z
//   std::string s; AppendIso8601Millis(*t, s);  // "2026-11-22T09:00:00.000Z"
//
// All functions are pure and thread-safe. Parsing never throws: a malformed or out-of-range string
// yields std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace learnflow {

using TimestampMs = int64_t;

inline constexpr TimestampMs kMsPerSecond = 1000;
inline constexpr TimestampMs kMsPerMinute = 60 * kMsPerSecond;
inline constexpr TimestampMs kMsPerHour = 60 * kMsPerMinute;
inline constexpr TimestampMs kMsPerDay = 24 * kMsPerHour;

// Parses ISO 8601 / RFC 3339 date-times: `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|+HH:MM|+HHMM|+HH]`
// (a space may replace `T`; `t`/`z` accepted). No offset means UTC. Fractions beyond
// milliseconds are truncated. Years 1970..9999 only.
std::optional<TimestampMs> ParseIso8601Millis(std::string_view text);

// Appends `2026-11-22T10:00:00.000Z` (always UTC, always milliseconds). Does not allocate when
// `out` has capacity for 24 more characters.
void AppendIso8601Millis(TimestampMs ms, std::string& out);
std::string FormatIso8601Millis(TimestampMs ms);

// Floor division that is correct for negative values.
constexpr int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Wall clock, injectable for tests. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimestampMs NowMs() const = 0;
};

// The process's real wall clock (std::chrono::system_clock). Thread-safe; never destroyed.
const Clock& SystemClock();

}  // namespace learnflow
