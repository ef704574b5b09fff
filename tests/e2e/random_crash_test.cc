// Seeded random SIGKILLs across a long run of real `learnflow run` processes: the input arrives
// at a steady rate over the whole test while K lives of the engine come and go on one state
// directory, each ended by SIGKILL — either at an injected crash point with a random count
// (LEARNFLOW_TEST_CRASH_AT=<point>:<n>), or from outside after a random delay of 2 ms to 1 s
// following a moment of its life (start-up, partitions assigned and restoring, processing), so
// that the kill lands anywhere: in the group join, a restore, a RocksDB write, a produce, a
// transaction. A last life runs uninterrupted to the end. The learner, cohort and alert records
// must equal those of an uninterrupted in-process run of the same input, whatever the moments
// were (set equality; a repeat is allowed only byte-identical, since a different repeat would be
// a second element of the set).
//
// Exactly-once mode is checked the same way (set equality) with kills at after_flush and
// after_state_write and from outside; "each record once" cannot be checked here for a kill inside
// a transaction, because the embedded broker shows aborted records to read_committed readers
// (docs/architecture.md).
//
// LEARNFLOW_CRASH_SEED (default kDefaultSeed) and LEARNFLOW_CRASH_KILLS (default kDefaultKills)
// choose the lives; both are printed with every life's plan and outcome, so a failure is replayed
// with the same choices (the moments of the kills vary with timing, which is the point).
// scripts/crash-test runs long series.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_client.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/recovery_fixture.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::kAlerts;
using testing::kCohorts;
using testing::kSignals;
using testing::Outputs;

constexpr uint64_t kDefaultSeed = 20261122;
constexpr int kDefaultKills = 5;  // ~60 s per series in ctest

// Moments of a life after which an external kill is timed, by the log line that marks them.
struct Anchor {
  const char* name;
  const char* log_text;
};
constexpr Anchor kAnchors[] = {
    {"start-up", "engine ready ("},  // then: subscribe, group join (~3 s on the embedded broker)
    {"restore", " assigned: "},      // partitions assigned: restore from the changelogs
    {"processing", "learning.events-0 restored: "},  // input flowing, commits every 20 ms
};
constexpr int kProcessing = 2;

// An injected point fires only while input is processed; when none is left it never does, and
// the life is then killed from outside this long after its processing began.
constexpr int kInjectedReachMs = 10000;
// The life of an engine on the embedded broker, start-up to kill, roughly (group join ~5 s after
// a kill, restore ~1 s, then up to 1 s): sets the input rate so that the input lasts across the
// lives.
constexpr double kLifeSeconds = 6.5;

std::optional<uint64_t> EnvNumber(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text, &end, 10);
  if (*end != '\0') return std::nullopt;
  return n;
}

// What ends one life.
struct LifePlan {
  bool injected = false;
  std::string crash_at;  // injected: "<point>:<n>"
  int anchor = 0;        // external: index into kAnchors
  int delay_ms = 0;      // external: after the anchor's log line

  std::string Describe() const {
    if (injected) return "injected " + crash_at;
    return "external SIGKILL " + std::to_string(delay_ms) + " ms into " + kAnchors[anchor].name;
  }
};

// Every life draws the same number of values, so one seed always gives the same plans.
LifePlan DrawLife(std::mt19937_64& rng, bool exactly_once) {
  const bool injected = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
  // Exactly-once: only after the transaction commit (a kill inside a transaction is the external
  // kills' job, checked for set equality only).
  const std::vector<std::string> points =
      exactly_once ? std::vector<std::string>{"after_flush", "after_state_write"}
                   : std::vector<std::string>{"mid_batch", "after_flush", "after_state_write"};
  const std::string point = points[std::uniform_int_distribution<size_t>(0, points.size() - 1)(rng)];
  // A busy commit carries one poll (50 records) or a little more: the counts spread the deaths
  // over the first ~1500 records a life processes, like the external kills' delays.
  const int batch_count = std::uniform_int_distribution<int>(1, 1500)(rng);
  const int commit_count = std::uniform_int_distribution<int>(1, 30)(rng);
  // External kills: half of them while processing, a quarter each in start-up and restore.
  const int anchor_draw = std::uniform_int_distribution<int>(0, 3)(rng);
  const int delay_ms = std::uniform_int_distribution<int>(2, 1000)(rng);
  LifePlan plan;
  plan.injected = injected;
  plan.crash_at = point + ":" + std::to_string(point == "mid_batch" ? batch_count : commit_count);
  plan.anchor = std::min(anchor_draw, kProcessing);
  plan.delay_ms = delay_ms;
  return plan;
}

