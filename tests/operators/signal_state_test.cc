// The persisted learner and cohort state: version 2 round-trips every field, version 1 values
// (written before the latest record was kept) still decode, without a latest record.
#include <gtest/gtest.h>

#include <cmath>

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
// names whatever order the skills come in, and persisted (and recorded) by name.
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
  EXPECT_NE(bytes.find("skill-order-test/a0"), std::string::npos);
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
