#include "connectors/kafka_client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace learnflow {
namespace {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// How long a changelog restore waits for a partition's offsets before it reads the partition
// to its end instead.
constexpr int kWatermarkQueryTimeoutMs = 500;

Status SetProperty(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    return InvalidArgumentError("kafka.properties." + name + ": " + errstr);
  }
  return Status::Ok();
}

// Our defaults first, then the user's properties verbatim (they win).
StatusOr<ConfPtr> MakeConf(const KafkaClientOptions& options,
                           const std::map<std::string, std::string>& defaults) {
  ConfPtr conf(rd_kafka_conf_new());
  if (options.bootstrap_servers.empty()) {
    return InvalidArgumentError("kafka.bootstrap_servers: must be set");
  }
  LF_RETURN_IF_ERROR(SetProperty(conf.get(), "bootstrap.servers", options.bootstrap_servers));
  for (const auto& [name, value] : defaults) LF_RETURN_IF_ERROR(SetProperty(conf.get(), name, value));
  for (const auto& [name, value] : options.properties) {
    LF_RETURN_IF_ERROR(SetProperty(conf.get(), name, value));
  }
  return conf;
}

Status KafkaError(std::string_view what, rd_kafka_resp_err_t err) {
  std::string message = std::string(what) + ": " + rd_kafka_err2str(err);
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

// librdkafka reports broker trouble here; it retries by itself, we only log (rate-limited by
// librdkafka's own de-duplication of repeated errors).
void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    spdlog::error("kafka {}: fatal: {}", rd_kafka_name(rk), fatal);
    return;
  }
  spdlog::warn("kafka {}: {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code), reason);
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (level <= 3) {
    spdlog::error("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
  } else if (level <= 5) {
    spdlog::info("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
  } else {
    spdlog::debug("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
  }
}

// Stops (pause) or restarts fetching of `partitions` of `topic`.
Status SetPaused(rd_kafka_t* rk, const std::string& topic, std::span<const int32_t> partitions,
                 bool pause) {
  if (partitions.empty()) return Status::Ok();
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const int32_t p : partitions) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  const rd_kafka_resp_err_t err =
      pause ? rd_kafka_pause_partitions(rk, list.get()) : rd_kafka_resume_partitions(rk, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError((pause ? "pause " : "resume ") + topic, err);
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KafkaSource

class KafkaSource::Impl {
 public:
  ~Impl() {
    ReleaseBatch();
    // Closing revokes the assignment; the listener may be gone already (its owner failed and is
    // unwinding), so the revocation only unassigns.
    listener = nullptr;
    if (rk != nullptr) {
      if (!closed) rd_kafka_consumer_close(rk);
      if (queue != nullptr) rd_kafka_queue_destroy(queue);
      // librdkafka before 2.3.0 aborts when a cooperative-sticky consumer that never received an
      // assignment is destroyed (librdkafka issue 4312). Such a consumer holds no partitions and
      // has left the group: leave its handle to process exit instead of crashing on it.
      if (ever_assigned || rd_kafka_version() >= 0x020300ff) {
        rd_kafka_destroy(rk);
      } else {
        spdlog::debug("kafka consumer never assigned: handle released at exit (librdkafka < 2.3)");
      }
    }
  }

  void ReleaseBatch() {
    for (rd_kafka_message_t* m : held) rd_kafka_message_destroy(m);
    held.clear();
  }

  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    // NULL once the consumer has left its group (the revocation that rd_kafka_consumer_close
    // triggers): then there is no protocol left to follow.
    const char* protocol = rd_kafka_rebalance_protocol(rk);
    const bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
    if (listener == nullptr) {
      if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_error_t* error = cooperative ? rd_kafka_incremental_unassign(rk, partitions) : nullptr;
        if (!cooperative) rd_kafka_assign(rk, nullptr);
        if (error != nullptr) rd_kafka_error_destroy(error);  // closing: nothing left to tell
      }
      return;
    }
    scratch_partitions.clear();
    for (int i = 0; i < partitions->cnt; ++i) scratch_partitions.push_back(partitions->elems[i].partition);
    rd_kafka_error_t* error = nullptr;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      ever_assigned = true;
      Status s = listener->OnAssigned(scratch_partitions, scratch_starts);
      if (!s.ok()) {
        RecordError(std::move(s));
        return;  // not assigning: the engine stops and a restart retries
      }
      for (int i = 0; i < partitions->cnt; ++i) {
        const int64_t offset = scratch_starts[static_cast<size_t>(i)].offset;
        partitions->elems[i].offset = offset == kOffsetFromGroup ? RD_KAFKA_OFFSET_INVALID : offset;
      }
      if (cooperative) {
        error = rd_kafka_incremental_assign(rk, partitions);
      } else {
        assign_err = rd_kafka_assign(rk, partitions);
      }
      // Partitions whose state is being restored start paused, before any fetch is served.
      scratch_partitions.clear();
      for (int i = 0; i < partitions->cnt; ++i) {
        if (scratch_starts[static_cast<size_t>(i)].paused) {
          scratch_partitions.push_back(partitions->elems[i].partition);
        }
      }
      if (error == nullptr && assign_err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Status paused = SetPaused(rk, topic, scratch_partitions, true);
        if (!paused.ok()) RecordError(std::move(paused));
      }
    } else {
      Status s = listener->OnRevoked(scratch_partitions, rd_kafka_assignment_lost(rk) != 0);
      if (!s.ok()) RecordError(std::move(s));
      revoked.insert(revoked.end(), scratch_partitions.begin(), scratch_partitions.end());
      if (cooperative) {
        error = rd_kafka_incremental_unassign(rk, partitions);
      } else {
        assign_err = rd_kafka_assign(rk, nullptr);
      }
    }
    if (error != nullptr) {
      RecordError(InternalError(std::string("partition assignment failed: ") + rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    } else if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      RecordError(KafkaError("partition assignment failed", assign_err));
    }
  }

  // Appends `m` to `out` (and holds it until the next batch), or logs and frees an error event.
  Status Accept(rd_kafka_message_t* m, std::vector<InputMessage>& out) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const rd_kafka_resp_err_t err = m->err;
      std::string what = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      char fatal[512];
      if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return InternalError(std::string("kafka consumer fatal error: ") + fatal);
      }
      spdlog::warn("kafka consumer: {}: {}", rd_kafka_err2name(err), what);
      return Status::Ok();
    }
    held.push_back(m);
    brokers_down = false;
    InputMessage& message = out.emplace_back();
    message.partition = m->partition;
    message.offset = m->offset;
    message.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
    message.payload = std::string_view(static_cast<const char*>(m->payload), m->len);
    rd_kafka_timestamp_type_t ts_type;
    message.timestamp_ms = rd_kafka_message_timestamp(m, &ts_type);
    return Status::Ok();
  }

  void RecordError(Status s) {
    if (callback_error.ok()) callback_error = std::move(s);
  }

  rd_kafka_t* rk = nullptr;
  std::string topic;
  AssignmentListener* listener = nullptr;
  rd_kafka_queue_t* queue = nullptr;     // the consumer queue (rd_kafka_poll_set_consumer)
  std::vector<rd_kafka_message_t*> held;  // messages of the current batch
  std::vector<rd_kafka_message_t*> fetched;  // scratch of one rd_kafka_consume_batch_queue
  std::vector<int32_t> scratch_partitions;
  std::vector<StartPosition> scratch_starts;
  std::vector<int32_t> revoked;  // revoked during the current Poll
  Status callback_error;
  std::function<void(std::string_view)> on_statistics;
  bool closed = false;
  bool ever_assigned = false;  // see ~Impl
  std::atomic<bool> brokers_down{false};
};