// Produces SimulatedInput() in the background at `rate` records per second, in order, through
// one producer, so that input keeps arriving while the engine's lives come and go.
class PacedInput {
 public:
  PacedInput(const KafkaClientOptions& client, double rate)
      : thread_([this, client, rate] { status_ = Produce(client, rate); }) {}
  ~PacedInput() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  PacedInput(const PacedInput&) = delete;
  PacedInput& operator=(const PacedInput&) = delete;

  int64_t produced() const { return produced_.load(); }
  // Waits until the whole input is produced and acknowledged.
  Status Finish() {
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  Status Produce(const KafkaClientOptions& client, double rate) {
    LF_ASSIGN_OR_RETURN(std::unique_ptr<KafkaSink> sink, KafkaSink::Create(client));
    const std::vector<testing::ProducedRecord> input = testing::SimulatedInput();
    const auto started = std::chrono::steady_clock::now();
    for (size_t i = 0; i < input.size() && !stop_; ++i) {
      LF_RETURN_IF_ERROR(sink->Send(testing::kRecoveryInput, input[i].key, input[i].value));
      produced_ = static_cast<int64_t>(i + 1);
      if ((i + 1) % 10 == 0) {
        sink->Poll();
        // The input rate, not a synchronisation: nothing waits for a particular record.
        std::this_thread::sleep_until(started + std::chrono::duration<double>(static_cast<double>(i + 1) / rate));
      }
    }
    return sink->Flush(60000);
  }

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> produced_{0};
  Status status_;
  std::thread thread_;  // last: starts once the members above exist
};

class RandomCrashTest : public testing::RecoveryFixture {
 protected:
  // A killed life's group member expires after 3 s instead of 6, so the next life joins ~5 s
  // after its start instead of ~11 s. (Less is not safe on the embedded broker: with 2 s a new
  // group never completes its first join.)
  RandomCrashTest() { session_timeout_ms_ = 3000; }

  // K lives killed as drawn from the seed, then one uninterrupted life; the outputs of group
  // `group` must equal the reference.
  void RunSeededKills(const std::string& group, const std::string& guarantee);

