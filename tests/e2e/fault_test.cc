// Broker faults under a running `learnflow run`, on an embedded three-broker cluster: all
// brokers down and up, one broker down and up, request errors injected on produce, fetch and
// offset commit, errors on every transaction API in exactly-once mode, group and transaction
// coordinators moving, partition leaders moving. The engine must ride each out — /readyz says
// not-ready while it cannot make progress — and its outputs must be exactly the records of an
// uninterrupted run of the same input (as a set: at-least-once may repeat a record, but only
// byte-identically).
//
// Each fault is injected once the engine has consumed part of the input, so it lands while the
// engine is working; whatever moment it lands at, the result must be the same. The input, the
// reference run and the comparison are RecoveryFixture's.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "connectors/kafka_client.h"
#include "tests/testing/http_test_client.h"
#include "tests/testing/process.h"
#include "tests/testing/recovery_fixture.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

constexpr int kPartitions = 6;
constexpr int kBrokers = 3;
// Faults land once this much of the input is consumed.
constexpr double kInjectAt = 2000;

// Kafka protocol API keys and error codes used below.
constexpr int kProduce = 0, kFetch = 1, kOffsetCommit = 8, kAddPartitionsToTxn = 24,
              kAddOffsetsToTxn = 25, kEndTxn = 26, kTxnOffsetCommit = 28;
constexpr int kRequestTimedOut = 7, kNotLeader = 6, kCoordinatorLoadInProgress = 14,
              kCoordinatorNotAvailable = 15, kNotCoordinator = 16, kNotEnoughReplicas = 19,
              kConcurrentTransactions = 51;

// A running `learnflow run` with its HTTP port and log.
struct EngineProcess {
  uint16_t port = 0;
  std::string log;
  std::unique_ptr<testing::ChildProcess> child;
};

class FaultTest : public testing::RecoveryFixture {
 protected:
  FaultTest() { brokers_ = kBrokers; }

  void SetUp() override {
    RecoveryFixture::SetUp();
    if (HasFatalFailure()) return;
    ProduceInput();
    if (HasFatalFailure()) return;
    reference_ = ReferenceRun();
    ASSERT_EQ(reference_.size(), 3u);
  }

  // Starts `learnflow run` as group "fault". Short reconnect backoff, so that the recovery
  // follows the brokers closely; `sets` are further --set overrides.
  EngineProcess StartEngine(const std::string& guarantee, const std::vector<std::string>& sets = {}) {
    EngineProcess engine;
    engine.port = testing::FreeLoopbackPort();
    engine.log = dir_.path() + "/engine.log";
    std::vector<std::string> argv = {testing::LearnflowBinary(), "run", "--config",
                                     WriteConfig(dir_.path(), "fault", guarantee),
                                     "--set", "http.listen=127.0.0.1:" + std::to_string(engine.port),
                                     "--set", "kafka.properties.reconnect.backoff.max.ms=200"};
    for (const std::string& set : sets) argv.insert(argv.end(), {"--set", set});
    engine.child = std::make_unique<testing::ChildProcess>(argv, std::vector<std::string>{}, engine.log);
    return engine;
  }

  static double Consumed(const testing::ClientResponse& metrics) {
    return testing::MetricSample(metrics.body, R"(learnflow_events_consumed_total{topic="learning.events"})");
  }

  // Waits until the engine has consumed kInjectAt input records.
  static void AwaitWorking(const EngineProcess& engine) {
    ASSERT_TRUE(testing::PollUntil(engine.port, "/metrics", [](const testing::ClientResponse& r) {
      return Consumed(r) >= kInjectAt;
    })) << testing::ReadFileOrEmpty(engine.log);
  }

  static void AwaitReadiness(const EngineProcess& engine, int status) {
    const auto answered = [status](const testing::ClientResponse& r) { return r.status == status; };
    ASSERT_TRUE(testing::PollUntil(engine.port, "/readyz", answered))
        << "/readyz never answered " << status << "\n" << testing::ReadFileOrEmpty(engine.log);
  }

  // Takes every broker down once the engine works, waits for /readyz to say not-ready, brings
  // them back and waits for ready again.
  void AllBrokersDownThenUp(const EngineProcess& engine) {
    AwaitReadiness(engine, 200);
    AwaitWorking(engine);
    if (HasFatalFailure()) return;
    for (int b = 1; b <= kBrokers; ++b) ASSERT_OK(broker().SetBrokerDown(b));
    AwaitReadiness(engine, 503);
    for (int b = 1; b <= kBrokers; ++b) ASSERT_OK(broker().SetBrokerUp(b));
    AwaitReadiness(engine, 200);
  }

