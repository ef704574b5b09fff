// `learnflow run` as operators see it: scraped over HTTP while it processes, the metrics must
// count exactly what was produced (consumed, invalid by reason, late, records out), the live
// exposition must pass `promtool check metrics`, /readyz must say ready, and SIGTERM must stop it
// with exit code 0.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "connectors/kafka_client.h"
#include "core/hmac_sha256.h"
#include "core/time.h"
#include "tests/testing/http_test_client.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::FreeLoopbackPort;
using testing::MetricSample;

std::string Xapi(const std::string& id, const std::string& name, TimestampMs t) {
  return R"({"id":")" + id + R"(","actor":{"account":{"homePage":"https://lms.example.org","name":")" +
         name + R"("}},"verb":{"id":"http://adlnet.gov/expapi/verbs/answered"},"object":{"id":"https://lms.example.org/items/q1"},"result":{"success":true},"timestamp":")" +
         FormatIso8601Millis(t) + R"("})";
}

TEST(OperationsTest, MetricsOverHttpCountExactlyWhatWasProducedAndSigtermStopsCleanly) {
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
  ASSERT_OK(broker.status());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  std::vector<std::string> topics = {"ops.in", "ops.out", "ops.dead", "learnflow.cohort-signals",
                                     "learnflow.alerts"};
  for (std::string& topic : InternalTopics("ops")) topics.push_back(std::move(topic));
  for (const std::string& topic : topics) ASSERT_OK((*broker)->CreateTopic(topic, 2));

  // 30 events of 3 learners in [10:00, 11:00), a closer per partition at 12:10, 4 invalid JSON,
  // 2 without an actor, then one late event per partition.
  const TimestampMs ten = *ParseIso8601Millis("2026-03-02T10:00:00Z");
  std::vector<testing::ProducedRecord> records;
  for (int i = 0; i < 30; ++i) {
    // Keyed by learner: learner l's events all go to partition l % 2.
    records.push_back({(i % 3) % 2, "k", Xapi("e" + std::to_string(i), "learner-" + std::to_string(i % 3),
                                              ten + i * kMsPerMinute)});
  }
  for (int i = 0; i < 4; ++i) records.push_back({i % 2, "k", "{not json"});
  for (int i = 0; i < 2; ++i) {
    records.push_back({i, "k", R"({"verb":{"id":"x"},"object":{"id":"y"},"timestamp":"2026-03-02T10:00:00Z"})"});
  }
  for (int p = 0; p < 2; ++p) {
    records.push_back({p, "k", Xapi("closer-" + std::to_string(p), "closer", ten + 2 * kMsPerHour + 10 * kMsPerMinute)});
  }
  for (int p = 0; p < 2; ++p) {
    records.push_back({p, "k", Xapi("late-" + std::to_string(p), "learner-0", ten + 5 * kMsPerMinute)});
  }
  ASSERT_OK(testing::ProduceRecords(bootstrap, "ops.in", records));

  testing::TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const std::string config = dir.path() + "/learnflow.yaml";
  {
    std::ofstream f(config);
    f << "kafka:\n  bootstrap_servers: \"" << bootstrap << "\"\n  group_id: ops\n  properties:\n"
      << "    session.timeout.ms: 6000\n    heartbeat.interval.ms: 500\n    fetch.wait.max.ms: 10\n"
      << "    statistics.interval.ms: 200\n"
      << "topics:\n  input: ops.in\n  learner_signals: ops.out\n  dead_letter: ops.dead\n"
      << "state:\n  dir: \"" << dir.path() << "/state\"\n  memory_mb: 32\n"
      << "http:\n  listen: \"127.0.0.1:" << port << "\"\nlog:\n  format: json\n";
  }
  const std::string log = dir.path() + "/engine.log";
  testing::ChildProcess engine({testing::LearnflowBinary(), "run", "--config", config}, {}, log);

  // The dead-letter topic fills as the engine works (4 + 2 + 2 records): a blocking read.
  StatusOr<std::vector<testing::ConsumedRecord>> dead = testing::ReadTopic(bootstrap, "ops.dead", 8);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString() << "\n" << testing::ReadFileOrEmpty(log);
  StatusOr<std::vector<testing::ConsumedRecord>> out = testing::ReadTopic(bootstrap, "ops.out", 3);
  ASSERT_TRUE(out.ok()) << out.status().ToString() << "\n" << testing::ReadFileOrEmpty(log);
  EXPECT_EQ(out->size(), 3u);

  // Scrape until the counters have caught up with the topics (they are updated as records are
  // processed; the reads above already waited for the processing itself).
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    testing::TestHttpClient client(port);
    ASSERT_TRUE(client.connected());
    std::optional<testing::ClientResponse> response = client.Get("/metrics");
    ASSERT_TRUE(response.has_value());
    ASSERT_EQ(response->status, 200);
    metrics = response->body;
    // Consumer lag comes from librdkafka's statistics (every 200 ms here): 0 once the group
    // offsets committed after the last record reach the partition ends.
    if (MetricSample(metrics, R"(learnflow_records_produced_total{topic="ops.dead"})") >= 8 &&
        MetricSample(metrics, R"(learnflow_events_consumed_total{topic="ops.in"})") >= records.size() &&
        MetricSample(metrics, R"(learnflow_consumer_lag_records{topic="ops.in",partition="0"})") == 0 &&
        MetricSample(metrics, R"(learnflow_consumer_lag_records{topic="ops.in",partition="1"})") == 0) {
      break;
    }
  }
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_events_consumed_total{topic="ops.in"})"), records.size());
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_events_invalid_total{reason="invalid_json"})"), 4);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_events_invalid_total{reason="no_learner"})"), 2);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_events_invalid_total{reason="late"})"), 2);
  EXPECT_EQ(MetricSample(metrics, "learnflow_events_late_total"), 2);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_records_produced_total{topic="ops.out"})"), 3);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_records_produced_total{topic="ops.dead"})"), 8);
  EXPECT_EQ(MetricSample(metrics, "learnflow_assigned_partitions"), 2);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_consumer_lag_records{topic="ops.in",partition="0"})"), 0);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_consumer_lag_records{topic="ops.in",partition="1"})"), 0);
  EXPECT_GT(MetricSample(metrics, "learnflow_processing_latency_seconds_count"), 0);
  EXPECT_GT(MetricSample(metrics, "learnflow_commit_duration_seconds_count"), 0);
  EXPECT_EQ(MetricSample(metrics, R"(learnflow_build_info{version="0.1.0"})"), 1);

  const testing::PromtoolResult check = testing::PromtoolCheckMetrics(metrics);
  if (check.available) {
    EXPECT_EQ(check.exit_code, 0) << "promtool check metrics:\n" << check.output;
  } else {
    std::cout << "promtool not installed: live exposition not linted\n";
  }

  testing::TestHttpClient probe(port);
  std::optional<testing::ClientResponse> ready = probe.Get("/readyz");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 200) << ready->body;

  engine.Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(engine.Wait(60000, status)) << testing::ReadFileOrEmpty(log);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << testing::ReadFileOrEmpty(log);
  // log.format: json gives one JSON object per line.
  std::ifstream lines(log);
  std::string line;
  int json_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("{\"time\":", 0) == 0) ++json_lines;
  }
  EXPECT_GT(json_lines, 0) << testing::ReadFileOrEmpty(log);
}

