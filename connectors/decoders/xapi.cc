// xAPI 1.0.3 statement -> CanonicalEvent (DESIGN §6, xAPI column).
#include <algorithm>
#include <cmath>

#include "connectors/decoders/decoder_internal.h"
#include "core/time.h"

namespace learnflow {
namespace {

using decoder_internal::Arena;
using decoder_internal::Member;
using decoder_internal::MemberObject;
using decoder_internal::MemberText;
using decoder_internal::RecordResult;
using decoder_internal::Text;
using decoder_internal::ToBool;
using decoder_internal::ToDouble;
namespace dom = simdjson::dom;

constexpr std::string_view kCohortExtension = "https://learnflow.dev/xapi/cohort";
constexpr std::string_view kSkillExtension = "https://learnflow.dev/xapi/skill";
constexpr std::string_view kProfileTypeSuffix = "/activities/profile";

// `id` of the first activity (with an id) of contextActivities[key], a single object or an array.
std::string_view FirstActivityId(dom::object context_activities, std::string_view key,
                                 Arena& arena, bool skip_profiles) {
  dom::element value;
  if (!Member(context_activities, key, value)) return {};
  const auto usable = [&](dom::object activity) -> std::string_view {
    if (skip_profiles) {
      dom::object definition;
      if (MemberObject(activity, "definition", definition)) {
        const std::string_view type = MemberText(definition, "type", arena);
        if (type.size() >= kProfileTypeSuffix.size() &&
            type.substr(type.size() - kProfileTypeSuffix.size()) == kProfileTypeSuffix) {
          return {};
        }
      }
    }
    return MemberText(activity, "id", arena);
  };
  dom::object single;
  if (value.get_object().get(single) == simdjson::SUCCESS) return usable(single);
  dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return {};
  for (const dom::element item : array) {
    dom::object activity;
    if (item.get_object().get(activity) != simdjson::SUCCESS) continue;
    const std::string_view id = usable(activity);
    if (!id.empty()) return id;
  }
  return {};
}

// An ISO 8601 time member. Returns false when absent; sets `valid` to whether it parsed.
bool TimeMember(dom::object obj, std::string_view key, TimestampMs& out, bool& valid) {
  dom::element value;
  if (!Member(obj, key, value)) return false;
  std::string_view text;
  valid = false;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    if (const std::optional<TimestampMs> t = ParseIso8601Millis(text)) {
      out = *t;
      valid = true;
    }
  }
  return true;
}

double Clamp01(double v) { return std::clamp(v, 0.0, 1.0); }

// result.score: scaled clamped to [0,1], else (raw-min)/(max-min) with min 0 when max > min.
double XapiScore(dom::object score) {
  dom::element value;
  double scaled = 0;
  if (Member(score, "scaled", value) && ToDouble(value, scaled)) return Clamp01(scaled);
  double raw = 0;
  double max = 0;
  double min = 0;
  if (!Member(score, "raw", value) || !ToDouble(value, raw)) return CanonicalEvent::kNoScore;
  if (!Member(score, "max", value) || !ToDouble(value, max)) return CanonicalEvent::kNoScore;
  if (Member(score, "min", value) && !ToDouble(value, min)) return CanonicalEvent::kNoScore;
  if (!(max > min)) return CanonicalEvent::kNoScore;
  double offset = raw - min;
  double span = max - min;
  if (std::isinf(span)) {
    // Bounds near both ends of the double range: the difference overflows (and inf / inf would
    // be a NaN score). Their halves are exact and differ by at most the largest double.
    offset = raw / 2 - min / 2;
    span = max / 2 - min / 2;
  }
  return Clamp01(offset / span);
}

}  // namespace

std::string_view EventDecoder::Impl::XapiLearner(dom::object statement) {
  dom::object actor;
  if (!MemberObject(statement, "actor", actor)) return {};
  // A Group is not a learner, even an identified one.
  if (MemberText(actor, "objectType", arena_) == "Group") return {};
  dom::object account;
  if (MemberObject(actor, "account", account)) {
    const std::string_view home_page = MemberText(account, "homePage", arena_);
    const std::string_view name = MemberText(account, "name", arena_);
    if (!home_page.empty() && !name.empty()) return arena_.Concat(home_page, "|", name);
  }
  if (const std::string_view mbox = MemberText(actor, "mbox", arena_); !mbox.empty()) {
    return arena_.LowerAscii(mbox);
  }
  if (const std::string_view sha = MemberText(actor, "mbox_sha1sum", arena_); !sha.empty()) {
    return sha;
  }
  return MemberText(actor, "openid", arena_);
}