  // Waits until the brokers have returned every injected error of these (broker, API) pairs to
  // the engine (the only client talking to them meanwhile), so the errors really hit it.
  void AwaitErrorsReturned(const EngineProcess& engine, const std::vector<std::pair<int, int>>& injected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (const auto& [broker_id, api_key] : injected) {
      while (true) {
        StatusOr<size_t> pending = broker().PendingRequestErrors(broker_id, api_key);
        ASSERT_OK(pending.status());
        if (*pending == 0) break;
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << *pending << " errors of API " << api_key << " on broker " << broker_id << " never returned\n"
            << testing::ReadFileOrEmpty(engine.log);
        std::this_thread::yield();
      }
    }
  }

  // Waits until the outputs hold every reference record, stops the engine with SIGTERM (exit 0
  // expected) and compares its outputs with the reference as sets.
  void FinishAndCompare(EngineProcess& engine) {
    AwaitSuperset("fault", reference_);
    ExpectCleanExit(*engine.child, engine.log);
    size_t total = 0;
    const testing::Outputs got = ReadOutputs("fault", reference_, total);
    ExpectSameOutputs(got, reference_, testing::ReadFileOrEmpty(engine.log));
    std::cout << "reference records: " << testing::TotalSize(reference_)
              << ", records read after the faults (with repeats): " << total << "\n";
  }

  // The input topic and the internal topics of `group`, with their partition counts.
  static std::vector<std::pair<std::string, int>> InputAndInternalTopics(const std::string& group) {
    std::vector<std::pair<std::string, int>> topics = {{testing::kRecoveryInput, kPartitions}};
    for (const std::string& topic : InternalTopics(group)) topics.emplace_back(topic, kPartitions);
    return topics;
  }

  // Gives partition p of each of `topics` ((name, partitions)) the leader `leader(p)`.
  void MoveLeaders(const std::vector<std::pair<std::string, int>>& topics,
                   const std::function<int(int)>& leader) {
    for (const auto& [topic, partitions] : topics) {
      for (int p = 0; p < partitions; ++p) ASSERT_OK(broker().SetPartitionLeader(topic, p, leader(p)));
    }
  }

  testing::Outputs reference_;
  testing::TempDir dir_;
};

TEST_F(FaultTest, AllBrokersDownThenUpIsWaitedOutNotReadyMeanwhile) {
  EngineProcess engine = StartEngine("at_least_once");
  AllBrokersDownThenUp(engine);
  if (HasFatalFailure()) return;
  FinishAndCompare(engine);
}

// The transaction commit in flight when the brokers go away waits for them (not-ready meanwhile)
// instead of giving up.
TEST_F(FaultTest, ExactlyOnceAllBrokersDownThenUpIsWaitedOut) {
  EngineProcess engine = StartEngine("exactly_once");
  AllBrokersDownThenUp(engine);
  if (HasFatalFailure()) return;
  FinishAndCompare(engine);
}

TEST_F(FaultTest, OneBrokerDownThenUpIsWaitedOutNotReadyMeanwhile) {
  EngineProcess engine = StartEngine("at_least_once");
  AwaitWorking(engine);
  if (HasFatalFailure()) return;
  // Leader of some partitions of every topic: the commit's flush cannot complete without it.
  ASSERT_OK(broker().SetBrokerDown(2));
  AwaitReadiness(engine, 503);
  ASSERT_OK(broker().SetBrokerUp(2));
  AwaitReadiness(engine, 200);
  FinishAndCompare(engine);
}

// At-least-once: a commit's position records ("P") in the changelogs say which input its state
// covers, and a restore trusts them. So they must not become durable before every output of the
// commit is: here every output partition is led by broker 2 and everything else by broker 1, and
// broker 2 goes down. The engine's commit waits for its outputs (not ready meanwhile) and is
// killed there; the restart must emit those outputs again, not restore past them.
TEST_F(FaultTest, SigkillWhileTheOutputsBrokerIsDownLosesNothing) {
  WriteConfig(dir_.path(), "fault", "at_least_once");  // creates the group's topics
  MoveLeaders(InputAndInternalTopics("fault"), [](int) { return 1; });
  std::vector<std::pair<std::string, int>> outputs = {{"fault.dead", 3}};
  for (const char* suffix : testing::kOutputs) outputs.emplace_back(std::string("fault") + suffix, 3);
  MoveLeaders(outputs, [](int) { return 2; });
  if (HasFatalFailure()) return;
  ASSERT_OK(broker().SetCoordinator("group", "fault", 1));
  ASSERT_OK(broker().SetCoordinator("group", "fault-cohorts", 1));
  {
    EngineProcess engine = StartEngine("at_least_once");
    AwaitWorking(engine);
    if (HasFatalFailure()) return;
    ASSERT_OK(broker().SetBrokerDown(2));
    AwaitReadiness(engine, 503);  // a commit is waiting for its outputs
    if (HasFatalFailure()) return;
    engine.child->Signal(SIGKILL);
    int status = 0;
    ASSERT_TRUE(engine.child->Wait(30000, status));
  }
  ASSERT_OK(broker().SetBrokerUp(2));
  EngineProcess engine = StartEngine("at_least_once");  // the same state directory
  FinishAndCompare(engine);
}