namespace {
void RebalanceCallback(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* impl = static_cast<KafkaSource::Impl*>(opaque);
  impl->brokers_down = false;
  impl->Rebalance(err, partitions);
}

void ConsumerErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) static_cast<KafkaSource::Impl*>(opaque)->brokers_down = true;
  ErrorCallback(rk, err, reason, opaque);
}

int StatisticsCallback(rd_kafka_t* /*rk*/, char* json, size_t json_len, void* opaque) {
  auto* impl = static_cast<KafkaSource::Impl*>(opaque);
  if (impl->on_statistics) impl->on_statistics(std::string_view(json, json_len));
  return 0;  // librdkafka frees `json`
}

void CommitCallback(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* /*offsets*/, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<KafkaSource::Impl*>(opaque)->brokers_down = false;
}
}  // namespace

KafkaSource::KafkaSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaSource::~KafkaSource() = default;

StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(const KafkaClientOptions& options,
                                                           std::string topic) {
  if (options.group_id.empty()) return InvalidArgumentError("kafka.group_id: must be set");
  std::map<std::string, std::string> defaults = {
      {"group.id", options.group_id},
      {"client.id", "learnflow-consumer"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "false"},
      // As for the restore consumer (below): at librdkafka's default of 100,000, an engine
      // slower than its brokers waits up to a second after every 100,000 records queued. The
      // queue stays bounded by queued.max.messages.kbytes (64 MiB by default).
      {"queued.min.messages", "1000000"},
  };
  if (options.on_statistics) defaults["statistics.interval.ms"] = "5000";
  LF_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, defaults));
  auto impl = std::make_unique<Impl>();
  impl->topic = std::move(topic);
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  if (options.on_statistics) {
    impl->on_statistics = options.on_statistics;
    rd_kafka_conf_set_stats_cb(conf.get(), StatisticsCallback);
  }
  rd_kafka_conf_set_rebalance_cb(conf.get(), RebalanceCallback);
  rd_kafka_conf_set_error_cb(conf.get(), ConsumerErrorCallback);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), CommitCallback);
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) return InvalidArgumentError(std::string("kafka consumer: ") + errstr);
  conf.release();  // owned by rk now
  rd_kafka_poll_set_consumer(impl->rk);
  impl->queue = rd_kafka_queue_get_consumer(impl->rk);
  return std::unique_ptr<KafkaSource>(new KafkaSource(std::move(impl)));
}

