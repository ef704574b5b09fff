// The persisted learner and cohort state: the current version round-trips every field; learner
// and window values of version 2 (fixed-width fields) decode to the same state, and learner
// values of version 1 (written before the latest record was kept) without a latest record.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/codec.h"
#include "operators/cohort_signals.h"
#include "operators/learner_signals.h"
#include "tests/testing/sample_state.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

LearnerState SampleLearner() {
  LearnerState s;
  s.last_activity = 1'700'000'000'000;
  s.last_cohort_id = "c1";
  s.inactivity_reported = true;
  s.bkt = {{"algebra", 0.5}, {"fractions", 0.75}};
  s.sessions = {{10, 20}, {5000000, 5000100}};
  s.pending.push_back({42, 3600000, "c1", "algebra", true});
  s.SetLatest(testing::SampleLatestRecord(3600000, "course"));
  return s;
}

TEST(SignalStateTest, LearnerStateRoundTripsEveryField) {
  const LearnerState in = SampleLearner();
  std::string bytes;
  in.Encode(bytes);
  LearnerState out;
  ASSERT_OK(out.Decode(bytes));
  std::string again;
  out.Encode(again);
  EXPECT_EQ(again, bytes);
  LearnerWindowRecord latest;
  ASSERT_OK(out.GetLatest(latest));
  EXPECT_EQ(latest.mastery, (std::vector<std::pair<std::string, double>>{{"fractions", 0.25}}));
  EXPECT_EQ(latest.course_id, "course");
  EXPECT_EQ(latest.window_end, 3600000);
  EXPECT_EQ(latest.sessions, 1);
  EXPECT_EQ(out.pending.size(), 1u);
  // Truncation anywhere is corrupt, never a crash.
  for (size_t n = 0; n < bytes.size(); ++n) {
    LearnerState t;
    EXPECT_FALSE(t.Decode(std::string_view(bytes).substr(0, n)).ok()) << n;
  }
}

// SampleLearner() and SampleWindow() as version 2 wrote them.
const std::string kLearnerVersion2(
    "\x02\x00\x68\xe5\xcf\x8b\x01\x00\x00\x02\x00\x00\x00\x63\x31\x01\x02\x00\x00\x00"
    "\x00\x00\x00\x00\x07\x00\x00\x00\x61\x6c\x67\x65\x62\x72\x61\x00\x00\x00\x00\x00"
    "\x00\xe0\x3f\x09\x00\x00\x00\x66\x72\x61\x63\x74\x69\x6f\x6e\x73\x00\x00\x00\x00"
    "\x00\x00\xe8\x3f\x02\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00"
    "\x14\x00\x00\x00\x00\x00\x00\x00\x40\x4b\x4c\x00\x00\x00\x00\x00\xa4\x4b\x4c\x00"
    "\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x2a\x00\x00\x00\x00\x00\x00\x00"
    "\x80\xee\x36\x00\x00\x00\x00\x00\x02\x00\x00\x00\x63\x31\x07\x00\x00\x00\x61\x6c"
    "\x67\x65\x62\x72\x61\x01\x80\xee\x36\x00\x00\x00\x00\x00\x02\x00\x00\x00\x63\x31"
    "\x06\x00\x00\x00\x63\x6f\x75\x72\x73\x65\x07\x00\x00\x00\x00\x00\x00\x00\x05\x00"
    "\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"
    "\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01\x00"
    "\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x09\x00\x00\x00\x66\x72"
    "\x61\x63\x74\x69\x6f\x6e\x73\x00\x00\x00\x00\x00\x00\xd0\x3f",
    255);
const std::string kWindowVersion2(
    "\x02\x06\x00\x00\x00\x63\x6f\x75\x72\x73\x65\x03\x00\x00\x00\x00\x00\x00\x00\x02"
    "\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x61"
    "\x6c\x67\x65\x62\x72\x61\x00\x00\x00\x00\x00\x00\xe4\x3f\x03\x00\x00\x00\x00\x00"
    "\x00\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00\x00\x00\x00\x00\x0d\x00"
    "\x00\x00\x00\x00\x00\x00",
    126);

LearnerWindowState SampleWindow() {
  LearnerWindowState w;
  w.course_id = "course";
  w.events = 3;
  w.attempts = 2;
  w.known = 2;
  w.correct = 1;
  w.help_requests = 1;
  w.minutes = {0, 7};
  w.mastery = {{"algebra", 0.625}};
  w.seen_event_ids = {11, 12, 13};
  return w;
}

