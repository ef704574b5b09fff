// Tests of core/time: ISO 8601 parsing (variants, offsets, calendar rules), formatting, floor
// division.
#include "core/time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>

namespace learnflow {
namespace {

// 2026-11-22T10:00:00.000Z
constexpr TimestampMs kBase = 1795341600000;

TEST(ParseIso8601Test, UtcWithMilliseconds) {
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.000Z"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.123Z"), kBase + 123);
  EXPECT_EQ(ParseIso8601Millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601Millis("2000-01-01T00:00:00Z"), 946684800000);
}

TEST(ParseIso8601Test, AcceptedVariants) {
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00Z"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22t10:00:00z"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22 10:00:00Z"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00Z"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00"), kBase);  // no offset means UTC
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00"), kBase);
}

TEST(ParseIso8601Test, Fractions) {
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.5Z"), kBase + 500);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.05Z"), kBase + 50);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00,25Z"), kBase + 250);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.123456Z"), kBase + 123);     // truncated
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.999999999Z"), kBase + 999);  // not rounded
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.Z"), std::nullopt);
}

TEST(ParseIso8601Test, OffsetsConvertToUtc) {
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T11:00:00+01:00"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T11:00:00+0100"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T11:00:00+01"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T04:30:00-05:30"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00-00:00"), kBase);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00.250+00:00"), kBase + 250);
  // Crossing midnight and a year boundary.
  EXPECT_EQ(ParseIso8601Millis("2027-01-01T01:00:00+02:00"),
            ParseIso8601Millis("2026-12-31T23:00:00Z"));
  EXPECT_EQ(ParseIso8601Millis("2026-12-31T20:00:00-05:00"),
            ParseIso8601Millis("2027-01-01T01:00:00Z"));
  EXPECT_EQ(ParseIso8601Millis("1970-01-01T00:00:00+01:00"), -kMsPerHour);
}

TEST(ParseIso8601Test, MalformedOffsets) {
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+01:"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+1"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+01:0"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+24:00"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+01:60"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00+01:00:00"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00ZZ"), std::nullopt);
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T10:00:00 UTC"), std::nullopt);
}

TEST(ParseIso8601Test, LeapYears) {
  EXPECT_TRUE(ParseIso8601Millis("2024-02-29T00:00:00Z").has_value());
  EXPECT_TRUE(ParseIso8601Millis("2000-02-29T00:00:00Z").has_value());   // divisible by 400
  EXPECT_FALSE(ParseIso8601Millis("2100-02-29T00:00:00Z").has_value());  // century
  EXPECT_FALSE(ParseIso8601Millis("2025-02-29T00:00:00Z").has_value());
  EXPECT_EQ(*ParseIso8601Millis("2024-03-01T00:00:00Z") - *ParseIso8601Millis("2024-02-28T00:00:00Z"),
            2 * kMsPerDay);
  EXPECT_EQ(*ParseIso8601Millis("2025-03-01T00:00:00Z") - *ParseIso8601Millis("2025-02-28T00:00:00Z"),
            kMsPerDay);
}

TEST(ParseIso8601Test, LeapSecondFoldsIntoNextMinute) {
  EXPECT_EQ(ParseIso8601Millis("2016-12-31T23:59:60Z"), ParseIso8601Millis("2017-01-01T00:00:00Z"));
  EXPECT_EQ(ParseIso8601Millis("2016-12-31T23:59:61Z"), std::nullopt);
}

TEST(ParseIso8601Test, RejectsGarbage) {
  for (const char* text :
       {"", "yesterday", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-22T24:00:00Z",
        "2026-11-22T10:60:00Z", "2026-11-22", "2026-11-22T", "2026-11-22T10", "2026-11-22T10:0",
        "26-11-22T10:00:00Z", "2026/11/22T10:00:00Z", "2026-11-22X10:00:00Z", "1969-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z", "+2026-11-22T10:00:00Z", " 2026-11-22T10:00:00Z",
        "2026-11-22T10:00:00Z ", "2026-11-22T10:00:00.000Zjunk", "1700000000", "２０２６-11-22T10:00Z"}) {
    EXPECT_EQ(ParseIso8601Millis(text), std::nullopt) << text;
  }
}

