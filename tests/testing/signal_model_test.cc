// Golden tests of the in-test signal model (tests/testing/signal_model.h) and of the record
// parser and diffs (signal_records.h). Every expectation is a literal worked out by hand from the
// signal rules; the comments show the arithmetic. Defaults throughout: windows of 1 h, grace
// 5 min, out-of-orderness 1 min (so an event at t moves the watermark to t - 1 min and the window
// [10:00, 11:00) is final once an event at >= 11:06 has been seen), session gap 30 min,
// BKT p_init .3, T .1, G .2, S .1.
//
// BKT values used below (exact fractions):
//   correct from .3:        posterior = .27 / (.27 + .14) = 27/41; p = .1 + .9 * 27/41 = 142/205
//   wrong after 142/205:    posterior = 14.2 / (14.2 + 50.4) = 71/323; p = .1 + .9 * 71/323
//                           = 481/1615
//   correct after 481/1615: posterior = 432.9 / (432.9 + 226.8) = 481/733; p = .1 + .9 * 481/733
//                           = 2531/3665
//   correct after 142/205:  posterior = 127.8 / (127.8 + 12.6) = 71/78; p = .1 + .9 * 71/78
//                           = 239/260
//   wrong from .3:          posterior = .03 / (.03 + .56) = 3/59; p = .1 + .9 * 3/59 = 43/295
#include "tests/testing/signal_model.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "tests/testing/signal_records.h"
#include "tests/testing/test_util.h"

