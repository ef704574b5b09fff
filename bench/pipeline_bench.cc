// In-process throughput of the engine's hot path on one core (no Kafka): decoding, applying
// events to per-learner windows, and checkpointing state to RocksDB. Input comes from the
// simulator (xAPI, Caliper, Moodle), generated before timing starts.
//
//   build/bench/learnflow_pipeline_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/simulator.h"
#include "bench/bench_events.h"
#include "connectors/decoders/event_decoder.h"
#include "operators/cohort_signals.h"
#include "operators/learner_signals.h"
#include "state/state_store.h"
#include "stream/learner_task.h"

namespace learnflow {
namespace {

// Counts what a task emits (records, repartitioned summaries, markers) and drops it.
class CountingOutput final : public TaskOutput {
 public:
  Status Emit(Output, std::string_view, std::string_view) override {
    ++records;
    return Status::Ok();
  }
  Status Repartition(std::string_view, std::string_view) override {
    ++summaries;
    return Status::Ok();
  }
  Status Broadcast(std::string_view) override { return Status::Ok(); }
  void OnCohortWindow(std::string_view, const CohortWindowSummary&, bool) override {}
  int64_t records = 0;
  int64_t summaries = 0;
};

// One input partition feeding a cohort stage (summaries are built and counted).
constexpr LearnerTaskOptions kTaskOptions{.max_out_of_orderness_ms = 60000, .input_partitions = 1};

const std::vector<std::string>& Messages(const std::string& format) {
  static std::map<std::string, std::vector<std::string>> cache;
  std::vector<std::string>& out = cache[format];
  if (out.empty()) {
    SimulatorOptions options;
    options.learners = 10000;
    options.events = 200000;
    options.format = format;
    options.seed = 1;
    Simulator simulator(options);
    SimulatedMessage m;
    while (simulator.Next(m)) out.push_back(m.payload);
  }
  return out;
}

// Decodes `messages` in turn, one per iteration.
void DecodeLoop(benchmark::State& state, const std::vector<std::string>& messages) {
  EventDecoder decoder(DecoderOptions::Defaults());
  DecodedMessage decoded;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& m = messages[i++ % messages.size()];
    decoder.Decode(m, decoded);
    benchmark::DoNotOptimize(decoded.events.data());
    bytes += static_cast<int64_t>(m.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_Decode(benchmark::State& state, const std::string& format) {
  DecodeLoop(state, Messages(format));
}
BENCHMARK_CAPTURE(BM_Decode, xapi, std::string("xapi"));
BENCHMARK_CAPTURE(BM_Decode, caliper, std::string("caliper"));
BENCHMARK_CAPTURE(BM_Decode, moodle, std::string("moodle"));

// The benchmark's compact xAPI statements (~320 bytes, bench/bench_events.h).
const std::vector<std::string>& CompactXapi() {
  static const std::vector<std::string> messages = [] {
    std::vector<std::string> out;
    bench::BenchEvents events(
        {.events = 200000, .learners = 10000, .cohorts = 500, .skills = 2000});
    bench::BenchEvent e;
    while (events.Next(e)) out.push_back(e.payload);
    return out;
  }();
  return messages;
}

void BM_DecodeCompactXapi(benchmark::State& state) { DecodeLoop(state, CompactXapi()); }
BENCHMARK(BM_DecodeCompactXapi);

// One BKT observation on a learner with 4 skills (the per-attempt model update).
void BM_BktObserve(benchmark::State& state) {
  const LearnerSignalsOperator op{SignalParams{}};
  LearnerState learner;
  LearnerWindowState window;
  const std::string skills[4] = {"skill-0001", "skill-0002", "skill-0003", "skill-0004"};
  size_t i = 0;
  for (auto _ : state) {
    op.Observe(skills[i % 4], (i * 7919) % 10 < 6, learner, window);
    ++i;
  }
  benchmark::DoNotOptimize(learner.bkt.data());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BktObserve);

// Decode + learner signal update (windows, sessions, BKT, timers; emission of final windows and
// their cohort summaries every 1,000 messages), as the engine does per message; 10,000 learners,
// hourly windows.
void BM_DecodeAndApply(benchmark::State& state) {
  const std::vector<std::string>& messages = Messages("mixed");
  EventDecoder decoder(DecoderOptions::Defaults());
  DecodedMessage decoded;
  const LearnerSignalsOperator op{SignalParams{}};
  auto task = std::make_unique<LearnerTask>(0, op, kTaskOptions);
  size_t i = 0;
  CountingOutput out;
  for (auto _ : state) {
    decoder.Decode(messages[i % messages.size()], decoded);
    for (const CanonicalEvent& e : decoded.events) benchmark::DoNotOptimize(task->Process(e));
    if (++i % 1000 == 0) benchmark::DoNotOptimize(task->EmitFinal(out).ok());
    // The input replays from its start: so must event time.
    if (i % messages.size() == 0) task = std::make_unique<LearnerTask>(0, op, kTaskOptions);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["records_emitted"] = static_cast<double>(out.records);
}
BENCHMARK(BM_DecodeAndApply);

// The commit's state write: dirty windows and learner states of 10,000 learners into one RocksDB
// WriteBatch.
void BM_CheckpointWrite(benchmark::State& state) {
  const std::vector<std::string>& messages = Messages("xapi");
  EventDecoder decoder(DecoderOptions::Defaults());
  DecodedMessage decoded;
  const LearnerSignalsOperator op{SignalParams{}};
  char dir[] = "/tmp/learnflow-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir, .memory_mb = 256});
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  StateBatch batch(**store);
  size_t i = 0;
  int64_t windows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    LearnerTask task(0, op, kTaskOptions);
    for (int n = 0; n < 20000; ++n) {
      decoder.Decode(messages[i++ % messages.size()], decoded);
      for (const CanonicalEvent& e : decoded.events) task.Process(e);
    }
    windows += static_cast<int64_t>(task.open_windows());
    batch.Clear();
    state.ResumeTiming();
    task.Checkpoint(batch);
    const Status s = (*store)->Write(batch);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["windows_per_s"] = benchmark::Counter(static_cast<double>(windows), benchmark::Counter::kIsRate);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CheckpointWrite)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace learnflow

BENCHMARK_MAIN();
