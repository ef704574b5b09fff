// Property test of the learning signals end to end: seeded random streams (the simulator's
// learners in all three formats, with duplicates re-sent and, for one seed, jitter beyond the
// grace period) go through the embedded broker into the engine with both stages; the learner,
// inactive, cohort and alert records on the output topics must equal what an independent,
// straightforward model of the signal rules (tests/testing/signal_model.h) computes from the
// same events.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "app/simulator.h"
#include "connectors/decoders/event_decoder.h"
#include "connectors/kafka_client.h"
#include "core/codec.h"
#include "state/state_store.h"
#include "stream/engine.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/signal_model.h"
#include "tests/testing/signal_records.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

constexpr int32_t kPartitions = 3;

struct Scenario {
  uint64_t seed;
  int64_t learners;
  int64_t events;
  TimestampMs jitter_ms;
  int duplicate_every;  // re-send every n-th message three messages later (a duplicate)
  int late_every;       // re-send every n-th message 1,500 messages later (hours: late)
};

DecoderOptions DecoderFor(const SimulatorOptions& sim) {
  DecoderOptions options = DecoderOptions::Defaults();
  const SimulatorDecoderSettings settings = DecoderSettingsFor(sim);
  options.caliper_help_tools = settings.caliper_help_tools;
  for (const auto& [k, v] : settings.moodle_cohort_by_course) options.moodle_cohort_by_course[k] = v;
  for (const auto& [k, v] : settings.moodle_skill_by_item) options.moodle_skill_by_item[k] = v;
  return options;
}

class SignalsPropertyTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(SignalsPropertyTest, EngineOutputEqualsTheIndependentModel) {
  const Scenario scenario = GetParam();
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
  ASSERT_OK(broker.status());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  const std::string group = "prop";
  for (const char* topic : {"in", "learners", "cohorts", "alerts", "dead"}) {
    ASSERT_OK((*broker)->CreateTopic(topic, kPartitions));
  }
  ASSERT_OK((*broker)->CreateTopic(RepartitionTopic(group), kPartitions));

  // The stream: simulated messages, each to partition hash(key) % 3 (so each learner's events
  // keep their order), plus duplicates of every n-th message re-sent three messages later and
  // copies of some messages re-sent hours of event time later (late for their window).
  SimulatorOptions sim;
  sim.learners = scenario.learners;
  sim.events = scenario.events;
  sim.format = "mixed";
  sim.seed = scenario.seed;
  sim.max_jitter_ms = scenario.jitter_ms;
  Simulator simulator(sim);
  SimulatedMessage m;
  std::vector<testing::ProducedRecord> records;
  std::vector<testing::ProducedRecord> pending_duplicates;
  std::vector<std::pair<int, testing::ProducedRecord>> pending_late;  // (due index, record)
  for (int i = 0; simulator.Next(m); ++i) {
    const int32_t partition = static_cast<int32_t>(StableHash64(m.key) % kPartitions);
    records.push_back({partition, m.key, m.payload});
    if (i % scenario.late_every == 0) pending_late.emplace_back(i + 1500, records.back());
    while (!pending_late.empty() && pending_late.front().first <= i) {
      records.push_back(pending_late.front().second);
      pending_late.erase(pending_late.begin());
    }
    if (i % scenario.duplicate_every == 0) pending_duplicates.push_back(records.back());
    if (i % scenario.duplicate_every == 3 && !pending_duplicates.empty()) {
      records.push_back(pending_duplicates.back());
      pending_duplicates.pop_back();
    }
  }
  ASSERT_OK(testing::ProduceRecords(bootstrap, "in", records));

  // The model's input: the same messages decoded (the decoder is not under test here), in
  // production order; events the engine would reject before the signal rules (none expected)
  // are left out.
  testing::ModelOptions model_options;
  model_options.partitions = kPartitions;
  model_options.inactivity_ms = 6 * kMsPerHour;  // so that inactivity records appear
  std::vector<testing::ModelEvent> events;
  EventDecoder model_decoder(DecoderFor(sim));
  DecodedMessage decoded;
  size_t rejected = 0;
  for (const testing::ProducedRecord& r : records) {
    model_decoder.Decode(r.value, decoded);
    rejected += decoded.rejects.size();
    for (const CanonicalEvent& e : decoded.events) {
      testing::ModelEvent& me = events.emplace_back();
      me.partition = r.partition;
      me.event_id = e.event_id;
      me.learner_id = e.learner_id;
      me.course_id = e.course_id;
      me.cohort_id = e.cohort_id;
      me.skill_id = e.skill_id;
      me.attempt_ref = e.attempt_ref;
      me.kind = e.kind;
      me.success = e.success;
      me.time_ms = e.event_time_ms;
    }
  }
  ASSERT_EQ(rejected, 0u) << "the simulator's messages are all valid";
  testing::ModelOutput expected = testing::RunModel(events, model_options);

