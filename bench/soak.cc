// learnflow_soak: a bounded soak run of the real engine at the highest rate this machine allows,
// recording memory and lag, and checking that nothing is lost.
//
//   build/bench/learnflow_soak --minutes 10 --out build/soak
//
// It starts an embedded Kafka (librdkafka's mock cluster) in this process, spawns `learnflow run`
// (--binary) against it and produces simulated learner events (app/simulator.h) as fast as the
// engine consumes them: the producer never runs more than --max-ahead records ahead of the
// engine's `learnflow_events_consumed_total`, because the mock keeps only ~5 MiB per partition
// (about 32,000 lz4-compressed mixed messages) and drops the oldest records beyond that. Every
// --sample-seconds it records the engine's VmRSS/VmHWM, `learnflow_state_bytes`, consumer lag and
// counters (samples.csv); after --minutes it stops producing, waits (bounded) until the engine has
// consumed and committed everything, checks the counts, stops the engine with SIGTERM and applies
// the verdict rules (printed with their figures, and written to summary.json).
//
// Exactness: the producer chooses each learner's partition itself (FNV-1a of the key), so it
// knows every partition's largest event time and can count the learner windows the engine must
// have made final by the end (DESIGN §7, §8): the learner-signal count is checked exactly.
//
// Exit status: 0 when every rule holds, 1 when one fails or the run itself fails, 2 on a usage
// error. Threads: the main thread samples and decides; one producer thread; librdkafka's own.
#include <fmt/core.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/simulator.h"
#include "bench/harness.h"
#include "connectors/kafka_client.h"
#include "core/codec.h"
#include "core/status.h"
#include "core/time.h"
#include "stream/engine.h"

namespace learnflow {
namespace {

using bench::Clock;
using bench::EngineProcess;
using bench::Exposition;
using bench::HttpGet;
using bench::HttpPortFromLog;
using bench::LastLines;
using bench::ProcMemory;
using bench::ReadFile;
using bench::ReadProcMemory;
using bench::SecondsSince;
using bench::TopicLabel;

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;

// Engine settings the expected counts depend on; written into the generated config.
constexpr TimestampMs kWindowMs = kMsPerHour;
constexpr TimestampMs kGraceMs = 5 * kMsPerMinute;
constexpr TimestampMs kOutOfOrdernessMs = kMsPerMinute;
constexpr std::string_view kGroup = "soak";
// The default topic names (DESIGN §5), as the engine defines them.
const EngineOptions kTopics;
const std::string_view kInputTopic = kTopics.input_topic;
const std::string_view kLearnerTopic = kTopics.learner_signals_topic;
const std::string_view kCohortTopic = kTopics.cohort_signals_topic;
const std::string_view kAlertTopic = kTopics.alerts_topic;
const std::string_view kDeadLetterTopic = kTopics.dead_letter_topic;
// How often the producer's hold-back learns the engine's progress.
constexpr auto kScrapeInterval = std::chrono::milliseconds(200);

struct Flags {
  std::string binary;
  std::string out_dir;
  double minutes = 10;
  int64_t learners = 100000;
  int64_t cohorts = 500;
  std::string format = "mixed";
  uint64_t seed = 1;
  int partitions = 6;
  double simulated_ms_per_event = 20;
  int64_t max_ahead = 60000;
  int64_t memory_mb = 256;
  double sample_seconds = 0;  // 0: 5 s, fewer for short runs
  double drain_seconds = 300;
  double rss_ratio = 1.25;
  double rss_slack_mib = 16;
  double rss_slope_bytes_per_event = 4;
  double lag_ratio = 1.25;
  bool keep_state = false;
};

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted.store(true); }


// What one scrape says, in the units the soak reports.
struct EngineView {
  int64_t consumed = 0;
  int64_t invalid = 0;
  int64_t late = 0;
  int64_t skipped = 0;
  int64_t duplicates = 0;
  int64_t learner_records = 0;
  int64_t cohort_records = 0;
  int64_t alerts = 0;
  int64_t dead_letters = 0;
  int64_t records_out = 0;
  int64_t lag_input = 0;            // summed over the input partitions
  int64_t lag_input_partition = 0;  // the largest single input partition's
  int64_t lag_repartition = 0;
  int64_t state_bytes = 0;
  int64_t rebalances = 0;
  TimestampMs event_time_ms = 0;  // the engine's lowest watermark, 0 while it has none
  size_t exposition_bytes = 0;
};

std::optional<EngineView> Scrape(uint16_t port) {
  const std::optional<std::pair<int, std::string>> response = HttpGet(port, "/metrics");
  if (!response.has_value() || response->first != 200) return std::nullopt;
  const Exposition e(response->second);
  if (!e.Has("learnflow_events_consumed_total")) return std::nullopt;
  const auto n = [](double v) { return static_cast<int64_t>(std::llround(v)); };
  EngineView v;
  v.consumed = n(e.Sum("learnflow_events_consumed_total"));
  v.invalid = n(e.Sum("learnflow_events_invalid_total"));
  v.late = n(e.Sum("learnflow_events_late_total"));
  v.skipped = n(e.Sum("learnflow_events_skipped_total"));
  v.duplicates = n(e.Sum("learnflow_events_duplicate_total"));
  v.learner_records = n(e.Sum("learnflow_records_produced_total", TopicLabel(kLearnerTopic)));
  v.cohort_records = n(e.Sum("learnflow_records_produced_total", TopicLabel(kCohortTopic)));
  v.alerts = n(e.Sum("learnflow_records_produced_total", TopicLabel(kAlertTopic)));
  v.dead_letters = n(e.Sum("learnflow_records_produced_total", TopicLabel(kDeadLetterTopic)));
  v.records_out = n(e.Sum("learnflow_records_produced_total"));
  v.lag_input = n(e.Sum("learnflow_consumer_lag_records", TopicLabel(kInputTopic)));
  v.lag_input_partition = n(e.Max("learnflow_consumer_lag_records", TopicLabel(kInputTopic)));
  v.lag_repartition =
      n(e.Sum("learnflow_consumer_lag_records", TopicLabel(RepartitionTopic(kGroup))));
  v.state_bytes = n(e.Sum("learnflow_state_bytes"));
  v.rebalances = n(e.Sum("learnflow_rebalances_total"));
  if (e.Has("learnflow_watermark_lag_seconds")) {
    const double lag_s = e.Sum("learnflow_watermark_lag_seconds");
    v.event_time_ms = SystemClock().NowMs() - static_cast<TimestampMs>(lag_s * 1000.0);
  }
  v.exposition_bytes = response->second.size();
  return v;
}

// ---------------------------------------------------------------------------------------------
// The producer.

// What the produced events imply, maintained by the producer thread and read once it stopped.
struct Expectation {
  int64_t produced = 0;
  int64_t payload_bytes = 0;
  int64_t skipped = 0;       // Moodle rows the decoder understands but skips
  int64_t nonmonotonic = 0;  // a learner's event in an earlier window than its previous one
  std::vector<TimestampMs> max_event_ms;  // per partition, over events reaching the learner stage
  // Per partition: window end -> distinct learners with a window-opening event in it.
  std::vector<std::map<TimestampMs, int64_t>> learners_by_window_end;

