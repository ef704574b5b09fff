#include "tests/testing/recovery_fixture.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "app/simulator.h"
#include "connectors/decoders/event_decoder.h"
#include "state/state_store.h"
#include "stream/engine.h"
#include "tests/testing/test_util.h"

namespace learnflow::testing {

size_t TotalSize(const Outputs& outputs) {
  size_t n = 0;
  for (const auto& [kind, records] : outputs) n += records.size();
  return n;
}

Records AsSet(const std::vector<ConsumedRecord>& records) {
  Records out;
  for (const auto& r : records) out.emplace(r.key, r.value);
  return out;
}

std::vector<ProducedRecord> SimulatedInput() {
  SimulatorOptions options;
  options.learners = 300;
  options.events = kRecoveryEvents;
  options.format = "mixed";
  options.seed = 7;
  Simulator simulator(options);
  SimulatedMessage message;
  std::vector<ProducedRecord> records;
  while (simulator.Next(message)) records.push_back({-1, message.key, message.payload});
  return records;
}

bool AwaitLogText(const std::string& path, const std::string& text, ChildProcess& child, int timeout_ms,
                  int& status, bool& exited) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFileOrEmpty(path).find(text) != std::string::npos) return true;
    if (child.Wait(2, status)) {
      exited = true;
      return ReadFileOrEmpty(path).find(text) != std::string::npos;
    }
  }
  return false;
}

std::optional<int64_t> CheckpointedInput(const std::string& log) {
  std::map<std::string, int64_t> by_partition;
  const std::string marker = std::string(kRecoveryInput) + "-";
  const std::string assigned = " assigned: local checkpoint at ";
  for (size_t pos = log.find(marker); pos != std::string::npos; pos = log.find(marker, pos + 1)) {
    const size_t space = log.find(' ', pos);
    if (space == std::string::npos) break;
    const std::string partition = log.substr(pos, space - pos);
    if (log.compare(space, assigned.size(), assigned) != 0 || by_partition.contains(partition)) continue;
    by_partition[partition] = std::atoll(log.c_str() + space + assigned.size());  // "none": 0
  }
  if (by_partition.empty()) return std::nullopt;
  int64_t sum = 0;
  for (const auto& [partition, offset] : by_partition) sum += offset;
  return sum;
}

void RecoveryFixture::SetUp() {
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(brokers_);
  ASSERT_OK(broker.status());
  broker_ = std::move(*broker);
  ASSERT_OK(broker_->CreateTopic(kRecoveryInput, 6));
}

void RecoveryFixture::ProduceInput() {
  ASSERT_OK(ProduceRecords(bootstrap_servers(), kRecoveryInput, SimulatedInput()));
}

void RecoveryFixture::CreateGroupTopics(const std::string& group) {
  if (!groups_with_topics_.insert(group).second) return;
  for (const std::string& topic : InternalTopics(group)) ASSERT_OK(broker_->CreateTopic(topic, 6));
  for (const char* kind : {kSignals, kCohorts, kAlerts, ".dead"}) {
    ASSERT_OK(broker_->CreateTopic(group + kind, 3));
  }
}

KafkaClientOptions RecoveryFixture::Client(const std::string& group) const {
  KafkaClientOptions client;
  client.bootstrap_servers = broker_->bootstrap_servers();
  client.group_id = group;
  client.properties = {{"session.timeout.ms", "6000"},
                       {"heartbeat.interval.ms", "500"},
                       {"fetch.wait.max.ms", "10"}};
  return client;
}

Outputs RecoveryFixture::ReferenceRun() {
  CreateGroupTopics("ref");
  TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 32});
  EXPECT_OK(store.status());
  StatusOr<std::unique_ptr<KafkaSource>> source = KafkaSource::Create(Client("ref"), kRecoveryInput);
  StatusOr<std::unique_ptr<KafkaSource>> cohort_source =
      KafkaSource::Create(Client("ref-cohorts"), RepartitionTopic("ref"));
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(Client("ref"));
  EXPECT_OK(source.status());
  EXPECT_OK(cohort_source.status());
  EXPECT_OK(sink.status());
  if (!store.ok() || !source.ok() || !cohort_source.ok() || !sink.ok()) return {};
  EventDecoder decoder;
  EngineOptions options;
  options.learner_signals_topic = std::string("ref") + kSignals;
  options.cohort_signals_topic = std::string("ref") + kCohorts;
  options.alerts_topic = std::string("ref") + kAlerts;
  options.dead_letter_topic = "ref.dead";
  options.repartition_topic = RepartitionTopic("ref");
  options.repartition_partitions = 6;
  options.input_partitions = 6;
  Engine engine(options, **source, **sink, decoder, **store);
  engine.EnableCohortStage(**cohort_source, nullptr);
  EXPECT_OK(engine.Start());
  const EngineCounters& counters = engine.counters();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while ((counters.consumed.load() < static_cast<uint64_t>(kRecoveryEvents) ||
          counters.repartition_consumed.load() < counters.repartition_sent.load()) &&
         std::chrono::steady_clock::now() < deadline) {
    EXPECT_OK(engine.RunOnce());
  }
  EXPECT_OK(engine.Shutdown());
  EXPECT_GT(counters.learner_records.load(), 100u);
  EXPECT_GT(counters.cohort_records.load(), 10u);
  EXPECT_GT(counters.alerts.load(), 0u) << "the simulator's struggling cohort raises alerts";
  const std::map<std::string, uint64_t> counts = {{kSignals, counters.learner_records.load()},
                                                  {kCohorts, counters.cohort_records.load()},
                                                  {kAlerts, counters.alerts.load()}};
  Outputs outputs;
  for (const auto& [kind, count] : counts) {
    StatusOr<std::vector<ConsumedRecord>> out = ReadTopic(broker_->bootstrap_servers(), "ref" + kind, count);
    EXPECT_OK(out.status());
    if (out.ok()) outputs[kind] = AsSet(*out);
  }
  return outputs;
}

