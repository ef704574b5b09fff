// RecoveryFixture: what the recovery tests of real `learnflow run` processes share — an embedded
// broker with the simulated input (24000 events of 300 learners, all three formats, 6 partitions),
// the uninterrupted in-process reference run of that input, configs for `learnflow run`, and the
// comparison of a group's output topics with the reference (set equality of learner, cohort and
// alert records: at-least-once may repeat a record, but only byte-identically).
//
//   class MyTest : public testing::RecoveryFixture {};
//   TEST_F(MyTest, X) {
//     ProduceInput();
//     const testing::Outputs reference = ReferenceRun();
//     const std::string config = WriteConfig(dir.path(), "mygroup");
//     ...  // run, kill and restart `learnflow run --config config`
//     testing::ChildProcess last(argv, {}, log);
//     AwaitSuperset("mygroup", reference);
//     ExpectCleanExit(last, log);
//     ExpectSameOutputs(ReadOutputs("mygroup", reference, total), reference, log_text);
//   }
//
// Topics of a group ("<group>.signals", ".cohorts", ".alerts", ".dead" and the internal ones) are
// created by WriteConfig(). Test-only; one thread, except SimulatedInput() which is pure.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka_client.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/process.h"

namespace learnflow::testing {

inline constexpr char kRecoveryInput[] = "learning.events";
// ~2.5 MB per input partition: within the embedded broker's limit.
inline constexpr int kRecoveryEvents = 24000;

// Output topics of a group: "<group>.signals", "<group>.cohorts", "<group>.alerts".
inline constexpr const char* kSignals = ".signals";
inline constexpr const char* kCohorts = ".cohorts";
inline constexpr const char* kAlerts = ".alerts";
inline constexpr std::array<const char*, 3> kOutputs = {kSignals, kCohorts, kAlerts};

using Records = std::set<std::pair<std::string, std::string>>;
// Records per output topic suffix.
using Outputs = std::map<std::string, Records>;

size_t TotalSize(const Outputs& outputs);
Records AsSet(const std::vector<ConsumedRecord>& records);

// The input every recovery test uses, in production order (keyed by learner).
std::vector<ProducedRecord> SimulatedInput();

// Waits until the log at `path` contains `text` (true), or the child exits (`exited`, with its
// `status`), or `timeout_ms` passes. The log is the child's only signal: it is re-read every
// 2 ms, which is also how long each wait for the child's exit lasts.
bool AwaitLogText(const std::string& path, const std::string& text, ChildProcess& child, int timeout_ms,
                  int& status, bool& exited);

// The input position an engine started from: the sum over the input partitions of the local
// checkpoints it logged on assignment ("partition learning.events-3 assigned: local checkpoint
// at 812 ..."; "none" counts 0); nullopt when the log shows no assignment.
std::optional<int64_t> CheckpointedInput(const std::string& log);

class RecoveryFixture : public ::testing::Test {
 protected:
  // Starts the broker and creates the input topic (empty).
  void SetUp() override;

  // Produces the whole SimulatedInput() to the input topic.
  void ProduceInput();

  KafkaClientOptions Client(const std::string& group) const;

  // The uninterrupted reference, in process, with the defaults `learnflow run` uses: both stages,
  // run until the whole input and everything repartitioned from it are consumed.
  // REQUIRES: the whole input has been produced.
  Outputs ReferenceRun();

  // Creates the topics of `group` (once) and writes a config for it in `dir`/learnflow.yaml:
  // small batches and frequent commits (every 20 ms), no idleness, state in `state_dir` (default
  // `dir`/state), a local checkpoint every `checkpoint_interval_ms` (by default about every
  // fifth commit, so a crash lands right after a checkpoint or with the local state some commits
  // behind the changelog).
  std::string WriteConfig(const std::string& dir, const std::string& group,
                          const std::string& guarantee = "at_least_once",
                          const std::string& state_dir = "", int checkpoint_interval_ms = 100);

  // Reads the group's output topics until they hold every reference record (or two minutes pass).
  Outputs AwaitSuperset(const std::string& group, const Outputs& reference);

  // The group's output topics read to their end; `total` receives the record count with repeats.
  Outputs ReadOutputs(const std::string& group, const Outputs& reference, size_t& total);

  static void ExpectSameOutputs(const Outputs& got, const Outputs& reference, const std::string& context);

  // The largest N of the log lines "restored: N open windows" (-1 if none).
  static int MaxRestoredWindows(const std::string& log);

  // SIGTERM, then the child must exit 0.
  static void ExpectCleanExit(ChildProcess& child, const std::string& log);

  const std::string& bootstrap_servers() const { return broker_->bootstrap_servers(); }
  // For fault injection.
  EmbeddedBroker& broker() { return *broker_; }

  // Brokers of the embedded cluster; a fixture that needs more sets it before SetUp() runs (in
  // its constructor).
  int brokers_ = 1;

  // The consumers' session.timeout.ms in WriteConfig(). A SIGKILLed member stays in its group
  // until it expires, so the next life's join waits that long: a series of many kills uses less.
  int session_timeout_ms_ = 6000;

 private:
  void CreateGroupTopics(const std::string& group);

  std::unique_ptr<EmbeddedBroker> broker_;
  std::set<std::string> groups_with_topics_;
};

}  // namespace learnflow::testing