Status KafkaSource::Subscribe(AssignmentListener& listener) {
  impl_->listener = &listener;
  PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), impl_->topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(impl_->rk, topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("subscribe to " + impl_->topic, err);
  return Status::Ok();
}

Status KafkaSource::Poll(int timeout_ms, size_t max, std::vector<InputMessage>& out) {
  out.clear();
  impl_->ReleaseBatch();
  impl_->revoked.clear();
  // Whatever is ready is taken in batches: one queue lock and one poll-interval reset per batch
  // instead of per message. rd_kafka_consume_batch_queue waits for a *full* batch, so only
  // rd_kafka_consumer_poll waits (for the first message) when nothing is ready.
  constexpr size_t kFetchBatch = 256;
  bool waited = timeout_ms == 0;
  while (out.size() < max) {
    std::vector<rd_kafka_message_t*>& fetched = impl_->fetched;
    fetched.resize(std::min(max - out.size(), kFetchBatch));
    const ssize_t got = rd_kafka_consume_batch_queue(impl_->queue, 0, fetched.data(), fetched.size());
    if (got < 0) return KafkaError("consume", rd_kafka_last_error());
    fetched.resize(static_cast<size_t>(got));
    if (got == 0 && !waited) {
      waited = true;
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, timeout_ms)) fetched.push_back(m);
    }
    if (!impl_->callback_error.ok()) {
      for (rd_kafka_message_t* m : fetched) rd_kafka_message_destroy(m);
      return std::exchange(impl_->callback_error, Status());
    }
    if (fetched.empty()) break;
    waited = true;
    for (size_t i = 0; i < fetched.size(); ++i) {
      Status accepted = impl_->Accept(fetched[i], out);
      if (!accepted.ok()) {
        // A fatal consumer error: the rest of the batch is freed, not leaked.
        for (size_t rest = i + 1; rest < fetched.size(); ++rest) {
          rd_kafka_message_destroy(fetched[rest]);
        }
        return accepted;
      }
    }
  }
  if (!impl_->revoked.empty()) {
    // Messages fetched before a revocation belong to the partition's next owner now; it resumes
    // from the checkpoint committed in OnRevoked, which does not include them.
    std::erase_if(out, [&](const InputMessage& message) {
      return std::find(impl_->revoked.begin(), impl_->revoked.end(), message.partition) !=
             impl_->revoked.end();
    });
  }
  return Status::Ok();
}

namespace {
// `offsets` of `topic` as a librdkafka partition list (offset = next offset to consume).
PartitionListPtr OffsetList(const std::string& topic, std::span<const PartitionOffset> offsets) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const PartitionOffset& po : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), po.partition)->offset = po.next_offset;
  }
  return list;
}
}  // namespace

Status KafkaSource::Commit(std::span<const PartitionOffset> offsets) {
  PartitionListPtr list = OffsetList(impl_->topic, offsets);
  const rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk, list.get(), /*async=*/1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("offset commit", err);
  return Status::Ok();
}

