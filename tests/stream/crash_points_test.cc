// Tests of stream/crash_points: the LEARNFLOW_TEST_CRASH_AT forms, and that a gated point counts
// only after its gate. Each arming test runs in a death-test child (the armed point is process
// state, and its last pass kills the process with SIGKILL).
#include "stream/crash_points.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

namespace learnflow {
namespace {

bool Arm(const char* spec, std::string& error) {
  setenv("LEARNFLOW_TEST_CRASH_AT", spec, 1);
  const bool ok = ArmCrashPointFromEnvironment(error);
  unsetenv("LEARNFLOW_TEST_CRASH_AT");
  return ok;
}

TEST(CrashPointsTest, MalformedSpecsAreRejectedNamingTheProblem) {
  for (const char* spec : {"mid_batch:0", "nowhere:1", "mid_batch:5@after_flush:0",
                           "mid_batch:5@elsewhere:2", "after_flush:-3"}) {
    std::string error;
    EXPECT_FALSE(Arm(spec, error)) << spec;
    EXPECT_NE(error.find("LEARNFLOW_TEST_CRASH_AT"), std::string::npos) << spec << ": " << error;
  }
}

// Arms `spec`, passes `points` in order, then exits 0 (2 if `spec` does not arm). Run in a
// death-test child: a pass that fires kills it with SIGKILL.
[[noreturn]] void PassAndExit(const char* spec, const std::vector<CrashPoint>& points) {
  std::string error;
  if (!Arm(spec, error)) std::exit(2);
  for (const CrashPoint point : points) MaybeCrash(point);
  std::exit(0);
}

constexpr CrashPoint kMid = CrashPoint::kMidBatch;
constexpr CrashPoint kFlush = CrashPoint::kAfterFlush;
constexpr CrashPoint kWrite = CrashPoint::kAfterStateWrite;

TEST(CrashPointsDeathTest, APointKillsOnItsNthPass) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Its third pass is the last one.
  EXPECT_EXIT(PassAndExit("after_flush:3", {kFlush, kMid, kFlush, kWrite}),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(PassAndExit("after_flush:3", {kFlush, kMid, kFlush, kWrite, kFlush}),
              ::testing::KilledBySignal(SIGKILL), "");
}

TEST(CrashPointsDeathTest, AGatedPointCountsOnlyAfterItsGate) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Without the gate's second pass the point never fires, however often it is passed.
  std::vector<CrashPoint> before_gate(100, kMid);
  before_gate.push_back(kFlush);
  before_gate.insert(before_gate.end(), 100, kMid);
  EXPECT_EXIT(PassAndExit("mid_batch:2@after_flush:2", before_gate),
              ::testing::ExitedWithCode(0), "");
  // After it, the second pass of the point kills.
  EXPECT_EXIT(PassAndExit("mid_batch:2@after_flush:2", {kFlush, kMid, kFlush, kMid}),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(PassAndExit("mid_batch:2@after_flush:2", {kFlush, kMid, kFlush, kMid, kMid}),
              ::testing::KilledBySignal(SIGKILL), "");
}

}  // namespace
}  // namespace learnflow