namespace learnflow::testing {
namespace {

constexpr double k142Over205 = 0.69268292682926829;    // correct from .3
constexpr double k481Over1615 = 0.29783281733746130;   // ... then wrong
constexpr double k2531Over3665 = 0.69058663028649386;  // ... then correct
constexpr double k239Over260 = 0.91923076923076923;    // correct, correct
constexpr double k43Over295 = 0.14576271186440678;     // wrong from .3

constexpr TimestampMs kDay0 = 1795305600000;  // 2026-11-22T00:00:00.000Z

// 2026-11-22 plus `day` days, at hour:minute:second.millis UTC.
TimestampMs At(int hour, int minute, int second = 0, int millis = 0, int day = 0) {
  return kDay0 + day * kMsPerDay + hour * kMsPerHour + minute * kMsPerMinute +
         second * kMsPerSecond + millis;
}

ModelEvent Ev(std::string id, std::string learner, EventKind kind, TimestampMs t,
              Success success = Success::kUnknown, std::string skill = "",
              std::string attempt_ref = "") {
  ModelEvent e;
  e.event_id = std::move(id);
  e.learner_id = std::move(learner);
  e.course_id = "C1";
  e.cohort_id = "K1";
  e.skill_id = std::move(skill);
  e.attempt_ref = std::move(attempt_ref);
  e.kind = kind;
  e.success = success;
  e.time_ms = t;
  return e;
}

ModelEvent View(std::string id, std::string learner, TimestampMs t) {
  return Ev(std::move(id), std::move(learner), EventKind::kView, t);
}

ModelEvent InCohort(ModelEvent e, std::string cohort) {
  e.cohort_id = std::move(cohort);
  return e;
}

ModelEvent OnPartition(ModelEvent e, int32_t partition) {
  e.partition = partition;
  return e;
}

// A learner record with every counter zero and no mastery; tests set what they expect.
LearnerRecord Rec(std::string learner, TimestampMs window_start, std::string cohort = "K1") {
  LearnerRecord r;
  r.learner_id = std::move(learner);
  r.course_id = "C1";
  r.cohort_id = std::move(cohort);
  r.window_start = window_start;
  r.window_end = window_start + kMsPerHour;
  return r;
}

TEST(SignalModelTest, BktCarriesAcrossWindows) {
  const std::vector<ModelEvent> events = {
      Ev("a1", "L1", EventKind::kAttempt, At(10, 5), Success::kTrue, "s1"),
      Ev("a2", "L1", EventKind::kAttempt, At(11, 5), Success::kFalse, "s1"),
      Ev("a3", "L1", EventKind::kAttempt, At(12, 5), Success::kTrue, "s1"),
      View("v1", "L1", At(14, 0)),  // watermark 13:59: 10:00..12:00 final, 14:00 not
  };
  const ModelOutput out = RunModel(events, ModelOptions{});

  ASSERT_EQ(out.learner_records.size(), 3u);
  EXPECT_NEAR(out.learner_records[0].mastery.at("s1"), k142Over205, 1e-9);
  EXPECT_NEAR(out.learner_records[1].mastery.at("s1"), k481Over1615, 1e-9);
  EXPECT_NEAR(out.learner_records[2].mastery.at("s1"), k2531Over3665, 1e-9);

  std::vector<LearnerRecord> expected;
  for (int hour : {10, 11, 12}) {
    LearnerRecord r = Rec("L1", At(hour, 0));
    r.events = 1;
    r.attempts = 1;
    r.correct = hour == 11 ? 0 : 1;
    r.accuracy = hour == 11 ? 0.0 : 1.0;
    r.active_minutes = 1;
    r.sessions = 1;  // 10:05, 11:05, 12:05, 14:00: every gap is > 30 min
    const double p = hour == 10 ? k142Over205 : hour == 11 ? k481Over1615 : k2531Over3665;
    r.mastery = {{"s1", p}};
    r.mean_mastery = p;
    expected.push_back(r);
  }
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords(expected, out.learner_records));
  EXPECT_TRUE(out.inactive_records.empty());
  EXPECT_TRUE(out.late_event_ids.empty());
}

TEST(SignalModelTest, MasteryIsTheLastValuePerSkillInTheWindow) {
  const std::vector<ModelEvent> events = {
      Ev("a1", "L1", EventKind::kAttempt, At(10, 1), Success::kTrue, "s1"),   // s1 142/205
      Ev("a2", "L1", EventKind::kAttempt, At(10, 2), Success::kFalse, "s1"),  // s1 481/1615
      Ev("a3", "L1", EventKind::kAttempt, At(10, 3), Success::kFalse, "s2"),  // s2 43/295
      Ev("a4", "L1", EventKind::kAttempt, At(10, 4), Success::kTrue, "s1"),   // s1 2531/3665
      View("v1", "L2", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord r = Rec("L1", At(10, 0));
  r.events = 4;
  r.attempts = 4;
  r.correct = 2;
  r.accuracy = 0.5;
  r.active_minutes = 4;
  r.sessions = 1;
  r.mastery = {{"s1", k2531Over3665}, {"s2", k43Over295}};
  // (2531/3665 + 43/295) / 2 = (149329 + 31519) / 216235 / 2 = 90424/216235
  r.mean_mastery = 0.41817467107545032;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({r}, out.learner_records));
}

TEST(SignalModelTest, AccuracyIsNullWhenNoSuccessIsKnown) {
  const std::vector<ModelEvent> events = {
      Ev("a1", "L1", EventKind::kAttempt, At(10, 1), Success::kUnknown, "s1"),
      Ev("a2", "L1", EventKind::kAttempt, At(10, 2), Success::kUnknown, "s1"),
      View("v1", "L2", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord r = Rec("L1", At(10, 0));
  r.events = 2;
  r.attempts = 2;
  r.correct = 0;
  r.accuracy = std::nullopt;
  r.active_minutes = 2;
  r.sessions = 1;
  r.mastery = {};  // unknown success makes no BKT observation
  r.mean_mastery = std::nullopt;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({r}, out.learner_records));
}

TEST(SignalModelTest, StrugglingNeedsMinAttemptsAndLowAccuracyOrMastery) {
  std::vector<ModelEvent> events;
  for (std::string learner : {"L1", "L2"}) {
    // 1 correct without skill, 1 wrong on s1, then unknowns: 3 for L1 (5 attempts), 2 for L2.
    events.push_back(Ev(learner + "c", learner, EventKind::kAttempt, At(10, 1), Success::kTrue));
    events.push_back(
        Ev(learner + "w", learner, EventKind::kAttempt, At(10, 2), Success::kFalse, "s1"));
    const int unknowns = learner == "L1" ? 3 : 2;
    for (int i = 0; i < unknowns; ++i) {
      events.push_back(
          Ev(learner + "u" + std::to_string(i), learner, EventKind::kAttempt, At(10, 3)));
    }
  }
  events.push_back(View("end", "Z", At(12, 0)));
  const ModelOutput out = RunModel(events, ModelOptions{});

  // accuracy 1/2 = .5 is not < .5; mean_mastery 43/295 < .4 makes L1 struggle; L2 has 4 attempts.
  LearnerRecord l1 = Rec("L1", At(10, 0));
  l1.events = 5;
  l1.attempts = 5;
  l1.correct = 1;
  l1.accuracy = 0.5;
  l1.active_minutes = 3;
  l1.sessions = 1;
  l1.mastery = {{"s1", k43Over295}};
  l1.mean_mastery = k43Over295;
  l1.struggling = true;
  LearnerRecord l2 = l1;
  l2.learner_id = "L2";
  l2.events = 4;
  l2.attempts = 4;
  l2.struggling = false;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1, l2}, out.learner_records));
}