Status KafkaSource::StorePositions(std::span<const PartitionOffset> offsets) {
  PartitionListPtr list = OffsetList(impl_->topic, offsets);
  const rd_kafka_resp_err_t err = rd_kafka_offsets_store(impl_->rk, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("offset store", err);
  return Status::Ok();
}

Status KafkaSource::Pause(std::span<const int32_t> partitions) {
  return SetPaused(impl_->rk, impl_->topic, partitions, true);
}

Status KafkaSource::Resume(std::span<const int32_t> partitions) {
  return SetPaused(impl_->rk, impl_->topic, partitions, false);
}

bool KafkaSource::BrokersReachable() const { return !impl_->brokers_down.load(); }

Status KafkaSource::Close() {
  if (impl_->closed) return Status::Ok();
  impl_->ReleaseBatch();
  impl_->closed = true;
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(impl_->rk);
  Status callback = std::exchange(impl_->callback_error, Status());
  if (!callback.ok()) return callback;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("consumer close", err);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// KafkaSink

class KafkaSink::Impl {
 public:
  struct Topic {
    rd_kafka_topic_t* handle = nullptr;
    uint64_t delivered = 0;
    std::vector<int64_t> last_offset;  // by partition, -1: none
  };

  ~Impl() {
    if (rk == nullptr) return;
    const rd_kafka_resp_err_t err = rd_kafka_flush(rk, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka producer closed with {} records undelivered", rd_kafka_outq_len(rk));
    }
    for (auto& [name, topic] : topics) rd_kafka_topic_destroy(topic.handle);
    rd_kafka_destroy(rk);
  }

  Topic* GetTopic(std::string_view name) {
    auto it = topics.find(name);
    if (it != topics.end()) return &it->second;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(rk, std::string(name).c_str(), nullptr);
    if (handle == nullptr) return nullptr;
    return &topics.emplace(std::string(name), Topic{handle, 0, {}}).first->second;
  }

  void Delivered(const rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (delivery_error.ok()) {
        delivery_error = KafkaError(std::string("delivery to ") + rd_kafka_topic_name(m->rkt) +
                                        " failed",
                                    m->err);
      }
      return;
    }
    Topic* topic = static_cast<Topic*>(m->_private);
    ++topic->delivered;
    const auto p = static_cast<size_t>(m->partition);
    if (p >= topic->last_offset.size()) topic->last_offset.resize(p + 1, -1);
    topic->last_offset[p] = std::max(topic->last_offset[p], m->offset);
  }

  // Starts a transaction if the producer is transactional and none is open.
  Status EnsureTransaction() {
    if (source == nullptr || in_transaction) return Status::Ok();
    rd_kafka_error_t* error = rd_kafka_begin_transaction(rk);
    if (error != nullptr) return TakeError("begin transaction", error);
    in_transaction = true;
    return Status::Ok();
  }

  static Status TakeError(std::string_view what, rd_kafka_error_t* error) {
    const bool abort = rd_kafka_error_txn_requires_abort(error);
    const bool retriable = rd_kafka_error_is_retriable(error);
    std::string message = std::string(what) + ": " + rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    if (abort) return AbortedError(std::move(message));
    if (retriable) return UnavailableError(std::move(message));
    return InternalError(std::move(message));
  }

  rd_kafka_t* rk = nullptr;
  std::map<std::string, Topic, std::less<>> topics;
  Status delivery_error;
  // Exactly-once: the consumer whose positions go into each transaction; null otherwise.
  const KafkaSource::Impl* source = nullptr;
  std::string input_topic;
  bool in_transaction = false;
  bool offsets_sent = false;  // the open transaction already carries the input offsets
};

namespace {
void DeliveryCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
  static_cast<KafkaSink::Impl*>(opaque)->Delivered(m);
}
}  // namespace

KafkaSink::KafkaSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaSink::~KafkaSink() = default;

StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(const KafkaClientOptions& options) {
  const std::map<std::string, std::string> defaults = {
      {"client.id", "learnflow-producer"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"compression.type", "lz4"},
      {"partitioner", "murmur2_random"},
      // Above the engine's backpressure bound (100,000 unacknowledged records), so the engine
      // pauses consumption before a send ever finds the local queue full.
      {"queue.buffering.max.messages", "500000"},
  };
  // Consumer-only properties given in kafka.properties would make the producer warn; they are
  // harmless, librdkafka ignores properties of the other client type.
  LF_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, defaults));
  auto impl = std::make_unique<Impl>();
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), DeliveryCallback);
  rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) return InvalidArgumentError(std::string("kafka producer: ") + errstr);
  conf.release();
  return std::unique_ptr<KafkaSink>(new KafkaSink(std::move(impl)));
}