TEST(ParseIso8601Test, CanonicalFormKeepsTheCalendarRules) {
  // "YYYY-MM-DDTHH:MM:SS.mmmZ" takes a fixed-position path: the same rules must hold there.
  for (const char* text :
       {"2026-13-01T00:00:00.000Z", "2026-00-10T00:00:00.000Z", "2026-02-30T00:00:00.000Z",
        "2025-02-29T00:00:00.000Z", "2100-02-29T00:00:00.000Z", "2026-11-00T00:00:00.000Z",
        "2026-11-22T24:00:00.000Z", "2026-11-22T10:60:00.000Z", "2026-11-22T10:00:61.000Z",
        "1969-12-31T23:59:59.999Z", "0000-01-01T00:00:00.000Z", "2026-11-22T10:00:00.000z0"}) {
    EXPECT_EQ(ParseIso8601Millis(text), std::nullopt) << text;
  }
  // A non-digit at each digit position.
  const std::string good = "2026-11-22T10:00:00.123Z";
  for (const size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
    for (const char c : {'a', '/', ':', ' ', '\0'}) {
      std::string text = good;
      text[i] = c;
      EXPECT_EQ(ParseIso8601Millis(text), std::nullopt) << i << " " << static_cast<int>(c);
    }
  }
  EXPECT_EQ(ParseIso8601Millis(good), kBase + 123);
  EXPECT_EQ(ParseIso8601Millis("2024-02-29T00:00:00.000Z"),
            ParseIso8601Millis("2024-02-29T00:00:00Z"));
  EXPECT_EQ(ParseIso8601Millis("2016-12-31T23:59:60.000Z"),
            ParseIso8601Millis("2017-01-01T00:00:00Z"));
  // Lower-case separators take the general path and mean the same.
  EXPECT_EQ(ParseIso8601Millis("2026-11-22t10:00:00.123z"), kBase + 123);
}

TEST(ParseIso8601Test, TimesOfTheDayBeforeKeepTheRules) {
  // The canonical path remembers the last valid date. The same text with "+00:00" takes the
  // general path: both must agree on every time of a day parsed right after another time of it
  // (or of another day, or after an invalid one).
  for (const char* date : {"2026-11-22", "2024-02-29", "2026-11-22", "2026-11-23", "2025-02-29"}) {
    for (int hour = 0; hour <= 25; hour += 5) {
      for (const int minute : {0, 59, 60}) {
        for (const int second : {0, 59, 60, 61}) {
          const auto two = [](int v) {
            return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
          };
          const std::string time =
              std::string(date) + "T" + two(hour) + ":" + two(minute) + ":" + two(second) + ".042";
          EXPECT_EQ(ParseIso8601Millis(time + "Z"), ParseIso8601Millis(time + "+00:00")) << time;
        }
      }
    }
    EXPECT_EQ(ParseIso8601Millis(std::string(date) + "T1x:00:00.000Z"), std::nullopt) << date;
  }
  EXPECT_EQ(ParseIso8601Millis("2026-11-22T00:00:00.000Z"), kBase - 10 * 3600 * 1000);
  EXPECT_EQ(ParseIso8601Millis("2026-11-23T00:00:00.000Z"), kBase + 14 * 3600 * 1000);
}

TEST(ParseIso8601Test, YearRange) {
  EXPECT_TRUE(ParseIso8601Millis("9999-12-31T23:59:59.999Z").has_value());
  EXPECT_EQ(ParseIso8601Millis("9999-12-31T23:59:59.999Z"), 253402300799999);
}