TEST(SignalModelTest, ActiveMinutesCountDistinctMinutesAndCourseIsTheFirstNonEmpty) {
  ModelEvent first = View("v1", "L1", At(10, 0, 10));
  first.course_id = "";
  ModelEvent no_course = View("n1", "L2", At(10, 30));
  no_course.course_id = "";
  ModelEvent third = View("v3", "L1", At(10, 1, 0));
  third.course_id = "C9";
  const std::vector<ModelEvent> events = {
      first,                                                 // minute 10:00, no course
      View("v2", "L1", At(10, 0, 50)),                       // minute 10:00 again, course C1
      third,                                                 // minute 10:01
      Ev("h1", "L1", EventKind::kHelp, At(10, 5, 59, 999)),  // minute 10:05
      no_course,
      View("end", "Z", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord l1 = Rec("L1", At(10, 0));
  l1.course_id = "C1";
  l1.events = 4;
  l1.help_requests = 1;
  l1.active_minutes = 3;
  l1.sessions = 1;
  LearnerRecord l2 = Rec("L2", At(10, 0));
  l2.course_id = std::nullopt;
  l2.events = 1;
  l2.active_minutes = 1;
  l2.sessions = 1;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1, l2}, out.learner_records));
}

TEST(SignalModelTest, SessionsCountInTheWindowOfTheirFirstEvent) {
  const std::vector<ModelEvent> events = {
      View("v1", "L1", At(10, 50)),  // session 1 starts in the 10:00 window
      View("v2", "L1", At(11, 10)),  // +20 min: still session 1
      View("v3", "L1", At(11, 45)),  // +35 min > 30: session 2 starts in the 11:00 window
      View("v4", "L1", At(12, 15)),  // +30 min exactly: still session 2
      View("v5", "L1", At(14, 0)),   // session 3 (window 14:00, not final)
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord w10 = Rec("L1", At(10, 0));
  w10.events = 1;
  w10.active_minutes = 1;
  w10.sessions = 1;
  LearnerRecord w11 = Rec("L1", At(11, 0));
  w11.events = 2;
  w11.active_minutes = 2;
  w11.sessions = 1;
  LearnerRecord w12 = Rec("L1", At(12, 0));
  w12.events = 1;
  w12.active_minutes = 1;
  w12.sessions = 0;  // its only event continues the session that started at 11:45
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({w10, w11, w12}, out.learner_records));
}

TEST(SignalModelTest, SystemEventsJoinSessionsButAreNotCounted) {
  const std::vector<ModelEvent> events = {
      View("a1", "L1", At(10, 0)),
      Ev("a2", "L1", EventKind::kSystem, At(10, 25)),  // bridges 10:00 and 10:50 (25 + 25 min)
      View("a3", "L1", At(10, 50)),
      View("b1", "L2", At(10, 0)),
      View("b3", "L2", At(10, 50)),                    // 50 min after 10:00: a second session
      Ev("c1", "L3", EventKind::kSystem, At(10, 30)),  // only a system event: no record
      View("end", "Z", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord l1 = Rec("L1", At(10, 0));
  l1.events = 2;
  l1.active_minutes = 2;
  l1.sessions = 1;
  LearnerRecord l2 = l1;
  l2.learner_id = "L2";
  l2.sessions = 2;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1, l2}, out.learner_records));
}

