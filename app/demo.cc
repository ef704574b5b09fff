// `learnflow demo`: embedded Kafka + simulated learners + the engine in one process.
//
// The simulator first replays the last three days of learning compressed into a few minutes of
// wall time (so hourly windows close and signals arrive within seconds), then continues live.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/commands.h"
#include "app/config.h"
#include "app/engine_runner.h"
#include "app/logging.h"
#include "app/signals.h"
#include "connectors/kafka_client.h"
#include "core/time.h"

namespace learnflow {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;

// Counts records on an output topic and remembers the latest one, for the demo's status lines.
class TopicWatcher final : public AssignmentListener {
 public:
  Status OnAssigned(std::span<const int32_t> partitions, std::vector<StartPosition>& starts) override {
    starts.assign(partitions.size(), StartPosition{});
    return Status::Ok();
  }
  Status OnRevoked(std::span<const int32_t>, bool) override { return Status::Ok(); }

  void Run(Source& source, const std::atomic<bool>& stop) {
    std::vector<InputMessage> batch;
    while (!stop.load()) {
      const Status s = source.Poll(200, 1000, batch);
      if (!s.ok()) continue;  // transient trouble: the status line shows no progress meanwhile
      for (const InputMessage& m : batch) {
        records.fetch_add(1);
        std::lock_guard<std::mutex> lock(mu);
        latest.assign(m.payload);
      }
    }
    source.Close().IgnoreError();  // demo shutdown: nothing to do about a failed leave
  }

  std::string Latest() {
    std::lock_guard<std::mutex> lock(mu);
    return latest;
  }

  std::atomic<uint64_t> records{0};

 private:
  std::mutex mu;
  std::string latest;
};

Status ProduceSimulated(Sink& sink, const std::string& topic, SimulatorOptions options, double rate,
                        const std::atomic<bool>& stop) {
  Simulator simulator(options);
  SimulatedMessage message;
  const auto started = std::chrono::steady_clock::now();
  int64_t produced = 0;
  while (!stop.load() && simulator.Next(message)) {
    LF_RETURN_IF_ERROR(sink.Send(topic, message.key, message.payload));
    if (++produced % 64 == 0) {
      sink.Poll();
      std::this_thread::sleep_until(started + std::chrono::duration<double>(produced / rate));
    }
  }
  return sink.Flush(30000);
}

}  // namespace