  // The engine, both stages, until the input and everything repartitioned from it is consumed.
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 32});
  ASSERT_OK(store.status());
  KafkaClientOptions client;
  client.bootstrap_servers = bootstrap;
  client.group_id = group;
  client.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"},
                       {"fetch.wait.max.ms", "10"}};
  KafkaClientOptions cohort_client = client;
  cohort_client.group_id = group + "-cohorts";
  StatusOr<std::unique_ptr<KafkaSource>> source = KafkaSource::Create(client, "in");
  StatusOr<std::unique_ptr<KafkaSource>> cohort_source =
      KafkaSource::Create(cohort_client, RepartitionTopic(group));
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
  ASSERT_OK(source.status());
  ASSERT_OK(cohort_source.status());
  ASSERT_OK(sink.status());
  EventDecoder decoder(DecoderFor(sim));
  EngineOptions options;
  options.input_topic = "in";
  options.learner_signals_topic = "learners";
  options.cohort_signals_topic = "cohorts";
  options.alerts_topic = "alerts";
  options.dead_letter_topic = "dead";
  options.repartition_topic = RepartitionTopic(group);
  options.repartition_partitions = kPartitions;
  options.input_partitions = kPartitions;
  options.signals.inactivity_ms = model_options.inactivity_ms;
  Engine engine(options, **source, **sink, decoder, **store);
  engine.EnableCohortStage(**cohort_source, nullptr);
  ASSERT_OK(engine.Start());
  const EngineCounters& counters = engine.counters();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (counters.consumed.load() < records.size() ||
         counters.repartition_consumed.load() < counters.repartition_sent.load()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "consumed " << counters.consumed.load() << " of " << records.size() << ", repartitioned "
        << counters.repartition_consumed.load() << " of " << counters.repartition_sent.load();
    ASSERT_OK(engine.RunOnce());
  }
  ASSERT_OK(engine.Shutdown());

  testing::ModelOutput actual;
  for (const auto& [topic, count] :
       std::vector<std::pair<std::string, uint64_t>>{{"learners", counters.learner_records.load()},
                                                     {"cohorts", counters.cohort_records.load()},
                                                     {"alerts", counters.alerts.load()}}) {
    StatusOr<std::vector<testing::ConsumedRecord>> out = testing::ReadTopic(bootstrap, topic, count);
    ASSERT_OK(out.status());
    ASSERT_EQ(out->size(), count) << topic;
    for (const testing::ConsumedRecord& r : *out) ASSERT_OK(testing::AppendSignalRecord(r.value, actual));
  }
  testing::SortModelOutput(expected);
  testing::SortModelOutput(actual);
  EXPECT_NO_SIGNAL_DIFF(testing::DiffSignalRecords(expected, actual));
  EXPECT_EQ(counters.late.load(), expected.late_event_ids.size());
  // The streams must exercise what they are meant to.
  EXPECT_GT(expected.learner_records.size(), 100u);
  EXPECT_GT(expected.cohort_records.size(), 5u);
  EXPECT_GT(counters.duplicates.load(), 0u);
  EXPECT_GT(expected.late_event_ids.size(), 0u);
  EXPECT_GT(expected.inactive_records.size(), 0u);
  std::cout << "seed " << scenario.seed << ": " << expected.learner_records.size()
            << " learner records, " << expected.inactive_records.size() << " inactive, "
            << expected.cohort_records.size() << " cohort records, " << expected.alerts.size()
            << " alerts, " << expected.late_event_ids.size() << " late events, "
            << counters.duplicates.load() << " duplicates\n";
}

INSTANTIATE_TEST_SUITE_P(Seeds, SignalsPropertyTest,
                         ::testing::Values(Scenario{1, 120, 6000, 20000, 37, 211},
                                           Scenario{2, 200, 8000, 20000, 23, 307},
                                           Scenario{3, 80, 5000, 5 * kMsPerMinute, 41, 97}),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return "Seed" + std::to_string(info.param.seed);
                         });

}  // namespace
}  // namespace learnflow
