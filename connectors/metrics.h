// MetricsRegistry: the Prometheus metrics of one learnflow instance (DESIGN §10), as text.
//
// Engine metrics are read from EngineCounters at scrape time: a prometheus::Collectable builds
// the metric families from the relaxed atomics, so nothing on the processing thread touches
// prometheus-cpp (no lock, no allocation per record). Metrics fed from outside the engine
// (consumer lag from librdkafka statistics, the cohort gauges of the latest final windows) are
// replaced wholesale under a mutex by whoever computes them. Every metric, its type, unit and
// labels: docs/operations.md.
//
//   MetricsOptions options;
//   options.version = LEARNFLOW_VERSION;
//   options.produced_topics = EngineProducedTopics(counters, "learnflow.learner-signals",
//                                                  "learnflow.dead-letter");
//   options.state_bytes = [&store] { return store.ApproximateBytes(); };
//   MetricsRegistry metrics(counters, std::move(options));
//   std::string text = metrics.Scrape();  // Prometheus text format 0.0.4
//
// Ownership: borrows `counters` (and whatever the callbacks capture): they must outlive the
// registry. Thread-safety: every method may be called from any thread; Scrape() runs on the HTTP
// server's thread and calls the option callbacks there, so they must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "stream/counters.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace learnflow {

// One series of learnflow_records_produced_total{topic}.
struct ProducedTopicCounter {
  std::string topic;
  std::function<uint64_t()> read;  // records sent to `topic` so far; called at scrape time
};

// The produced-records series the engine counts itself: learner records, dead letters and, when
// their topics are given (non-empty), cohort records and alerts. Borrows `counters`.
std::vector<ProducedTopicCounter> EngineProducedTopics(const EngineCounters& counters,
                                                       std::string learner_signals_topic,
                                                       std::string dead_letter_topic,
                                                       std::string cohort_signals_topic = {},
                                                       std::string alerts_topic = {});

// Why the engine is not ready, from its counters ("restoring state", "kafka brokers
// unreachable"), or nullopt when they show nothing wrong. For a /readyz probe, combined with
// whether the engine thread is running.
std::optional<std::string> EngineNotReadyReason(const EngineCounters& counters);

struct MetricsOptions {
  std::string version = "unknown";                    // learnflow_build_info{version}
  std::string input_topic = "learning.events";        // learnflow_events_consumed_total{topic}
  std::vector<ProducedTopicCounter> produced_topics;  // learnflow_records_produced_total
  // learnflow_state_bytes; empty: the series is absent.
  std::function<uint64_t()> state_bytes;
  // Series cap of the learnflow_cohort_* gauges (metrics.max_cohorts); >= 0.
  int64_t max_cohorts = 1000;
  // Cohorts with fewer active learners are never exported (signals.min_cohort_size).
  int64_t min_cohort_size = 0;
  // Wall clock for learnflow_watermark_lag_seconds. Borrowed; must outlive the registry.
  const Clock* clock = &SystemClock();
};

// The latest final window of one cohort, as the learnflow_cohort_*{cohort} gauges show it.
struct CohortGaugeValues {
  std::string cohort;
  int64_t active_learners = 0;
  int64_t struggling_learners = 0;
  double struggling_ratio = 0.0;
  std::optional<double> accuracy_ratio;  // nullopt (no attempt with known success): no series
  std::optional<double> mastery_mean;    // nullopt (no mastery in the window): no series
  int64_t active_minutes = 0;
  bool alert_firing = false;
};

// One series of learnflow_consumer_lag_records{topic,partition}.
struct ConsumerLag {
  std::string topic;
  int32_t partition = 0;
  int64_t lag = 0;  // records; negative means unknown and removes the series
};

// The consumer lag of every partition of `topic` in a librdkafka statistics JSON (STATISTICS.md:
// topics.<topic>.partitions.<p>.consumer_lag_stored when the consumer stores positions
// (exactly-once), else consumer_lag: the partition end minus the committed offset);
// partitions whose lag librdkafka does not know (-1) and the internal partition -1 are left out.
// InvalidArgument when `json` is not a statistics object.
StatusOr<std::vector<ConsumerLag>> ConsumerLagFromStatistics(std::string_view json,
                                                             std::string_view topic);

class MetricsRegistry {
 public:
  MetricsRegistry(const EngineCounters& counters, MetricsOptions options);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Sets one consumer-lag series; a negative lag (librdkafka's "unknown") removes it.
  void SetConsumerLag(std::string_view topic, int32_t partition, int64_t lag);
  // Replaces every consumer-lag series of `topic` (e.g. from one librdkafka statistics
  // callback of that topic's consumer); entries of other topics are ignored.
  void ReplaceConsumerLag(std::string_view topic, const std::vector<ConsumerLag>& lags);

  // The learnflow_cohort_* series: of the cohorts set, those below min_cohort_size are not
  // exported; of the rest, the first max_cohorts in cohort id order (bytewise) are, and the
  // others are counted in learnflow_cohorts_over_limit (applied at each scrape).
  // SetCohortGauges replaces every cohort at once (a cohort id given twice keeps its first
  // entry); SetCohortGauge sets one cohort's values and keeps the others (the engine's call at
  // each final cohort window: a map update, nothing sorted).
  void SetCohortGauges(const std::vector<CohortGaugeValues>& cohorts);
  void SetCohortGauge(const CohortGaugeValues& cohort);

  // The whole exposition (engine, externally fed, and registry() metrics), Prometheus text
  // format 0.0.4. Never fails.
  std::string Scrape() const;

  // For further metrics defined with prometheus-cpp's own builders (cold paths only: its
  // counters take no lock but its families do). Scrape() includes them.
  prometheus::Registry& registry();

 private:
  class EngineCollector;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<EngineCollector> engine_;
};

}  // namespace learnflow