TEST(SignalModelTest, DuplicateEventIdCountsOncePerLearnerCohortWindow) {
  const std::vector<ModelEvent> events = {
      Ev("a1", "L1", EventKind::kAttempt, At(10, 5), Success::kTrue, "s1"),
      Ev("a1", "L1", EventKind::kAttempt, At(10, 5), Success::kTrue, "s1"),   // redelivery
      Ev("a1", "L1", EventKind::kAttempt, At(10, 20), Success::kTrue, "s1"),  // same id, new time
      Ev("a2", "L1", EventKind::kAttempt, At(10, 30), Success::kTrue, "s1"),
      View("v1", "L1", At(10, 40)),
      InCohort(View("v1", "L1", At(10, 40)), "K2"),  // same id, other cohort: counted there
      View("end", "Z", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord k1 = Rec("L1", At(10, 0));
  k1.events = 3;  // a1, a2, v1
  k1.attempts = 2;
  k1.correct = 2;
  k1.accuracy = 1.0;
  k1.active_minutes = 3;  // 10:05, 10:30, 10:40 (the duplicate at 10:20 adds no minute)
  k1.sessions = 1;
  k1.mastery = {{"s1", k239Over260}};  // two observations, not four
  k1.mean_mastery = k239Over260;
  LearnerRecord k2 = Rec("L1", At(10, 0), "K2");
  k2.events = 1;
  k2.active_minutes = 1;
  k2.sessions = 1;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({k1, k2}, out.learner_records));
}

TEST(SignalModelTest, CaliperOutcomeJoinsItsAttemptOnce) {
  const std::vector<ModelEvent> events = {
      // AssessmentItemEvent Completed: success unknown.
      Ev("c1", "L1", EventKind::kAttempt, At(10, 55), Success::kUnknown, "q1", "A1"),
      // GradeEvent Graded in the next window; watermark 10:54, the attempt's window is open.
      Ev("g1", "L1", EventKind::kOutcome, At(11, 2), Success::kTrue, "q1", "A1"),
      // A second grade of the same attempt does not join: an attempt of its own window.
      Ev("g2", "L1", EventKind::kOutcome, At(11, 3), Success::kFalse, "q1", "A1"),
      View("end", "Z", At(13, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord w10 = Rec("L1", At(10, 0));
  w10.events = 1;
  w10.attempts = 1;
  w10.correct = 1;  // from the joined grade
  w10.accuracy = 1.0;
  w10.active_minutes = 1;
  w10.sessions = 1;
  w10.mastery = {{"q1", k142Over205}};
  w10.mean_mastery = k142Over205;
  LearnerRecord w11 = Rec("L1", At(11, 0));
  w11.events = 2;    // g1 and g2 are events of their own window
  w11.attempts = 1;  // only g2
  w11.correct = 0;
  w11.accuracy = 0.0;
  w11.active_minutes = 2;
  w11.sessions = 0;  // 10:55 -> 11:02 is one session, started in the 10:00 window
  w11.mastery = {{"q1", k481Over1615}};
  w11.mean_mastery = k481Over1615;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({w10, w11}, out.learner_records));
}

TEST(SignalModelTest, OutcomeDoesNotJoinAnAttemptWhoseWindowIsFinal) {
  const std::vector<ModelEvent> events = {
      Ev("c1", "L1", EventKind::kAttempt, At(10, 10), Success::kUnknown, "q1", "A1"),
      View("v1", "L1", At(11, 30)),  // watermark 11:29 >= 11:05: the 10:00 window is final
      Ev("g1", "L1", EventKind::kOutcome, At(11, 40), Success::kTrue, "q1", "A1"),
      View("end", "Z", At(13, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord w10 = Rec("L1", At(10, 0));
  w10.events = 1;
  w10.attempts = 1;
  w10.active_minutes = 1;
  w10.sessions = 1;
  LearnerRecord w11 = Rec("L1", At(11, 0));
  w11.events = 2;
  w11.attempts = 1;
  w11.correct = 1;
  w11.accuracy = 1.0;
  w11.active_minutes = 2;
  w11.sessions = 1;  // 10:10 -> 11:30 is more than 30 min
  w11.mastery = {{"q1", k142Over205}};
  w11.mean_mastery = k142Over205;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({w10, w11}, out.learner_records));
}

TEST(SignalModelTest, MoodleGradeWithoutAttemptRefIsAnAttemptOfItsOwn) {
  const std::vector<ModelEvent> events = {
      // \mod_quiz\event\attempt_submitted: success unknown, no attempt ref.
      Ev("m1", "L1", EventKind::kAttempt, At(10, 10), Success::kUnknown, "quiz7"),
      // \core\event\user_graded with a failing finalgrade.
      Ev("m2", "L1", EventKind::kOutcome, At(10, 20), Success::kFalse, "quiz7"),
      View("end", "Z", At(12, 0)),
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  LearnerRecord r = Rec("L1", At(10, 0));
  r.events = 2;
  r.attempts = 2;
  r.correct = 0;
  r.accuracy = 0.0;  // 0 correct of 1 known
  r.active_minutes = 2;
  r.sessions = 1;
  r.mastery = {{"quiz7", k43Over295}};
  r.mean_mastery = k43Over295;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({r}, out.learner_records));
}

TEST(SignalModelTest, LateEventIsDeadLetteredAndCountsNowhere) {
  const std::vector<ModelEvent> events = {
      View("A", "L1", At(10, 0)),
      View("B", "L1", At(11, 5, 59, 999)),  // watermark 11:04:59.999: 10:00 not yet final
      Ev("C", "L1", EventKind::kAttempt, At(10, 59), Success::kTrue, "s1"),  // applied
      View("D", "L1", At(11, 6)),       // watermark 11:05:00 = end + grace: final
      View("E", "L1", At(10, 59, 30)),  // late
  };
  const ModelOutput out = RunModel(events, ModelOptions{});
  EXPECT_EQ(out.late_event_ids, std::vector<std::string>{"E"});
  LearnerRecord r = Rec("L1", At(10, 0));
  r.events = 2;  // A and C
  r.attempts = 1;
  r.correct = 1;
  r.accuracy = 1.0;
  r.active_minutes = 2;  // 10:00 and 10:59
  r.sessions = 2;        // 10:00, then 10:59 (59 min later); 11:05:59.999 continues the second
  r.mastery = {{"s1", k142Over205}};
  r.mean_mastery = k142Over205;
  // The 11:00 window needs a watermark of 12:05: not final, not emitted.
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({r}, out.learner_records));
}

TEST(SignalModelTest, InactivityFiresOnceAndRearmsOnNewerActivity) {
  const ModelEvent l1_day0 = View("i1", "L1", At(10, 0, 0, 0, /*day=*/0));
  // Deadline day 7 10:00. A watermark 1 ms short of it fires nothing.
  EXPECT_TRUE(RunModel({l1_day0, View("i0", "L2", At(10, 0, 59, 999, 7))}, ModelOptions{})
                  .inactive_records.empty());

  const std::vector<ModelEvent> events = {
      l1_day0,
      View("i2", "L2", At(10, 1, 0, 0, 7)),  // watermark day 7 10:00 = deadline: fires
      View("i3", "L2", At(12, 0, 0, 0, 7)),  // already reported: nothing
      InCohort(View("i4", "L1", At(11, 0, 0, 0, 7)), "K2"),  // newer activity re-arms L1
      View("i5", "L2", At(11, 1, 0, 0, 14)),  // watermark day 14 11:00: fires L1 again
  };
  const ModelOutput first = RunModel({events[0], events[1], events[2]}, ModelOptions{});
  ASSERT_EQ(first.inactive_records.size(), 1u);

  const ModelOutput out = RunModel(events, ModelOptions{});
  const std::vector<InactiveRecord> expected = {
      {"L1", "K1", At(10, 0, 0, 0, 0)},
      {"L1", "K2", At(11, 0, 0, 0, 7)},
  };
  EXPECT_NO_SIGNAL_DIFF(DiffInactiveRecords(expected, out.inactive_records));
}

// Five wrong attempts in the window's first five minutes: attempts 5, accuracy 0, struggling.
void Struggle(std::vector<ModelEvent>& events, const std::string& learner, int hour,
              const std::string& cohort = "K1") {
  for (int i = 0; i < 5; ++i) {
    events.push_back(InCohort(Ev(learner + "-" + std::to_string(hour) + "-" + std::to_string(i),
                                 learner, EventKind::kAttempt, At(hour, i), Success::kFalse),
                              cohort));
  }
}

// One view at half past: a learner record that does not struggle.
void Visit(std::vector<ModelEvent>& events, const std::string& learner, int hour) {
  events.push_back(View(learner + "-" + std::to_string(hour) + "-v", learner, At(hour, 30)));
}

TEST(SignalModelTest, CohortBelowMinSizeNeverAlerts) {
  std::vector<ModelEvent> events;
  for (const char* learner : {"L1", "L2", "L3", "L4"}) Struggle(events, learner, 10);
  events.push_back(InCohort(View("end", "Z", At(12, 0)), "other"));
  const ModelOutput out = RunModel(events, ModelOptions{});

  CohortRecord c;
  c.cohort_id = "K1";
  c.window_start = At(10, 0);
  c.window_end = At(11, 0);
  c.active_learners = 4;
  c.struggling_learners = 4;
  c.struggling_share = 1.0;
  c.accuracy = 0.0;  // 0 correct / 20 attempts
  c.mean_mastery = std::nullopt;
  c.active_minutes = 20;
  c.help_requests = 0;
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords({c}, out.cohort_records));
  EXPECT_NO_SIGNAL_DIFF(DiffAlerts({}, out.alerts));
}

TEST(SignalModelTest, AlertFiresOnceThenResolves) {
  std::vector<ModelEvent> events;
  // Shares per window: 10:00 2/5, 11:00 2/5, 12:00 1/5, 13:00 1/5.
  for (int hour : {10, 11, 12, 13}) {
    Struggle(events, "L0", hour);
    if (hour <= 11) {
      Struggle(events, "L1", hour);
    } else {
      Visit(events, "L1", hour);
    }
    for (const char* learner : {"L2", "L3", "L4"}) Visit(events, learner, hour);
  }
  events.push_back(View("end", "L0", At(15, 0)));  // watermark 14:59: 13:00 final
  const ModelOutput out = RunModel(events, ModelOptions{});

  std::vector<CohortRecord> cohorts;
  for (int hour : {10, 11, 12, 13}) {
    CohortRecord c;
    c.cohort_id = "K1";
    c.window_start = At(hour, 0);
    c.window_end = At(hour + 1, 0);
    c.active_learners = 5;
    c.struggling_learners = hour <= 11 ? 2 : 1;
    c.struggling_share = hour <= 11 ? 0.4 : 0.2;
    c.accuracy = 0.0;
    c.active_minutes = hour <= 11 ? 5 + 5 + 1 + 1 + 1 : 5 + 1 + 1 + 1 + 1;
    cohorts.push_back(c);
  }
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords(cohorts, out.cohort_records));

  const std::vector<AlertRecord> alerts = {
      {"struggling_cohort", "firing", "K1", At(10, 0), At(11, 0), 5, 0.4, 0.3},
      {"struggling_cohort", "resolved", "K1", At(12, 0), At(13, 0), 5, 0.2, 0.3},
  };
  EXPECT_NO_SIGNAL_DIFF(DiffAlerts(alerts, out.alerts));
}

TEST(SignalModelTest, CohortWindowWaitsForEveryPartition) {
  const std::vector<ModelEvent> lagging = {
      Ev("a1", "L1", EventKind::kAttempt, At(10, 10), Success::kTrue, "s1"),
      Ev("h1", "L1", EventKind::kHelp, At(10, 11)),
      View("v1", "L1", At(11, 10)),  // partition 0 watermark 11:09: 10:00 final there
      OnPartition(Ev("b1", "L2", EventKind::kAttempt, At(10, 20), Success::kFalse, "s1"), 1),
  };
  ModelOptions options;
  options.partitions = 2;

  LearnerRecord l1 = Rec("L1", At(10, 0));
  l1.events = 2;
  l1.attempts = 1;
  l1.correct = 1;
  l1.accuracy = 1.0;
  l1.help_requests = 1;
  l1.active_minutes = 2;
  l1.sessions = 1;
  l1.mastery = {{"s1", k142Over205}};
  l1.mean_mastery = k142Over205;
  LearnerRecord l2 = Rec("L2", At(10, 0));
  l2.events = 1;
  l2.attempts = 1;
  l2.correct = 0;
  l2.accuracy = 0.0;
  l2.active_minutes = 1;
  l2.sessions = 1;
  l2.mastery = {{"s1", k43Over295}};
  l2.mean_mastery = k43Over295;

  // Partition 1 is at watermark 10:19: its learner window and the cohort window wait.
  const ModelOutput waiting = RunModel(lagging, options);
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1}, waiting.learner_records));
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords({}, waiting.cohort_records));

  std::vector<ModelEvent> caught_up = lagging;
  caught_up.push_back(OnPartition(View("b2", "L2", At(11, 30)), 1));  // watermark 11:29
  const ModelOutput done = RunModel(caught_up, options);
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1, l2}, done.learner_records));
  CohortRecord c;
  c.cohort_id = "K1";
  c.window_start = At(10, 0);
  c.window_end = At(11, 0);
  c.active_learners = 2;
  c.struggling_learners = 0;
  c.struggling_share = 0.0;
  c.accuracy = 0.5;  // 1 correct / 2 attempts
  // (142/205 + 43/295) / 2 = (8378 + 1763) / 12095 / 2 = 10141/24190
  c.mean_mastery = 0.41922281934683752;
  c.active_minutes = 3;
  c.help_requests = 1;
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords({c}, done.cohort_records));

  // A third partition that never sees an event never finalizes the cohort window.
  options.partitions = 3;
  const ModelOutput silent = RunModel(caught_up, options);
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l1, l2}, silent.learner_records));
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords({}, silent.cohort_records));
}

