// See decoder_check.h. The rules checked here restate DESIGN §6 and connectors/decoders/README.md
// independently of the decoder's code.
#include "tests/fuzz/decoder_check.h"

#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/time.h"

namespace learnflow::fuzz {
namespace {

// Event times the decoders can produce: ISO 8601 years 1970..9999 with a UTC offset of up to a
// day either way, Moodle unix seconds in [0, 9999-12-31T23:59:59].
constexpr TimestampMs kMinTime = -kMsPerDay;
constexpr TimestampMs kMaxTime = 253402300799999 + kMsPerDay;

// Decoded between two decodes of the same payload: a Moodle row whose `other` is JSON text
// (second parser), an account learner (arena) and an anonymous flag off.
constexpr std::string_view kInterleaved = R"({"id":"9","eventname":"\\core\\event\\user_graded",
  "edulevel":"1","objecttable":"grade_grades","userid":"3","relateduserid":"77","courseid":"5",
  "contextinstanceid":"12","other":"{\"finalgrade\":\"61.5\",\"grademax\":90}",
  "timecreated":"1700000000.25","anonymous":0,"realuserid":null})";

// Reads every byte of `view` (AddressSanitizer checks each access) into a running hash.
uint64_t Touch(std::string_view view, uint64_t hash) {
  for (const char c : view) hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return hash;
}

bool IsDecoderReason(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalidJson:
    case RejectReason::kUnknownFormat:
    case RejectReason::kNoLearner:
    case RejectReason::kBadTime:
    case RejectReason::kMissingField:
    case RejectReason::kAnonymous:
    case RejectReason::kLoginAs:
    case RejectReason::kBadVoid:
      return true;
    default:
      return false;
  }
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// An owned copy of a DecodedMessage, compared field by field (scores bit for bit).
struct Snapshot {
  struct Event {
    std::vector<std::string> ids;
    TimestampMs event_time_ms = 0;
    TimestampMs stored_time_ms = 0;
    uint64_t score_bits = 0;
    EventKind kind = EventKind::kOther;
    Success success = Success::kUnknown;
    bool closes_session = false;
    bool operator==(const Event&) const = default;
  };
  InputFormat format = InputFormat::kUnknown;
  std::vector<Event> events;
  std::vector<uint32_t> event_indexes;
  std::vector<std::pair<uint32_t, RejectReason>> rejects;
  uint32_t skipped = 0;
  std::string redacted_payload;
  bool operator==(const Snapshot&) const = default;

  explicit Snapshot(const DecodedMessage& out)
      : format(out.format),
        event_indexes(out.event_indexes),
        skipped(out.skipped),
        redacted_payload(out.redacted_payload) {
    for (const CanonicalEvent& e : out.events) {
      Event& copy = events.emplace_back();
      for (const std::string_view id : {e.event_id, e.learner_id, e.course_id, e.cohort_id,
                                        e.item_id, e.skill_id, e.attempt_ref, e.retracts_event_id}) {
        copy.ids.emplace_back(id);
      }
      copy.event_time_ms = e.event_time_ms;
      copy.stored_time_ms = e.stored_time_ms;
      copy.score_bits = std::bit_cast<uint64_t>(e.score);
      copy.kind = e.kind;
      copy.success = e.success;
      copy.closes_session = e.closes_session;
    }
    for (const Reject& r : out.rejects) rejects.emplace_back(r.index, r.reason);
  }
};

}  // namespace

DecoderHarness::DecoderHarness(DecoderOptions options)
    : options_(std::move(options)), decoder_(options_) {}

void DecoderHarness::DecodeAndCheck(std::string_view payload) {
  decoder_.Decode(payload, out_);
  CheckMessage(payload, out_);
  const Snapshot first(out_);
  decoder_.Decode(kInterleaved, out_);
  LF_CHECK(out_.events.size() == 1, "the interleaved Moodle row decodes to one event");
  decoder_.Decode(payload, out_);
  LF_CHECK(Snapshot(out_) == first, "decoding is deterministic across buffer reuse");
}