Status KafkaSink::Send(std::string_view topic_name, std::string_view key, std::string_view value,
                       std::span<const Header> headers) {
  LF_RETURN_IF_ERROR(impl_->EnsureTransaction());
  Impl::Topic* topic = impl_->GetTopic(topic_name);
  if (topic == nullptr) return InvalidArgumentError("invalid topic name " + std::string(topic_name));
  for (int attempt = 0;; ++attempt) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const Header& h : headers) {
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
      }
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_RKT(topic->handle), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(topic), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 6000) {
      return KafkaError("produce to " + std::string(topic_name), err);
    }
    rd_kafka_poll(impl_->rk, 10);  // local queue full: wait for deliveries to drain it
  }
}

Status KafkaSink::SendTo(std::string_view topic_name, int32_t partition, std::string_view key,
                        const std::string_view* value) {
  LF_RETURN_IF_ERROR(impl_->EnsureTransaction());
  Impl::Topic* topic = impl_->GetTopic(topic_name);
  if (topic == nullptr) return InvalidArgumentError("invalid topic name " + std::string(topic_name));
  // A null payload is a tombstone.
  char* payload = value == nullptr ? nullptr : const_cast<char*>(value->data());
  const size_t payload_size = value == nullptr ? 0 : value->size();
  for (int attempt = 0;; ++attempt) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        impl_->rk, RD_KAFKA_V_RKT(topic->handle), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(payload, payload_size), RD_KAFKA_V_OPAQUE(topic), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 6000) {
      return KafkaError("produce to " + std::string(topic_name) + "-" + std::to_string(partition), err);
    }
    rd_kafka_poll(impl_->rk, 10);
  }
}

int64_t KafkaSink::LastDeliveredOffset(std::string_view topic, int32_t partition) const {
  auto it = impl_->topics.find(topic);
  if (it == impl_->topics.end()) return -1;
  const auto p = static_cast<size_t>(partition);
  return p < it->second.last_offset.size() ? it->second.last_offset[p] : -1;
}

void KafkaSink::Poll() { rd_kafka_poll(impl_->rk, 0); }

bool KafkaSink::transactional() const { return impl_->source != nullptr; }

StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::CreateTransactional(const KafkaClientOptions& options,
                                                                    const std::string& transactional_id,
                                                                    const KafkaSource& source,
                                                                    std::string input_topic,
                                                                    int timeout_ms) {
  KafkaClientOptions with_id = options;
  with_id.properties.emplace("transactional.id", transactional_id);  // a user-set id wins
  // A transaction left open by a crashed instance with another id blocks read_committed readers
  // until it times out: keep that short (Kafka Streams uses 10 s for exactly-once too).
  with_id.properties.emplace("transaction.timeout.ms", "10000");
  LF_ASSIGN_OR_RETURN(std::unique_ptr<KafkaSink> sink, Create(with_id));
  rd_kafka_error_t* error = rd_kafka_init_transactions(sink->impl_->rk, timeout_ms);
  if (error != nullptr) return Impl::TakeError("init transactions", error);
  sink->impl_->source = source.impl_.get();
  sink->impl_->input_topic = std::move(input_topic);
  return sink;
}

Status KafkaSink::CommitTransaction(std::span<const PartitionOffset> input_offsets, int timeout_ms) {
  if (impl_->source == nullptr) return InternalError("CommitTransaction on a non-transactional sink");
  if (!impl_->in_transaction && input_offsets.empty()) return Status::Ok();
  LF_RETURN_IF_ERROR(impl_->EnsureTransaction());
  rd_kafka_error_t* error = nullptr;
  // After a retriable failure the caller calls again: offsets already added to this transaction
  // are not sent twice, and the commit resumes where it stopped.
  if (!input_offsets.empty() && !impl_->offsets_sent) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(input_offsets.size())));
    for (const PartitionOffset& po : input_offsets) {
      rd_kafka_topic_partition_list_add(list.get(), impl_->input_topic.c_str(), po.partition)->offset =
          po.next_offset;
    }
    rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(impl_->source->rk);
    error = rd_kafka_send_offsets_to_transaction(impl_->rk, list.get(), group, timeout_ms);
    rd_kafka_consumer_group_metadata_destroy(group);
    impl_->offsets_sent = error == nullptr;
  }
  if (error == nullptr) {
    error = rd_kafka_commit_transaction(impl_->rk, timeout_ms);
    if (error == nullptr) {
      impl_->in_transaction = false;
      impl_->offsets_sent = false;
      if (!impl_->delivery_error.ok()) return std::exchange(impl_->delivery_error, Status());
      return Status::Ok();
    }
  }
  Status status = Impl::TakeError("transaction commit", error);
  if (status.code() == StatusCode::kAborted) {
    rd_kafka_error_t* abort_error = rd_kafka_abort_transaction(impl_->rk, timeout_ms);
    if (abort_error != nullptr) {
      spdlog::error("transaction abort failed: {}", rd_kafka_error_string(abort_error));
      rd_kafka_error_destroy(abort_error);
    }
    impl_->in_transaction = false;
    impl_->offsets_sent = false;
  }
  return status;
}

