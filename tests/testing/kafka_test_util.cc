#include "tests/testing/kafka_test_util.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace learnflow::testing {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

StatusOr<KafkaPtr> NewClient(rd_kafka_type_t type, const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  if (type == RD_KAFKA_CONSUMER) {
    rd_kafka_conf_set(conf, "group.id", "learnflow-test-reader", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, sizeof(errstr));
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return InternalError(errstr);
  }
  return KafkaPtr(rk);
}

// The leader of each partition of `topic`, by partition, from the broker's metadata.
StatusOr<std::vector<int32_t>> Leaders(rd_kafka_t* rk, const std::string& topic) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &metadata, 10000);
  rd_kafka_topic_destroy(rkt);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) return UnavailableError(rd_kafka_err2str(merr));
  std::vector<int32_t> leaders;
  if (metadata->topic_cnt == 1) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[0];
    leaders.resize(static_cast<size_t>(t.partition_cnt), -1);
    for (int i = 0; i < t.partition_cnt; ++i) {
      const rd_kafka_metadata_partition_t& p = t.partitions[i];
      if (p.id >= 0 && p.id < t.partition_cnt) leaders[static_cast<size_t>(p.id)] = p.leader;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  if (leaders.empty()) return NotFoundError("topic " + topic + " has no partitions");
  return leaders;
}

// The partition count of `topic`, from the broker's metadata.
StatusOr<int> PartitionCount(rd_kafka_t* rk, const std::string& topic) {
  LF_ASSIGN_OR_RETURN(const std::vector<int32_t> leaders, Leaders(rk, topic));
  return static_cast<int>(leaders.size());
}

}  // namespace

StatusOr<std::vector<int32_t>> PartitionLeaders(const std::string& bootstrap, const std::string& topic) {
  LF_ASSIGN_OR_RETURN(KafkaPtr rk, NewClient(RD_KAFKA_PRODUCER, bootstrap));
  return Leaders(rk.get(), topic);
}

Status ProduceRecords(const std::string& bootstrap, const std::string& topic,
                      const std::vector<ProducedRecord>& records) {
  LF_ASSIGN_OR_RETURN(KafkaPtr rk, NewClient(RD_KAFKA_PRODUCER, bootstrap));
  for (const ProducedRecord& r : records) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_PARTITION(r.partition < 0 ? RD_KAFKA_PARTITION_UA : r.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return InternalError(rd_kafka_err2str(err));
  }
  if (rd_kafka_flush(rk.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return UnavailableError("test producer: flush timed out");
  }
  return Status::Ok();
}

StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& bootstrap,
                                                const std::string& topic, size_t count,
                                                int timeout_ms) {
  LF_ASSIGN_OR_RETURN(KafkaPtr rk, NewClient(RD_KAFKA_CONSUMER, bootstrap));
  LF_ASSIGN_OR_RETURN(const int partitions, PartitionCount(rk.get(), topic));

  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);

  std::vector<ConsumedRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int idle_polls_after_count = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) {
      // Enough records and nothing more arriving: the topic has been read to its end.
      if (out.size() >= count && ++idle_polls_after_count >= 3) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ConsumedRecord& r = out.emplace_back();
      r.partition = m->partition;
      r.offset = m->offset;
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
      r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  if (out.size() < count) {
    return UnavailableError("read " + std::to_string(out.size()) + " of " + std::to_string(count) +
                            " records from " + topic + " before the timeout");
  }
  std::sort(out.begin(), out.end(), [](const ConsumedRecord& a, const ConsumedRecord& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

StatusOr<int64_t> EndOffsetSum(const std::string& bootstrap, const std::string& topic) {
  LF_ASSIGN_OR_RETURN(KafkaPtr rk, NewClient(RD_KAFKA_CONSUMER, bootstrap));
  LF_ASSIGN_OR_RETURN(const int partitions, PartitionCount(rk.get(), topic));
  int64_t sum = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &low, &high, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return UnavailableError(rd_kafka_err2str(err));
    sum += high;
  }
  return sum;
}

}  // namespace learnflow::testing