  // Output records so far (end offsets; with exactly-once they count transaction markers too).
  int64_t OutputOffsets(const std::string& group) const {
    int64_t sum = 0;
    for (const char* kind : testing::kOutputs) {
      StatusOr<int64_t> n = testing::EndOffsetSum(bootstrap_servers(), group + kind);
      if (n.ok()) sum += *n;
    }
    return sum;
  }
};

void RandomCrashTest::RunSeededKills(const std::string& group, const std::string& guarantee) {
  const std::optional<uint64_t> seed = EnvNumber("LEARNFLOW_CRASH_SEED", kDefaultSeed);
  const std::optional<uint64_t> kills = EnvNumber("LEARNFLOW_CRASH_KILLS", kDefaultKills);
  ASSERT_TRUE(seed.has_value()) << "LEARNFLOW_CRASH_SEED must be a number";
  ASSERT_TRUE(kills.has_value() && *kills >= 1 && *kills <= 10000)
      << "LEARNFLOW_CRASH_KILLS must be a number from 1 to 10000";
  const bool exactly_once = guarantee == "exactly_once";
  const auto test_started = std::chrono::steady_clock::now();
  const double rate = std::max(100.0, testing::kRecoveryEvents / (static_cast<double>(*kills) * kLifeSeconds));
  std::cout << "crash series: guarantee " << guarantee << ", seed " << *seed << ", kills " << *kills
            << ", input " << testing::kRecoveryEvents << " records at " << static_cast<int>(rate)
            << "/s (replay: LEARNFLOW_CRASH_SEED=" << *seed << " LEARNFLOW_CRASH_KILLS=" << *kills << ")"
            << std::endl;

  testing::TempDir dir;
  const std::string config = WriteConfig(dir.path(), group, guarantee);
  const std::vector<std::string> argv = {testing::LearnflowBinary(), "run", "--config", config};
  auto log_of = [&](uint64_t life) { return dir.path() + "/life-" + std::to_string(life) + ".log"; };
  // The last two lives' logs, for a failure message.
  auto recent_logs = [&](uint64_t life) {
    std::string text;
    for (uint64_t l = life > 1 ? life - 1 : 1; l <= life; ++l) {
      text += "--- life " + std::to_string(l) + " ---\n" + testing::ReadFileOrEmpty(log_of(l));
    }
    return text;
  };

  PacedInput input(Client("paced-input"), rate);
  std::mt19937_64 rng(*seed);
  std::map<std::string, int> kinds;  // kill kind -> lives
  int64_t max_checkpoint = 0;
  for (uint64_t life = 1; life <= *kills; ++life) {
    const LifePlan plan = DrawLife(rng, exactly_once);
    const std::string log = log_of(life);
    std::vector<std::string> env;
    if (plan.injected) env.push_back("LEARNFLOW_TEST_CRASH_AT=" + plan.crash_at);
    const auto life_started = std::chrono::steady_clock::now();
    testing::ChildProcess child(argv, env, log);
    int status = 0;
    bool exited = false;
    std::string outcome;
    if (plan.injected) {
      // The point fires while input is processed, so only after the restore.
      const bool processing = testing::AwaitLogText(log, kAnchors[kProcessing].log_text, child, 120000, status, exited);
      ASSERT_TRUE(processing || exited) << "life " << life << ": never started processing\n" << recent_logs(life);
      if (!exited) exited = child.Wait(kInjectedReachMs, status);
      if (exited) {
        outcome = plan.Describe();
        ++kinds["injected " + plan.crash_at.substr(0, plan.crash_at.find(':'))];
      } else {
        child.Signal(SIGKILL);
        ASSERT_TRUE(child.Wait(60000, status)) << "life " << life << " survived SIGKILL";
        outcome = plan.Describe() + " not reached (no input left to process): external SIGKILL";
        ++kinds["external (injected point not reached)"];
      }
    } else {
      const Anchor& anchor = kAnchors[plan.anchor];
      const bool found = testing::AwaitLogText(log, anchor.log_text, child, 120000, status, exited);
      ASSERT_TRUE(found && !exited) << "life " << life << ": no '" << anchor.log_text
                                    << "' in its log, or it exited first (status " << status << ")\n"
                                    << recent_logs(life);
      // The random moment of the kill: whatever the engine is doing then.
      std::this_thread::sleep_for(std::chrono::milliseconds(plan.delay_ms));
      child.Signal(SIGKILL);
      ASSERT_TRUE(child.Wait(60000, status)) << "life " << life << " survived SIGKILL";
      outcome = plan.Describe();
      ++kinds[std::string("external in ") + anchor.name];
    }
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "life " << life << " (" << plan.Describe() << ") ended otherwise than by SIGKILL: status "
        << status << "\n" << recent_logs(life);
    const std::optional<int64_t> checkpoint = testing::CheckpointedInput(testing::ReadFileOrEmpty(log));
    // Committed progress survives every kill: the local state is never wiped or rolled back.
    if (checkpoint) {
      EXPECT_GE(*checkpoint, max_checkpoint) << "life " << life << " started behind an earlier life\n"
                                             << recent_logs(life);
      max_checkpoint = std::max(max_checkpoint, *checkpoint);
    }
    std::cout << "life " << life << "/" << *kills << ": " << outcome << " after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                       life_started).count()
              << " ms; started from checkpoint "
              << (checkpoint ? std::to_string(*checkpoint) : std::string("? (killed before its input partitions were assigned)"))
              << " of " << input.produced() << " input records produced; output records so far "
              << OutputOffsets(group) << std::endl;
  }

  // The last life runs uninterrupted; the rest of the input arrives meanwhile. The reference runs
  // in process once the input is complete; the last life stops when every reference record is out.
  const uint64_t last_life = *kills + 1;
  testing::ChildProcess last(argv, {}, log_of(last_life));
  ASSERT_OK(input.Finish());
  const Outputs reference = ReferenceRun();
  ASSERT_EQ(reference.size(), 3u);
  AwaitSuperset(group, reference);
  ExpectCleanExit(last, log_of(last_life));
  const std::optional<int64_t> last_checkpoint = testing::CheckpointedInput(testing::ReadFileOrEmpty(log_of(last_life)));
  EXPECT_GE(last_checkpoint.value_or(0), max_checkpoint) << "the last life started behind an earlier life";

  size_t total = 0;
  const Outputs got = ReadOutputs(group, reference, total);
  ExpectSameOutputs(got, reference, recent_logs(last_life));
  std::ostringstream kinds_text;
  for (const auto& [kind, n] : kinds) kinds_text << (kinds_text.tellp() > 0 ? ", " : "") << kind << " " << n;
  std::cout << "crash series " << (HasFailure() ? "FAILED" : "passed") << ": guarantee " << guarantee
            << ", seed " << *seed << ", kills " << *kills << " (" << kinds_text.str()
            << "); last life started from checkpoint " << last_checkpoint.value_or(0) << " of "
            << testing::kRecoveryEvents << " (highest before: " << max_checkpoint
            << "); reference records compared " << testing::TotalSize(reference) << " (learner "
            << reference.at(kSignals).size() << ", cohort " << reference.at(kCohorts).size() << ", alerts "
            << reference.at(kAlerts).size() << "), crash-run records with repeats " << total << "; "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - test_started)
                   .count()
            << " s" << std::endl;
}

TEST_F(RandomCrashTest, SeededRandomSigkillsThenRestartGiveTheUninterruptedResult) {
  RunSeededKills("random", "at_least_once");
}

TEST_F(RandomCrashTest, ExactlyOnceSeededRandomSigkillsThenRestartGiveTheUninterruptedResult) {
  RunSeededKills("random-eos", "exactly_once");
}

}  // namespace
}  // namespace learnflow
