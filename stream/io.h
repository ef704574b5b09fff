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

// Receives partition assignment changes (cooperative: only the partitions that change).
class AssignmentListener {
 public:
  virtual ~AssignmentListener() = default;
  // Called before fetching starts for `partitions`; fills `start_offsets` (same order) with the
  // offset to resume from, or kOffsetFromGroup.
  virtual Status OnAssigned(std::span<const int32_t> partitions,
                            std::vector<int64_t>& start_offsets) = 0;
  // Called before `partitions` are given up; the listener commits their state first.
  virtual Status OnRevoked(std::span<const int32_t> partitions) = 0;
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
  // Backpressure: stops / restarts fetching for every assigned partition.
  virtual Status PauseAll() = 0;
  virtual Status ResumeAll() = 0;
  // Leaves the group cleanly (revocations are delivered to the listener).
  virtual Status Close() = 0;
};

struct Header {
  std::string_view name;
  std::string_view value;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Queues a record (the sink copies the bytes). Errors: Unavailable when the local queue stays
  // full; fatal codes when the producer has failed.
  virtual Status Send(std::string_view topic, std::string_view key, std::string_view value,
                      std::span<const Header> headers = {}) = 0;
  // Serves delivery reports without waiting.
  virtual void Poll() = 0;
  // Waits until every queued record is acknowledged by the brokers. Returns the first delivery
  // error since the last Flush (then the records since the last successful Flush may be lost and
  // the caller must not commit).
  virtual Status Flush(int timeout_ms) = 0;
  // Records queued and not yet acknowledged.
  virtual size_t InFlight() const = 0;
  // Records acknowledged per topic so far (for metrics).
  virtual uint64_t Delivered(std::string_view topic) const = 0;
};


}  // namespace learnflow