  // Learner windows the engine has made final once it has consumed everything (DESIGN §7: a
  // window is final when its partition's watermark reaches end + grace).
  int64_t FinalLearnerWindows() const {
    int64_t total = 0;
    for (size_t p = 0; p < learners_by_window_end.size(); ++p) {
      if (max_event_ms[p] == std::numeric_limits<TimestampMs>::min()) continue;
      const TimestampMs watermark = max_event_ms[p] - kOutOfOrdernessMs;
      for (const auto& [end, count] : learners_by_window_end[p]) {
        if (watermark >= end + kGraceMs) total += count;
      }
    }
    return total;
  }
  int64_t OpenLearnerWindows() const {
    int64_t total = 0;
    for (const auto& windows : learners_by_window_end) {
      for (const auto& [end, count] : windows) total += count;
    }
    return total - FinalLearnerWindows();
  }
};

// Produces simulated events on its own thread, at most `max_ahead` records ahead of `consumed`.
class Producer {
 public:
  Producer(const Flags& flags, SimulatorOptions options, KafkaSink& sink,
           const std::atomic<int64_t>& consumed)
      : flags_(flags), options_(std::move(options)), sink_(sink), consumed_(consumed) {
    expectation_.max_event_ms.assign(flags.partitions, std::numeric_limits<TimestampMs>::min());
    expectation_.learners_by_window_end.resize(flags.partitions);
  }
  ~Producer() { Stop().IgnoreError(); }  // an early return of the soak stops the thread
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  void Start() {
    thread_ = std::thread([this] { status_ = Run(); });
  }
  // Stops producing, flushes, and returns the first error.
  Status Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  int64_t produced() const { return produced_.load(std::memory_order_relaxed); }
  // Time the producer spent held back (seconds).
  double held_back_s() const { return static_cast<double>(held_back_us_.load()) / 1e6; }
  // REQUIRES: Stop() returned.
  const Expectation& expectation() const { return expectation_; }

 private:
  struct LearnerTrack {
    TimestampMs last_window_end = std::numeric_limits<TimestampMs>::min();
  };

  Status Run() {
    Simulator simulator(options_);
    SimulatedMessage message;
    const std::string topic(kInputTopic);
    int64_t produced = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      if (produced - consumed_.load(std::memory_order_relaxed) >= flags_.max_ahead) {
        const auto start = Clock::now();
        sink_.Poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        held_back_us_.fetch_add(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
        continue;
      }
      if (!simulator.Next(message)) break;
      const auto partition = static_cast<int32_t>(StableHash64(message.key) %
                                                  static_cast<uint64_t>(flags_.partitions));
      const std::string_view payload(message.payload);
      LF_RETURN_IF_ERROR(sink_.SendTo(topic, partition, message.key, &payload));
      Track(message, partition);
      produced_.store(++produced, std::memory_order_relaxed);
      if (produced % 256 == 0) sink_.Poll();
    }
    return sink_.Flush(120000);
  }

  void Track(const SimulatedMessage& m, int32_t partition) {
    Expectation& e = expectation_;
    ++e.produced;
    e.payload_bytes += static_cast<int64_t>(m.payload.size());
    if (m.skipped) {  // decoded to nothing: no event time, no window
      ++e.skipped;
      return;
    }
    TimestampMs& max = e.max_event_ms[static_cast<size_t>(partition)];
    max = std::max(max, m.event_time_ms);
    // System events (and retractions) move event time but open no window of their own.
    if (m.kind == EventKind::kSystem || m.kind == EventKind::kRetraction) return;
    const TimestampMs end = FloorDiv(m.event_time_ms, kWindowMs) * kWindowMs + kWindowMs;
    auto it = learners_.find(m.learner_id);
    if (it == learners_.end()) it = learners_.emplace(m.learner_id, LearnerTrack{}).first;
    LearnerTrack& track = it->second;
    if (end == track.last_window_end) return;
    // Events are in order per learner, so a learner's windows come one after another.
    if (end < track.last_window_end) ++e.nonmonotonic;
    track.last_window_end = end;
    ++e.learners_by_window_end[static_cast<size_t>(partition)][end];
  }