TEST(SignalStateTest, LearnerStateOfVersionTwoDecodesToTheSameStateAndIsWrittenSmaller) {
  LearnerState out;
  ASSERT_OK(out.Decode(kLearnerVersion2));
  std::string bytes, expected;
  out.Encode(bytes);
  SampleLearner().Encode(expected);
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ(bytes[0], 3);  // written in the current version
  EXPECT_LT(bytes.size(), kLearnerVersion2.size() * 2 / 3);
  LearnerWindowRecord latest;
  ASSERT_OK(out.GetLatest(latest));
  EXPECT_EQ(latest.mastery, (std::vector<std::pair<std::string, double>>{{"fractions", 0.25}}));
  EXPECT_EQ(latest.events, 7u);
  EXPECT_EQ(out.sessions[1].last, 5000100);
  for (size_t n = 0; n < kLearnerVersion2.size(); ++n) {
    LearnerState t;
    EXPECT_FALSE(t.Decode(std::string_view(kLearnerVersion2).substr(0, n)).ok()) << n;
  }
}

TEST(SignalStateTest, WindowStateRoundTripsAndVersionTwoDecodesToTheSameState) {
  std::string bytes;
  SampleWindow().Encode(bytes);
  EXPECT_EQ(bytes[0], 4);
  EXPECT_LT(bytes.size(), kWindowVersion2.size() * 2 / 3);
  // Version 2 and 3 windows hashed their event ids with StableHash64: they are written back as
  // version 3, otherwise the same bytes.
  std::string fnv_bytes = bytes;
  fnv_bytes[0] = 3;
  for (const std::string& in : {bytes, kWindowVersion2, fnv_bytes}) {
    LearnerWindowState out;
    ASSERT_OK(out.Decode(in));
    EXPECT_EQ(out.fnv_event_ids, in[0] != 4);
    std::string again;
    out.Encode(again);
    EXPECT_EQ(again, in[0] == 4 ? bytes : fnv_bytes);
    EXPECT_EQ(out.course_id, "course");
    EXPECT_EQ(out.help_requests, 1u);
    EXPECT_EQ(std::vector<uint32_t>(out.minutes.begin(), out.minutes.end()),
              (std::vector<uint32_t>{0, 7}));
    EXPECT_EQ(out.seen_event_ids.size(), 3u);
    for (size_t n = 0; n < in.size(); ++n) {
      LearnerWindowState t;
      EXPECT_FALSE(t.Decode(std::string_view(in).substr(0, n)).ok()) << n;
    }
  }
}

// A window stored before version 4 holds StableHash64 hashes of its event ids: after a restart
// its events must still count once, and new windows use EventIdHash64.
TEST(SignalStateTest, AWindowOfAnOlderVersionStillCountsItsEventsOnce) {
  const LearnerSignalsOperator op{SignalParams{}};
  const TimeWindow window{0, 3600000};
  CanonicalEvent first;
  first.event_id = "3f1c7c0e-4a5b-4c1d-9e2f-0123456789ab";
  first.event_time_ms = 1000;
  CanonicalEvent second = first;
  second.event_id = "3f1c7c0e-4a5b-4c1d-9e2f-0123456789ac";
  ASSERT_NE(StableHash64(first.event_id), EventIdHash64(first.event_id));

  LearnerWindowState old_window;
  old_window.fnv_event_ids = true;
  old_window.events = 1;
  old_window.seen_event_ids = {StableHash64(first.event_id)};
  std::string old_bytes;
  old_window.Encode(old_bytes);
  ASSERT_EQ(old_bytes[0], 3);

  LearnerWindowState fresh;
  EXPECT_TRUE(op.Count(first, window, fresh));
  EXPECT_EQ(std::vector<uint64_t>(fresh.seen_event_ids.begin(), fresh.seen_event_ids.end()),
            std::vector<uint64_t>{EventIdHash64(first.event_id)});
  std::string fresh_bytes;
  fresh.Encode(fresh_bytes);
  ASSERT_EQ(fresh_bytes[0], 4);

  for (const std::string& bytes : {old_bytes, fresh_bytes}) {
    LearnerWindowState restored;
    ASSERT_OK(restored.Decode(bytes));
    EXPECT_FALSE(op.Count(first, window, restored)) << "version " << int{bytes[0]};
    EXPECT_TRUE(op.Count(second, window, restored)) << "version " << int{bytes[0]};
    EXPECT_FALSE(op.Count(second, window, restored)) << "version " << int{bytes[0]};
    EXPECT_EQ(restored.events, 2u);
  }
}