// --- Parsing the engine's records and diffing them. ---

TEST(SignalRecordsTest, ParsesEveryKind) {
  ModelOutput out;
  ASSERT_OK(AppendSignalRecord(
      R"({"kind":"learner_window","schema_version":1,"learner_id":"L1","course_id":null,)"
      R"("cohort_id":"K1","window_start":"2026-11-22T10:00:00.000Z",)"
      R"("window_end":"2026-11-22T11:00:00.000Z","events":3,"attempts":2,"correct":1,)"
      R"("accuracy":0.5,"help_requests":1,"active_minutes":2,"sessions":1,)"
      R"("mastery":{"a":0.6926829268292682,"b":1},"mean_mastery":0.8463414634146341,)"
      R"("struggling":false})",
      out));
  ASSERT_OK(AppendSignalRecord(
      R"({"kind":"inactive","schema_version":1,"learner_id":"L1","cohort_id":"K1",)"
      R"("last_event_time":"2026-11-22T10:00:00.000Z"})",
      out));
  ASSERT_OK(AppendSignalRecord(
      R"({"kind":"cohort_window","schema_version":1,"cohort_id":"K1",)"
      R"("window_start":"2026-11-22T10:00:00.000Z","window_end":"2026-11-22T11:00:00.000Z",)"
      R"("active_learners":5,"struggling_learners":2,"struggling_share":0.4,"accuracy":null,)"
      R"("mean_mastery":null,"active_minutes":13,"help_requests":0})",
      out));
  ASSERT_OK(AppendSignalRecord(
      R"({"kind":"alert","schema_version":1,"type":"struggling_cohort","state":"firing",)"
      R"("cohort_id":"K1","window_start":"2026-11-22T10:00:00.000Z",)"
      R"("window_end":"2026-11-22T11:00:00.000Z","active_learners":5,"struggling_share":0.4,)"
      R"("threshold":0.3})",
      out));

  LearnerRecord l = Rec("L1", At(10, 0));
  l.course_id = std::nullopt;
  l.events = 3;
  l.attempts = 2;
  l.correct = 1;
  l.accuracy = 0.5;
  l.help_requests = 1;
  l.active_minutes = 2;
  l.sessions = 1;
  l.mastery = {{"a", k142Over205}, {"b", 1.0}};
  l.mean_mastery = 0.8463414634146341;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({l}, out.learner_records));
  EXPECT_NO_SIGNAL_DIFF(DiffInactiveRecords({{"L1", "K1", At(10, 0)}}, out.inactive_records));
  CohortRecord c;
  c.cohort_id = "K1";
  c.window_start = At(10, 0);
  c.window_end = At(11, 0);
  c.active_learners = 5;
  c.struggling_learners = 2;
  c.struggling_share = 0.4;
  c.active_minutes = 13;
  EXPECT_NO_SIGNAL_DIFF(DiffCohortRecords({c}, out.cohort_records));
  EXPECT_NO_SIGNAL_DIFF(DiffAlerts(
      {{"struggling_cohort", "firing", "K1", At(10, 0), At(11, 0), 5, 0.4, 0.3}}, out.alerts));
}

