// Kafka connectors (librdkafka): the consumer-group Source, the idempotent-producer Sink, and the
// embedded broker (librdkafka's mock cluster speaking the real Kafka protocol on loopback).
//
//   LF_ASSIGN_OR_RETURN(auto source, KafkaSource::Create(client, "learning.events"));
//   LF_ASSIGN_OR_RETURN(auto sink, KafkaSink::Create(client));
//
// Ownership: each object owns its librdkafka handle and destroys it (after a bounded flush for the
// sink). Threading: one thread per object (the engine's processing thread); the broker may be used
// from any thread. Errors: librdkafka errors become Status values naming the broker list, topic and
// librdkafka's error text; librdkafka types do not appear in this header.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "stream/io.h"

namespace learnflow {

struct KafkaClientOptions {
  std::string bootstrap_servers;
  std::string group_id = "learnflow";
  // Passed verbatim to librdkafka after our defaults (so they win), e.g. security.protocol,
  // sasl.mechanisms, ssl.ca.location, session.timeout.ms.
  std::map<std::string, std::string> properties;
  // Consumers only: called with librdkafka's statistics JSON (STATISTICS.md) every
  // statistics.interval.ms (default 5000 when this is set; a property may change it, 0 turns
  // statistics off), on the thread that polls the consumer. Empty: no statistics.
  std::function<void(std::string_view json)> on_statistics;
};

class KafkaSource final : public Source {
 public:
  // Creates a consumer in group `options.group_id` for `topic`: manual commits, no auto offset
  // store, cooperative-sticky assignment, read_committed, earliest reset.
  static StatusOr<std::unique_ptr<KafkaSource>> Create(const KafkaClientOptions& options,
                                                       std::string topic);
  ~KafkaSource() override;

  Status Subscribe(AssignmentListener& listener) override;
  Status Poll(int timeout_ms, size_t max, std::vector<InputMessage>& out) override;
  Status Commit(std::span<const PartitionOffset> offsets) override;
  Status StorePositions(std::span<const PartitionOffset> offsets) override;
  Status Pause(std::span<const int32_t> partitions) override;
  Status Resume(std::span<const int32_t> partitions) override;
  bool BrokersReachable() const override;
  Status Close() override;

  class Impl;

