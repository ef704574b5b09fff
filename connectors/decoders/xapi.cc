// xAPI 1.0.3 statement -> CanonicalEvent (DESIGN §6, xAPI column).
#include <algorithm>
#include <cmath>

#include "connectors/decoders/decoder_internal.h"
#include "core/time.h"

namespace learnflow {
namespace {

using decoder_internal::Arena;
using decoder_internal::MemberObject;
using decoder_internal::KeySet;
using decoder_internal::Members;
using decoder_internal::MemberText;
using decoder_internal::RecordResult;
using decoder_internal::Text;
using decoder_internal::ToBool;
using decoder_internal::ToDouble;
namespace dom = simdjson::dom;

constexpr std::string_view kCohortExtension = "https://learnflow.dev/xapi/cohort";
constexpr std::string_view kSkillExtension = "https://learnflow.dev/xapi/skill";
constexpr std::string_view kProfileTypeSuffix = "/activities/profile";

// `id` of the first activity (with an id) of a contextActivities member, a single object or an
// array.
std::string_view FirstActivityId(dom::element value, Arena& arena, bool skip_profiles) {
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
bool TimeMember(const decoder_internal::TopMembers& statement, size_t key, TimestampMs& out,
                bool& valid) {
  dom::element value;
  if (!statement.Get(key, value)) return false;
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
  enum : size_t { kScaled, kRaw, kMax, kMin, kCount };
  static constexpr KeySet<kCount> kKeys({"scaled", "raw", "max", "min"});
  const Members<kCount> members(score, kKeys);
  dom::element value;
  double scaled = 0;
  if (members.Get(kScaled, value) && ToDouble(value, scaled)) return Clamp01(scaled);
  double raw = 0;
  double max = 0;
  double min = 0;
  if (!members.Get(kRaw, value) || !ToDouble(value, raw)) return CanonicalEvent::kNoScore;
  if (!members.Get(kMax, value) || !ToDouble(value, max)) return CanonicalEvent::kNoScore;
  if (members.Get(kMin, value) && !ToDouble(value, min)) return CanonicalEvent::kNoScore;
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

std::string_view EventDecoder::Impl::XapiLearner(dom::object actor_object) {
  enum : size_t { kObjectType, kAccount, kMbox, kMboxSha1sum, kOpenid, kCount };
  static constexpr KeySet<kCount> kKeys(
      {"objectType", "account", "mbox", "mbox_sha1sum", "openid"});
  const Members<kCount> actor(actor_object, kKeys);
  // A Group is not a learner, even an identified one.
  if (MemberText(actor, kObjectType, arena_) == "Group") return {};
  dom::object account;
  if (actor.Object(kAccount, account)) {
    const std::string_view home_page = MemberText(account, "homePage", arena_);
    const std::string_view name = MemberText(account, "name", arena_);
    if (!home_page.empty() && !name.empty()) return arena_.Concat(home_page, "|", name);
  }
  if (const std::string_view mbox = MemberText(actor, kMbox, arena_); !mbox.empty()) {
    return arena_.LowerAscii(mbox);
  }
  if (const std::string_view sha = MemberText(actor, kMboxSha1sum, arena_); !sha.empty()) {
    return sha;
  }
  return MemberText(actor, kOpenid, arena_);
}

decoder_internal::RecordResult EventDecoder::Impl::DecodeXapi(
    const decoder_internal::TopMembers& statement, std::string_view raw, CanonicalEvent& event) {
  namespace top = decoder_internal::top;
  dom::object verb;
  std::string_view verb_id;
  if (statement.Object(top::kVerb, verb)) verb_id = MemberText(verb, "id", arena_);
  if (verb_id.empty()) return RecordResult::Fail(RejectReason::kMissingField);
  const decoder_internal::VerbInfo* verb_info = FindVerb(verb_id);
  event.kind = verb_info != nullptr ? verb_info->kind : EventKind::kOther;

  enum : size_t { kObjectType, kId, kDefinition, kObjectKeyCount };
  static constexpr KeySet<kObjectKeyCount> kObjectKeys({"objectType", "id", "definition"});
  dom::object object_value;
  const bool has_object = statement.Object(top::kObject, object_value);
  const Members<kObjectKeyCount> object =
      has_object ? Members<kObjectKeyCount>(object_value, kObjectKeys) : Members<kObjectKeyCount>();
  if (event.kind == EventKind::kRetraction) {
    std::string_view target;
    if (has_object && MemberText(object, kObjectType, arena_) == "StatementRef") {
      target = MemberText(object, kId, arena_);
    }
    if (target.empty()) return RecordResult::Fail(RejectReason::kBadVoid);
    event.retracts_event_id = target;
  }

  event.event_id = MemberText(statement, top::kId, arena_);
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
  dom::object actor;
  if (statement.Object(top::kActor, actor)) event.learner_id = XapiLearner(actor);
  if (event.learner_id.empty() && event.kind != EventKind::kRetraction) {
    return RecordResult::Fail(RejectReason::kNoLearner);
  }

  // timestamp, else stored. A timestamp that is present but unparseable is bad_time (it is not
  // silently replaced by stored); a bad stored beside a good timestamp is only ignored.
  TimestampMs timestamp = 0;
  TimestampMs stored = 0;
  bool timestamp_ok = false;
  bool stored_ok = false;
  const bool has_timestamp = TimeMember(statement, top::kTimestamp, timestamp, timestamp_ok);
  const bool has_stored = TimeMember(statement, top::kStored, stored, stored_ok);
  if (has_timestamp) {
    if (!timestamp_ok) return RecordResult::Fail(RejectReason::kBadTime);
    event.event_time_ms = timestamp;
    if (has_stored && stored_ok) event.stored_time_ms = stored;
  } else if (has_stored && stored_ok) {
    event.event_time_ms = stored;
  } else {
    return RecordResult::Fail(RejectReason::kBadTime);
  }

  enum : size_t { kContextActivities, kExtensions, kContextKeyCount };
  static constexpr KeySet<kContextKeyCount> kContextKeys({"contextActivities", "extensions"});
  enum : size_t { kGrouping, kParent, kCategory, kActivityKeyCount };
  static constexpr KeySet<kActivityKeyCount> kActivityKeys({"grouping", "parent", "category"});
  const Members<kContextKeyCount> context = statement.Nested(top::kContext, kContextKeys);
  const Members<kActivityKeyCount> activities = context.Nested(kContextActivities, kActivityKeys);
  dom::element activity;
  if (activities.Get(kGrouping, activity)) {
    event.course_id = FirstActivityId(activity, arena_, false);
  }
  if (event.course_id.empty() && activities.Get(kParent, activity)) {
    event.course_id = FirstActivityId(activity, arena_, false);
  }
  dom::object extensions;
  if (context.Object(kExtensions, extensions)) {
    event.cohort_id = MemberText(extensions, kCohortExtension, arena_);
  }

  if (event.kind != EventKind::kRetraction && has_object) {
    event.item_id = MemberText(object, kId, arena_);
    dom::object definition;
    dom::object object_extensions;
    if (object.Object(kDefinition, definition) &&
        MemberObject(definition, "extensions", object_extensions)) {
      event.skill_id = MemberText(object_extensions, kSkillExtension, arena_);
    }
    if (event.skill_id.empty() && activities.Get(kCategory, activity)) {
      event.skill_id = FirstActivityId(activity, arena_, true);
    }
  }
  if (event.kind == EventKind::kAttempt && event.item_id.empty()) {
    return RecordResult::Fail(RejectReason::kMissingField);
  }

  enum : size_t { kScore, kSuccess, kResultKeyCount };
  static constexpr KeySet<kResultKeyCount> kResultKeys({"score", "success"});
  const Members<kResultKeyCount> result = statement.Nested(top::kResult, kResultKeys);
  dom::object score;
  if (result.Object(kScore, score)) event.score = XapiScore(score);
  dom::element success;
  bool value = false;
  if (result.Get(kSuccess, success) && ToBool(success, value)) {
    event.success = value ? Success::kTrue : Success::kFalse;
  }
  if (event.success == Success::kUnknown && verb_info != nullptr) {
    event.success = verb_info->implied;
  }
  return RecordResult::Event();
}

}  // namespace learnflow
