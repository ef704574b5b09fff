#include "app/engine_runner.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "app/query_api.h"
#include "connectors/decoders/event_decoder.h"
#include "connectors/http_server.h"
#include "connectors/kafka_client.h"
#include "connectors/metrics.h"
#include "core/allocator.h"
#include "core/codec.h"
#include "core/hmac_sha256.h"
#include "state/state_store.h"
#include "stream/engine.h"
#include "stream/state_queries.h"

namespace learnflow {

SignalParams SignalParamsFrom(const Config& config) {
  SignalParams p;
  p.window_size_ms = config.windows.size_ms;
  p.grace_ms = config.windows.grace_ms;
  p.session_gap_ms = config.windows.session_gap_ms;
  p.inactivity_ms = config.signals.inactivity_ms;
  p.p_init = config.signals.p_init;
  p.p_learn = config.signals.p_learn;
  p.p_guess = config.signals.p_guess;
  p.p_slip = config.signals.p_slip;
  p.min_attempts = config.signals.min_attempts;
  p.accuracy_threshold = config.signals.accuracy_threshold;
  p.mastery_threshold = config.signals.mastery_threshold;
  p.min_cohort_size = config.signals.min_cohort_size;
  p.cohort_struggling_share = config.signals.cohort_struggling_share;
  return p;
}

Status CheckPrivacyOfState(StateStore& store, const PrivacyConfig& privacy) {
  std::string wanted = "off";
  if (privacy.pseudonymize_learner_ids) {
    Pseudonymizer::Hex hex;
    wanted = "hmac-sha256:" +
             std::string(Pseudonymizer(privacy.key).Apply("learnflow state pseudonymization check", hex));
  }
  std::string stored;
  bool found = false;
  LF_RETURN_IF_ERROR(store.Get(Family::kMeta, "privacy", stored, found));
  if (!found) {
    bool has_state = false;
    const auto any = [&](std::string_view, std::string_view) {
      has_state = true;
      return false;
    };
    // Task positions: "pos/<partition>" (learner stage) and "cpos/<partition>" (cohort stage).
    LF_RETURN_IF_ERROR(store.Scan(Family::kMeta, "pos/", "pos0", any));
    LF_RETURN_IF_ERROR(store.Scan(Family::kMeta, "cpos/", "cpos0", any));
    if (has_state) stored = "off";
  }
  if (!stored.empty() && stored != wanted) {
    return InvalidArgumentError(
        "privacy.pseudonymize_learner_ids: the state in " + store.dir() + " was written " +
        (stored == "off" ? std::string("with raw learner ids")
                         : std::string("with pseudonymization under another key")) +
        ", so it cannot be continued " +
        (privacy.pseudonymize_learner_ids ? "with this key" : "without pseudonymization") +
        "; start with an empty state.dir and a new kafka.group_id (the old group's changelog "
        "topics hold the old ids)");
  }
  if (!found) {
    StateBatch batch(store);
    batch.Put(Family::kMeta, "privacy", wanted);
    LF_RETURN_IF_ERROR(store.Write(batch));
  }
  return Status::Ok();
}

class EngineRunner::Impl {
 public:
  // Declared first, destroyed last: the consumers' statistics callbacks may still run while the
  // sources close.
  std::unique_ptr<MetricsRegistry> metrics;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<KafkaSource> source;
  std::unique_ptr<KafkaSink> sink;
  std::unique_ptr<KafkaChangelogReader> changelog;
  std::unique_ptr<KafkaSource> cohort_source;
  std::unique_ptr<KafkaChangelogReader> cohort_changelog;
  // The cohort window observer's scratch (processing thread only): its string keeps its
  // capacity from one final cohort window to the next.
  CohortGaugeValues cohort_gauge;
  std::unique_ptr<EventDecoder> decoder;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<StateQueries> queries;
  std::unique_ptr<HttpServer> http;  // declared last: stopped before what it reads
  std::atomic<bool> running{false};
  std::atomic<bool> failed{false};
};

EngineRunner::EngineRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EngineRunner::~EngineRunner() = default;

StatusOr<std::unique_ptr<EngineRunner>> EngineRunner::Create(const Config& config) {
  if (config.processing.threads > 1) {
    spdlog::warn("processing.threads is {}, but this version processes on one thread per instance; "
                 "scale out with more instances sharing kafka.group_id",
                 config.processing.threads);
  }
  if (!config.topics.input_keyed_by_learner) {
    spdlog::warn("topics.input_keyed_by_learner is false, but this version does not repartition by "
                 "learner: a learner whose events span several input partitions gets per-partition "
                 "signals; key input messages by learner id");
  }
  auto impl = std::make_unique<Impl>();
  const auto opening = std::chrono::steady_clock::now();
  LF_ASSIGN_OR_RETURN(impl->store, StateStore::Open(StateStoreOptions{
                                       .dir = config.state.dir,
                                       .memory_mb = static_cast<int>(config.state.memory_mb)}));
  // After a crash this includes replaying the store's write-ahead log.
  spdlog::info("state store {} opened in {:.2f} s", config.state.dir,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count());
  LF_RETURN_IF_ERROR(CheckPrivacyOfState(*impl->store, config.privacy));
  KafkaClientOptions client;
  client.bootstrap_servers = config.kafka.bootstrap_servers;
  client.group_id = config.kafka.group_id;
  client.properties = config.kafka.properties;
  // Consumer lag from librdkafka's statistics, per consumed topic (the metrics registry is
  // created below; statistics arrive only once the engine polls).
  Impl* lag_target = impl.get();
  auto lag_from_statistics = [lag_target](std::string topic) {
    return [lag_target, topic = std::move(topic)](std::string_view json) {
      StatusOr<std::vector<ConsumerLag>> lags = ConsumerLagFromStatistics(json, topic);
      if (!lags.ok()) {
        spdlog::warn("kafka statistics of {} ignored: {}", topic, lags.status().message());
        return;
      }
      if (lag_target->metrics != nullptr) lag_target->metrics->ReplaceConsumerLag(topic, *lags);
    };
  };
  KafkaClientOptions input_client = client;
  input_client.on_statistics = lag_from_statistics(config.topics.input);
  LF_ASSIGN_OR_RETURN(impl->source, KafkaSource::Create(input_client, config.topics.input));
  if (config.processing.guarantee == Guarantee::kExactlyOnce) {
    // One transactional producer per instance. The id is stable across restarts of the same
    // instance (host and state directory), so a restart's init_transactions aborts the
    // transaction a crash left open instead of letting it block read_committed readers until it
    // times out; KIP-447 fences zombies through the consumer group's generation.
    char host[256] = "host";
    gethostname(host, sizeof(host) - 1);
    std::error_code ec;
    const std::string dir = std::filesystem::absolute(config.state.dir, ec).string();
    const std::string transactional_id =
        fmt::format("{}-{}-{:016x}", config.kafka.group_id, host, StableHash64(dir));
    LF_ASSIGN_OR_RETURN(impl->sink, KafkaSink::CreateTransactional(client, transactional_id,
                                                                   *impl->source, config.topics.input));
  } else {
    LF_ASSIGN_OR_RETURN(impl->sink, KafkaSink::Create(client));
  }
  impl->decoder = std::make_unique<EventDecoder>(config.decoder_options());

  // State moves with its partitions through the changelogs; learner window summaries go to the
  // cohort stage through the repartition topic. One partition per input partition each.
  const std::string changelog_topic = ChangelogTopic(config.kafka.group_id);
  const std::string repartition_topic = RepartitionTopic(config.kafka.group_id);
  const std::string cohort_changelog_topic = CohortChangelogTopic(config.kafka.group_id);
  StatusOr<int> input_partitions = TopicPartitionCount(client, config.topics.input);
  if (!input_partitions.ok()) {
    return Status(input_partitions.status().code(),
                  "topics.input: " + input_partitions.status().message());
  }
  LF_RETURN_IF_ERROR(EnsureInternalTopic(client, changelog_topic, *input_partitions));
  LF_RETURN_IF_ERROR(EnsureInternalTopic(client, repartition_topic, *input_partitions, /*compact=*/false));
  // Summaries are spread over every partition of the repartition topic, so markers must reach
  // every one of them too, and the cohort changelog needs one partition per cohort task (the
  // repartition topic may have more partitions than the input).
  StatusOr<int> repartition_partitions = TopicPartitionCount(client, repartition_topic);
  if (!repartition_partitions.ok()) return repartition_partitions.status();
  LF_RETURN_IF_ERROR(EnsureInternalTopic(client, cohort_changelog_topic, *repartition_partitions));
  LF_ASSIGN_OR_RETURN(impl->changelog, KafkaChangelogReader::Create(client, changelog_topic));
  // The cohort stage consumes the repartition topic in a group of its own.
  KafkaClientOptions cohort_client = client;
  cohort_client.group_id = config.kafka.group_id + "-cohorts";
  cohort_client.on_statistics = lag_from_statistics(repartition_topic);
  LF_ASSIGN_OR_RETURN(impl->cohort_source, KafkaSource::Create(cohort_client, repartition_topic));
  LF_ASSIGN_OR_RETURN(impl->cohort_changelog, KafkaChangelogReader::Create(client, cohort_changelog_topic));

  EngineOptions options;
  options.input_topic = config.topics.input;
  options.learner_signals_topic = config.topics.learner_signals;
  options.cohort_signals_topic = config.topics.cohort_signals;
  options.alerts_topic = config.topics.alerts;
  options.dead_letter_topic = config.topics.dead_letter;
  options.changelog_topic = changelog_topic;
  options.repartition_topic = repartition_topic;
  options.repartition_partitions = *repartition_partitions;
  options.input_partitions = *input_partitions;
  options.cohort_changelog_topic = cohort_changelog_topic;
  options.signals = SignalParamsFrom(config);
  options.max_out_of_orderness_ms = config.processing.max_out_of_orderness_ms;
  options.idle_timeout_ms = config.processing.idle_timeout_ms;
  options.commit_interval_ms = config.processing.commit_interval_ms;
  options.checkpoint_interval_ms = config.state.checkpoint_interval_ms;
  options.max_message_bytes = static_cast<size_t>(config.processing.max_message_bytes);
  options.max_poll_records = static_cast<size_t>(config.processing.max_poll_records);
  if (config.privacy.pseudonymize_learner_ids) options.pseudonymization_key = config.privacy.key;
  impl->engine = std::make_unique<Engine>(options, *impl->source, *impl->sink, *impl->decoder,
                                          *impl->store, SystemClock(), impl->changelog.get());
  impl->engine->EnableCohortStage(*impl->cohort_source, impl->cohort_changelog.get());
  MetricsOptions metrics;
  metrics.version = LEARNFLOW_VERSION;
  metrics.input_topic = config.topics.input;
  metrics.produced_topics =
      EngineProducedTopics(impl->engine->counters(), config.topics.learner_signals,
                           config.topics.dead_letter, config.topics.cohort_signals, config.topics.alerts);
  metrics.state_bytes = [store = impl->store.get()] { return store->ApproximateBytes(); };
  metrics.max_cohorts = config.metrics.max_cohorts;
  metrics.min_cohort_size = config.signals.min_cohort_size;
  impl->metrics = std::make_unique<MetricsRegistry>(impl->engine->counters(), std::move(metrics));
  Impl* gauges = impl.get();
  impl->engine->SetCohortWindowObserver(
      [gauges](std::string_view cohort_id, const CohortWindowSummary& s, bool firing) {
        CohortGaugeValues& v = gauges->cohort_gauge;
        v.cohort.assign(cohort_id);
        v.active_learners = s.active_learners;
        v.struggling_learners = s.struggling_learners;
        v.struggling_ratio = s.struggling_share;
        v.accuracy_ratio = s.accuracy;
        v.mastery_mean = s.mean_mastery;
        v.active_minutes = s.active_minutes;
        v.alert_firing = firing;
        gauges->metrics->SetCohortGauge(v);
      });

  impl->queries = std::make_unique<StateQueries>(*impl->store, options.signals,
                                                 impl->engine->queryable_learner_partitions(),
                                                 impl->engine->queryable_cohort_partitions());
  HttpServerOptions http;
  http.listen = config.http.listen;
  http.routes = QueryRoutes(*impl->queries);
  Impl* state = impl.get();
  http.metrics = [state] { return state->metrics->Scrape(); };
  http.liveness = [state] { return !state->failed.load(); };
  http.readiness = [state]() -> Readiness {
    if (!state->running.load()) return {false, state->failed.load() ? "engine failed" : "not running"};
    if (std::optional<std::string> reason = EngineNotReadyReason(state->engine->counters())) {
      return {false, *reason};
    }
    return {};
  };
  StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(http));
  if (!server.ok()) {
    return Status(server.status().code(), "http.listen: " + server.status().message());
  }
  impl->http = std::move(*server);