Status KafkaSink::Flush(int timeout_ms) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(impl_->rk, timeout_ms);
  if (!impl_->delivery_error.ok()) return std::exchange(impl_->delivery_error, Status());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return UnavailableError("flush: " + std::to_string(rd_kafka_outq_len(impl_->rk)) +
                            " records still unacknowledged after " + std::to_string(timeout_ms) +
                            " ms");
  }
  return Status::Ok();
}

size_t KafkaSink::InFlight() const { return static_cast<size_t>(rd_kafka_outq_len(impl_->rk)); }

uint64_t KafkaSink::Delivered(std::string_view topic) const {
  auto it = impl_->topics.find(topic);
  return it == impl_->topics.end() ? 0 : it->second.delivered;
}

// ---------------------------------------------------------------------------------------------
// KafkaChangelogReader

class KafkaChangelogReader::Impl {
 public:
  ~Impl() {
    ReleaseBatch();
    if (rk != nullptr) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
  void ReleaseBatch() {
    for (rd_kafka_message_t* m : held) rd_kafka_message_destroy(m);
    held.clear();
  }
  rd_kafka_t* rk = nullptr;
  std::string topic;
  std::vector<rd_kafka_message_t*> held;
  std::vector<int32_t> active;  // partitions being read
  std::vector<int32_t> at_end;  // started at their log's end: caught up at the next Poll
};

KafkaChangelogReader::KafkaChangelogReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaChangelogReader::~KafkaChangelogReader() = default;

StatusOr<std::unique_ptr<KafkaChangelogReader>> KafkaChangelogReader::Create(
    const KafkaClientOptions& options, std::string topic) {
  const std::map<std::string, std::string> defaults = {
      {"group.id", options.group_id + "-restore"},  // required by the API; never joined
      {"client.id", "learnflow-restore"},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "error"},
      {"isolation.level", "read_committed"},
      // A restore reads to the log's end, and the end is found by a fetch that comes back
      // empty: the broker must not hold that fetch for the default 500 ms.
      {"fetch.wait.max.ms", "10"},
      // librdkafka 2.0 stops fetching a partition whose queue holds queued.min.messages and
      // looks again only about a second later, however soon the queue drains. The engine
      // restores slower than the broker serves, so at the default (100,000) every 100,000
      // records cost that second. The queue stays bounded by queued.max.messages.kbytes.
      {"queued.min.messages", "1000000"},
  };
  LF_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, defaults));
  rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  auto impl = std::make_unique<Impl>();
  impl->topic = std::move(topic);
  char errstr[512];
  impl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) return InvalidArgumentError(std::string("kafka restore consumer: ") + errstr);
  conf.release();
  rd_kafka_poll_set_consumer(impl->rk);
  return std::unique_ptr<KafkaChangelogReader>(new KafkaChangelogReader(std::move(impl)));
}

Status KafkaChangelogReader::Start(int32_t partition, int64_t from_offset) {
  // The high watermark bounds the last stable offset, so a start at or past it has nothing to
  // read in either isolation level. Any failure here just takes the fetching path.
  int64_t low = 0;
  int64_t high = 0;
  if (rd_kafka_query_watermark_offsets(impl_->rk, impl_->topic.c_str(), partition, &low, &high,
                                       kWatermarkQueryTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      from_offset >= high) {
    impl_->at_end.push_back(partition);
    return Status::Ok();
  }
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), impl_->topic.c_str(), partition)->offset = from_offset;
  rd_kafka_error_t* error = rd_kafka_incremental_assign(impl_->rk, list.get());
  if (error != nullptr) {
    Status s = InternalError("restore " + impl_->topic + "-" + std::to_string(partition) + ": " +
                             rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return s;
  }
  impl_->active.push_back(partition);
  return Status::Ok();
}

