// Internals of EventDecoder shared by the per-format files (xapi.cc, caliper.cc, moodle.cc).
// Not part of the public API: simdjson types appear here and nowhere above connectors/decoders.
//
// Ownership: everything here is owned by one EventDecoder::Impl and used by the thread that owns
// the decoder. String views produced while decoding a message point into the input copy, the
// simdjson parser's string buffer or the Arena; all stay valid until the next Decode().
#pragma once

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connectors/decoders/event_decoder.h"
#include "core/event.h"

namespace learnflow::decoder_internal {

namespace dom = simdjson::dom;

// Bump allocator for composed strings (homePage|name, lower-cased mbox, "<site>:<id>", numbers
// as text, hashes). Memory lives in blocks that never move, so a view handed out stays valid
// until Reset(). Reset() keeps the blocks: once the blocks fit a workload, no more allocation.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void Reset();
  // Returns `n` writable bytes. REQUIRES: n > 0.
  char* Allocate(size_t n);
  std::string_view Copy(std::string_view text);
  std::string_view Concat(std::string_view a, std::string_view b, std::string_view c);
  // ASCII lower-case copy; returns `text` itself when it has no upper-case ASCII letter.
  std::string_view LowerAscii(std::string_view text);

 private:
  static constexpr size_t kBlockSize = 4096;
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size = 0;
    size_t used = 0;
  };
  std::vector<Block> blocks_;
  size_t current_ = 0;
};

// Copy of the (unpadded) Kafka payload followed by SIMDJSON_PADDING zero bytes, as simdjson
// requires. Grows only.
class PaddedBuffer {
 public:
  const char* Assign(std::string_view bytes);

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
};

// std::string keys, lookups by string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;

// ---- Reading simdjson DOM values leniently (numbers as strings, ids as numbers). ----

// The member `key` of `obj` when present and not null.
bool Member(dom::object obj, std::string_view key, dom::element& out);
bool MemberObject(dom::object obj, std::string_view key, dom::object& out);

// a == b, inline for the short member names of the formats (no call to memcmp).
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    // Two overlapping 8-byte words from each end cover every byte.
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&a1, a.data() + n - 8, 8);
    std::memcpy(&b1, b.data() + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a.data(), b.data(), n) == 0;
}

// A fixed set of member names, found by a small open-addressing hash of a name's length and
// its first and last bytes: a name outside the set usually costs one probe and no comparison.
template <size_t N>
class KeySet {
  static_assert(N > 0 && N <= 64);

 public:
  // `keys` are distinct.
  constexpr explicit KeySet(const std::array<std::string_view, N>& keys) : keys_(keys) {
    for (size_t i = 0; i < N; ++i) {
      size_t slot = Hash(keys[i]);
      while (slots_[slot] != 0) slot = (slot + 1) % kSlots;
      slots_[slot] = static_cast<uint8_t>(i + 1);
    }
  }
  // The index of `key`, or N.
  size_t Find(std::string_view key) const {
    for (size_t slot = Hash(key); slots_[slot] != 0; slot = (slot + 1) % kSlots) {
      const size_t i = slots_[slot] - 1u;
      if (SameBytes(keys_[i], key)) return i;
    }
    return N;
  }

 private:
  static constexpr size_t kSlots = 128;  // at least twice N: probe chains stay short
  static constexpr size_t Hash(std::string_view key) {
    if (key.empty()) return 0;
    const auto first = static_cast<unsigned char>(key.front());
    const auto last = static_cast<unsigned char>(key.back());
    return (key.size() * 31 + first * 7 + last) % kSlots;
  }
  std::array<std::string_view, N> keys_;
  std::array<uint8_t, kSlots> slots_{};  // index + 1 of the key in the slot; 0: empty
};

// Several members of one object, found in one pass over its fields. Each answer is the one
// Member() gives: the first field of that name, absent when its value is null. One pass costs
// less than two Member() lookups, so objects asked for several members (a statement, its actor,
// its result) are read with this.
//
//   static constexpr KeySet<2> kKeys({"id", "actor"});
//   const Members<2> m(statement, kKeys);
//   dom::object actor;
//   if (m.Object(1, actor)) ...
template <size_t N>
class Members {
 public:
  Members() = default;  // none found
  Members(dom::object obj, const KeySet<N>& keys) {
    constexpr uint64_t kAll = N == 64 ? ~uint64_t{0} : (uint64_t{1} << N) - 1;
    uint64_t seen = 0;
    for (const dom::key_value_pair field : obj) {
      const size_t i = keys.Find(field.key);
      if (i == N) continue;
      const uint64_t bit = uint64_t{1} << i;
      if ((seen & bit) != 0) continue;  // a later duplicate
      seen |= bit;
      if (!field.value.is_null()) {
        values_[i].value = field.value;
        found_ |= bit;
      }
      if (seen == kAll) break;
    }
  }

  bool Has(size_t i) const { return (found_ >> i) & 1; }
  bool Get(size_t i, dom::element& out) const {
    if (!Has(i)) return false;
    out = values_[i].value;
    return true;
  }
  bool Object(size_t i, dom::object& out) const {
    return Has(i) && values_[i].value.get_object().get(out) == simdjson::SUCCESS;
  }
  // The members `keys` of member i when it is an object; none otherwise.
  template <size_t M>
  Members<M> Nested(size_t i, const KeySet<M>& keys) const {
    dom::object obj;
    return Object(i, obj) ? Members<M>(obj, keys) : Members<M>();
  }