  spdlog::info("engine ready ({}): {} -> {}, {}, {} (dead letters: {}), group {}, state in {}, "
               "internal topics {}, {}, {}; allocator {}",
               GuaranteeName(config.processing.guarantee), options.input_topic,
               options.learner_signals_topic, options.cohort_signals_topic, options.alerts_topic,
               options.dead_letter_topic, client.group_id, config.state.dir, changelog_topic,
               repartition_topic, cohort_changelog_topic, AllocatorName());
  spdlog::info("http: /metrics, /healthz, /readyz, /v1/learners/{{id}}, /v1/cohorts/{{id}}, "
               "/v1/cohorts?struggling=true on {}{}",
               impl->http->address(),
               config.privacy.pseudonymize_learner_ids ? " (learner ids pseudonymized)" : "");
  return std::unique_ptr<EngineRunner>(new EngineRunner(std::move(impl)));
}

Status EngineRunner::Run(const std::atomic<bool>& stop) {
  Status s = impl_->engine->Start();
  if (s.ok()) {
    impl_->running = true;
    s = impl_->engine->Run(stop);
    impl_->running = false;
  }
  if (!s.ok()) impl_->failed = true;
  return s;
}

const std::string& EngineRunner::http_address() const { return impl_->http->address(); }

const EngineCounters& EngineRunner::counters() const { return impl_->engine->counters(); }

}  // namespace learnflow
