#include "connectors/metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

namespace learnflow {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double Load(const std::atomic<uint64_t>& v) {
  return static_cast<double>(v.load(std::memory_order_relaxed));
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

ClientMetric::Label Label(std::string name, std::string value) {
  return ClientMetric::Label{std::move(name), std::move(value)};
}

ClientMetric CounterValue(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

ClientMetric GaugeValue(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

MetricFamily Counter(std::string name, std::string help, double value) {
  MetricFamily family = Family(std::move(name), std::move(help), MetricType::Counter);
  family.metric.push_back(CounterValue(value));
  return family;
}

MetricFamily Gauge(std::string name, std::string help, double value) {
  MetricFamily family = Family(std::move(name), std::move(help), MetricType::Gauge);
  family.metric.push_back(GaugeValue(value));
  return family;
}

MetricFamily HistogramFamily(std::string name, std::string help, const Histogram& histogram) {
  const HistogramSnapshot snapshot = histogram.Snapshot();
  MetricFamily family = Family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric m;
  m.histogram.sample_count = snapshot.count;
  m.histogram.sample_sum = snapshot.sum;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
    cumulative += snapshot.counts[i];
    m.histogram.bucket.push_back(ClientMetric::Bucket{cumulative, snapshot.upper_bounds[i]});
  }
  // The +Inf bucket equals the count by construction of the snapshot.
  m.histogram.bucket.push_back(
      ClientMetric::Bucket{snapshot.count, std::numeric_limits<double>::infinity()});
  family.metric.push_back(std::move(m));
  return family;
}

}  // namespace

std::vector<ProducedTopicCounter> EngineProducedTopics(const EngineCounters& counters,
                                                       std::string learner_signals_topic,
                                                       std::string dead_letter_topic,
                                                       std::string cohort_signals_topic,
                                                       std::string alerts_topic) {
  std::vector<ProducedTopicCounter> topics;
  topics.push_back({std::move(learner_signals_topic), [&counters] {
                      return counters.learner_records.load(std::memory_order_relaxed);
                    }});
  topics.push_back({std::move(dead_letter_topic),
                    [&counters] { return counters.dead_letters.load(std::memory_order_relaxed); }});
  if (!cohort_signals_topic.empty()) {
    topics.push_back({std::move(cohort_signals_topic), [&counters] {
                        return counters.cohort_records.load(std::memory_order_relaxed);
                      }});
  }
  if (!alerts_topic.empty()) {
    topics.push_back({std::move(alerts_topic),
                      [&counters] { return counters.alerts.load(std::memory_order_relaxed); }});
  }
  return topics;
}

std::optional<std::string> EngineNotReadyReason(const EngineCounters& counters) {
  if (counters.restoring.load(std::memory_order_relaxed)) return "restoring state";
  if (!counters.broker_reachable.load(std::memory_order_relaxed))
    return "kafka brokers unreachable";
  return std::nullopt;
}

class MetricsRegistry::EngineCollector final : public prometheus::Collectable {
 public:
  EngineCollector(const EngineCounters& counters, MetricsOptions options)
      : counters_(counters), options_(std::move(options)) {
    if (options_.clock == nullptr) options_.clock = &SystemClock();
    if (options_.max_cohorts < 0) options_.max_cohorts = 0;
  }

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    const EngineCounters& c = counters_;

    MetricFamily consumed = Family("learnflow_events_consumed_total",
                                   "Input messages read, by topic.", MetricType::Counter);
    consumed.metric.push_back(
        CounterValue(Load(c.consumed), {Label("topic", options_.input_topic)}));
    out.push_back(std::move(consumed));

    MetricFamily invalid =
        Family("learnflow_events_invalid_total",
               "Invalid or late input sent to the dead-letter topic, by reason code.",
               MetricType::Counter);
    for (size_t i = 0; i < kRejectReasonCount; ++i) {
      const auto reason = static_cast<RejectReason>(i);
      invalid.metric.push_back(CounterValue(
          Load(c.invalid[i]), {Label("reason", std::string(RejectReasonCode(reason)))}));
    }
    out.push_back(std::move(invalid));

    out.push_back(Counter("learnflow_events_late_total",
                          "Events for windows that were already final (dead-lettered as late).",
                          Load(c.late)));

    MetricFamily skipped =
        Family("learnflow_events_skipped_total",
               "Input understood but not feeding learner signals, by reason.", MetricType::Counter);
    skipped.metric.push_back(CounterValue(Load(c.skipped), {Label("reason", "not_participating")}));
    skipped.metric.push_back(CounterValue(Load(c.retractions), {Label("reason", "retraction")}));
    out.push_back(std::move(skipped));

    out.push_back(Counter("learnflow_events_duplicate_total",
                          "Events whose event_id was already counted in their window.",
                          Load(c.duplicates)));