Status KafkaChangelogReader::Stop(int32_t partition) {
  std::erase(impl_->at_end, partition);
  auto it = std::find(impl_->active.begin(), impl_->active.end(), partition);
  if (it == impl_->active.end()) return Status::Ok();
  impl_->active.erase(it);
  PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), impl_->topic.c_str(), partition);
  rd_kafka_error_t* error = rd_kafka_incremental_unassign(impl_->rk, list.get());
  if (error != nullptr) {
    Status s = InternalError(std::string("stop restore: ") + rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return s;
  }
  return Status::Ok();
}

Status KafkaChangelogReader::Poll(size_t max, std::vector<ChangelogRecord>& out,
                                  std::vector<int32_t>& caught_up) {
  out.clear();
  caught_up.clear();
  impl_->ReleaseBatch();
  caught_up.swap(impl_->at_end);
  int wait = 10;
  while (out.size() < max && !impl_->active.empty()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, wait);
    if (m == nullptr) break;
    wait = 0;
    const int32_t partition = m->partition;
    const bool ours = std::find(impl_->active.begin(), impl_->active.end(), partition) != impl_->active.end();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(m);
      if (ours) {
        caught_up.push_back(partition);
        LF_RETURN_IF_ERROR(Stop(partition));
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Status s = KafkaError("restoring " + impl_->topic + "-" + std::to_string(partition) + ": " +
                                rd_kafka_message_errstr(m),
                            m->err);
      rd_kafka_message_destroy(m);
      if (s.code() == StatusCode::kUnavailable) continue;  // librdkafka retries by itself
      return s;
    }
    if (!ours) {
      rd_kafka_message_destroy(m);
      continue;
    }
    impl_->held.push_back(m);
    ChangelogRecord& r = out.emplace_back();
    r.partition = partition;
    r.offset = m->offset;
    r.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
    r.tombstone = m->payload == nullptr;
    r.value = std::string_view(static_cast<const char*>(m->payload), m->len);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Topic administration

StatusOr<int> TopicPartitionCount(const KafkaClientOptions& options, const std::string& topic) {
  LF_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, {{"allow.auto.create.topics", "false"}}));
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) return InvalidArgumentError(std::string("kafka: ") + errstr);
  conf.release();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &metadata, 30000);
  rd_kafka_topic_destroy(rkt);
  StatusOr<int> result = NotFoundError("topic " + topic + " does not exist");
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = KafkaError("metadata for " + topic + " from " + options.bootstrap_servers, err);
  } else if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
             metadata->topics[0].partition_cnt > 0) {
    result = metadata->topics[0].partition_cnt;
  }
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(rk);
  return result;
}