void DecoderHarness::CheckMessage(std::string_view payload, const DecodedMessage& out) const {
  LF_CHECK(out.events.size() == out.event_indexes.size(), "one index per event");
  const size_t total = out.events.size() + out.rejects.size() + out.skipped;
  if (payload.empty()) {
    LF_CHECK(out.rejects.size() == 1 && out.rejects[0].reason == RejectReason::kInvalidJson,
             "an empty payload is invalid_json");
  }
  if (out.format == InputFormat::kUnknown) {
    LF_CHECK(out.events.empty() && out.skipped == 0 && out.rejects.size() == 1,
             "an undetected message is one reject");
    LF_CHECK(out.rejects[0].reason == RejectReason::kInvalidJson ||
                 out.rejects[0].reason == RejectReason::kUnknownFormat,
             "an undetected message is invalid_json or unknown_format");
  } else if (out.format != InputFormat::kCaliper) {
    // Only Caliper envelopes carry several records.
    LF_CHECK(total == 1, "a single record is exactly one event, reject or skip");
  }

  // Each record of an envelope is accounted for exactly once: the indexes of events and rejects
  // are distinct, increasing and below the number of records.
  std::vector<bool> used(total, false);
  const auto claim = [&used, total](uint32_t index) {
    LF_CHECK(index < total, "record index within the message");
    LF_CHECK(!used[index], "a record is an event, a reject or a skip, once");
    used[index] = true;
  };
  for (size_t i = 0; i < out.event_indexes.size(); ++i) {
    if (i > 0) LF_CHECK(out.event_indexes[i - 1] < out.event_indexes[i], "events in order");
    claim(out.event_indexes[i]);
  }
  bool anonymous = false;
  for (size_t i = 0; i < out.rejects.size(); ++i) {
    const Reject& r = out.rejects[i];
    if (i > 0) LF_CHECK(out.rejects[i - 1].index < r.index, "rejects in order");
    claim(r.index);
    LF_CHECK(IsDecoderReason(r.reason), "only decoder reasons come from the decoder");
    if (r.reason == RejectReason::kInvalidJson) {
      LF_CHECK(out.format == InputFormat::kUnknown, "invalid_json only for undetected messages");
    }
    if (r.reason == RejectReason::kUnknownFormat) {
      LF_CHECK(out.format == InputFormat::kUnknown || out.format == InputFormat::kCaliper,
               "unknown_format inside a detected message only for Caliper envelope items");
    }
    if (r.reason == RejectReason::kAnonymous || r.reason == RejectReason::kLoginAs) {
      LF_CHECK(out.format == InputFormat::kMoodle, "anonymous and login_as are Moodle reasons");
    }
    if (r.reason == RejectReason::kBadVoid) {
      LF_CHECK(out.format == InputFormat::kXapi, "bad_void is an xAPI reason");
    }
    anonymous = anonymous || r.reason == RejectReason::kAnonymous;
  }

  // The redacted payload exists exactly for anonymous rows, and has no identifying column.
  LF_CHECK(anonymous == !out.redacted_payload.empty(), "a redacted payload iff anonymous");
  if (anonymous) {
    static simdjson::dom::parser parser;
    simdjson::dom::object row;
    LF_CHECK(parser.parse(out.redacted_payload).get_object().get(row) == simdjson::SUCCESS,
             "the redacted payload is a JSON object");
    for (const simdjson::dom::key_value_pair field : row) {
      LF_CHECK(field.key != "userid" && field.key != "relateduserid" && field.key != "ip",
               "the redacted payload has no userid, relateduserid or ip");
    }
  }

  for (const CanonicalEvent& event : out.events) CheckEvent(out.format, event);
}