std::string XapiInCohort(const std::string& id, const std::string& name, const std::string& cohort,
                         bool success, TimestampMs t) {
  return R"({"id":")" + id + R"(","actor":{"account":{"homePage":"https://lms.example.org","name":")" +
         name + R"("}},"verb":{"id":"http://adlnet.gov/expapi/verbs/answered"},"object":{"id":"https://lms.example.org/items/q1"},"result":{"success":)" +
         (success ? "true" : "false") +
         R"(},"context":{"extensions":{"https://learnflow.dev/xapi/cohort":")" + cohort +
         R"("}},"timestamp":")" + FormatIso8601Millis(t) + R"("})";
}

std::string PseudonymOf(const std::string& key, const std::string& learner_id) {
  Pseudonymizer::Hex hex;
  return std::string(Pseudonymizer(key).Apply(learner_id, hex));
}

// The JSON object value of `"name":` in `body` (balanced braces), or "".
std::string ObjectField(const std::string& body, const std::string& name) {
  const size_t at = body.find("\"" + name + "\":{");
  if (at == std::string::npos) return "";
  const size_t begin = at + name.size() + 3;
  int depth = 0;
  for (size_t i = begin; i < body.size(); ++i) {
    if (body[i] == '{') ++depth;
    if (body[i] == '}' && --depth == 0) return body.substr(begin, i - begin + 1);
  }
  return "";
}