    MetricFamily produced = Family("learnflow_records_produced_total",
                                   "Records sent to output topics, by topic.", MetricType::Counter);
    for (const ProducedTopicCounter& topic : options_.produced_topics) {
      const double value = topic.read ? static_cast<double>(topic.read()) : 0.0;
      produced.metric.push_back(CounterValue(value, {Label("topic", topic.topic)}));
    }
    if (!produced.metric.empty()) out.push_back(std::move(produced));

    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!lags_.empty()) {
        MetricFamily lag = Family("learnflow_consumer_lag_records",
                                  "Records between the committed (or, exactly-once, stored) position and the partition end.",
                                  MetricType::Gauge);
        for (const auto& [key, value] : lags_) {
          lag.metric.push_back(GaugeValue(
              static_cast<double>(value),
              {Label("topic", key.first), Label("partition", std::to_string(key.second))}));
        }
        out.push_back(std::move(lag));
      }
    }

    const int64_t watermark_ms = c.min_watermark_ms.load(std::memory_order_relaxed);
    if (watermark_ms != 0) {  // 0: no partition has a watermark yet; the series is absent
      out.push_back(Gauge("learnflow_watermark_lag_seconds",
                          "Wall clock minus the lowest watermark of the assigned partitions.",
                          static_cast<double>(options_.clock->NowMs() - watermark_ms) / 1000.0));
    }

    out.push_back(HistogramFamily(
        "learnflow_processing_latency_seconds",
        "Time from a poll's return to the state update of its records (one observation per "
        "record).",
        c.processing_latency));
    out.push_back(HistogramFamily("learnflow_commit_duration_seconds",
                                  "Time of one commit cycle (flush, state write, group commit).",
                                  c.commit_duration));

    if (options_.state_bytes) {
      out.push_back(Gauge("learnflow_state_bytes", "Approximate size of the local state store.",
                          static_cast<double>(options_.state_bytes())));
    }
    out.push_back(Counter("learnflow_rebalances_total",
                          "Partition assignment changes (assignments and revocations).",
                          Load(c.rebalances)));
    out.push_back(Gauge(
        "learnflow_assigned_partitions", "Input partitions currently assigned to this instance.",
        static_cast<double>(c.assigned_partitions.load(std::memory_order_relaxed))));
    out.push_back(Gauge("learnflow_broker_reachable",
                        "1 unless the Kafka client reports every broker down.",
                        c.broker_reachable.load(std::memory_order_relaxed) ? 1.0 : 0.0));
    out.push_back(Gauge("learnflow_restoring", "1 while partition state is being restored.",
                        c.restoring.load(std::memory_order_relaxed) ? 1.0 : 0.0));
    out.push_back(Counter("learnflow_restored_records_total",
                          "Changelog records applied while restoring partition state.",
                          Load(c.restored)));
    out.push_back(Counter("learnflow_commits_total", "Commit cycles completed.", Load(c.commits)));
    out.push_back(Counter("learnflow_checkpoints_total",
                          "Commit cycles that also wrote the local state checkpoint.",
                          Load(c.checkpoints)));

    MetricFamily build =
        Family("learnflow_build_info", "Always 1; labelled with the version.", MetricType::Gauge);
    build.metric.push_back(GaugeValue(1.0, {Label("version", options_.version)}));
    out.push_back(std::move(build));