void DecoderHarness::CheckEvent(InputFormat format, const CanonicalEvent& e) const {
  uint64_t hash = 14695981039346656037ULL;
  for (const std::string_view id : {e.event_id, e.learner_id, e.course_id, e.cohort_id, e.item_id,
                                    e.skill_id, e.attempt_ref, e.retracts_event_id}) {
    hash = Touch(id, hash);
  }
  static volatile uint64_t sink = 0;
  sink = sink + hash;

  LF_CHECK(!e.event_id.empty(), "every event has an id");
  // A voiding statement needs no learner of its own (the engine maps the voided id to one).
  LF_CHECK(!e.learner_id.empty() || e.kind == EventKind::kRetraction, "every event has a learner");
  LF_CHECK((e.kind == EventKind::kRetraction) == !e.retracts_event_id.empty(),
           "exactly retractions name the voided statement");
  if (e.kind == EventKind::kRetraction) {
    LF_CHECK(format == InputFormat::kXapi, "only xAPI voids");
    LF_CHECK(e.item_id.empty() && e.skill_id.empty(), "a retraction has no item");
  }
  if (e.kind == EventKind::kAttempt) {
    LF_CHECK(!e.item_id.empty() && !e.skill_id.empty(), "an attempt has an item and a skill");
  }
  LF_CHECK(!e.cohort_id.empty() || e.course_id.empty(), "cohort falls back to course");
  LF_CHECK(!e.skill_id.empty() || e.item_id.empty(), "skill falls back to item");
  LF_CHECK(e.score == CanonicalEvent::kNoScore || (e.score >= 0.0 && e.score <= 1.0),
           "a score is absent or in [0, 1]");
  LF_CHECK(e.closes_session ==
               (e.kind == EventKind::kSessionEnd || e.kind == EventKind::kSystem),
           "exactly session_end and system events close sessions");
  LF_CHECK(e.event_time_ms >= kMinTime && e.event_time_ms <= kMaxTime,
           "event time within the decodable range");
  LF_CHECK(e.stored_time_ms == CanonicalEvent::kNoTime ||
               (format == InputFormat::kXapi && e.stored_time_ms >= kMinTime &&
                e.stored_time_ms <= kMaxTime),
           "only xAPI has a stored time, within range");

  switch (format) {
    case InputFormat::kCaliper:
      LF_CHECK(!e.learner_id.starts_with("http://purl.imsglobal.org/caliper/") &&
                   !e.learner_id.starts_with("https://purl.imsglobal.org/caliper/"),
               "an anonymous Caliper entity is no learner");
      if (e.kind == EventKind::kOutcome) {
        LF_CHECK(!e.attempt_ref.empty(), "a Caliper outcome names its attempt");
      }
      break;
    case InputFormat::kMoodle: {
      LF_CHECK(e.kind == EventKind::kAttempt || e.kind == EventKind::kView ||
                   e.kind == EventKind::kOutcome,
               "Moodle rows are attempts, views or outcomes");
      if (e.kind == EventKind::kOutcome) {
        LF_CHECK(e.has_score() && e.success != Success::kUnknown, "a graded row has an outcome");
      }
      LF_CHECK(e.event_id.starts_with(options_.moodle_site_id + ":"), "event id is <site>:<id>");
      LF_CHECK(!EqualsIgnoreAsciiCase(e.learner_id, "guest"), "the guest is no learner");
      int64_t user = 0;
      const std::string_view id = e.learner_id;
      const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), user);
      if (ec == std::errc() && end == id.data() + id.size()) {
        LF_CHECK(user > 0 && user != options_.moodle_guest_user_id,
                 "a numeric Moodle learner is a positive user id other than the guest's");
      }
      LF_CHECK(e.event_time_ms >= 0 && e.event_time_ms <= 253402300799999,
               "Moodle time within [0, 9999-12-31]");
      break;
    }
    case InputFormat::kXapi:
      break;
    case InputFormat::kUnknown:
      LF_CHECK(false, "no events from an undetected message");
  }
}

}  // namespace learnflow::fuzz
