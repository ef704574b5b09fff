// Test helpers that talk to a Kafka-protocol broker directly (librdkafka), independent of the
// engine's own connectors: produce to an exact partition, read a whole topic back.
// Test-only; each call creates and destroys its own client.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace learnflow::testing {

struct ConsumedRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

struct ProducedRecord {
  int32_t partition = -1;  // -1: by key
  std::string key;
  std::string value;
};

// Produces `records` in order and waits for every delivery.
Status ProduceRecords(const std::string& bootstrap, const std::string& topic,
                      const std::vector<ProducedRecord>& records);

// Reads `topic` from the beginning of every partition until `count` records have arrived, the
// topic has been read to its end with at least `count` records, or `timeout_ms` passes (an
// error then, with what was read so far in the message). Returns records in partition, offset
// order. Also returns records beyond `count` that were already at the end of the topic, so a
// test sees unexpected extras.
StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& bootstrap,
                                                const std::string& topic, size_t count,
                                                int timeout_ms = 60000);

// The sum of the end offsets (high watermarks) of `topic`'s partitions: records ever written
// there, plus any transaction markers.
StatusOr<int64_t> EndOffsetSum(const std::string& bootstrap, const std::string& topic);

// The leader's broker id of each partition of `topic`, by partition, from the broker's metadata.
StatusOr<std::vector<int32_t>> PartitionLeaders(const std::string& bootstrap, const std::string& topic);

}  // namespace learnflow::testing
