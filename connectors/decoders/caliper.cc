// IMS Caliper 1.2 events and envelopes -> CanonicalEvent (DESIGN §6, Caliper column).
//
// Types and actions are compared by their term, so both the compact JSON-LD form ("GradeEvent",
// "Graded") and full IRIs ("http://purl.imsglobal.org/caliper/GradeEvent",
// "http://purl.imsglobal.org/vocab/caliper/v1/action#Graded") are accepted.
#include <algorithm>

#include "connectors/decoders/decoder_internal.h"
#include "core/time.h"

namespace learnflow {
namespace {

using decoder_internal::EntityId;
using decoder_internal::LastSegment;
using decoder_internal::Member;
using decoder_internal::MemberObject;
using decoder_internal::MemberText;
using decoder_internal::RecordResult;
using decoder_internal::ToDouble;
namespace dom = simdjson::dom;

// Caliper 1.2 §4.4: an anonymous entity uses its type IRI as its id, e.g. an anonymous Person is
// "http://purl.imsglobal.org/caliper/Person". Nothing else lives under these prefixes, so any id
// there is treated as anonymous (Person of any Caliper version, CourseSection, ...).
bool IsAnonymousId(std::string_view id) {
  return id.starts_with("http://purl.imsglobal.org/caliper/") ||
         id.starts_with("https://purl.imsglobal.org/caliper/");
}

std::string_view TypeTerm(dom::object entity, decoder_internal::Arena& arena) {
  return LastSegment(MemberText(entity, "type", arena));
}

}  // namespace

decoder_internal::RecordResult EventDecoder::Impl::DecodeCaliperEvent(dom::object caliper,
                                                                       CanonicalEvent& event) {
  event.event_id = MemberText(caliper, "id", arena_);
  const std::string_view type = TypeTerm(caliper, arena_);
  const std::string_view action = LastSegment(MemberText(caliper, "action", arena_));
  if (event.event_id.empty() || type.empty() || action.empty()) {
    return RecordResult::Fail(RejectReason::kMissingField);
  }
  const bool graded = (type == "GradeEvent" || type == "OutcomeEvent") && action == "Graded";
  const bool timed_out = type == "SessionEvent" && action == "TimedOut";

  dom::element object_value;
  const bool has_object = Member(caliper, "object", object_value);
  dom::object object;
  const bool object_is_entity =
      has_object && object_value.get_object().get(object) == simdjson::SUCCESS;

  // Learner: GradeEvent -> object.assignee; TimedOut -> object.user; else actor.
  dom::element learner;
  bool has_learner = false;
  if (graded) {
    has_learner = object_is_entity && Member(object, "assignee", learner);
  } else if (timed_out) {
    has_learner = object_is_entity && Member(object, "user", learner);
  } else {
    has_learner = Member(caliper, "actor", learner);
  }
  if (has_learner) event.learner_id = EntityId(learner, arena_);
  if (event.learner_id.empty() || IsAnonymousId(event.learner_id)) {
    event.learner_id = {};
    return RecordResult::Fail(RejectReason::kNoLearner);
  }

  std::string_view event_time;
  dom::element time_value;
  if (Member(caliper, "eventTime", time_value)) {
    if (time_value.get_string().get(event_time) != simdjson::SUCCESS) event_time = {};
  }
  const std::optional<TimestampMs> time = ParseIso8601Millis(event_time);
  if (!time) return RecordResult::Fail(RejectReason::kBadTime);
  event.event_time_ms = *time;

  // Course: group.subOrganizationOf.id when group is a CourseSection, else group.id.
  dom::element group_value;
  if (Member(caliper, "group", group_value)) {
    dom::object group;
    if (group_value.get_object().get(group) == simdjson::SUCCESS) {
      dom::element parent;
      if (TypeTerm(group, arena_) == "CourseSection" && Member(group, "subOrganizationOf", parent)) {
        event.course_id = EntityId(parent, arena_);
        if (IsAnonymousId(event.course_id)) event.course_id = {};
      }
    }
    if (event.course_id.empty()) event.course_id = EntityId(group_value, arena_);
    if (IsAnonymousId(event.course_id)) event.course_id = {};
  }
  dom::object extensions;
  if (MemberObject(caliper, "extensions", extensions)) {
    event.cohort_id = MemberText(extensions, "cohort", arena_);
  }

  // Item: GradeEvent -> object.assignable; else object. Skill: the item's
  // learningObjectives[0], else its isPartOf, else (in Emit) the item.
  dom::element item;
  bool has_item = false;
  if (graded) {
    has_item = object_is_entity && Member(object, "assignable", item);
  } else if (has_object) {
    item = object_value;
    has_item = true;
  }
  if (has_item) {
    event.item_id = EntityId(item, arena_);
    dom::object item_entity;
    if (item.get_object().get(item_entity) == simdjson::SUCCESS) {
      dom::element objectives;
      dom::array objective_list;
      dom::element first_objective;
      if (Member(item_entity, "learningObjectives", objectives) &&
          objectives.get_array().get(objective_list) == simdjson::SUCCESS &&
          objective_list.at(0).get(first_objective) == simdjson::SUCCESS) {
        event.skill_id = EntityId(first_objective, arena_);
      }
      dom::element part_of;
      if (event.skill_id.empty() && Member(item_entity, "isPartOf", part_of)) {
        event.skill_id = EntityId(part_of, arena_);
      }
    }
  }

  if (type == "AssessmentItemEvent" && action == "Completed") {
    event.kind = EventKind::kAttempt;
    dom::object generated;
    dom::element attempt;
    if (MemberObject(caliper, "generated", generated) && Member(generated, "attempt", attempt)) {
      event.attempt_ref = EntityId(attempt, arena_);
    }
    if (event.item_id.empty()) return RecordResult::Fail(RejectReason::kMissingField);
  } else if (graded) {
    event.kind = EventKind::kOutcome;
    event.attempt_ref = has_object ? EntityId(object_value, arena_) : std::string_view();
    if (event.attempt_ref.empty()) return RecordResult::Fail(RejectReason::kMissingField);
    dom::object score;
    dom::element value;
    double given = 0;
    double max = 0;
    if (MemberObject(caliper, "generated", score) && Member(score, "scoreGiven", value) &&
        ToDouble(value, given) && Member(score, "maxScore", value) && ToDouble(value, max) &&
        max > 0) {
      event.score = std::clamp(given / max, 0.0, 1.0);
      event.success = given >= 0.5 * max ? Success::kTrue : Success::kFalse;
    }
  } else if (type == "NavigationEvent" || type == "ViewEvent") {
    event.kind = EventKind::kView;
  } else if (type == "ToolUseEvent" && action == "Used") {
    event.kind = IsHelpTool(event.item_id) ? EventKind::kHelp : EventKind::kView;
  } else if (type == "SessionEvent" && action == "LoggedOut") {
    event.kind = EventKind::kSessionEnd;
  } else if (timed_out) {
    event.kind = EventKind::kSystem;
  } else {
    event.kind = EventKind::kOther;
  }
  return RecordResult::Event();
}

void EventDecoder::Impl::DecodeCaliperEnvelope(dom::array data, DecodedMessage& out) {
  uint32_t index = 0;
  for (const dom::element item : data) {
    dom::object caliper;
    dom::element unused;
    CanonicalEvent event;
    if (item.get_object().get(caliper) != simdjson::SUCCESS) {
      Emit(RecordResult::Fail(RejectReason::kUnknownFormat), event, index, out);
    } else if (Member(caliper, "action", unused)) {
      Emit(DecodeCaliperEvent(caliper, event), event, index, out);
    } else if (Member(caliper, "id", unused) || Member(caliper, "type", unused)) {
      // An entity "describe" (Caliper 1.2 §5.2 allows them in envelopes): not an event.
      Emit(RecordResult::Skip(), event, index, out);
    } else {
      Emit(RecordResult::Fail(RejectReason::kUnknownFormat), event, index, out);
    }
    ++index;
  }
}

}  // namespace learnflow
