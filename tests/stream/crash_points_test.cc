// Tests of stream/crash_points: the LEARNFLOW_TEST_CRASH_AT forms, and that a gated point counts
// only after its gate. Each arming test runs in a death-test child (the armed point is process
// state, and its last pass kills the process with SIGKILL).
#include "stream/crash_points.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <string>

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

TEST(CrashPointsDeathTest, APointKillsOnItsNthPass) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::string error;
        if (!Arm("after_flush:3", error)) std::exit(2);
        MaybeCrash(CrashPoint::kAfterFlush);
        MaybeCrash(CrashPoint::kMidBatch);
        MaybeCrash(CrashPoint::kAfterFlush);
        MaybeCrash(CrashPoint::kAfterStateWrite);
        MaybeCrash(CrashPoint::kAfterFlush);  // the third pass
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

TEST(CrashPointsDeathTest, AGatedPointCountsOnlyAfterItsGate) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Without the gate's second pass the point never fires, however often it is passed.
  EXPECT_EXIT(
      {
        std::string error;
        if (!Arm("mid_batch:2@after_flush:2", error)) std::exit(2);
        for (int i = 0; i < 100; ++i) MaybeCrash(CrashPoint::kMidBatch);
        MaybeCrash(CrashPoint::kAfterFlush);
        for (int i = 0; i < 100; ++i) MaybeCrash(CrashPoint::kMidBatch);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  // After it, the second pass of the point kills.
  EXPECT_EXIT(
      {
        std::string error;
        if (!Arm("mid_batch:2@after_flush:2", error)) std::exit(2);
        MaybeCrash(CrashPoint::kAfterFlush);
        MaybeCrash(CrashPoint::kMidBatch);
        MaybeCrash(CrashPoint::kAfterFlush);
        MaybeCrash(CrashPoint::kMidBatch);
        MaybeCrash(CrashPoint::kMidBatch);  // the second pass after the gate
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

}  // namespace
}  // namespace learnflow