TEST_F(FaultTest, RequestErrorsOnProduceFetchAndCommitAreRetried) {
  ASSERT_OK(broker().SetCoordinator("group", "fault", 1));  // offset commits go to broker 1
  EngineProcess engine = StartEngine("at_least_once");
  AwaitWorking(engine);
  if (HasFatalFailure()) return;
  // Every broker leads some input, changelog and output partitions.
  for (int b = 1; b <= kBrokers; ++b) {
    ASSERT_OK(broker().PushRequestErrors(b, kProduce, {kNotLeader, kRequestTimedOut, kNotEnoughReplicas}));
    ASSERT_OK(broker().PushRequestErrors(b, kFetch, {kNotLeader, kRequestTimedOut}));
  }
  ASSERT_OK(broker().PushRequestErrors(1, kOffsetCommit, {kCoordinatorNotAvailable, kNotCoordinator,
                                                          kRequestTimedOut, kCoordinatorLoadInProgress}));
  std::vector<std::pair<int, int>> injected;
  for (int b = 1; b <= kBrokers; ++b) injected.insert(injected.end(), {{b, kProduce}, {b, kFetch}});
  injected.emplace_back(1, kOffsetCommit);
  AwaitErrorsReturned(engine, injected);
  FinishAndCompare(engine);
}

TEST_F(FaultTest, LeadersAndTheGroupCoordinatorMoveMidStream) {
  EngineProcess engine = StartEngine("at_least_once");
  AwaitWorking(engine);
  if (HasFatalFailure()) return;
  // Every partition of the input, the internal topics and the outputs gets a new leader.
  std::vector<std::pair<std::string, int>> topics = InputAndInternalTopics("fault");
  for (const char* suffix : testing::kOutputs) {
    topics.emplace_back(std::string("fault") + suffix, 3);
  }
  MoveLeaders(topics, [](int p) { return 1 + (p + 1) % kBrokers; });
  if (HasFatalFailure()) return;
  ASSERT_OK(broker().SetCoordinator("group", "fault", 3));
  ASSERT_OK(broker().SetCoordinator("group", "fault-cohorts", 2));
  FinishAndCompare(engine);
}

// Exactly-once: retriable errors on every transaction API and both coordinators moving. The
// commit waits them out (librdkafka resumes a timed-out commit) and nothing is lost. (The
// embedded broker shows records of aborted transactions to read_committed readers, so only the
// set is compared; see docs/architecture.md.)
TEST_F(FaultTest, ExactlyOnceRidesOutTransactionErrorsAndCoordinatorMoves) {
  ASSERT_OK(broker().SetCoordinator("transaction", "fault-txn", 2));
  ASSERT_OK(broker().SetCoordinator("group", "fault", 3));  // TxnOffsetCommit goes here
  EngineProcess engine = StartEngine("exactly_once", {"kafka.properties.transactional.id=fault-txn"});
  AwaitWorking(engine);
  if (HasFatalFailure()) return;
  ASSERT_OK(broker().PushRequestErrors(2, kAddPartitionsToTxn, {kConcurrentTransactions, kCoordinatorLoadInProgress,
                                                                kConcurrentTransactions}));
  ASSERT_OK(broker().PushRequestErrors(2, kAddOffsetsToTxn, {kConcurrentTransactions, kCoordinatorLoadInProgress}));
  ASSERT_OK(broker().PushRequestErrors(2, kEndTxn, {kCoordinatorNotAvailable, kNotCoordinator,
                                                    kConcurrentTransactions}));
  ASSERT_OK(broker().PushRequestErrors(3, kTxnOffsetCommit, {kCoordinatorLoadInProgress, kNotCoordinator}));
  AwaitErrorsReturned(engine, {{2, kAddPartitionsToTxn}, {2, kAddOffsetsToTxn}, {2, kEndTxn}, {3, kTxnOffsetCommit}});
  if (HasFatalFailure()) return;
  // Then both coordinators move.
  ASSERT_OK(broker().SetCoordinator("transaction", "fault-txn", 1));
  ASSERT_OK(broker().SetCoordinator("group", "fault", 2));
  FinishAndCompare(engine);
  const std::string log = testing::ReadFileOrEmpty(engine.log);
  EXPECT_NE(log.find("engine ready (exactly_once)"), std::string::npos) << log;
}

}  // namespace
}  // namespace learnflow