Status EnsureInternalTopic(const KafkaClientOptions& options, const std::string& topic, int partitions,
                           bool compact) {
  StatusOr<int> existing = TopicPartitionCount(options, topic);
  if (existing.ok()) {
    if (*existing < partitions) {
      return InvalidArgumentError("internal topic " + topic + " has " + std::to_string(*existing) +
                                  " partitions; it needs " + std::to_string(partitions) +
                                  " (one per input partition)");
    }
    return Status::Ok();
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  LF_ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(options, {}));
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) return InvalidArgumentError(std::string("kafka: ") + errstr);
  conf.release();
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, errstr, sizeof(errstr));
  rd_kafka_NewTopic_set_config(new_topic, "cleanup.policy", compact ? "compact" : "delete");
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &new_topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  Status status = UnavailableError("creating topic " + topic + " timed out");
  if (event != nullptr) {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        result != nullptr ? rd_kafka_CreateTopics_result_topics(result, &count) : nullptr;
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = InvalidArgumentError(std::string(rd_kafka_event_error_string(event)));
    } else if (count == 1 && rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
               rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      status = InvalidArgumentError(rd_kafka_topic_result_error_string(results[0]));
    } else {
      status = Status::Ok();
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_destroy(rk);
  if (!status.ok()) {
    return InvalidArgumentError("cannot create internal topic " + topic + " (" + status.message() +
                                "); create it with " + std::to_string(partitions) +
                                " partitions and cleanup.policy=" + (compact ? "compact" : "delete"));
  }
  spdlog::info("created internal topic {} with {} partitions", topic, partitions);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// EmbeddedBroker

class EmbeddedBroker::Impl {
 public:
  ~Impl() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
  rd_kafka_t* rk = nullptr;  // the mock cluster runs on this handle's threads
  rd_kafka_mock_cluster_t* cluster = nullptr;
  int brokers = 1;
};

EmbeddedBroker::EmbeddedBroker(std::unique_ptr<Impl> impl, std::string bootstrap_servers)
    : impl_(std::move(impl)), bootstrap_servers_(std::move(bootstrap_servers)) {}
EmbeddedBroker::~EmbeddedBroker() = default;

StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers) {
  if (brokers < 1 || brokers > 16) return InvalidArgumentError("--brokers: must be 1..16");
  auto impl = std::make_unique<Impl>();
  impl->brokers = brokers;
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
  char errstr[512];
  // This handle only hosts the mock cluster; it never connects anywhere, so its "no
  // bootstrap.servers" configuration warning is noise.
  rd_kafka_conf_set(conf.get(), "log_level", "3", errstr, sizeof(errstr));
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (impl->rk == nullptr) return InternalError(std::string("embedded broker: ") + errstr);
  conf.release();
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) return InternalError("embedded broker: cannot start mock cluster");
  std::string bootstrap = rd_kafka_mock_cluster_bootstraps(impl->cluster);
  return std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker(std::move(impl), std::move(bootstrap)));
}

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  if (partitions < 1) return InvalidArgumentError("--partitions: must be >= 1");
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      impl_->cluster, topic.c_str(), partitions, std::min(3, impl_->brokers));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("create topic " + topic, err);
  for (int p = 0; p < partitions && impl_->brokers > 1; ++p) {
    LF_RETURN_IF_ERROR(SetPartitionLeader(topic, p, 1 + p % impl_->brokers));
  }
  return Status::Ok();
}

Status EmbeddedBroker::SetBrokerDown(int broker_id) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("broker down", err);
  return Status::Ok();
}

Status EmbeddedBroker::SetBrokerUp(int broker_id) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("broker up", err);
  return Status::Ok();
}

Status EmbeddedBroker::PushRequestErrors(int broker_id, int api_key, const std::vector<int>& errors) {
  for (int e : errors) {
    const rd_kafka_resp_err_t err = rd_kafka_mock_broker_push_request_error_rtts(
        impl_->cluster, broker_id, static_cast<int16_t>(api_key), 1, static_cast<rd_kafka_resp_err_t>(e), 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("push request error", err);
  }
  return Status::Ok();
}

StatusOr<size_t> EmbeddedBroker::PendingRequestErrors(int broker_id, int api_key) {
  size_t count = 0;
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_broker_error_stack_cnt(impl_->cluster, broker_id, static_cast<int16_t>(api_key), &count);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("request error count", err);
  return count;
}

Status EmbeddedBroker::SetPartitionLeader(const std::string& topic, int partition, int broker_id) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_partition_set_leader(impl_->cluster, topic.c_str(), partition, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("set leader of " + topic, err);
  return Status::Ok();
}

Status EmbeddedBroker::SetCoordinator(const std::string& type, const std::string& key, int broker_id) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_coordinator_set(impl_->cluster, type.c_str(), key.c_str(), broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return KafkaError("set " + type + " coordinator of " + key, err);
  return Status::Ok();
}

std::vector<std::string> DefaultTopics() {
  std::vector<std::string> topics = {"learning.events", "learnflow.learner-signals",
                                     "learnflow.cohort-signals", "learnflow.alerts",
                                     "learnflow.dead-letter"};
  for (std::string& topic : InternalTopics("learnflow")) topics.push_back(std::move(topic));
  return topics;
}

std::string ChangelogTopic(std::string_view group_id) {
  return std::string(group_id) + "-windows-changelog";
}

std::string RepartitionTopic(std::string_view group_id) {
  return std::string(group_id) + "-cohort-repartition";
}

std::string CohortChangelogTopic(std::string_view group_id) {
  return std::string(group_id) + "-cohorts-changelog";
}

std::vector<std::string> InternalTopics(std::string_view group_id) {
  return {ChangelogTopic(group_id), RepartitionTopic(group_id), CohortChangelogTopic(group_id)};
}

}  // namespace learnflow
