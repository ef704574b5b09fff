// EngineCounters: the engine's running totals, written by the processing thread and read by
// others (metrics endpoint, tests) without locks.
//
// Every field is a relaxed atomic: readers see each value eventually, not a consistent snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/decoded.h"
#include "core/histogram.h"

namespace learnflow {

struct EngineCounters {
  std::atomic<uint64_t> consumed{0};    // input messages read
  std::array<std::atomic<uint64_t>, kRejectReasonCount> invalid{};  // by reason (incl. late)
  std::atomic<uint64_t> late{0};        // events for final windows
  std::atomic<uint64_t> skipped{0};     // understood, not feeding signals (Moodle edulevel != 2)
  std::atomic<uint64_t> retractions{0};  // xAPI voided statements (not applied by this slice yet)
  std::atomic<uint64_t> events{0};      // canonical events applied to state
  std::atomic<uint64_t> duplicates{0};  // events whose event_id was already counted
  std::atomic<uint64_t> learner_records{0};  // learner_window and inactive records emitted
  std::atomic<uint64_t> cohort_records{0};   // cohort_window records emitted
  std::atomic<uint64_t> alerts{0};           // alert records emitted
  // Learner summaries the cohort stage had counted already (at-least-once replays).
  std::atomic<uint64_t> repartition_duplicates{0};
  std::atomic<uint64_t> repartition_sent{0};      // summaries and markers queued (per partition)
  std::atomic<uint64_t> repartition_consumed{0};  // records the cohort stage has read
  std::atomic<uint64_t> dead_letters{0};     // records sent to the dead-letter topic
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> checkpoints{0};  // commits that wrote the local checkpoint
  std::atomic<uint64_t> restored{0};  // changelog records applied by restores
  std::atomic<uint64_t> rebalances{0};
  std::atomic<int64_t> assigned_partitions{0};
  std::atomic<int64_t> min_watermark_ms{0};  // over assigned partitions with data

  // Seconds from a poll's return to the state update of its records, one observation per record
  // (the batch's processing time: decode, state updates, emitting final windows).
  Histogram processing_latency{kProcessingLatencyBuckets};
  // Seconds of one commit cycle (sink flush, state write, group commit).
  Histogram commit_duration{kCommitDurationBuckets};
  // False while the Kafka client reports every broker down; readiness is not-ready meanwhile.
  std::atomic<bool> broker_reachable{true};
  // True while partition state is being restored (from RocksDB or a changelog); not-ready.
  std::atomic<bool> restoring{false};

  uint64_t Invalid(RejectReason reason) const {
    return invalid[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace learnflow