TEST(SignalStateTest, AFrontCodedNameMustShareTheLongestPrefix) {
  // A window of version 3 with mastery {ab, ac}: "ac" shares "a" with "ab".
  const auto window = [](uint64_t shared, std::string_view suffix) {
    std::string v(1, 3);
    PutVarString(v, "");                      // course
    for (int i = 0; i < 5; ++i) PutVarint(v, 0);  // counters
    PutVarint(v, 0);                          // minutes
    PutVarint(v, 2);
    PutVarint(v, 0);
    PutVarString(v, "ab");
    PutDouble(v, 0.5);
    PutVarint(v, shared);
    PutVarString(v, suffix);
    PutDouble(v, 0.25);
    PutVarint(v, 0);  // ids
    return v;
  };
  LearnerWindowState out;
  ASSERT_OK(out.Decode(window(1, "c")));
  ASSERT_EQ(out.mastery.size(), 2u);
  EXPECT_EQ(SkillIds::Name(out.mastery[1].skill), "ac");
  std::string again;
  out.Encode(again);
  EXPECT_EQ(again, window(1, "c"));
  EXPECT_FALSE(out.Decode(window(0, "ac")).ok());  // the same name, not the shortest form
  EXPECT_FALSE(out.Decode(window(3, "")).ok());    // longer than the previous name
}

TEST(SignalStateTest, ALatestRecordSkillOutsideTheBktSetIsPersistedByName) {
  // A learner's windows only hold skills of its BKT set; should one not, it keeps its name.
  LearnerState in = SampleLearner();
  LearnerWindowRecord record = testing::SampleLatestRecord(3600000, "");
  record.mastery = {{"algebra", 0.5}, {"not-in-bkt", 0.125}};
  in.SetLatest(record);
  std::string bytes;
  in.Encode(bytes);
  EXPECT_NE(bytes.find("not-in-bkt"), std::string::npos);
  LearnerState out;
  ASSERT_OK(out.Decode(bytes));
  LearnerWindowRecord latest;
  ASSERT_OK(out.GetLatest(latest));
  EXPECT_EQ(latest.mastery, record.mastery);
  EXPECT_EQ(latest.course_id, "");
  EXPECT_EQ(latest.sessions, 1);
}

TEST(SignalStateTest, ALatestRecordSetWithTheWindowsSkillIdsIsTheSame) {
  // The task passes the window's mastery set (ids, in the record's order) instead of having
  // the names interned again: the same bytes either way.
  LearnerWindowRecord record = testing::SampleLatestRecord(3600000, "course");
  record.mastery = {{"algebra", 0.5}, {"geometry", 0.25}};
  SkillProbabilities ids;
  for (const auto& [skill, p] : record.mastery) ids.push_back(SkillProbability(skill, p));
  LearnerState by_name = SampleLearner();
  LearnerState by_id = SampleLearner();
  by_name.SetLatest(record);
  by_id.SetLatest(record, &ids);
  EXPECT_EQ(by_id.latest, by_name.latest);
  LearnerWindowRecord latest;
  ASSERT_OK(by_id.GetLatest(latest));
  EXPECT_EQ(latest.mastery, record.mastery);
}