 private:
  friend class KafkaSink;  // exactly-once: the transaction carries this consumer's group metadata
  explicit KafkaSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class KafkaSink final : public Sink {
 public:
  // Creates an idempotent producer (acks=all, murmur2 partitioner as the Java client uses).
  static StatusOr<std::unique_ptr<KafkaSink>> Create(const KafkaClientOptions& options);
  // Creates a transactional producer (exactly-once) whose transactions carry the input positions
  // of `source`'s consumer group (KIP-447 fencing through the group metadata). `source` must
  // outlive the sink. Runs init_transactions (fences an older producer with the same id).
  static StatusOr<std::unique_ptr<KafkaSink>> CreateTransactional(const KafkaClientOptions& options,
                                                                  const std::string& transactional_id,
                                                                  const KafkaSource& source,
                                                                  std::string input_topic,
                                                                  int timeout_ms = 60000);
  ~KafkaSink() override;

  bool transactional() const override;
  Status CommitTransaction(std::span<const PartitionOffset> input_offsets, int timeout_ms) override;

  Status Send(std::string_view topic, std::string_view key, std::string_view value,
              std::span<const Header> headers = {}) override;
  Status SendTo(std::string_view topic, int32_t partition, std::string_view key,
                const std::string_view* value) override;
  int64_t LastDeliveredOffset(std::string_view topic, int32_t partition) const override;
  void Poll() override;
  Status Flush(int timeout_ms) override;
  size_t InFlight() const override;
  uint64_t Delivered(std::string_view topic) const override;

  class Impl;

 private:
  explicit KafkaSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads changelog partitions with its own consumer (manual assignment, no group commits), so a
// restore never blocks the main consumer's poll loop. Offsets out of range (the log was truncated
// under the checkpoint) are an error, not a silent skip. A partition whose start offset is already
// at the end of its log (the usual restart on intact local state) is reported caught up at the
// next Poll without being fetched: one offsets request instead of a fetch round to the log end.
class KafkaChangelogReader final : public ChangelogReader {
 public:
  static StatusOr<std::unique_ptr<KafkaChangelogReader>> Create(const KafkaClientOptions& options,
                                                                std::string topic);
  ~KafkaChangelogReader() override;

  Status Start(int32_t partition, int64_t from_offset) override;
  Status Stop(int32_t partition) override;
  Status Poll(size_t max, std::vector<ChangelogRecord>& out, std::vector<int32_t>& caught_up) override;

  class Impl;

 private:
  explicit KafkaChangelogReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The number of partitions of `topic`, or NotFound.
StatusOr<int> TopicPartitionCount(const KafkaClientOptions& options, const std::string& topic);

// Makes sure the internal topic `topic` exists with `partitions` partitions (log compaction on
// for changelogs, off for the repartition topic): creates it through the Admin API when missing.
// A broker without the Admin API (the embedded one) or a topic with fewer partitions is an error
// that says what to create.
Status EnsureInternalTopic(const KafkaClientOptions& options, const std::string& topic, int partitions,
                           bool compact = true);

// An embedded Kafka cluster for demos and tests: librdkafka's mock cluster on 127.0.0.1 (random
// ports). It keeps only a few MiB per partition and has no Admin API: topics are created here.
class EmbeddedBroker {
 public:
  static StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int brokers);
  ~EmbeddedBroker();

  // "127.0.0.1:PORT,..."
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  // Partition p is led by broker 1 + p % brokers, so every broker leads some partition of a
  // topic with at least as many partitions as brokers (the mock cluster alone picks at random).
  Status CreateTopic(const std::string& topic, int partitions);

  // Fault injection for tests: takes broker `broker_id` (1-based) down / up.
  Status SetBrokerDown(int broker_id);
  Status SetBrokerUp(int broker_id);
  // Fault injection: the next requests of Kafka API `api_key` (protocol numbers: 0 Produce,
  // 1 Fetch, 8 OffsetCommit, 24 AddPartitionsToTxn, 26 EndTxn, ...) that broker `broker_id`
  // receives fail, in order, with the Kafka error codes `errors` (protocol numbers, e.g. 6
  // NOT_LEADER_OR_FOLLOWER).
  Status PushRequestErrors(int broker_id, int api_key, const std::vector<int>& errors);
  // How many of the errors pushed for `api_key` on `broker_id` are still to be returned.
  StatusOr<size_t> PendingRequestErrors(int broker_id, int api_key);
  // Fault injection: moves the leadership of `topic` partition `partition` to broker `broker_id`.
  Status SetPartitionLeader(const std::string& topic, int partition, int broker_id);
  // Fault injection: moves the coordinator of `key` to broker `broker_id`; `type` is "group"
  // (key: a group id) or "transaction" (key: a transactional.id).
  Status SetCoordinator(const std::string& type, const std::string& key, int broker_id);

  class Impl;

 private:
  EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap_servers);
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_servers_;
};

// Topics the embedded broker creates by default (DESIGN §5), including the changelog of the
// default group id.
std::vector<std::string> DefaultTopics();

// The internal topics of a group (DESIGN §5), each with one partition per input partition:
// "<group_id>-windows-changelog" (learner stage state), "<group_id>-cohort-repartition" (learner
// window summaries keyed by cohort, and watermark markers) and "<group_id>-cohorts-changelog"
// (cohort stage state).
std::string ChangelogTopic(std::string_view group_id);
std::string RepartitionTopic(std::string_view group_id);
std::string CohortChangelogTopic(std::string_view group_id);
std::vector<std::string> InternalTopics(std::string_view group_id);

}  // namespace learnflow