 private:
  // Left uninitialised (a statement's members are read on every event): only the values whose
  // bit is set in found_ are ever written or read.
  union Value {
    Value() {}
    dom::element value;
  };
  static_assert(std::is_trivially_copyable_v<dom::element>);
  std::array<Value, N> values_;
  uint64_t found_ = 0;
};

// A string as is; an integer or a double as text (in the arena); anything else: empty.
std::string_view Text(dom::element value, Arena& arena);
std::string_view MemberText(dom::object obj, std::string_view key, Arena& arena);
template <size_t N>
std::string_view MemberText(const Members<N>& members, size_t i, Arena& arena) {
  dom::element value;
  return members.Get(i, value) ? Text(value, arena) : std::string_view();
}
// A finite number, or a string holding one ("0.85", "1700000000").
bool ToDouble(dom::element value, double& out);
// An integer, an integral double, or a string holding an integer.
bool ToInt64(dom::element value, int64_t& out);
// true/false, or the strings "true"/"false".
bool ToBool(dom::element value, bool& out);
// Caliper/JSON-LD entity reference: an object's `id`, or a bare IRI string.
std::string_view EntityId(dom::element value, Arena& arena);
// The term of an IRI: the part after the last '#' or '/' ("…/caliper/GradeEvent" -> "GradeEvent").
std::string_view LastSegment(std::string_view iri);
// Minified JSON text of `value` appended to `out` (used for redacted payloads only); strings
// are written by core/json_writer.h's AppendJsonString.
void AppendJson(dom::element value, std::string& out);

// 64-bit FNV-1a.
uint64_t Fnv1a64(std::string_view bytes);

// The top-level members that the format detection and the xAPI mapping read, found in one pass.
namespace top {
enum : size_t {
  kSensor, kData, kEventname, kTimecreated, kEdulevel, kAction, kType, kEventTime, kAtContext,
  kVerb, kObject, kId, kActor, kTimestamp, kStored, kContext, kResult, kCount
};
inline constexpr KeySet<kCount> kKeys({"sensor", "data", "eventname", "timecreated", "edulevel",
                                       "action", "type", "eventTime", "@context", "verb",
                                       "object", "id", "actor", "timestamp", "stored",
                                       "context", "result"});
}  // namespace top
using TopMembers = Members<top::kCount>;

// Result of decoding one record (a statement, a Caliper event, a Moodle row).
struct RecordResult {
  enum class Kind : uint8_t { kEvent, kSkip, kReject };
  Kind kind = Kind::kEvent;
  RejectReason reason = RejectReason::kInvalidJson;

  static RecordResult Event() { return {}; }
  static RecordResult Skip() { return {Kind::kSkip, RejectReason::kInvalidJson}; }
  static RecordResult Fail(RejectReason reason) { return {Kind::kReject, reason}; }
};

// What an xAPI verb IRI means.
struct VerbInfo {
  std::string_view iri;  // points into the decoder's copy of DecoderOptions
  EventKind kind = EventKind::kOther;
  Success implied = Success::kUnknown;  // passed/failed verbs
};

}  // namespace learnflow::decoder_internal

namespace learnflow {

class EventDecoder::Impl {
 public:
  explicit Impl(DecoderOptions options);
  void Decode(std::string_view payload, DecodedMessage& out);

 private:
  using RecordResult = decoder_internal::RecordResult;
  using dom_object = simdjson::dom::object;
  using dom_array = simdjson::dom::array;
  using dom_element = simdjson::dom::element;

  // xapi.cc
  RecordResult DecodeXapi(const decoder_internal::TopMembers& statement, std::string_view raw,
                          CanonicalEvent& event);
  std::string_view XapiLearner(dom_object actor);
  const decoder_internal::VerbInfo* FindVerb(std::string_view iri) const;
  static uint64_t VerbHash(std::string_view iri);
  // caliper.cc
  RecordResult DecodeCaliperEvent(dom_object object, CanonicalEvent& event);
  void DecodeCaliperEnvelope(dom_array data, DecodedMessage& out);
  bool IsHelpTool(std::string_view id) const;
  // moodle.cc
  RecordResult DecodeMoodle(dom_object row, CanonicalEvent& event, DecodedMessage& out);
  bool MoodleGrade(dom_object row, double& grade, double& grade_max);

  // Applies the shared fallbacks (cohort <- course, skill <- item, closes_session) and appends
  // the event, the skip or the reject to `out`.
  void Emit(RecordResult result, CanonicalEvent& event, uint32_t index, DecodedMessage& out);

  const DecoderOptions options_;
  std::vector<decoder_internal::VerbInfo> verbs_;  // unique iris
  std::vector<uint32_t> verb_slots_;  // hash table of verbs_: index + 1; 0: empty
  size_t verb_mask_ = 0;
  std::vector<std::string_view> help_tools_;       // sorted
  decoder_internal::StringMap cohort_by_course_;
  decoder_internal::StringMap skill_by_item_;

  decoder_internal::PaddedBuffer input_;
  simdjson::dom::parser parser_;
  // Moodle `other` given as JSON text is parsed with its own parser so that views into the row
  // (held by parser_) stay valid.
  decoder_internal::PaddedBuffer other_input_;
  simdjson::dom::parser other_parser_;
  decoder_internal::Arena arena_;
};

}  // namespace learnflow