std::string RecoveryFixture::WriteConfig(const std::string& dir, const std::string& group,
                                         const std::string& guarantee, const std::string& state_dir,
                                         int checkpoint_interval_ms) {
  CreateGroupTopics(group);
  const std::string path = dir + "/learnflow.yaml";
  std::ofstream f(path);
  f << "kafka:\n  bootstrap_servers: \"" << broker_->bootstrap_servers() << "\"\n"
    << "  group_id: " << group << "\n  properties:\n    session.timeout.ms: " << session_timeout_ms_
    << "\n    heartbeat.interval.ms: " << std::min(500, session_timeout_ms_ / 10) << "\n    fetch.wait.max.ms: 10\n"
    << "topics:\n  learner_signals: " << group << kSignals << "\n  cohort_signals: " << group
    << kCohorts << "\n  alerts: " << group << kAlerts << "\n  dead_letter: " << group << ".dead\n"
    // Small batches and frequent commits: many commits (and crash points) within the input.
    << "processing:\n  commit_interval_ms: 20\n  max_poll_records: 50\n"
    // No idleness: a partition finishing early must not let cohort windows close without it
    // (the comparison with the uninterrupted run is exact).
    << "  idle_timeout_ms: 0\n"
    << "  guarantee: " << guarantee << "\n"
    << "state:\n  dir: \"" << (state_dir.empty() ? dir + "/state" : state_dir) << "\"\n  memory_mb: 32\n"
    << "  checkpoint_interval_ms: " << checkpoint_interval_ms << "\n"
    << "http:\n  listen: \"127.0.0.1:0\"\n";  // several instances on one machine
  return path;
}

Outputs RecoveryFixture::AwaitSuperset(const std::string& group, const Outputs& reference) {
  Outputs got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (const auto& [kind, records] : reference) {
    while (!std::includes(got[kind].begin(), got[kind].end(), records.begin(), records.end()) &&
           std::chrono::steady_clock::now() < deadline) {
      StatusOr<std::vector<ConsumedRecord>> out =
          ReadTopic(broker_->bootstrap_servers(), group + kind, records.size(), 120000);
      if (out.ok()) got[kind] = AsSet(*out);
    }
  }
  return got;
}

Outputs RecoveryFixture::ReadOutputs(const std::string& group, const Outputs& reference, size_t& total) {
  Outputs got;
  total = 0;
  for (const auto& [kind, records] : reference) {
    StatusOr<std::vector<ConsumedRecord>> out =
        ReadTopic(broker_->bootstrap_servers(), group + kind, records.size());
    EXPECT_OK(out.status());
    if (!out.ok()) continue;
    total += out->size();
    got[kind] = AsSet(*out);
  }
  return got;
}

void RecoveryFixture::ExpectSameOutputs(const Outputs& got, const Outputs& reference,
                                        const std::string& context) {
  for (const auto& [kind, records] : reference) {
    const auto it = got.find(kind);
    ASSERT_NE(it, got.end()) << kind << " could not be read\n" << context;
    EXPECT_TRUE(it->second == records)
        << kind << " records differ from the uninterrupted run (" << it->second.size()
        << " distinct vs " << records.size() << ")\n" << context;
  }
}

int RecoveryFixture::MaxRestoredWindows(const std::string& log) {
  int max = -1;
  for (size_t pos = log.find("restored: "); pos != std::string::npos; pos = log.find("restored: ", pos + 1)) {
    max = std::max(max, std::atoi(log.c_str() + pos + 10));
  }
  return max;
}

void RecoveryFixture::ExpectCleanExit(ChildProcess& child, const std::string& log) {
  child.Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(child.Wait(60000, status)) << ReadFileOrEmpty(log);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "exit status " << status << "\n" << ReadFileOrEmpty(log);
}

}  // namespace learnflow::testing