TEST(FormatIso8601Test, Formats) {
  EXPECT_EQ(FormatIso8601Millis(kBase), "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(FormatIso8601Millis(kBase + 7), "2026-11-22T10:00:00.007Z");
  EXPECT_EQ(FormatIso8601Millis(kBase + 59 * kMsPerMinute + 59999), "2026-11-22T10:59:59.999Z");
  EXPECT_EQ(FormatIso8601Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601Millis(951782400000), "2000-02-29T00:00:00.000Z");
}

TEST(FormatIso8601Test, EveryFormattedTimeParsesBackToItself) {
  std::mt19937_64 rng(3);
  const TimestampMs last = 253402300799999;  // 9999-12-31T23:59:59.999Z
  for (int i = 0; i < 100000; ++i) {
    const TimestampMs t = static_cast<TimestampMs>(rng() % static_cast<uint64_t>(last + 1));
    const std::string text = FormatIso8601Millis(t);
    ASSERT_EQ(text.size(), 24u) << text;
    ASSERT_EQ(ParseIso8601Millis(text), t) << text;
  }
}

TEST(FormatIso8601Test, NegativeTimesFloor) {
  EXPECT_EQ(FormatIso8601Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601Millis(-kMsPerDay), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601Millis(-kMsPerDay - 1), "1969-12-30T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601Millis(-kMsPerHour), "1969-12-31T23:00:00.000Z");
}

TEST(FormatIso8601Test, AppendsWithoutClearing) {
  std::string out = "t=";
  AppendIso8601Millis(kBase, out);
  EXPECT_EQ(out, "t=2026-11-22T10:00:00.000Z");
}

TEST(FormatIso8601Test, ExtremeValuesDoNotCrash) {
  // Outside the parser's range: expanded years, never undefined behaviour.
  const std::string min = FormatIso8601Millis(std::numeric_limits<TimestampMs>::min());
  const std::string max = FormatIso8601Millis(std::numeric_limits<TimestampMs>::max());
  EXPECT_EQ(min.front(), '-');
  EXPECT_EQ(max.front(), '+');
  EXPECT_EQ(min.back(), 'Z');
  EXPECT_EQ(max.back(), 'Z');
  EXPECT_EQ(FormatIso8601Millis(253402300800000), "+10000-01-01T00:00:00.000Z");
}

TEST(FormatIso8601Test, RoundTrip) {
  std::mt19937_64 rng(20261122);
  std::uniform_int_distribution<TimestampMs> dist(0, 253402300799999);
  for (int i = 0; i < 20000; ++i) {
    const TimestampMs t = dist(rng);
    const std::string text = FormatIso8601Millis(t);
    ASSERT_EQ(text.size(), 24u) << t;
    ASSERT_EQ(ParseIso8601Millis(text), t) << text;
  }
  // Every day boundary over a few leap cycles.
  for (TimestampMs day = 0; day < 366 * 9; ++day) {
    const TimestampMs t = *ParseIso8601Millis("2019-01-01T00:00:00Z") + day * kMsPerDay;
    ASSERT_EQ(ParseIso8601Millis(FormatIso8601Millis(t)), t);
  }
}

TEST(FloorDivTest, FloorsTowardNegativeInfinity) {
  EXPECT_EQ(FloorDiv(7, 2), 3);
  EXPECT_EQ(FloorDiv(-7, 2), -4);
  EXPECT_EQ(FloorDiv(7, -2), -4);
  EXPECT_EQ(FloorDiv(-7, -2), 3);
  EXPECT_EQ(FloorDiv(-4, 2), -2);
  EXPECT_EQ(FloorDiv(0, 5), 0);
  EXPECT_EQ(FloorDiv(-1, kMsPerMinute), -1);
  EXPECT_EQ(FloorDiv(kBase + 1, kMsPerHour) * kMsPerHour, kBase);
  static_assert(FloorDiv(-1, 1000) == -1);
}

TEST(ClockTest, SystemClockIsNearNow) {
  const TimestampMs now = SystemClock().NowMs();
  EXPECT_GT(now, *ParseIso8601Millis("2020-01-01T00:00:00Z"));
  EXPECT_EQ(&SystemClock(), &SystemClock());
}

}  // namespace
}  // namespace learnflow
