// A decoded input message and the MessageDecoder interface the runtime calls.
//
// One input message (a JSON document) yields zero or more canonical events and zero or more
// rejects: a Caliper envelope carries several events, each of which may be valid or not. Reject
// reasons are a closed set of stable codes: the `learnflow.error` dead-letter header and the
// `reason` label of learnflow_events_invalid_total. Decoders produce the first group; the engine
// adds the rest (size, time and lateness checks it makes itself).
//
// Thread-safety: plain data; a MessageDecoder is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"

namespace learnflow {

enum class InputFormat : uint8_t { kUnknown, kXapi, kCaliper, kMoodle };
std::string_view InputFormatName(InputFormat format);

enum class RejectReason : uint8_t {
  // Found by the decoders.
  kInvalidJson,    // "invalid_json": not JSON, truncated, or not an object
  kUnknownFormat,  // "unknown_format": JSON, but none of xAPI, Caliper, Moodle
  kNoLearner,      // "no_learner": no learner id (missing actor, anonymous Person, userid 0/guest)
  kBadTime,        // "bad_time": event time missing or unparseable
  kMissingField,   // "missing_field": a field the format requires (e.g. Caliper id) is absent
  kAnonymous,      // "anonymous": Moodle row with anonymous = 1 (payload redacted)
  kLoginAs,        // "login_as": Moodle row with a non-null realuserid
  kBadVoid,        // "bad_void": xAPI voided statement whose object is not a StatementRef with id
  // Found by the engine.
  kTooLarge,       // "too_large": message larger than processing.max_message_bytes
  kFutureTime,     // "future_time": event time more than one day ahead of the wall clock
  kLate,           // "late": the event's window is already final
  kVoidAfterFinal, // "void_after_final": a retraction for a window that is already final
};
inline constexpr size_t kRejectReasonCount = 12;
std::string_view RejectReasonCode(RejectReason reason);

struct Reject {
  uint32_t index = 0;  // position in a Caliper envelope's data[]; 0 for single events
  RejectReason reason = RejectReason::kInvalidJson;
};

struct DecodedMessage {
  InputFormat format = InputFormat::kUnknown;
  std::vector<CanonicalEvent> events;  // valid events, in message order
  std::vector<uint32_t> event_indexes; // events[i] came from data[event_indexes[i]] (0 if single)
  std::vector<Reject> rejects;         // empty when the whole message decoded
  // Rows understood but not feeding learner signals (Moodle edulevel != 2). Not errors.
  uint32_t skipped = 0;
  // For kAnonymous rejects: the row with userid, relateduserid and ip removed; this, not the
  // original, is what may be dead-lettered. Empty otherwise.
  std::string redacted_payload;

  // True when the message was an envelope of several events (dead letters then name the index).
  bool is_envelope() const { return events.size() + rejects.size() + skipped > 1; }

  void Clear() {
    format = InputFormat::kUnknown;
    events.clear();
    event_indexes.clear();
    rejects.clear();
    skipped = 0;
    redacted_payload.clear();
  }
};

class MessageDecoder {
 public:
  virtual ~MessageDecoder() = default;
  // Decodes `payload` into `out` (cleared first). Never throws; never crashes on any input.
  // The views in `out` are valid until the next call.
  virtual void Decode(std::string_view payload, DecodedMessage& out) = 0;
};

}  // namespace learnflow