TEST(SignalRecordsTest, MalformedRecordsNameTheField) {
  const std::string inactive_head = R"({"kind":"inactive","schema_version":1,"learner_id":"L1",)";
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {R"({"learner_id":"L1"})", "record.kind"},
      {R"({"kind":"nope"})", "unknown kind"},
      {inactive_head + R"("cohort_id":"K1","last_event_time":"2026-11-22T10:00:00Z"})",
       "inactive.last_event_time"},
      {inactive_head + R"("cohort_id":7,"last_event_time":"2026-11-22T10:00:00.000Z"})",
       "inactive.cohort_id: expected a string"},
      {inactive_head + R"("last_event_time":"2026-11-22T10:00:00.000Z","cohort_id":"K1"})",
       "inactive.cohort_id: missing at key position 3"},
      {inactive_head + R"("cohort_id":"K1"})", "inactive.last_event_time: missing"},
      {inactive_head +
           R"("cohort_id":"K1","last_event_time":"2026-11-22T10:00:00.000Z","extra":1})",
       "inactive.extra: unexpected key"},
      {R"({"kind":"inactive","schema_version":2})", "inactive.schema_version: expected 1"},
      {R"({"kind":"cohort_window","schema_version":1,"cohort_id":"K1",)"
       R"("window_start":"2026-11-22T10:00:00.000Z","window_end":"2026-11-22T11:00:00.000Z",)"
       R"("active_learners":5,"struggling_learners":2,"struggling_share":0.4,"accuracy":"x"})",
       "cohort_window.accuracy: expected a number or null"},
      {R"({"kind":"learner_window","schema_version":1,"learner_id":"L1","course_id":null,)"
       R"("cohort_id":"K1","window_start":"2026-11-22T10:00:00.000Z",)"
       R"("window_end":"2026-11-22T11:00:00.000Z","events":3,"attempts":2,"correct":1,)"
       R"("accuracy":0.5,"help_requests":1,"active_minutes":2,"sessions":1,)"
       R"("mastery":{"b":0.5,"a":0.5}})",
       "learner_window.mastery: keys not in strictly increasing byte order"},
      {R"({"kind":"alert","schema_version":1,"type":"struggling_cohort","state":"on"})",
       "alert.state"},
  };
  for (const Case& c : cases) {
    ModelOutput out;
    const Status status = AppendSignalRecord(c.json, out);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(status.message().find(c.message), std::string::npos)
        << c.json << "\n  got: " << status.message() << "\n  want: " << c.message;
    EXPECT_TRUE(out.learner_records.empty() && out.inactive_records.empty());
  }
}

