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

#include <chrono>
#include <fstream>
#include <map>

#include "connectors/kafka_client.h"
#include "core/time.h"
#include "tests/testing/http_test_client.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

// A port that was free a moment ago (the engine binds it right after).
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Sample value of an exact series line in a Prometheus exposition, or -1.
double Sample(const std::string& exposition, const std::string& series) {
  const std::string prefix = series + " ";
  for (size_t pos = 0; pos < exposition.size();) {
    const size_t end = exposition.find('\n', pos);
    const std::string line = exposition.substr(pos, end - pos);
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return -1;
}

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
  const uint16_t port = FreePort();
  const std::string config = dir.path() + "/learnflow.yaml";
  {
    std::ofstream f(config);
    f << "kafka:\n  bootstrap_servers: \"" << bootstrap << "\"\n  group_id: ops\n  properties:\n"
      << "    session.timeout.ms: 6000\n    heartbeat.interval.ms: 500\n    fetch.wait.max.ms: 10\n"
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
    if (Sample(metrics, R"(learnflow_records_produced_total{topic="ops.dead"})") >= 8 &&
        Sample(metrics, R"(learnflow_events_consumed_total{topic="ops.in"})") >= records.size()) {
      break;
    }
  }
  EXPECT_EQ(Sample(metrics, R"(learnflow_events_consumed_total{topic="ops.in"})"), records.size());
  EXPECT_EQ(Sample(metrics, R"(learnflow_events_invalid_total{reason="invalid_json"})"), 4);
  EXPECT_EQ(Sample(metrics, R"(learnflow_events_invalid_total{reason="no_learner"})"), 2);
  EXPECT_EQ(Sample(metrics, R"(learnflow_events_invalid_total{reason="late"})"), 2);
  EXPECT_EQ(Sample(metrics, "learnflow_events_late_total"), 2);
  EXPECT_EQ(Sample(metrics, R"(learnflow_records_produced_total{topic="ops.out"})"), 3);
  EXPECT_EQ(Sample(metrics, R"(learnflow_records_produced_total{topic="ops.dead"})"), 8);
  EXPECT_EQ(Sample(metrics, "learnflow_assigned_partitions"), 2);
  EXPECT_GT(Sample(metrics, "learnflow_processing_latency_seconds_count"), 0);
  EXPECT_GT(Sample(metrics, "learnflow_commit_duration_seconds_count"), 0);
  EXPECT_EQ(Sample(metrics, R"(learnflow_build_info{version="0.1.0"})"), 1);

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

}  // namespace
}  // namespace learnflow