TEST(SignalStateTest, ASessionSpanOfAnyTwoTimesRoundTrips) {
  // A span is written as start and length; the length wraps for spans no engine writes (a
  // corrupt older value's), instead of overflowing.
  LearnerState in = SampleLearner();
  in.sessions = {{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
                 {5, -5}};
  std::string bytes;
  in.Encode(bytes);
  LearnerState out;
  ASSERT_OK(out.Decode(bytes));
  ASSERT_EQ(out.sessions.size(), 2u);
  EXPECT_EQ(out.sessions[0].first, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(out.sessions[0].last, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(out.sessions[1].first, 5);
  EXPECT_EQ(out.sessions[1].last, -5);
}

TEST(SignalStateTest, LearnerStateOfVersionOneDecodesWithoutALatestRecord) {
  // Version 1: the same fields up to the pending attempts, nothing after them.
  std::string v1;
  v1.push_back(1);
  PutI64(v1, 1000);
  PutString(v1, "c1");
  v1.push_back(0);
  PutU64(v1, 1);
  PutString(v1, "algebra");
  PutDouble(v1, 0.5);
  PutU64(v1, 0);  // sessions
  PutU64(v1, 0);  // pending
  LearnerState out;
  out.latest = "left over";  // overwritten
  ASSERT_OK(out.Decode(v1));
  EXPECT_EQ(out.last_activity, 1000);
  EXPECT_EQ(out.bkt.size(), 1u);
  LearnerWindowRecord latest;
  ASSERT_OK(out.GetLatest(latest));
  EXPECT_EQ(latest.window_end, kNoTime);
}

TEST(SignalStateTest, CohortStateRoundTripsAndVersionOneHasNoLatestSummary) {
  CohortState in;
  in.firing = true;
  in.last_window_end = 7200000;
  in.latest.active_learners = 6;
  in.latest.struggling_learners = 2;
  in.latest.struggling_share = 2.0 / 6;
  in.latest.accuracy = 0.5;
  in.latest.active_minutes = 30;
  in.latest.help_requests = 3;
  std::string bytes;
  in.Encode(bytes);
  CohortState out;
  ASSERT_OK(out.Decode(bytes));
  EXPECT_TRUE(out.firing);
  EXPECT_EQ(out.latest.active_learners, 6);
  EXPECT_EQ(out.latest.accuracy, 0.5);
  EXPECT_FALSE(out.latest.mean_mastery.has_value());
  EXPECT_EQ(out.latest.help_requests, 3);

  std::string v1;
  v1.push_back(1);
  v1.push_back(1);
  PutI64(v1, 7200000);
  CohortState old;
  ASSERT_OK(old.Decode(v1));
  EXPECT_TRUE(old.firing);
  EXPECT_EQ(old.last_window_end, 7200000);
  EXPECT_EQ(old.latest.active_learners, 0);  // unknown: the query API answers null
}

// BKT estimates and window mastery are kept by interned skill id, but in byte order of the
// names whatever order the skills come in, and persisted (front-coded) and recorded by name.
TEST(SignalStateTest, SkillMapsKeepNameOrderAndPersistNames) {
  const LearnerSignalsOperator op{SignalParams{}};
  LearnerState learner;
  LearnerWindowState window;
  const std::vector<std::string> skills = {"skill-order-test/b", "skill-order-test/c",
                                           "skill-order-test/a", "skill-order-test/b",
                                           "skill-order-test/a0", "skill-order-test/"};
  for (const std::string& skill : skills) op.Observe(skill, /*correct=*/true, learner, window);
  const std::vector<std::string> sorted = {"skill-order-test/", "skill-order-test/a",
                                           "skill-order-test/a0", "skill-order-test/b",
                                           "skill-order-test/c"};
  ASSERT_EQ(learner.bkt.size(), sorted.size());
  ASSERT_EQ(window.mastery.size(), sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ(SkillIds::Name(learner.bkt[i].skill), sorted[i]);
    EXPECT_EQ(learner.bkt[i], window.mastery[i]);  // the window holds the learner's latest p
  }
  // "b" was observed twice: one more update than the others.
  EXPECT_DOUBLE_EQ(learner.bkt[3].p, op.BktUpdate(op.BktUpdate(SignalParams{}.p_init, true), true));
  EXPECT_DOUBLE_EQ(learner.bkt[2].p, op.BktUpdate(SignalParams{}.p_init, true));

  std::string bytes;
  window.Encode(bytes);
  // Front-coded: the first name whole, then each after the prefix it shares with the one before.
  EXPECT_NE(bytes.find("skill-order-test/"), std::string::npos);
  EXPECT_EQ(bytes.find("skill-order-test/a"), std::string::npos);
  std::string learner_bytes;
  learner.Encode(learner_bytes);
  EXPECT_EQ(learner_bytes.find("skill-order-test/a0"), std::string::npos);
  LearnerState learner_decoded;
  ASSERT_OK(learner_decoded.Decode(learner_bytes));
  EXPECT_EQ(learner_decoded.bkt, learner.bkt);
  LearnerWindowState decoded;
  ASSERT_OK(decoded.Decode(bytes));
  EXPECT_EQ(decoded.mastery, window.mastery);
  LearnerWindowRecord record;
  op.MakeRecord("c1", TimeWindow{0, 3600000}, decoded, 0, record);
  ASSERT_EQ(record.mastery.size(), sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(record.mastery[i].first, sorted[i]);
}

}  // namespace
}  // namespace learnflow
