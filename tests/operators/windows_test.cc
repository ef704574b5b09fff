#include "operators/windows.h"

#include <gtest/gtest.h>

#include <vector>

namespace learnflow {
namespace {

constexpr TimestampMs kMin = kMsPerMinute;

std::vector<TimeWindow> HoppingOf(const HoppingWindows& w, TimestampMs t) {
  std::vector<TimeWindow> out;
  w.ForEachWindowOf(t, [&](TimeWindow win) { out.push_back(win); });
  return out;
}

TEST(TumblingWindowsTest, AlignedToTheEpochIncludingNegativeTimes) {
  TumblingWindows w(kMsPerHour, 5 * kMin);
  EXPECT_EQ(w.WindowOf(kMsPerHour - 1), (TimeWindow{0, kMsPerHour}));
  EXPECT_EQ(w.WindowOf(kMsPerHour), (TimeWindow{kMsPerHour, 2 * kMsPerHour}));
  EXPECT_EQ(w.WindowOf(-1), (TimeWindow{-kMsPerHour, 0}));
  EXPECT_FALSE(w.IsFinal(kMsPerHour, kMsPerHour + 5 * kMin - 1));
  EXPECT_TRUE(w.IsFinal(kMsPerHour, kMsPerHour + 5 * kMin));
}

TEST(HoppingWindowsTest, EveryWindowContainingTheEventInStartOrder) {
  HoppingWindows w(60 * kMin, 15 * kMin, 0);
  EXPECT_EQ(HoppingOf(w, 70 * kMin),
            (std::vector<TimeWindow>{{15 * kMin, 75 * kMin}, {30 * kMin, 90 * kMin},
                                     {45 * kMin, 105 * kMin}, {60 * kMin, 120 * kMin}}));
  // On a boundary: the window starting there includes it, the one ending there does not.
  const std::vector<TimeWindow> at = HoppingOf(w, 60 * kMin);
  ASSERT_EQ(at.size(), 4u);
  EXPECT_EQ(at.front(), (TimeWindow{15 * kMin, 75 * kMin}));
  EXPECT_EQ(at.back(), (TimeWindow{60 * kMin, 120 * kMin}));
  EXPECT_EQ(HoppingOf(w, -1).size(), 4u);
  for (const TimeWindow& win : HoppingOf(w, -1)) EXPECT_TRUE(win.start <= -1 && -1 < win.end);
}

TEST(HoppingWindowsTest, AdvanceEqualToSizeIsTumbling) {
  HoppingWindows hopping(kMsPerHour, kMsPerHour, 0);
  TumblingWindows tumbling(kMsPerHour, 0);
  for (TimestampMs t : {-kMsPerHour - 1, TimestampMs{0}, kMsPerHour - 1, 5 * kMsPerHour + 7}) {
    EXPECT_EQ(HoppingOf(hopping, t), (std::vector<TimeWindow>{tumbling.WindowOf(t)}));
  }
}

TEST(HoppingWindowsTest, AdvanceNotDividingSize) {
  HoppingWindows w(10, 4, 0);
  for (TimestampMs t = -20; t < 40; ++t) {
    const std::vector<TimeWindow> wins = HoppingOf(w, t);
    for (const TimeWindow& win : wins) {
      EXPECT_TRUE(win.start <= t && t < win.end) << t;
      EXPECT_EQ(FloorDiv(win.start, 4) * 4, win.start);
    }
    // Exactly the multiples of 4 in (t - 10, t].
    size_t expected = 0;
    for (TimestampMs s = -40; s <= t; s += 4) expected += s > t - 10 ? 1 : 0;
    EXPECT_EQ(wins.size(), expected) << t;
  }
}

TEST(SessionSetTest, EventsWithinTheGapExtendOneSession) {
  SessionSet set;
  std::vector<Session> merged;
  set.Add(0, 30 * kMin, merged);
  set.Add(10 * kMin, 30 * kMin, merged);
  const Session s = set.Add(40 * kMin, 30 * kMin, merged);  // exactly the gap after: continues
  EXPECT_EQ(s, (Session{0, 70 * kMin, 3}));
  ASSERT_EQ(set.sessions().size(), 1u);
  set.Add(101 * kMin, 30 * kMin, merged);  // more than the gap: a new session
  EXPECT_EQ(set.sessions().size(), 2u);
}

TEST(SessionSetTest, AnOutOfOrderEventBridgesTwoSessions) {
  SessionSet set;
  std::vector<Session> merged;
  set.Add(0, 30 * kMin, merged);
  set.Add(50 * kMin, 30 * kMin, merged);
  ASSERT_EQ(set.sessions().size(), 2u);
  const Session s = set.Add(25 * kMin, 30 * kMin, merged);
  EXPECT_EQ(s, (Session{0, 80 * kMin, 3}));
  EXPECT_EQ(merged, (std::vector<Session>{{0, 30 * kMin, 1}, {50 * kMin, 80 * kMin, 1}}));
  EXPECT_EQ(set.sessions(), (std::vector<Session>{s}));
}

TEST(SessionSetTest, FinalSessionsAreTakenOldestFirst) {
  SessionSet set;
  std::vector<Session> merged;
  set.Add(0, 10, merged);
  set.Add(100, 10, merged);
  set.Add(200, 10, merged);
  std::vector<Session> final;
  set.TakeFinal(/*watermark=*/115, /*grace=*/5, [&](const Session& s) { final.push_back(s); });
  EXPECT_EQ(final, (std::vector<Session>{{0, 10, 1}, {100, 110, 1}}));
  EXPECT_EQ(set.sessions(), (std::vector<Session>{{200, 210, 1}}));
  EXPECT_TRUE(set.IsLate(100, 10, 5, 115));
  EXPECT_FALSE(set.IsLate(101, 10, 5, 115));
}

}  // namespace
}  // namespace learnflow
