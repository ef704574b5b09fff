// The engine's view of the outside world: where messages come from (Source), where records go
// (Sink); core/decoded.h says how messages become canonical events (MessageDecoder). `connectors/` implements them
// with librdkafka and the event decoders; tests may implement them to inject faults.
//
// Threading: every method is called from the engine's processing thread only, including the
// AssignmentListener callbacks, which a Source invokes from inside Poll().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/decoded.h"
#include "core/status.h"
#include "core/time.h"

namespace learnflow {

// One consumed message. Views stay valid until the next Source::Poll().
struct InputMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string_view key;
  std::string_view payload;
  TimestampMs timestamp_ms = 0;  // broker/producer timestamp (not event time)
};

struct PartitionOffset {
  int32_t partition = 0;
  int64_t next_offset = 0;  // the offset of the next message to read
};

// Start offset meaning "no local checkpoint: use the group's committed offset, else the reset
// policy".
inline constexpr int64_t kOffsetFromGroup = -1;

// Where fetching of a newly assigned partition starts, and whether it starts paused (its state
// is being restored first).
struct StartPosition {
  int64_t offset = kOffsetFromGroup;
  bool paused = false;
};

// Receives partition assignment changes (cooperative: only the partitions that change).
class AssignmentListener {
 public:
  virtual ~AssignmentListener() = default;
  // Called before fetching starts for `partitions`; fills `starts` (same order) with where to
  // start each one.
  virtual Status OnAssigned(std::span<const int32_t> partitions,
                            std::vector<StartPosition>& starts) = 0;
  // Called before `partitions` are given up. When `lost` is false the listener commits their
  // state first; when true (session timed out, the group has already given them to another
  // member) it must not write anything for them any more: their uncommitted work is discarded
  // and their next owner restores the last commit.
  virtual Status OnRevoked(std::span<const int32_t> partitions, bool lost) = 0;
};

class Source {
 public:
  virtual ~Source() = default;
  // Joins the group and starts delivering assignment changes to `listener`, which must outlive
  // the source.
  virtual Status Subscribe(AssignmentListener& listener) = 0;
  // Appends up to `max` messages to `out` (cleared first), waiting at most `timeout_ms` for the
  // first. Errors: Unavailable for transient broker trouble (the caller retries), other codes are
  // fatal.
  virtual Status Poll(int timeout_ms, size_t max, std::vector<InputMessage>& out) = 0;
  // Records consumed positions in the group (asynchronously). Informational for lag monitoring:
  // the authoritative positions live in the state store.
  virtual Status Commit(std::span<const PartitionOffset> offsets) = 0;
  // Records consumed positions in the client only, for lag monitoring when the group offsets
  // travel in a transaction instead (exactly-once). Default: nothing to record.
  virtual Status StorePositions(std::span<const PartitionOffset> offsets) {
    (void)offsets;
    return Status::Ok();
  }
  // Stops / restarts fetching for assigned partitions (backpressure, restore).
  virtual Status Pause(std::span<const int32_t> partitions) = 0;
  virtual Status Resume(std::span<const int32_t> partitions) = 0;
  // Leaves the group cleanly (revocations are delivered to the listener).
  virtual Status Close() = 0;
  // False from the moment the client reports every broker down until it hears from a broker
  // again (a message, a rebalance or an acknowledged offset commit).
  virtual bool BrokersReachable() const = 0;
};

struct Header {
  std::string_view name;
  std::string_view value;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Queues a record (the sink copies the bytes), partitioned by key. Errors: Unavailable when
  // the local queue stays full; fatal codes when the producer has failed.
  virtual Status Send(std::string_view topic, std::string_view key, std::string_view value,
                      std::span<const Header> headers = {}) = 0;
  // Queues a record for an explicit partition; a null `value` is a tombstone (log compaction
  // deletes the key).
  virtual Status SendTo(std::string_view topic, int32_t partition, std::string_view key,
                        const std::string_view* value) = 0;
  // The highest offset acknowledged so far for (topic, partition), or -1. After a successful
  // Flush, the offset of the last record sent there.
  virtual int64_t LastDeliveredOffset(std::string_view topic, int32_t partition) const = 0;
  // Serves delivery reports without waiting.
  virtual void Poll() = 0;
  // Waits until every queued record is acknowledged by the brokers. Returns the first delivery
  // error since the last Flush (then the records since the last successful Flush may be lost and
  // the caller must not commit).
  virtual Status Flush(int timeout_ms) = 0;
  // Exactly-once sinks only (transactional()): commits everything sent since the last commit
  // together with `input_offsets` (the consumer group's positions) in one Kafka transaction.
  // Aborted: the transaction was aborted and its records discarded; the caller must not
  // checkpoint and has to restart from its last checkpoint. Unavailable: not committed within
  // `timeout_ms` for a retriable reason (brokers down, a coordinator moving); the transaction is
  // still open and the caller calls again with the same offsets.
  virtual bool transactional() const { return false; }
  virtual Status CommitTransaction(std::span<const PartitionOffset> input_offsets, int timeout_ms) {
    (void)input_offsets;
    (void)timeout_ms;
    return InternalError("CommitTransaction on a non-transactional sink");
  }
  // Records queued and not yet acknowledged.
  virtual size_t InFlight() const = 0;
  // Records acknowledged per topic so far (for metrics).
  virtual uint64_t Delivered(std::string_view topic) const = 0;
};


// One record of a changelog partition. Views are valid until the next ChangelogReader::Poll().
struct ChangelogRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string_view key;
  std::string_view value;
  bool tombstone = false;
};

// Reads changelog partitions from an offset to their current end, beside normal processing.
class ChangelogReader {
 public:
  virtual ~ChangelogReader() = default;
  // Starts reading `partition` at `from_offset` (0: the whole log).
  virtual Status Start(int32_t partition, int64_t from_offset) = 0;
  // Stops reading `partition` (its input was revoked mid-restore).
  virtual Status Stop(int32_t partition) = 0;
  // Appends up to `max` records (cleared first) without waiting long; appends to `caught_up` the
  // partitions that reached their end (they are stopped).
  virtual Status Poll(size_t max, std::vector<ChangelogRecord>& out, std::vector<int32_t>& caught_up) = 0;
};

}  // namespace learnflow
