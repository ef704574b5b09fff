#include "stream/cohort_task.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

constexpr TimestampMs kHour = kMsPerHour;

class Collector final : public TaskOutput {
 public:
  Status Emit(Output output, std::string_view key, std::string_view value) override {
    (output == Output::kAlerts ? alerts : cohorts).emplace_back(std::string(key), std::string(value));
    return Status::Ok();
  }
  Status Repartition(std::string_view, std::string_view) override { return Status::Ok(); }
  Status Broadcast(std::string_view) override { return Status::Ok(); }
  void OnCohortWindow(std::string_view, const CohortWindowSummary&, bool) override {}
  std::vector<std::pair<std::string, std::string>> cohorts;
  std::vector<std::pair<std::string, std::string>> alerts;
};

std::string Summary(int32_t upstream, TimestampMs end, const std::string& learner, bool struggling) {
  LearnerSummary s;
  s.upstream_partition = upstream;
  s.window_end = end;
  s.learner_hash = std::hash<std::string>()(learner);
  s.struggling = struggling;
  s.attempts = 4;
  s.correct = struggling ? 1 : 3;
  s.record = "{}";
  std::string out;
  AppendSummaryRecord(s, out);
  return out;
}

std::string Marker(int32_t upstream, TimestampMs bound, bool idle = false) {
  std::string out;
  AppendMarkerRecord(
      WatermarkMarker{.upstream_partition = upstream, .upstream_count = 2, .bound = bound, .idle = idle}, out);
  return out;
}

TEST(CohortTaskTest, WindowIsFinalOnlyWhenEveryUpstreamPartitionHasPassedIt) {
  const CohortSignalsOperator op(SignalParams{.min_cohort_size = 2, .cohort_struggling_share = 0.5});
  CohortTask task(0, op);
  Collector out;
  // Learners of partition 0 and 1 in [0, 1h); partition 0 is done with the window first.
  EXPECT_EQ(task.Process("c", Summary(0, kHour, "a", true)), CohortTask::Outcome::kAdded);
  EXPECT_EQ(task.Process("c", Marker(0, kHour)), CohortTask::Outcome::kMarker);
  ASSERT_OK(task.EmitFinal(out).status());
  EXPECT_TRUE(out.cohorts.empty()) << "partition 1 has not passed the window";
  EXPECT_EQ(task.Process("c", Summary(1, kHour, "b", true)), CohortTask::Outcome::kAdded);
  EXPECT_EQ(task.Process("c", Summary(1, kHour, "b", true)), CohortTask::Outcome::kDuplicate)
      << "a replayed summary counts once";
  EXPECT_EQ(task.Process("c", Marker(1, kHour)), CohortTask::Outcome::kMarker);
  ASSERT_OK(task.EmitFinal(out).status());
  ASSERT_EQ(out.cohorts.size(), 1u);
  EXPECT_NE(out.cohorts[0].second.find(R"("active_learners":2,"struggling_learners":2)"), std::string::npos)
      << out.cohorts[0].second;
  ASSERT_EQ(out.alerts.size(), 1u);
  EXPECT_NE(out.alerts[0].second.find(R"("state":"firing")"), std::string::npos);
  // A summary for the emitted window from an upstream whose marker passed it: a replay.
  EXPECT_EQ(task.Process("c", Summary(0, kHour, "z", false)), CohortTask::Outcome::kDuplicate);
  // Next window: one learner, below the minimum size: the alert resolves.
  EXPECT_EQ(task.Process("c", Summary(0, 2 * kHour, "a", false)), CohortTask::Outcome::kAdded);
  EXPECT_EQ(task.Process("c", Marker(0, 2 * kHour)), CohortTask::Outcome::kMarker);
  EXPECT_EQ(task.Process("c", Marker(1, 3 * kHour)), CohortTask::Outcome::kMarker);
  ASSERT_OK(task.EmitFinal(out).status());
  ASSERT_EQ(out.alerts.size(), 2u);
  EXPECT_NE(out.alerts[1].second.find(R"("state":"resolved")"), std::string::npos);
  EXPECT_EQ(task.Process("c", "garbage"), CohortTask::Outcome::kInvalid);
}

TEST(CohortTaskTest, AnIdleUpstreamIsNotWaitedForAndItsLaterRecordsAreLate) {
  const CohortSignalsOperator op(SignalParams{.min_cohort_size = 1});
  CohortTask task(0, op);
  Collector out;
  task.Process("c", Summary(0, kHour, "a", false));
  task.Process("c", Marker(0, 2 * kHour));
  ASSERT_OK(task.EmitFinal(out).status());
  EXPECT_TRUE(out.cohorts.empty()) << "upstream 1 has not spoken";
  task.Process("c", Marker(1, CohortTask::kNoBound, /*idle=*/true));
  ASSERT_OK(task.EmitFinal(out).status());
  ASSERT_EQ(out.cohorts.size(), 1u) << "the idle upstream is not waited for";
  // Upstream 1 comes back with a record for the window already emitted: late, not a replay.
  EXPECT_EQ(task.Process("c", Summary(1, kHour, "b", false)), CohortTask::Outcome::kLate);
  task.Process("c", Marker(1, kHour));  // active again, behind upstream 0
  EXPECT_EQ(task.FinalBound(), kHour);
}

TEST(CohortTaskTest, CheckpointKeepsOpenWindowsMarkersAndAlertState) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  const CohortSignalsOperator op(SignalParams{.min_cohort_size = 1, .cohort_struggling_share = 0.5});
  Collector out;
  {
    CohortTask task(2, op);
    task.DisableChangelog();
    ASSERT_OK(task.Load(**store));
    task.Process("c", Summary(0, kHour, "a", true));
    task.Process("c", Marker(0, kHour));
    task.Process("c", Marker(1, kHour));
    task.Process("c", Summary(1, 2 * kHour, "b", false));
    task.Consumed(3);
    ASSERT_OK(task.EmitFinal(out).status());
    ASSERT_EQ(out.alerts.size(), 1u);  // firing
    StateBatch batch(**store);
    task.Checkpoint(batch);
    ASSERT_OK((*store)->Write(batch));
  }
  CohortTask restored(2, op);
  restored.DisableChangelog();
  ASSERT_OK(restored.Load(**store));
  EXPECT_EQ(restored.next_offset(), 4);
  EXPECT_EQ(restored.FinalBound(), kHour);
  EXPECT_EQ(restored.open_windows(), 1u);
  restored.Process("c", Marker(0, 2 * kHour));
  restored.Process("c", Marker(1, 2 * kHour));
  ASSERT_OK(restored.EmitFinal(out).status());
  ASSERT_EQ(out.alerts.size(), 2u) << "the firing state survived the restart";
  EXPECT_NE(out.alerts[1].second.find(R"("state":"resolved")"), std::string::npos);
}

}  // namespace
}  // namespace learnflow
