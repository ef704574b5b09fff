// The state directory of a real `learnflow run` failing the way disks fail:
//  - full mid-run (a 256 KiB tmpfs: ENOSPC);
//  - turning read-only mid-run (ext4 on a loop device with errors=remount-ro, whose error the
//    test triggers: every later write fails with EROFS, also on files already open);
//  - unwritable at start-up (run as nobody when the test runs as root, so permissions apply).
// The engine must not crash or hang: it stops with exit code 1 (runtime failure) and one error
// line naming the state directory and the OS error. The state must survive: once space is given
// back (or the file system repaired), a restart on the same directory resumes from it and the
// learner, cohort and alert records equal those of an uninterrupted run.
//
// The mid-run tests mount file systems and need root (CAP_SYS_ADMIN); they skip, saying so,
// where mounting is not permitted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/http_test_client.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/recovery_fixture.h"
#include "tests/testing/scratch_mount.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::Outputs;

// The lines of `log` at level error or critical (spdlog's text format: "<time> <level> <message>").
std::vector<std::string> ErrorLines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string time, level;
    fields >> time >> level;
    if (level == "error" || level == "critical") lines.push_back(line);
  }
  return lines;
}

// The engine stopped by itself with exit code 1, after one error line naming the state directory
// and the OS error, without an abort or assertion on the way.
void ExpectStateFailureExit(int status, const std::string& log, const std::string& state_dir,
                            const std::string& os_error) {
  ASSERT_TRUE(WIFEXITED(status)) << "the engine died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                 << " instead of exiting\n" << log;
  EXPECT_EQ(WEXITSTATUS(status), 1) << log;
  const std::vector<std::string> errors = ErrorLines(log);
  ASSERT_EQ(errors.size(), 1u) << "expected exactly one error line\n" << log;
  std::cout << "exit code " << WEXITSTATUS(status) << ", the one error line: " << errors[0] << "\n";
  EXPECT_NE(errors[0].find(state_dir), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find(os_error), std::string::npos) << errors[0];
  EXPECT_EQ(log.find("Assertion"), std::string::npos) << log;
  // It failed while running, not at start-up.
  EXPECT_NE(log.find("engine ready ("), std::string::npos) << log;
}

// These tests fail state writes: every commit writes the local checkpoint
// (state.checkpoint_interval_ms 0), so the run before the failure leaves local state to resume
// from, and "changelog records of a later commit" means "the earlier commit's state is stored".
constexpr int kStateAtEveryCommit = 0;

class StateDirFailureTest : public testing::RecoveryFixture {
 protected:
  // Restarts group `group` on its state after the failure; the outputs must equal `reference`
  // and the restart must have resumed from the state the failed run left.
  void ExpectRestartGivesReference(const std::vector<std::string>& argv, const std::string& group,
                                   const std::string& log, const Outputs& reference) {
    testing::ChildProcess restart(argv, {}, log);
    AwaitSuperset(group, reference);
    ExpectCleanExit(restart, log);
    size_t total = 0;
    ExpectSameOutputs(ReadOutputs(group, reference, total), reference, testing::ReadFileOrEmpty(log));
    const std::string text = testing::ReadFileOrEmpty(log);
    EXPECT_GT(testing::CheckpointedInput(text).value_or(0), 0)
        << "the restart did not resume from the local state\n" << text;
    EXPECT_TRUE(ErrorLines(text).empty()) << text;
    std::cout << "reference records: " << testing::TotalSize(reference)
              << ", restart resumed from input checkpoint " << testing::CheckpointedInput(text).value_or(0)
              << ", records with repeats: " << total << "\n";
  }
};

TEST_F(StateDirFailureTest, DiskFullStopsTheEngineWithExitCode1AndARestartWithSpaceGivesTheUninterruptedResult) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<testing::ScratchMount>> fs = testing::ScratchMount::Tmpfs(dir.path() + "/fs", 256);
  if (!fs.ok()) GTEST_SKIP() << "a full disk is a small tmpfs here: " << fs.status().message();
  ProduceInput();
  const Outputs reference = ReferenceRun();
  ASSERT_EQ(reference.size(), 3u);

  // The whole run writes ~900 KB of RocksDB log: 256 KiB fill up a few seconds into it.
  const std::string state_dir = (*fs)->path() + "/state";
  const std::vector<std::string> argv = {testing::LearnflowBinary(), "run", "--config",
                                         WriteConfig(dir.path(), "full", "at_least_once", state_dir,
                                                     kStateAtEveryCommit)};
  const std::string log = dir.path() + "/full.log";
  {
    testing::ChildProcess child(argv, {}, log);
    int status = 0;
    ASSERT_TRUE(child.Wait(120000, status)) << "the engine neither stopped nor failed on a full disk\n"
                                            << testing::ReadFileOrEmpty(log);
    ExpectStateFailureExit(status, testing::ReadFileOrEmpty(log), state_dir, "No space left on device");
  }
  ASSERT_OK((*fs)->ResizeTmpfs(64 * 1024));  // space given back
  ExpectRestartGivesReference(argv, "full", dir.path() + "/restart.log", reference);
}