TEST(SignalRecordsTest, DiffReportsMismatchesMissingAndUnexpected) {
  LearnerRecord a = Rec("L1", At(10, 0));
  a.accuracy = 0.5;
  a.mastery = {{"s1", 0.25}};
  LearnerRecord within_tolerance = a;
  within_tolerance.accuracy = 0.5 + 5e-10;
  EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords({a}, {within_tolerance}));

  LearnerRecord off = a;
  off.accuracy = std::nullopt;
  off.mastery = {{"s1", 0.25 + 2e-9}};
  LearnerRecord extra = Rec("L2", At(10, 0));
  LearnerRecord missing = Rec("L0", At(10, 0));
  const std::string diff = DiffLearnerRecords({a, missing}, {extra, off});
  EXPECT_NE(diff.find("expected 2, actual 2"), std::string::npos) << diff;
  EXPECT_NE(diff.find("accuracy expected 0.5, actual null"), std::string::npos) << diff;
  EXPECT_NE(diff.find("mastery expected {\"s1\":0.25}"), std::string::npos) << diff;
  EXPECT_NE(diff.find("missing: {\"kind\":\"learner_window\",\"learner_id\":\"L0\""),
            std::string::npos)
      << diff;
  EXPECT_NE(diff.find("unexpected: {\"kind\":\"learner_window\",\"learner_id\":\"L2\""),
            std::string::npos)
      << diff;

  AlertRecord firing{"struggling_cohort", "firing", "K1", At(10, 0), At(11, 0), 5, 0.4, 0.3};
  AlertRecord resolved = firing;
  resolved.state = "resolved";
  EXPECT_NE(DiffAlerts({firing}, {resolved}).find("state expected \"firing\", actual \"resolved\""),
            std::string::npos);
}

}  // namespace
}  // namespace learnflow::testing