decoder_internal::RecordResult EventDecoder::Impl::DecodeXapi(dom::object statement,
                                                              std::string_view raw,
                                                              CanonicalEvent& event) {
  dom::object verb;
  std::string_view verb_id;
  if (MemberObject(statement, "verb", verb)) verb_id = MemberText(verb, "id", arena_);
  if (verb_id.empty()) return RecordResult::Fail(RejectReason::kMissingField);
  const decoder_internal::VerbInfo* verb_info = FindVerb(verb_id);
  event.kind = verb_info != nullptr ? verb_info->kind : EventKind::kOther;

  dom::object object;
  const bool has_object = MemberObject(statement, "object", object);
  if (event.kind == EventKind::kRetraction) {
    std::string_view target;
    if (has_object && MemberText(object, "objectType", arena_) == "StatementRef") {
      target = MemberText(object, "id", arena_);
    }
    if (target.empty()) return RecordResult::Fail(RejectReason::kBadVoid);
    event.retracts_event_id = target;
  }

  event.event_id = MemberText(statement, "id", arena_);
  if (event.event_id.empty()) {
    // Stable id for statements without one: FNV-1a 64 of the raw message bytes, as hex.
    static constexpr char kHex[] = "0123456789abcdef";
    static constexpr std::string_view kPrefix = "fnv1a64:";
    char text[kPrefix.size() + 16];
    std::copy(kPrefix.begin(), kPrefix.end(), text);
    uint64_t hash = decoder_internal::Fnv1a64(raw);
    for (int i = 15; i >= 0; --i, hash >>= 4) text[kPrefix.size() + i] = kHex[hash & 0xF];
    event.event_id = arena_.Copy(std::string_view(text, sizeof(text)));
  }

  // A voiding statement is usually made by an administrator or the LRS: it names no learner of
  // its own (the engine finds the learner from the voided event id), so none is required.
  event.learner_id = XapiLearner(statement);
  if (event.learner_id.empty() && event.kind != EventKind::kRetraction) {
    return RecordResult::Fail(RejectReason::kNoLearner);
  }

  // timestamp, else stored. A timestamp that is present but unparseable is bad_time (it is not
  // silently replaced by stored); a bad stored beside a good timestamp is only ignored.
  TimestampMs timestamp = 0;
  TimestampMs stored = 0;
  bool timestamp_ok = false;
  bool stored_ok = false;
  const bool has_timestamp = TimeMember(statement, "timestamp", timestamp, timestamp_ok);
  const bool has_stored = TimeMember(statement, "stored", stored, stored_ok);
  if (has_timestamp) {
    if (!timestamp_ok) return RecordResult::Fail(RejectReason::kBadTime);
    event.event_time_ms = timestamp;
    if (has_stored && stored_ok) event.stored_time_ms = stored;
  } else if (has_stored && stored_ok) {
    event.event_time_ms = stored;
  } else {
    return RecordResult::Fail(RejectReason::kBadTime);
  }

  dom::object context;
  dom::object context_activities;
  const bool has_context = MemberObject(statement, "context", context);
  const bool has_activities =
      has_context && MemberObject(context, "contextActivities", context_activities);
  if (has_activities) {
    event.course_id = FirstActivityId(context_activities, "grouping", arena_, false);
    if (event.course_id.empty()) {
      event.course_id = FirstActivityId(context_activities, "parent", arena_, false);
    }
  }
  dom::object extensions;
  if (has_context && MemberObject(context, "extensions", extensions)) {
    event.cohort_id = MemberText(extensions, kCohortExtension, arena_);
  }

  if (event.kind != EventKind::kRetraction && has_object) {
    event.item_id = MemberText(object, "id", arena_);
    dom::object definition;
    dom::object object_extensions;
    if (MemberObject(object, "definition", definition) &&
        MemberObject(definition, "extensions", object_extensions)) {
      event.skill_id = MemberText(object_extensions, kSkillExtension, arena_);
    }
    if (event.skill_id.empty() && has_activities) {
      event.skill_id = FirstActivityId(context_activities, "category", arena_, true);
    }
  }
  if (event.kind == EventKind::kAttempt && event.item_id.empty()) {
    return RecordResult::Fail(RejectReason::kMissingField);
  }

  dom::object result;
  if (MemberObject(statement, "result", result)) {
    dom::object score;
    if (MemberObject(result, "score", score)) event.score = XapiScore(score);
    dom::element success;
    bool value = false;
    if (Member(result, "success", success) && ToBool(success, value)) {
      event.success = value ? Success::kTrue : Success::kFalse;
    }
  }
  if (event.success == Success::kUnknown && verb_info != nullptr) {
    event.success = verb_info->implied;
  }
  return RecordResult::Event();
}

}  // namespace learnflow