TEST_F(StateDirFailureTest, StateDiskTurningReadOnlyMidRunStopsTheEngineWithExitCode1AndARepairedRestartGivesTheUninterruptedResult) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<testing::ScratchMount>> fs =
      testing::ScratchMount::Ext4(dir.path() + "/state.img", dir.path() + "/fs", 32);
  if (!fs.ok()) GTEST_SKIP() << "a disk turning read-only is an ext4 image here: " << fs.status().message();
  // Half the input first; the other half once the disk has failed, so the engine has state to
  // write whenever the failure lands.
  const std::vector<testing::ProducedRecord> input = testing::SimulatedInput();
  const std::vector<testing::ProducedRecord> first(input.begin(), input.begin() + input.size() / 2);
  const std::vector<testing::ProducedRecord> second(input.begin() + input.size() / 2, input.end());
  ASSERT_OK(testing::ProduceRecords(bootstrap_servers(), testing::kRecoveryInput, first));

  const std::string state_dir = (*fs)->path() + "/state";
  const uint16_t port = testing::FreeLoopbackPort();
  const std::vector<std::string> argv = {
      testing::LearnflowBinary(), "run", "--config",
      WriteConfig(dir.path(), "readonly", "at_least_once", state_dir, kStateAtEveryCommit),
      "--set", "http.listen=127.0.0.1:" + std::to_string(port)};
  const std::string log = dir.path() + "/readonly.log";
  {
    testing::ChildProcess child(argv, {}, log);
    int status = 0;
    bool exited = false;
    ASSERT_TRUE(testing::AwaitLogText(log, " restored: ", child, 120000, status, exited) && !exited)
        << testing::ReadFileOrEmpty(log);
    // Once a commit has written the state of consumed input to the store and the kernel has
    // written it back, the disk fails. The processing thread polls and commits in turn, so the
    // second checkpoint counted after input shows as consumed began after that input was read.
    double checkpoints_needed = -1;
    ASSERT_TRUE(testing::PollUntil(port, "/metrics", [&](const testing::ClientResponse& r) {
      const double checkpoints = testing::MetricSample(r.body, "learnflow_checkpoints_total");
      if (checkpoints_needed < 0) {
        const std::string consumed =
            std::string("learnflow_events_consumed_total{topic=\"") + testing::kRecoveryInput + "\"}";
        if (testing::MetricSample(r.body, consumed) > 0) checkpoints_needed = checkpoints + 2;
        return false;
      }
      return checkpoints >= checkpoints_needed;
    })) << "no checkpoint of consumed input within a minute\n" << testing::ReadFileOrEmpty(log);
    ASSERT_OK((*fs)->Sync());
    ASSERT_OK((*fs)->TriggerErrorRemountReadOnly());
    ASSERT_OK(testing::ProduceRecords(bootstrap_servers(), testing::kRecoveryInput, second));
    ASSERT_TRUE(child.Wait(120000, status)) << "the engine kept running on a read-only state disk\n"
                                            << testing::ReadFileOrEmpty(log);
    ExpectStateFailureExit(status, testing::ReadFileOrEmpty(log), state_dir, "Read-only file system");
  }
  ASSERT_OK((*fs)->RepairAndRemount());
  const Outputs reference = ReferenceRun();
  ASSERT_EQ(reference.size(), 3u);
  ExpectRestartGivesReference(argv, "readonly", dir.path() + "/restart.log", reference);
}

// As root, the run drops to nobody (setpriv, util-linux) so that directory permissions apply.
TEST(StateDirTest, UnwritableStateDirStopsRunAtStartUpWithExitCode1NamingTheDirectory) {
  testing::TempDir dir;
  std::vector<std::string> prefix;
  if (::geteuid() == 0) {
    const std::string setpriv = "/usr/bin/setpriv";
    if (::access(setpriv.c_str(), X_OK) != 0) GTEST_SKIP() << "root ignores permissions, and setpriv is missing";
    prefix = {setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  // Readable by nobody: the config and the directories on the way; the state's parent is not
  // writable by anyone but root.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string locked = dir.path() + "/locked";
  ASSERT_EQ(::mkdir(locked.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((locked + "/existing").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(locked.c_str(), 0555), 0);  // not writable for a non-root owner either

  // A state dir that cannot be created, and one that exists but is not writable (a volume owned
  // by another user): RocksDB cannot create its LOCK file.
  for (const std::string& state_dir : {locked + "/state", locked + "/existing"}) {
    const std::string config = dir.path() + "/learnflow.yaml";
    {
      std::ofstream f(config);
      // The state store opens before any connection: no broker needed.
      f << "kafka:\n  bootstrap_servers: \"127.0.0.1:9\"\nstate:\n  dir: \"" << state_dir
        << "\"\nhttp:\n  listen: \"127.0.0.1:0\"\n";
    }
    ASSERT_EQ(::chmod(config.c_str(), 0644), 0);
    std::vector<std::string> argv = prefix;
    for (const std::string& a : {testing::LearnflowBinary(), std::string("run"), std::string("--config"), config}) {
      argv.push_back(a);
    }
    const std::string log = dir.path() + "/run.log";
    ::unlink(log.c_str());
    testing::ChildProcess child(argv, {}, log);
    int status = 0;
    ASSERT_TRUE(child.Wait(60000, status)) << testing::ReadFileOrEmpty(log);
    const std::string text = testing::ReadFileOrEmpty(log);
    ASSERT_TRUE(WIFEXITED(status)) << status << "\n" << text;
    ASSERT_NE(WEXITSTATUS(status), 126) << "nobody cannot execute " << testing::LearnflowBinary() << "\n" << text;
    // An unusable state directory is a runtime failure (1), like every I/O error: a supervisor
    // retries, which fixes a volume mounted late or a lock still held by a dying predecessor.
    EXPECT_EQ(WEXITSTATUS(status), 1) << text;
    EXPECT_NE(text.find("learnflow: IoError: "), std::string::npos) << text;
    EXPECT_NE(text.find(state_dir), std::string::npos) << text;
    EXPECT_NE(text.find("Permission denied"), std::string::npos) << text;
    std::cout << "exit code " << WEXITSTATUS(status) << ": " << text;
  }
  // So that the temporary directory can be removed.
  ::chmod(locked.c_str(), 0755);
  ::chmod((locked + "/existing").c_str(), 0755);
}

}  // namespace
}  // namespace learnflow