int DemoCommand(const DemoArgs& args) {
  ConfigureLogging(LogFormat::kText, LogLevel::kWarn);  // the demo prints its own status lines

  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
  if (!broker.ok()) {
    std::fprintf(stderr, "learnflow demo: %s\n", broker.status().ToString().c_str());
    return kExitRuntime;
  }
  std::vector<std::string> topics = DefaultTopics();
  for (std::string& topic : InternalTopics("learnflow-demo")) topics.push_back(std::move(topic));
  for (const std::string& topic : topics) {
    const Status s = (*broker)->CreateTopic(topic, args.partitions);
    if (!s.ok()) {
      std::fprintf(stderr, "learnflow demo: %s\n", s.ToString().c_str());
      return kExitRuntime;
    }
  }

  std::string state_dir = args.state_dir;
  const bool temporary_state = state_dir.empty();
  if (temporary_state) {
    std::string templ = (std::filesystem::temp_directory_path() / "learnflow-demo-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      std::fprintf(stderr, "learnflow demo: cannot create a temporary state dir\n");
      return kExitRuntime;
    }
    state_dir = templ;
  }

  // Phase 1 of the simulation: the last three days, ~3 s of wall time per simulated hour.
  const TimestampMs now = SystemClock().NowMs();
  SimulatorOptions history;
  history.learners = args.learners;
  history.seed = args.seed;
  history.format = "mixed";
  history.start_ms = FloorDiv(now - 3 * kMsPerDay, kMsPerHour) * kMsPerHour;
  history.simulated_ms_per_event = static_cast<double>(kMsPerHour) / (3.0 * args.rate);
  history.events = static_cast<int64_t>(3.0 * kMsPerDay / history.simulated_ms_per_event);

  ConfigSources sources;
  sources.sets = {"kafka.bootstrap_servers=" + (*broker)->bootstrap_servers(),
                  "kafka.group_id=learnflow-demo", "state.dir=" + state_dir,
                  "http.listen=" + args.http_listen,
                  // The embedded broker's group coordinator waits about session.timeout.ms per
                  // rebalance round: keep it short so the demo starts in seconds.
                  "kafka.properties.session.timeout.ms=6000",
                  "kafka.properties.heartbeat.interval.ms=500",
                  "kafka.properties.fetch.wait.max.ms=10"};
  StatusOr<Config> config = LoadConfig(sources);
  if (!config.ok()) {
    std::fprintf(stderr, "learnflow demo: %s\n", config.status().ToString().c_str());
    return kExitRuntime;
  }
  // The simulated LMS's own mappings (Moodle course -> cohort, quiz -> skill, Caliper hint tools),
  // as an operator would configure them for a real one.
  SimulatorDecoderSettings decoding = DecoderSettingsFor(history);
  config->decoding.caliper_help_tools = std::move(decoding.caliper_help_tools);
  config->decoding.moodle_cohort_by_course = std::move(decoding.moodle_cohort_by_course);
  config->decoding.moodle_skill_by_item = std::move(decoding.moodle_skill_by_item);
  StatusOr<std::unique_ptr<EngineRunner>> runner = EngineRunner::Create(*config);
  if (!runner.ok()) {
    std::fprintf(stderr, "learnflow demo: %s\n", runner.status().ToString().c_str());
    return kExitRuntime;
  }

  const std::string& bootstrap = (*broker)->bootstrap_servers();
  std::printf(
      "learnflow demo\n"
      "  bootstrap.servers=%s\n"
      "  input:   %s (simulated learners: %lld, %.0f events/s, xAPI + Caliper + Moodle)\n"
      "  outputs: %s, %s, %s, %s\n"
      "  state:   %s\n"
      "  metrics: http://%s/metrics   health: http://%s/healthz   ready: http://%s/readyz\n"
      "  query:   http://%s/v1/cohorts?struggling=true   http://%s/v1/learners/{learner_id}\n"
      "  look:    kcat -b %s -C -t %s -o beginning\n"
      "  alerts:  kcat -b %s -C -t %s -o beginning\n"
      "Ctrl-C to stop.\n",
      bootstrap.c_str(), config->topics.input.c_str(), static_cast<long long>(args.learners),
      args.rate, config->topics.learner_signals.c_str(), config->topics.cohort_signals.c_str(),
      config->topics.alerts.c_str(), config->topics.dead_letter.c_str(),
      state_dir.c_str(), (*runner)->http_address().c_str(), (*runner)->http_address().c_str(),
      (*runner)->http_address().c_str(), (*runner)->http_address().c_str(),
      (*runner)->http_address().c_str(), bootstrap.c_str(), config->topics.learner_signals.c_str(),
      bootstrap.c_str(), config->topics.alerts.c_str());
  std::fflush(stdout);

  std::atomic<bool> engine_failed{false};
  Status engine_status;
  std::thread engine_thread([&] {
    engine_status = (*runner)->Run(StopRequested());
    if (!engine_status.ok()) {
      engine_failed = true;
      RequestStop();
    }
  });

  KafkaClientOptions client;
  client.bootstrap_servers = bootstrap;
  client.group_id = "learnflow-demo-watcher";
  client.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
  StatusOr<std::unique_ptr<KafkaSource>> tail = KafkaSource::Create(client, config->topics.learner_signals);
  KafkaClientOptions alert_client = client;
  alert_client.group_id = "learnflow-demo-alert-watcher";
  StatusOr<std::unique_ptr<KafkaSource>> alert_tail = KafkaSource::Create(alert_client, config->topics.alerts);
  if (!sink.ok() || !tail.ok() || !alert_tail.ok()) {
    std::fprintf(stderr, "learnflow demo: cannot create Kafka clients\n");
    RequestStop();
    engine_thread.join();
    return kExitRuntime;
  }
  TopicWatcher watcher;
  if (!(*tail)->Subscribe(watcher).ok()) RequestStop();
  std::thread watcher_thread([&] { watcher.Run(**tail, StopRequested()); });
  TopicWatcher alert_watcher;
  if (!(*alert_tail)->Subscribe(alert_watcher).ok()) RequestStop();
  std::thread alert_watcher_thread([&] { alert_watcher.Run(**alert_tail, StopRequested()); });

  std::thread simulator_thread([&] {
    Status s = ProduceSimulated(**sink, config->topics.input, history, args.rate, StopRequested());
    // Phase 2: live, event time following the wall clock (no night-time gaps, which at a fixed
    // message rate would pull event time away from the wall clock).
    if (s.ok() && !StopRequested().load()) {
      SimulatorOptions live = history;
      live.seed = args.seed + 1;
      live.start_ms = SystemClock().NowMs();
      live.simulated_ms_per_event = 1000.0 / args.rate;
      live.daily_rhythm = false;
      live.events = 0;
      s = ProduceSimulated(**sink, config->topics.input, live, args.rate, StopRequested());
    }
    if (!s.ok()) std::fprintf(stderr, "learnflow demo: simulator: %s\n", s.ToString().c_str());
  });

  const auto started = std::chrono::steady_clock::now();
  bool shown_sample = false;
  uint64_t alerts_shown = 0;
  while (!WaitForStop(5000)) {
    const EngineCounters& c = (*runner)->counters();
    uint64_t invalid = 0;
    for (const auto& v : c.invalid) invalid += v.load();
    const TimestampMs wm = c.min_watermark_ms.load();
    std::printf("[%4llds] events in %llu, invalid/late %llu, learner records out %llu, cohort windows "
                "out %llu, alerts %llu, watermark %s\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count()),
                static_cast<unsigned long long>(c.consumed.load()),
                static_cast<unsigned long long>(invalid),
                static_cast<unsigned long long>(watcher.records.load()),
                static_cast<unsigned long long>(c.cohort_records.load()),
                static_cast<unsigned long long>(alert_watcher.records.load()),
                wm == 0 ? "-" : FormatIso8601Millis(wm).c_str());
    if (!shown_sample && watcher.records.load() > 0) {
      std::printf("  sample learner signal: %s\n", watcher.Latest().c_str());
      shown_sample = true;
    }
    if (alert_watcher.records.load() > alerts_shown) {
      alerts_shown = alert_watcher.records.load();
      std::printf("  latest alert: %s\n", alert_watcher.Latest().c_str());
    }
    std::fflush(stdout);
  }

  std::printf("stopping...\n");
  std::fflush(stdout);
  simulator_thread.join();
  watcher_thread.join();
  alert_watcher_thread.join();
  engine_thread.join();
  sink->reset();
  tail->reset();
  alert_tail->reset();
  runner->reset();
  if (temporary_state) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir, ec);
  }
  if (engine_failed) {
    std::fprintf(stderr, "learnflow demo: engine failed: %s\n", engine_status.ToString().c_str());
    return kExitRuntime;
  }
  std::printf("learnflow demo stopped.\n");
  return kExitOk;
}

}  // namespace learnflow