    CollectCohorts(out);
    return out;
  }

  void SetConsumerLag(std::string_view topic, int32_t partition, int64_t lag) {
    std::lock_guard<std::mutex> lock(mu_);
    std::pair<std::string, int32_t> key(std::string(topic), partition);
    if (lag < 0) {
      lags_.erase(key);
    } else {
      lags_[std::move(key)] = lag;
    }
  }

  void ReplaceConsumerLag(std::string_view topic, const std::vector<ConsumerLag>& lags) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(lags_, [&](const auto& entry) { return entry.first.first == topic; });
    for (const ConsumerLag& l : lags) {
      if (l.topic == topic && l.lag >= 0) lags_[{l.topic, l.partition}] = l.lag;
    }
  }

  void SetCohortGauges(const std::vector<CohortGaugeValues>& cohorts) {
    std::map<std::string, CohortGaugeValues, std::less<>> all;
    for (const CohortGaugeValues& v : cohorts) all.try_emplace(v.cohort, v);  // the first wins
    std::lock_guard<std::mutex> lock(mu_);
    cohorts_.swap(all);
  }

  void SetCohortGauge(const CohortGaugeValues& cohort) {
    std::lock_guard<std::mutex> lock(mu_);
    cohorts_.insert_or_assign(cohort.cohort, cohort);
  }

 private:
  void CollectCohorts(std::vector<MetricFamily>& out) const {
    std::lock_guard<std::mutex> lock(mu_);
    // Cohorts below min_cohort_size are never exported; of the others, the first max_cohorts
    // in id order.
    std::vector<const CohortGaugeValues*> shown;
    size_t over = 0;
    for (const auto& [id, v] : cohorts_) {
      if (v.active_learners < options_.min_cohort_size) continue;
      if (shown.size() < static_cast<size_t>(std::max<int64_t>(options_.max_cohorts, 0))) {
        shown.push_back(&v);
      } else {
        ++over;
      }
    }
    out.push_back(Gauge("learnflow_cohorts_over_limit",
                        "Cohorts left out of the learnflow_cohort_* series by metrics.max_cohorts.",
                        static_cast<double>(over)));
    if (shown.empty()) return;
    struct Def {
      const char* name;
      const char* help;
      std::optional<double> (*value)(const CohortGaugeValues&);
    };
    static constexpr Def kDefs[] = {
        {"learnflow_cohort_active_learners",
         "Learners with a learner record in the cohort's latest final window.",
         [](const CohortGaugeValues& v) -> std::optional<double> {
           return static_cast<double>(v.active_learners);
         }},
        {"learnflow_cohort_struggling_learners",
         "Struggling learners in the cohort's latest final window.",
         [](const CohortGaugeValues& v) -> std::optional<double> {
           return static_cast<double>(v.struggling_learners);
         }},
        {"learnflow_cohort_struggling_ratio",
         "Struggling learners / active learners in the cohort's latest final window.",
         [](const CohortGaugeValues& v) -> std::optional<double> { return v.struggling_ratio; }},
        {"learnflow_cohort_accuracy_ratio",
         "Correct / attempts (sum over learners) in the cohort's latest final window.",
         [](const CohortGaugeValues& v) { return v.accuracy_ratio; }},
        {"learnflow_cohort_mastery_mean",
         "Mean of the learners' mean mastery in the cohort's latest final window.",
         [](const CohortGaugeValues& v) { return v.mastery_mean; }},
        {"learnflow_cohort_active_minutes",
         "Sum of the learners' active minutes in the cohort's latest final window.",
         [](const CohortGaugeValues& v) -> std::optional<double> {
           return static_cast<double>(v.active_minutes);
         }},
        {"learnflow_cohort_alert_firing",
         "1 while the cohort's struggling-cohort alert is firing, else 0.",
         [](const CohortGaugeValues& v) -> std::optional<double> {
           return v.alert_firing ? 1.0 : 0.0;
         }},
    };
    for (const Def& def : kDefs) {
      MetricFamily family = Family(def.name, def.help, MetricType::Gauge);
      for (const CohortGaugeValues* v : shown) {
        const std::optional<double> value = def.value(*v);
        if (value) family.metric.push_back(GaugeValue(*value, {Label("cohort", v->cohort)}));
      }
      if (!family.metric.empty()) out.push_back(std::move(family));
    }
  }

  const EngineCounters& counters_;
  MetricsOptions options_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int32_t>, int64_t> lags_;  // guarded by mu_
  std::map<std::string, CohortGaugeValues, std::less<>> cohorts_;  // guarded by mu_
};

MetricsRegistry::MetricsRegistry(const EngineCounters& counters, MetricsOptions options)
    : registry_(std::make_unique<prometheus::Registry>()),
      engine_(std::make_unique<EngineCollector>(counters, std::move(options))) {}

MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::SetConsumerLag(std::string_view topic, int32_t partition, int64_t lag) {
  engine_->SetConsumerLag(topic, partition, lag);
}

void MetricsRegistry::ReplaceConsumerLag(std::string_view topic,
                                         const std::vector<ConsumerLag>& lags) {
  engine_->ReplaceConsumerLag(topic, lags);
}

void MetricsRegistry::SetCohortGauges(const std::vector<CohortGaugeValues>& cohorts) {
  engine_->SetCohortGauges(cohorts);
}

void MetricsRegistry::SetCohortGauge(const CohortGaugeValues& cohort) {
  engine_->SetCohortGauge(cohort);
}

std::string MetricsRegistry::Scrape() const {
  std::vector<MetricFamily> families = engine_->Collect();
  std::vector<MetricFamily> extra = registry_->Collect();
  families.insert(families.end(), std::make_move_iterator(extra.begin()),
                  std::make_move_iterator(extra.end()));
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::Registry& MetricsRegistry::registry() { return *registry_; }

}  // namespace learnflow

namespace learnflow {

StatusOr<std::vector<ConsumerLag>> ConsumerLagFromStatistics(std::string_view json,
                                                             std::string_view topic) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return InvalidArgumentError("librdkafka statistics: not a JSON object");
  }
  std::vector<ConsumerLag> lags;
  simdjson::dom::object partitions;
  if (root["topics"][topic]["partitions"].get(partitions) != simdjson::SUCCESS) return lags;
  for (const auto field : partitions) {
    int64_t partition = -1;
    int64_t lag = -1;
    if (field.value["partition"].get(partition) != simdjson::SUCCESS || partition < 0) continue;
    // Stored positions (exactly-once: the group offsets go through the transaction, unseen by
    // the consumer) win over committed ones when the consumer has any.
    int64_t stored_lag = -1;
    if (field.value["consumer_lag_stored"].get(stored_lag) == simdjson::SUCCESS && stored_lag >= 0) {
      lag = stored_lag;
    } else if (field.value["consumer_lag"].get(lag) != simdjson::SUCCESS || lag < 0) {
      continue;
    }
    lags.push_back({std::string(topic), static_cast<int32_t>(partition), lag});
  }
  return lags;
}

}  // namespace learnflow
