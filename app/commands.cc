#include "app/commands.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "app/config.h"
#include "app/engine_runner.h"
#include "app/logging.h"
#include "app/signals.h"
#include "connectors/kafka_client.h"
#include "core/time.h"
#include "stream/crash_points.h"

namespace learnflow {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int Fail(const Status& status, int code) {
  std::fprintf(stderr, "learnflow: %s\n", status.ToString().c_str());
  return code;
}

// Exits the process if a requested stop takes longer than `timeout_ms` (SIGTERM contract).
void StartShutdownWatchdog(int64_t timeout_ms) {
  std::thread([timeout_ms] {
    while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    std::fprintf(stderr, "learnflow: shutdown took longer than %lld ms; exiting\n",
                 static_cast<long long>(timeout_ms));
    std::_Exit(kExitRuntime);
  }).detach();
}

StatusOr<Config> LoadFromArgs(const ConfigArgs& args) {
  ConfigSources sources;
  sources.file_path = args.config_path;
  sources.sets = args.sets;
  return LoadConfig(sources);
}

}  // namespace

int CheckConfigCommand(const ConfigArgs& args) {
  StatusOr<Config> config = LoadFromArgs(args);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  std::printf("%s", DescribeConfig(*config).c_str());
  std::fprintf(stderr, "learnflow: configuration OK\n");
  return kExitOk;
}

int RunCommand(const ConfigArgs& args) {
  StatusOr<Config> config = LoadFromArgs(args);
  if (!config.ok()) return Fail(config.status(), kExitUsage);
  const Status runnable = ValidateForRun(*config);
  if (!runnable.ok()) return Fail(runnable, kExitUsage);
  ConfigureLogging(config->log.format, config->log.level);
  std::string crash_error;
  if (!ArmCrashPointFromEnvironment(crash_error)) return Fail(InvalidArgumentError(crash_error), kExitUsage);
  StatusOr<std::unique_ptr<EngineRunner>> runner = EngineRunner::Create(*config);
  if (!runner.ok()) {
    return Fail(runner.status(), runner.status().code() == StatusCode::kInvalidArgument ? kExitUsage
                                                                                        : kExitRuntime);
  }
  StartShutdownWatchdog(config->processing.shutdown_timeout_ms);
  const Status s = (*runner)->Run(StopRequested());
  if (!s.ok()) {
    spdlog::error("engine stopped: {}", s.ToString());
    return kExitRuntime;
  }
  spdlog::info("engine stopped cleanly");
  return kExitOk;
}

int BrokerCommand(const BrokerArgs& args) {
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(args.brokers);
  if (!broker.ok()) return Fail(broker.status(), kExitRuntime);
  const std::vector<std::string> topics = args.topics.empty() ? DefaultTopics() : args.topics;
  for (const std::string& topic : topics) {
    const Status s = (*broker)->CreateTopic(topic, args.partitions);
    if (!s.ok()) return Fail(s, kExitRuntime);
  }
  std::printf("bootstrap.servers=%s\n", (*broker)->bootstrap_servers().c_str());
  std::fflush(stdout);
  spdlog::info("embedded Kafka: {} broker(s), topics {} with {} partitions; stop with SIGTERM",
               args.brokers, fmt::join(topics, ","), args.partitions);
  while (!WaitForStop(1000)) {
  }
  spdlog::info("embedded Kafka stopped");
  return kExitOk;
}

namespace {

// Produces `options.events` simulated events to `topic` at `rate` per second (0: unthrottled),
// until done or a stop is requested. Returns the number produced.
StatusOr<int64_t> Produce(Sink& sink, const std::string& topic, Simulator& simulator, double rate,
                          const std::atomic<bool>& stop) {
  SimulatedMessage message;
  const auto started = std::chrono::steady_clock::now();
  int64_t produced = 0;
  while (!stop.load(std::memory_order_relaxed) && simulator.Next(message)) {
    LF_RETURN_IF_ERROR(sink.Send(topic, message.key, message.payload));
    ++produced;
    if (produced % 256 == 0) sink.Poll();
    if (rate > 0 && produced % 64 == 0) {
      // Pace against the start time so the average rate holds whatever each send costs.
      const auto due = started + std::chrono::duration<double>(static_cast<double>(produced) / rate);
      std::this_thread::sleep_until(due);
    }
  }
  LF_RETURN_IF_ERROR(sink.Flush(60000));
  return produced;
}

}  // namespace

int SimulateCommand(const SimulateArgs& args) {
  SimulatorOptions options = args.options;
  if (!args.start.empty()) {
    const std::optional<TimestampMs> start = ParseIso8601Millis(args.start);
    if (!start) return Fail(InvalidArgumentError("--start: not an ISO 8601 time: " + args.start), kExitUsage);
    options.start_ms = *start;
  }
  const Status valid = ValidateSimulatorOptions(options);
  if (!valid.ok()) return Fail(valid, kExitUsage);
  KafkaClientOptions client;
  client.bootstrap_servers = args.bootstrap_servers;
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
  if (!sink.ok()) return Fail(sink.status(), kExitUsage);
  Simulator simulator(options);
  const auto started = std::chrono::steady_clock::now();
  StatusOr<int64_t> produced = Produce(**sink, args.topic, simulator, args.rate, StopRequested());
  if (!produced.ok()) return Fail(produced.status(), kExitRuntime);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "learnflow simulate: produced %lld %s events to %s in %.1f s\n",
               static_cast<long long>(*produced), options.format.c_str(), args.topic.c_str(), seconds);
  return kExitOk;
}

}  // namespace learnflow