// `learnflow run` with privacy.pseudonymize_learner_ids: only pseudonyms leave the engine (topics,
// query API, logs), and the query API answers from the live state what the topics say, while
// clients query concurrently.
TEST(OperationsTest, QueryApiAnswersFromLiveStateAndOnlyPseudonymsLeaveTheEngine) {
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
  ASSERT_OK(broker.status());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  std::vector<std::string> topics = {"q.in", "q.learners", "q.cohorts", "q.alerts", "q.dead"};
  for (std::string& topic : InternalTopics("q")) topics.push_back(std::move(topic));
  for (const std::string& topic : topics) ASSERT_OK((*broker)->CreateTopic(topic, 2));

  // Cohort c-struggle: 5 learners answering wrong 5 times; c-fine: 5 learners answering right.
  const TimestampMs ten = *ParseIso8601Millis("2026-03-02T10:00:00Z");
  std::vector<testing::ProducedRecord> records;
  std::vector<std::string> names;
  for (int l = 0; l < 10; ++l) {
    const bool struggling = l < 5;
    const std::string name = (struggling ? "s" : "f") + std::to_string(l);
    names.push_back(name);
    for (int i = 0; i < 5; ++i) {
      // Keyed by the raw id, as producers do: the engine must not copy input keys anywhere.
      records.push_back({l % 2, "https://lms.example.org|" + name,
                         XapiInCohort(name + "-" + std::to_string(i), name,
                                      struggling ? "c-struggle" : "c-fine", !struggling,
                                      ten + (l * 5 + i) * kMsPerMinute)});
    }
  }
  for (int p = 0; p < 2; ++p) {
    records.push_back({p, "closer", XapiInCohort("closer-" + std::to_string(p), "closer", "c-closer",
                                                 true, ten + 2 * kMsPerHour + 10 * kMsPerMinute)});
  }

  testing::TempDir dir;
  const uint16_t port = FreeLoopbackPort();
  const std::string key = "a-test-key-of-32-bytes-0123456789";
  const std::string config = dir.path() + "/learnflow.yaml";
  {
    std::ofstream f(config);
    f << "kafka:\n  bootstrap_servers: \"" << bootstrap << "\"\n  group_id: q\n  properties:\n"
      << "    session.timeout.ms: 6000\n    heartbeat.interval.ms: 500\n    fetch.wait.max.ms: 10\n"
      << "topics:\n  input: q.in\n  learner_signals: q.learners\n  cohort_signals: q.cohorts\n"
      << "  alerts: q.alerts\n  dead_letter: q.dead\n"
      << "processing:\n  idle_timeout_ms: 0\n  commit_interval_ms: 100\n"
      << "state:\n  dir: \"" << dir.path() << "/state\"\n  memory_mb: 32\n"
      << "http:\n  listen: \"127.0.0.1:" << port << "\"\n"
      << "privacy:\n  pseudonymize_learner_ids: true\n";
  }
  const std::string log = dir.path() + "/engine.log";
  testing::ChildProcess engine({testing::LearnflowBinary(), "run", "--config", config},
                               {"LEARNFLOW_PSEUDONYM_KEY=" + key}, log);
  const std::string s0 = PseudonymOf(key, "https://lms.example.org|s0");

  // Concurrent clients from before the first record to the end: every answer is a JSON 200, or
  // 404 while the state does not know the id yet, or 503 while the engine is still binding.
  std::atomic<bool> stop{false};
  std::atomic<int> answers{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> clients;
  // Bounded: two clients, at most 150 requests each, so they cannot starve the engine.
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      int sent = 0;
      while (!stop.load() && sent < 150) {
        testing::TestHttpClient client(port);
        if (!client.connected()) continue;  // not listening yet
        for (int i = 0; i < 20 && !stop.load() && sent < 150; ++i, ++sent) {
          const std::string path = t % 2 == 0 ? "/v1/learners/" + s0 : "/v1/cohorts?struggling=true";
          std::optional<testing::ClientResponse> r = client.Get(path);
          if (!r.has_value()) break;
          answers.fetch_add(1);
          if ((r->status != 200 && r->status != 404) || !r->body.starts_with("{\"")) {
            unexpected.fetch_add(1);
          }
        }
      }
    });
  }
  ASSERT_OK(testing::ProduceRecords(bootstrap, "q.in", records));

  StatusOr<std::vector<testing::ConsumedRecord>> learners = testing::ReadTopic(bootstrap, "q.learners", 10);
  ASSERT_TRUE(learners.ok()) << learners.status().ToString() << "\n" << testing::ReadFileOrEmpty(log);
  StatusOr<std::vector<testing::ConsumedRecord>> cohorts = testing::ReadTopic(bootstrap, "q.cohorts", 2);
  ASSERT_TRUE(cohorts.ok()) << cohorts.status().ToString() << "\n" << testing::ReadFileOrEmpty(log);
  StatusOr<std::vector<testing::ConsumedRecord>> alerts = testing::ReadTopic(bootstrap, "q.alerts", 1);
  ASSERT_TRUE(alerts.ok()) << alerts.status().ToString() << "\n" << testing::ReadFileOrEmpty(log);

  // Keys and learner_ids are the HMAC-SHA256 pseudonyms; no raw id is in any record.
  std::set<std::string> expected_keys;
  for (const std::string& name : names) {
    expected_keys.insert(PseudonymOf(key, "https://lms.example.org|" + name));
  }
  std::set<std::string> keys;
  std::map<std::string, std::string> record_of;
  for (const testing::ConsumedRecord& r : *learners) {
    keys.insert(r.key);
    record_of[r.key] = r.value;
    EXPECT_NE(r.value.find("\"learner_id\":\"" + r.key + "\""), std::string::npos) << r.value;
  }
  EXPECT_EQ(keys, expected_keys);
  std::vector<testing::ConsumedRecord> everything = *learners;
  everything.insert(everything.end(), cohorts->begin(), cohorts->end());
  everything.insert(everything.end(), alerts->begin(), alerts->end());
  // The internal topics too: changelogs and the repartition topic, read to their current end.
  for (const std::string& topic : InternalTopics("q")) {
    StatusOr<std::vector<testing::ConsumedRecord>> internal = testing::ReadTopic(bootstrap, topic, 1);
    ASSERT_TRUE(internal.ok()) << topic << ": " << internal.status().ToString();
    everything.insert(everything.end(), internal->begin(), internal->end());
  }
  for (const testing::ConsumedRecord& r : everything) {
    EXPECT_EQ(r.value.find("example.org|"), std::string::npos) << r.value;
    EXPECT_EQ(r.key.find("example.org|"), std::string::npos) << r.key;
  }
  // Dead letters are the documented exception (the input unchanged); none are expected here.

  // The learner's answer: current BKT after 5 wrong answers, and its latest window is the record
  // on the topic. Answers are as of the last commit: poll until it has the final window.
  std::optional<testing::ClientResponse> learner;
  std::string cohort_list;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    testing::TestHttpClient client(port);
    learner = client.Get("/v1/learners/" + s0);
    std::optional<testing::ClientResponse> list = client.Get("/v1/cohorts?struggling=true");
    cohort_list = list.has_value() ? list->body : "";
    if (learner.has_value() && learner->status == 200 &&
        learner->body.find("\"latest_window\":null") == std::string::npos &&
        cohort_list.find("c-struggle") != std::string::npos) {
      break;
    }
  }
  ASSERT_TRUE(learner.has_value());
  ASSERT_EQ(learner->status, 200) << learner->body;
  EXPECT_EQ(ObjectField(learner->body, "latest_window"), record_of[s0]);
  double p = 0.3;  // DESIGN §8 defaults: p_init 0.3, T 0.1, G 0.2, S 0.1
  for (int i = 0; i < 5; ++i) {
    const double posterior = p * 0.1 / (p * 0.1 + (1 - p) * 0.8);
    p = posterior + (1 - posterior) * 0.1;
  }
  const std::string mastery = ObjectField(learner->body, "mastery");
  const std::string skill = "{\"https://lms.example.org/items/q1\":";
  ASSERT_TRUE(mastery.starts_with(skill)) << learner->body;
  EXPECT_DOUBLE_EQ(std::stod(mastery.substr(skill.size())), p);

  // The struggling cohorts: exactly c-struggle, its latest window the record on the topic.
  EXPECT_TRUE(cohort_list.starts_with(R"({"cohorts":[{"cohort_id":"c-struggle","struggling":true,)"))
      << cohort_list;
  EXPECT_EQ(cohort_list.find("c-fine"), std::string::npos) << cohort_list;
  std::string struggle_record;
  for (const testing::ConsumedRecord& r : *cohorts) {
    if (r.key == "c-struggle") struggle_record = r.value;
  }
  EXPECT_EQ(ObjectField(cohort_list, "latest_window"), struggle_record);
  testing::TestHttpClient client(port);
  std::optional<testing::ClientResponse> fine = client.Get("/v1/cohorts/c-fine");
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
  EXPECT_TRUE(fine->body.starts_with(R"({"cohort_id":"c-fine","struggling":false,)")) << fine->body;
  // Raw ids are unknown to the state: it holds pseudonyms only.
  std::optional<testing::ClientResponse> raw = client.Get("/v1/learners/https%3A%2F%2Flms.example.org%7Cs0");
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->status, 404) << raw->body;

  stop = true;
  for (std::thread& c : clients) c.join();
  EXPECT_GT(answers.load(), 0);
  EXPECT_EQ(unexpected.load(), 0);

  engine.Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(engine.Wait(60000, status)) << testing::ReadFileOrEmpty(log);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string log_text = testing::ReadFileOrEmpty(log);
  EXPECT_EQ(log_text.find("example.org|"), std::string::npos) << log_text;
  EXPECT_EQ(log_text.find(key), std::string::npos) << "the key must never be logged";
}

}  // namespace
}  // namespace learnflow