  const Flags& flags_;
  SimulatorOptions options_;
  KafkaSink& sink_;
  const std::atomic<int64_t>& consumed_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> produced_{0};
  std::atomic<int64_t> held_back_us_{0};
  std::thread thread_;
  Status status_;
  Expectation expectation_;
  std::unordered_map<std::string, LearnerTrack> learners_;
};

// ---------------------------------------------------------------------------------------------
// Samples, rules and reports.

struct Sample {
  double t_s = 0;
  bool drain = false;  // taken after the producer stopped
  ProcMemory memory;
  EngineView engine;
  int64_t produced = 0;
  double consumed_per_s = 0;  // since the previous sample
};

double MiB(int64_t kib) { return static_cast<double>(kib) / 1024.0; }

std::string EventTimeText(TimestampMs ms) {
  return ms == 0 ? std::string("-") : FormatIso8601Millis(ms).substr(0, 16);
}

void WriteCsvHeader(std::FILE* f) {
  std::fprintf(
      f,
      "t_s,phase,vm_rss_kib,vm_hwm_kib,rss_anon_kib,state_bytes,consumer_lag_input,"
      "consumer_lag_input_max_partition,consumer_lag_repartition,events_produced,"
      "events_consumed,consumed_per_s,records_produced,learner_records,cohort_records,"
      "alerts,dead_letters,events_invalid,events_late,events_skipped,engine_cpu_s,watermark\n");
}

void WriteCsvRow(std::FILE* f, const Sample& s) {
  const EngineView& e = s.engine;
  std::fprintf(
      f, "%s\n",
      fmt::format("{:.1f},{},{},{},{},{},{},{},{},{},{},{:.0f},{},{},{},{},{},{},{},{},{:.2f},{}",
                  s.t_s, s.drain ? "drain" : "run", s.memory.rss_kib, s.memory.hwm_kib,
                  s.memory.anon_kib, e.state_bytes, e.lag_input, e.lag_input_partition,
                  e.lag_repartition, s.produced, e.consumed, s.consumed_per_s, e.records_out,
                  e.learner_records, e.cohort_records, e.alerts, e.dead_letters, e.invalid, e.late,
                  e.skipped, s.memory.cpu_s,
                  e.event_time_ms == 0 ? "" : FormatIso8601Millis(e.event_time_ms))
          .c_str());
  std::fflush(f);
}

void PrintTableHeader() {
  std::printf("%7s %9s %11s %11s %8s %8s %8s %8s %9s %10s %16s\n", "min", "events/s", "produced",
              "consumed", "lag in", "lag rep", "RSS MiB", "HWM MiB", "state MiB", "learner out",
              "event time");
}

void PrintTableRow(const Sample& s) {
  const EngineView& e = s.engine;
  std::printf("%7.2f %9.0f %11lld %11lld %8lld %8lld %8.1f %8.1f %9.1f %10lld %16s%s\n",
              s.t_s / 60.0, s.consumed_per_s, static_cast<long long>(s.produced),
              static_cast<long long>(e.consumed), static_cast<long long>(e.lag_input),
              static_cast<long long>(e.lag_repartition), MiB(s.memory.rss_kib),
              MiB(s.memory.hwm_kib), static_cast<double>(e.state_bytes) / (1024.0 * 1024.0),
              static_cast<long long>(e.learner_records), EventTimeText(e.event_time_ms).c_str(),
              s.drain ? "  (drain)" : "");
  std::fflush(stdout);
}

// Least-squares slope of y over x (per unit of x); 0 with fewer than two points.
double Slope(const std::vector<std::pair<double, double>>& points) {
  if (points.size() < 2) return 0;
  double sx = 0, sy = 0;
  for (const auto& [x, y] : points) {
    sx += x;
    sy += y;
  }
  const double n = static_cast<double>(points.size());
  const double mx = sx / n, my = sy / n;
  double num = 0, den = 0;
  for (const auto& [x, y] : points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den == 0 ? 0 : num / den;
}

struct Rule {
  std::string name;
  bool pass = false;
  std::string figure;  // what was measured
  std::string rule;    // what it had to be
};

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

// Samples of the run phase with t in [from, to) (fractions of the run; to = 1 takes the rest).
std::vector<const Sample*> Between(const std::vector<Sample>& samples, double duration_s,
                                   double from, double to) {
  std::vector<const Sample*> out;
  for (const Sample& s : samples) {
    if (s.drain) continue;
    if (s.t_s >= from * duration_s && (to >= 1.0 || s.t_s < to * duration_s)) {
      out.push_back(&s);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Setup.

std::string ConfigYaml(const Flags& flags, const std::string& bootstrap,
                       const std::string& state_dir, const SimulatorOptions& options) {
  std::string y;
  y += "# Generated by learnflow_soak.\n";
  y += fmt::format("kafka:\n  bootstrap_servers: \"{}\"\n  group_id: {}\n", bootstrap, kGroup);
  // Short rebalance rounds on the embedded broker; lag statistics every second.
  y += "  properties:\n    session.timeout.ms: 6000\n    heartbeat.interval.ms: 500\n"
       "    statistics.interval.ms: 1000\n";
  y += fmt::format(
      "topics:\n  input: {}\n  learner_signals: {}\n  cohort_signals: {}\n"
      "  alerts: {}\n  dead_letter: {}\n",
      kInputTopic, kLearnerTopic, kCohortTopic, kAlertTopic, kDeadLetterTopic);
  y += fmt::format("processing:\n  max_out_of_orderness_ms: {}\n", kOutOfOrdernessMs);
  y += fmt::format("windows:\n  size_ms: {}\n  grace_ms: {}\n", kWindowMs, kGraceMs);
  y += fmt::format("state:\n  dir: \"{}\"\n  memory_mb: {}\n", state_dir, flags.memory_mb);
  y += "http:\n  listen: \"127.0.0.1:0\"\n";
  y += "log:\n  format: text\n  level: info\n";
  // The simulated LMS's mappings, as an operator would configure them (app/simulator.h).
  const SimulatorDecoderSettings decoding = DecoderSettingsFor(options);
  y += "decoding:\n  caliper_help_tools:\n";
  for (const std::string& tool : decoding.caliper_help_tools)
    y += fmt::format("    - \"{}\"\n", tool);
  y += "  moodle_cohort_by_course:\n";
  for (const auto& [course, cohort] : decoding.moodle_cohort_by_course) {
    y += fmt::format("    \"{}\": \"{}\"\n", course, cohort);
  }
  y += "  moodle_skill_by_item:\n";
  for (const auto& [item, skill] : decoding.moodle_skill_by_item) {
    y += fmt::format("    \"{}\": \"{}\"\n", item, skill);
  }
  return y;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "learnflow_soak: %s\n", message.c_str());
  return kExitFail;
}

// ---------------------------------------------------------------------------------------------

int Soak(const Flags& flags) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(flags.out_dir, ec);
  if (ec) return Fail("cannot create " + flags.out_dir + ": " + ec.message());
  if (!fs::exists(flags.binary)) return Fail("no engine binary at " + flags.binary + " (--binary)");
  const double duration_s = flags.minutes * 60.0;
  const double sample_s =
      flags.sample_seconds > 0 ? flags.sample_seconds : std::clamp(duration_s / 16.0, 0.5, 5.0);
  const double table_s = duration_s >= 180 ? 60.0 : std::max(sample_s, duration_s / 8.0);

  SimulatorOptions options;
  options.learners = flags.learners;
  options.cohorts = flags.cohorts;
  options.format = flags.format;
  options.seed = flags.seed;
  options.events = 0;  // unbounded: the clock ends the run
  options.simulated_ms_per_event = flags.simulated_ms_per_event;
  const Status valid = ValidateSimulatorOptions(options);
  if (!valid.ok()) {
    std::fprintf(stderr, "learnflow_soak: %s\n", valid.ToString().c_str());
    return kExitUsage;
  }

  // The broker and its topics: one partition per input partition for every topic, as the
  // engine's internal topics require.
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
  if (!broker.ok()) return Fail(broker.status().ToString());
  std::vector<std::string> topics = {std::string(kInputTopic), std::string(kLearnerTopic),
                                     std::string(kCohortTopic), std::string(kAlertTopic),
                                     std::string(kDeadLetterTopic)};
  for (std::string& topic : InternalTopics(kGroup)) topics.push_back(std::move(topic));
  for (const std::string& topic : topics) {
    const Status s = (*broker)->CreateTopic(topic, flags.partitions);
    if (!s.ok()) return Fail(s.ToString());
  }
  const std::string bootstrap = (*broker)->bootstrap_servers();

  std::string temp = (fs::temp_directory_path() / "learnflow-soak-XXXXXX").string();
  if (::mkdtemp(temp.data()) == nullptr) return Fail("cannot create a temporary directory");
  struct RemoveDir {
    std::string path;
    bool keep;
    ~RemoveDir() {
      std::error_code ignored;
      if (!keep) fs::remove_all(path, ignored);
    }
  } remove_temp{temp, flags.keep_state};
  const std::string config_path = flags.out_dir + "/learnflow.yaml";
  {
    std::ofstream config(config_path);
    config << ConfigYaml(flags, bootstrap, temp + "/state", options);
    if (!config) return Fail("cannot write " + config_path);
  }
  const std::string log_path = flags.out_dir + "/engine.log";
  fs::remove(log_path, ec);

  std::printf(
      "learnflow soak: %.1f min, %lld learners, %lld cohorts, %s events, %d partitions, "
      "at most %lld records ahead of the engine\n  engine: %s run --config %s\n  log: %s\n",
      flags.minutes, static_cast<long long>(flags.learners), static_cast<long long>(flags.cohorts),
      flags.format.c_str(), flags.partitions, static_cast<long long>(flags.max_ahead),
      flags.binary.c_str(), config_path.c_str(), log_path.c_str());
  std::fflush(stdout);

  EngineProcess engine;
  const Status started = engine.Start({flags.binary, "run", "--config", config_path}, log_path);
  if (!started.ok()) return Fail(started.ToString());
  std::optional<uint16_t> port;
  const auto boot = Clock::now();
  while (!port.has_value()) {
    if (engine.Exited()) {
      return Fail("the engine exited during start-up:\n" + LastLines(ReadFile(log_path), 20));
    }
    if (SecondsSince(boot) > 60) return Fail("no HTTP address in the engine log after 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    port = HttpPortFromLog(ReadFile(log_path));
  }

  KafkaClientOptions client;
  client.bootstrap_servers = bootstrap;
  client.group_id = "soak-producer";
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
  if (!sink.ok()) return Fail(sink.status().ToString());

  struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> csv(
      std::fopen((flags.out_dir + "/samples.csv").c_str(), "w"));
  if (csv == nullptr) return Fail("cannot write samples.csv in " + flags.out_dir);
  WriteCsvHeader(csv.get());

  std::vector<Sample> samples;
  std::atomic<int64_t> consumed{0};
  Producer producer(flags, options, **sink, consumed);
  std::optional<EngineView> last_view;
  size_t max_exposition = 0;
  const auto run_start = Clock::now();
  double last_sample_t = -1e9;
  double last_table_t = -1e9;
  int64_t last_sample_consumed = 0;
  PrintTableHeader();

  // Scrapes; every sample_s records a sample. Returns false if the engine has exited.
  const auto observe = [&](bool drain, bool force_sample) {
    if (engine.Exited()) return false;
    std::optional<EngineView> view = Scrape(*port);
    if (view.has_value()) {
      last_view = view;
      consumed.store(view->consumed, std::memory_order_relaxed);
      max_exposition = std::max(max_exposition, view->exposition_bytes);
    }
    const double t = SecondsSince(run_start);
    if (last_view.has_value() && (force_sample || t - last_sample_t >= sample_s - 1e-3)) {
      Sample s;
      s.t_s = t;
      s.drain = drain;
      s.memory = ReadProcMemory(engine.pid());
      s.engine = *last_view;
      s.produced = producer.produced();
      s.consumed_per_s = samples.empty()
                             ? 0
                             : static_cast<double>(s.engine.consumed - last_sample_consumed) /
                                   std::max(1e-3, t - last_sample_t);
      last_sample_consumed = s.engine.consumed;
      last_sample_t = t;
      samples.push_back(s);
      WriteCsvRow(csv.get(), s);
      if (force_sample || t - last_table_t >= table_s - sample_s / 2) {
        PrintTableRow(s);
        last_table_t = t;
      }
    }
    return true;
  };

  // t = 0: the engine is up, nothing produced yet.
  const auto first_scrape = Clock::now();
  while (!last_view.has_value()) {
    if (!observe(false, false))
      return Fail("the engine exited:\n" + LastLines(ReadFile(log_path), 20));
    if (SecondsSince(first_scrape) > 60) return Fail("/metrics did not answer within 60 s");
    std::this_thread::sleep_for(kScrapeInterval);
  }
  const int64_t rss_start_kib = samples.front().memory.rss_kib;
  producer.Start();
  bool engine_alive = true;
  while (SecondsSince(run_start) < duration_s && !g_interrupted.load()) {
    if (!observe(false, false)) {
      engine_alive = false;
      break;
    }
    std::this_thread::sleep_for(kScrapeInterval);
  }
  const double run_s = SecondsSince(run_start);
  if (engine_alive) engine_alive = observe(false, true);
  const Status produced_status = producer.Stop();
  if (!produced_status.ok()) return Fail("producer: " + produced_status.ToString());
  if (!engine_alive) {
    return Fail("the engine exited during the run:\n" + LastLines(ReadFile(log_path), 30));
  }
  const Expectation& expect = producer.expectation();
  const int64_t produced = expect.produced;
  const int64_t expected_learner_records = expect.FinalLearnerWindows();
  const double produce_rate = static_cast<double>(produced) / run_s;
  std::printf(
      "stopped producing after %.1f s: %lld events (%.0f events/s, %.0f bytes each); "
      "draining (at most %.0f s)\n",
      run_s, static_cast<long long>(produced), produce_rate,
      produced == 0 ? 0.0 : static_cast<double>(expect.payload_bytes) / produced,
      flags.drain_seconds);
  std::fflush(stdout);

  // Drain: everything consumed, committed (lag 0) and the learner windows emitted.
  const auto drain_start = Clock::now();
  bool drained = false;
  while (SecondsSince(drain_start) < flags.drain_seconds) {
    if (!observe(true, false)) {
      engine_alive = false;
      break;
    }
    const EngineView& v = *last_view;
    if (v.consumed >= produced && v.lag_input == 0 &&
        v.learner_records >= expected_learner_records) {
      drained = true;
      break;
    }
    std::this_thread::sleep_for(kScrapeInterval);
  }
  const double drain_s = SecondsSince(drain_start);
  if (engine_alive) engine_alive = observe(true, true);
  if (!engine_alive) {
    return Fail("the engine exited while draining:\n" + LastLines(ReadFile(log_path), 30));
  }
  csv.reset();
  const Sample final_sample = samples.back();
  const EngineView& final_view = final_sample.engine;

  // SIGTERM: stop consuming, commit, exit 0 (DESIGN §9).
  engine.Signal(SIGTERM);
  const auto term_start = Clock::now();
  const bool exited = engine.Wait(90);
  const double term_s = SecondsSince(term_start);
  const bool exit_ok = exited && WIFEXITED(engine.status()) && WEXITSTATUS(engine.status()) == 0;
  const std::string log_text = ReadFile(log_path);
  int64_t error_lines = 0;
  for (size_t pos = 0; (pos = log_text.find(" error ", pos)) != std::string::npos; ++pos)
    ++error_lines;

  // ---- figures and rules
  std::vector<Rule> rules;
  const auto add = [&rules](std::string name, bool pass, std::string figure, std::string rule) {
    rules.push_back({std::move(name), pass, std::move(figure), std::move(rule)});
  };
  add("nothing lost: consumed", drained && final_view.consumed == produced,
      fmt::format("consumed {} of {} produced{}", final_view.consumed, produced,
                  drained ? "" : fmt::format(" (not drained after {:.0f} s)", drain_s)),
      "consumed == produced");
  add("nothing lost: committed", final_view.lag_input == 0,
      fmt::format("input consumer lag {} at the end", final_view.lag_input), "lag == 0");
  add("nothing lost: learner signals", final_view.learner_records == expected_learner_records,
      fmt::format("{} learner records, {} expected (+{} windows still open)",
                  final_view.learner_records, expected_learner_records,
                  expect.OpenLearnerWindows()),
      "== the final (learner, window) pairs of the produced events");
  add("nothing lost: dead letters",
      final_view.invalid == 0 && final_view.dead_letters == 0 && final_view.late == 0,
      fmt::format("{} invalid, {} late, {} dead letters", final_view.invalid, final_view.late,
                  final_view.dead_letters),
      "0 (the simulator produces only valid, in-bound events)");
  add("nothing lost: skipped and duplicates",
      final_view.skipped == expect.skipped && final_view.duplicates == 0,
      fmt::format("{} skipped ({} expected), {} duplicates", final_view.skipped, expect.skipped,
                  final_view.duplicates),
      "skipped == Moodle rows with edulevel != 2, duplicates == 0");
  add("clean stop", exit_ok,
      exited ? fmt::format("exit status {} after SIGTERM ({:.1f} s)",
                           WIFEXITED(engine.status()) ? WEXITSTATUS(engine.status()) : -1, term_s)
             : std::string("no exit within 90 s of SIGTERM"),
      "exit 0");

  const std::vector<const Sample*> q2 = Between(samples, duration_s, 0.25, 0.5);
  const std::vector<const Sample*> last_half = Between(samples, duration_s, 0.5, 1.0);
  const auto max_of = [](const std::vector<const Sample*>& v, auto field) {
    double m = 0;
    for (const Sample* s : v) m = std::max(m, field(*s));
    return m;
  };
  const auto rss_mib = [](const Sample& s) { return MiB(s.memory.rss_kib); };
  const auto lag_of = [](const Sample& s) { return static_cast<double>(s.engine.lag_input); };
  const auto rate_of = [](const Sample& s) { return s.consumed_per_s; };
  const double rss_q2 = max_of(q2, rss_mib);
  const double rss_last = max_of(last_half, rss_mib);
  const double rss_limit = rss_q2 * flags.rss_ratio + flags.rss_slack_mib;
  std::vector<std::pair<double, double>> rss_points;
  for (const Sample* s : last_half) rss_points.emplace_back(s->t_s / 60.0, rss_mib(*s));
  const double rss_slope = Slope(rss_points);
  // The slope per consumed event: a leak of one smallest heap chunk (32 bytes) per record would
  // show as 32 bytes per event, one per learner window (about 0.07 per event here) as 2.
  const bool enough = !q2.empty() && last_half.size() >= 2;
  add("RSS plateau", enough && rss_last <= rss_limit,
      fmt::format("max RSS last half {:.1f} MiB, second quarter {:.1f} MiB", rss_last, rss_q2),
      fmt::format("last half <= second quarter x {:.2f} + {:.0f} MiB = {:.1f} MiB", flags.rss_ratio,
                  flags.rss_slack_mib, rss_limit));
  double last_half_rate = 0;  // consumed events per minute over the last half
  if (last_half.size() >= 2 && last_half.back()->t_s > last_half.front()->t_s) {
    last_half_rate = static_cast<double>(last_half.back()->engine.consumed -
                                         last_half.front()->engine.consumed) /
                     ((last_half.back()->t_s - last_half.front()->t_s) / 60.0);
  }
  const double slope_bytes_per_event =
      last_half_rate > 0 ? rss_slope * 1048576.0 / last_half_rate : 0;
  add("RSS trend", enough && slope_bytes_per_event <= flags.rss_slope_bytes_per_event,
      fmt::format("least-squares slope over the last half {:+.2f} MiB/min = {:+.2f} bytes per "
                  "consumed event",
                  rss_slope, slope_bytes_per_event),
      fmt::format("<= {:.1f} bytes per event", flags.rss_slope_bytes_per_event));
  // The producer keeps at most --max-ahead records unconsumed; the lag metric counts from the
  // committed offsets (every commit interval, 1 s) as of librdkafka's last statistics (1 s), so
  // its structural bound is --max-ahead plus about two seconds of consumption.
  double rate_q2 = 0;
  for (const Sample* s : q2) rate_q2 += rate_of(*s) / static_cast<double>(q2.size());
  const double lag_q2 = max_of(q2, lag_of);
  const double lag_last = max_of(last_half, lag_of);
  const double lag_structural = static_cast<double>(flags.max_ahead) + 2.0 * rate_q2;
  const double lag_limit = flags.lag_ratio * std::max(lag_q2, lag_structural);
  add("lag bounded", enough && lag_last <= lag_limit,
      fmt::format("max input lag last half {:.0f}, second quarter {:.0f} records", lag_last,
                  lag_q2),
      fmt::format(
          "last half <= {:.2f} x max(second quarter, --max-ahead + 2 s x {:.0f}/s) = {:.0f}",
          flags.lag_ratio, rate_q2, lag_limit));

  // Information (not rules): throughput trend, state size, worst single-partition lag.
  double rate_last = 0;
  for (const Sample* s : last_half)
    rate_last += rate_of(*s) / static_cast<double>(last_half.size());
  double state_q2 = 0, state_last = 0, partition_lag_max = 0, rss_plateau_sum = 0;
  for (const Sample* s : q2)
    state_q2 = std::max(state_q2, static_cast<double>(s->engine.state_bytes));
  for (const Sample* s : last_half) {
    state_last = std::max(state_last, static_cast<double>(s->engine.state_bytes));
    rss_plateau_sum += rss_mib(*s);
  }
  for (const Sample& s : samples) {
    partition_lag_max =
        std::max(partition_lag_max, static_cast<double>(s.engine.lag_input_partition));
  }
  const double rss_plateau =
      last_half.empty() ? 0 : rss_plateau_sum / static_cast<double>(last_half.size());
  const double rss_end = rss_mib(*(last_half.empty() ? &samples.back() : last_half.back()));
  const double hwm_end = MiB(final_sample.memory.hwm_kib);
  const double consumed_rate = static_cast<double>(final_view.consumed) / (run_s + drain_s);
  const double engine_cores =
      (final_sample.memory.cpu_s - samples.front().memory.cpu_s) / std::max(1e-3, final_sample.t_s);
  bool pass = true;
  for (const Rule& r : rules) pass = pass && r.pass;

  std::printf("\nsummary\n");
  std::printf(
      "  run %.1f s + drain %.1f s; produced %lld events (%.0f/s over the run; producer "
      "held back %.0f%% of the time), consumed %lld\n",
      run_s, drain_s, static_cast<long long>(produced), produce_rate,
      100.0 * producer.held_back_s() / run_s, static_cast<long long>(final_view.consumed));
  std::printf(
      "  consumption rate: %.0f events/s in the second quarter, %.0f in the last half; "
      "engine CPU %.2f cores\n",
      rate_q2, rate_last, engine_cores);
  std::printf(
      "  engine RSS: start %.1f MiB, plateau (mean of the last half) %.1f MiB, end %.1f MiB, "
      "peak (VmHWM) %.1f MiB\n",
      MiB(rss_start_kib), rss_plateau, rss_end, hwm_end);
  std::printf(
      "  state bytes: max %.1f MiB in the second quarter, %.1f MiB in the last half, %.1f "
      "MiB at the end\n",
      state_q2 / 1048576.0, state_last / 1048576.0,
      static_cast<double>(final_view.state_bytes) / 1048576.0);
  std::printf(
      "  lag: input max %.0f records (largest single partition %.0f), repartition at end "
      "%lld\n",
      max_of(Between(samples, duration_s, 0, 1.0), lag_of), partition_lag_max,
      static_cast<long long>(final_view.lag_repartition));
  std::printf(
      "  outputs: %lld learner records, %lld cohort records, %lld alerts, %lld dead letters; "
      "event time reached %s; %lld rebalances; %lld error log lines; /metrics up to %zu bytes\n",
      static_cast<long long>(final_view.learner_records),
      static_cast<long long>(final_view.cohort_records), static_cast<long long>(final_view.alerts),
      static_cast<long long>(final_view.dead_letters),
      EventTimeText(final_view.event_time_ms).c_str(),
      static_cast<long long>(final_view.rebalances), static_cast<long long>(error_lines),
      max_exposition);
  if (expect.nonmonotonic > 0) {
    std::printf(
        "  note: %lld learner events went back to an earlier window: the expected count "
        "may be off by that much\n",
        static_cast<long long>(expect.nonmonotonic));
  }
  std::printf("\nverdict\n");
  for (const Rule& r : rules) {
    std::printf("  %-4s %-36s %s   [rule: %s]\n", r.pass ? "PASS" : "FAIL", r.name.c_str(),
                r.figure.c_str(), r.rule.c_str());
  }
  std::printf("  %s\n", pass ? "PASS" : "FAIL");

  // ---- summary.json
  std::string json = "{\n";
  const auto field = [&json](std::string_view key, const std::string& value, bool last = false) {
    json += fmt::format("  {}: {}{}\n", JsonString(key), value, last ? "" : ",");
  };
  field("minutes", fmt::format("{}", flags.minutes));
  field("learners", std::to_string(flags.learners));
  field("cohorts", std::to_string(flags.cohorts));
  field("format", JsonString(flags.format));
  field("partitions", std::to_string(flags.partitions));
  field("simulated_ms_per_event", fmt::format("{}", flags.simulated_ms_per_event));
  field("max_ahead", std::to_string(flags.max_ahead));
  field("memory_mb", std::to_string(flags.memory_mb));
  field("run_seconds", fmt::format("{:.1f}", run_s));
  field("drain_seconds", fmt::format("{:.1f}", drain_s));
  field("events_produced", std::to_string(produced));
  field("events_consumed", std::to_string(final_view.consumed));
  field("produce_rate_per_s", fmt::format("{:.0f}", produce_rate));
  field("consumed_rate_per_s", fmt::format("{:.0f}", consumed_rate));
  field("consumed_rate_q2_per_s", fmt::format("{:.0f}", rate_q2));
  field("consumed_rate_last_half_per_s", fmt::format("{:.0f}", rate_last));
  field("payload_bytes_mean",
        fmt::format("{:.0f}",
                    produced == 0 ? 0.0 : static_cast<double>(expect.payload_bytes) / produced));
  field("rss_start_mib", fmt::format("{:.1f}", MiB(rss_start_kib)));
  field("rss_q2_max_mib", fmt::format("{:.1f}", rss_q2));
  field("rss_last_half_max_mib", fmt::format("{:.1f}", rss_last));
  field("rss_plateau_mib", fmt::format("{:.1f}", rss_plateau));
  field("rss_end_mib", fmt::format("{:.1f}", rss_end));
  field("rss_slope_last_half_mib_per_min", fmt::format("{:.2f}", rss_slope));
  field("rss_slope_last_half_bytes_per_event", fmt::format("{:.2f}", slope_bytes_per_event));
  field("engine_cpu_cores", fmt::format("{:.2f}", engine_cores));
  field("vm_hwm_end_mib", fmt::format("{:.1f}", hwm_end));
  field("state_bytes_q2_max", fmt::format("{:.0f}", state_q2));
  field("state_bytes_last_half_max", fmt::format("{:.0f}", state_last));
  field("state_bytes_end", std::to_string(final_view.state_bytes));
  field("lag_input_q2_max", fmt::format("{:.0f}", lag_q2));
  field("lag_input_last_half_max", fmt::format("{:.0f}", lag_last));
  field("lag_input_partition_max", fmt::format("{:.0f}", partition_lag_max));
  field("lag_input_end", std::to_string(final_view.lag_input));
  field("learner_records", std::to_string(final_view.learner_records));
  field("learner_records_expected", std::to_string(expected_learner_records));
  field("cohort_records", std::to_string(final_view.cohort_records));
  field("alerts", std::to_string(final_view.alerts));
  field("dead_letters", std::to_string(final_view.dead_letters));
  field("events_invalid", std::to_string(final_view.invalid));
  field("events_skipped", std::to_string(final_view.skipped));
  field("events_skipped_expected", std::to_string(expect.skipped));
  field("watermark",
        JsonString(final_view.event_time_ms == 0 ? ""
                                                 : FormatIso8601Millis(final_view.event_time_ms)));
  field("exit_ok", exit_ok ? "true" : "false");
  std::string rules_json = "[";
  for (size_t i = 0; i < rules.size(); ++i) {
    rules_json +=
        fmt::format("{}\n    {{\"name\": {}, \"pass\": {}, \"figure\": {}, \"rule\": {}}}",
                    i == 0 ? "" : ",", JsonString(rules[i].name), rules[i].pass ? "true" : "false",
                    JsonString(rules[i].figure), JsonString(rules[i].rule));
  }
  rules_json += "\n  ]";
  field("rules", rules_json);
  field("pass", pass ? "true" : "false", true);
  json += "}\n";
  {
    std::ofstream out(flags.out_dir + "/summary.json");
    out << json;
  }
  std::printf("\nsamples: %s/samples.csv  summary: %s/summary.json  engine log: %s\n",
              flags.out_dir.c_str(), flags.out_dir.c_str(), log_path.c_str());
  if (flags.keep_state) std::printf("engine state kept in %s/state\n", temp.c_str());
  return pass ? kExitPass : kExitFail;
}

}  // namespace
}  // namespace learnflow

int main(int argc, char** argv) {
  using learnflow::Flags;
  Flags flags;
  const std::filesystem::path build = learnflow::bench::BuildDir();
  flags.binary = (build / "app" / "learnflow").string();
  flags.out_dir = (build / "soak").string();

  CLI::App app{
      "learnflow_soak: a bounded soak run of `learnflow run` at the highest rate, "
      "recording memory and lag and checking that nothing is lost"};
  app.add_option("--binary", flags.binary, "The learnflow executable")->capture_default_str();
  app.add_option("--minutes", flags.minutes, "Duration of the producing phase")
      ->check(CLI::Range(0.05, 1440.0))
      ->capture_default_str();
  app.add_option("--out", flags.out_dir, "Directory for samples.csv, summary.json, engine.log")
      ->capture_default_str();
  app.add_option("--learners", flags.learners, "Simulated learners")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--cohorts", flags.cohorts, "Simulated cohorts")->capture_default_str();
  app.add_option("--format", flags.format, "Event format")
      ->check(CLI::IsMember({"xapi", "caliper", "moodle", "mixed"}))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Simulator seed")->capture_default_str();
  app.add_option("--partitions", flags.partitions, "Input partitions")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--simulated-ms-per-event", flags.simulated_ms_per_event,
                 "Mean event-time advance per event (20 ms: 100,000 learners make 4.3 M events "
                 "per simulated day)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-ahead", flags.max_ahead,
                 "Most records the producer may be ahead of the engine's consumption (the "
                 "embedded broker keeps ~32,000 mixed messages per partition)")
      ->check(CLI::Range(int64_t{1000}, int64_t{1000000}))
      ->capture_default_str();
  app.add_option("--memory-mb", flags.memory_mb, "The engine's state.memory_mb")
      ->check(CLI::Range(int64_t{16}, int64_t{65536}))
      ->capture_default_str();
  app.add_option("--sample-seconds", flags.sample_seconds,
                 "Sampling interval (default 5 s; shorter for runs under 80 s)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--drain-seconds", flags.drain_seconds, "Deadline for consuming the rest")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rss-ratio", flags.rss_ratio, "RSS rule: allowed ratio last half / 2nd quarter")
      ->capture_default_str();
  app.add_option("--rss-slack-mib", flags.rss_slack_mib, "RSS rule: allowed extra MiB")
      ->capture_default_str();
  app.add_option("--rss-slope-bytes-per-event", flags.rss_slope_bytes_per_event,
                 "RSS trend rule: largest least-squares slope over the last half, in bytes per "
                 "consumed event")
      ->capture_default_str();
  app.add_option("--lag-ratio", flags.lag_ratio,
                 "Lag rule: allowed ratio of the last half's maximum to its bound")
      ->capture_default_str();
  app.add_flag("--keep-state", flags.keep_state, "Keep the engine's state directory");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : learnflow::kExitUsage;
  }
  struct sigaction action {};
  action.sa_handler = learnflow::OnInterrupt;
  action.sa_flags = SA_RESETHAND;  // a second Ctrl-C ends the soak at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return learnflow::Soak(flags);
}
