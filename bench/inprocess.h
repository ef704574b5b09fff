// The in-process benchmark: the whole engine (decoding, learner and cohort stages with every
// operator, RocksDB state, changelog records, commits) on one thread, with Kafka replaced by
// memory: the input is pre-generated, outputs and changelog records are counted and dropped,
// and the repartition topic is a queue from the learner stage's sink to the cohort stage's
// source. What is left is the engine's own work per event.
//
//   InProcessResult r = RunInProcess({.events = 2000000, .learners = 100000}, "/tmp/state");
#pragma once

#include <cstdint>
#include <string>

#include "bench/bench_events.h"
#include "core/status.h"

namespace learnflow::bench {

struct InProcessOptions {
  BenchEventsOptions events;
  int partitions = 6;
  int memory_mb = 256;
  int64_t commit_interval_ms = 1000;
  int64_t checkpoint_interval_ms = 5000;
  // 0: the engine reads the wall clock. Otherwise its clock advances by one second per this many
  // input messages served, so commits fall at the same events in every run, whatever the speed
  // (for instruction counts under callgrind, which runs the code ~50 times slower).
  int64_t paced_events_per_second = 0;
};

struct InProcessResult {
  int64_t events = 0;
  double wall_s = 0;
  double thread_cpu_s = 0;   // the processing thread
  double process_cpu_s = 0;  // the whole process (RocksDB's background threads included)
  int64_t learner_records = 0;
  int64_t cohort_records = 0;
  int64_t commits = 0;
  int64_t invalid = 0;
};

// Runs the engine over `options.events` events with its state in `state_dir` (created; must
// not exist yet or be empty).
StatusOr<InProcessResult> RunInProcess(const InProcessOptions& options,
                                       const std::string& state_dir);

}  // namespace learnflow::bench
