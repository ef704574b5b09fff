// Moodle logstore_standard_log row (columns as JSON) -> CanonicalEvent (DESIGN §6, Moodle
// column). Moodle exports usually carry every column as a string ("timecreated":"1700000000");
// numbers and numeric strings are accepted everywhere.
#include <algorithm>
#include <cmath>

#include "connectors/decoders/decoder_internal.h"
#include "connectors/decoders/php_unserialize.h"
#include "core/json_writer.h"
#include "core/time.h"

namespace learnflow {
namespace {

using decoder_internal::Member;
using decoder_internal::MemberText;
using decoder_internal::RecordResult;
using decoder_internal::Text;
using decoder_internal::ToDouble;
using decoder_internal::ToInt64;
namespace dom = simdjson::dom;

constexpr std::string_view kAttemptSubmitted = "\\mod_quiz\\event\\attempt_submitted";
constexpr std::string_view kUserGraded = "\\core\\event\\user_graded";
constexpr int64_t kParticipating = 2;  // \core\event\base::LEVEL_PARTICIPATING
constexpr int64_t kMaxUnixSeconds = 253402300799;  // 9999-12-31T23:59:59Z

// Event names with or without the leading backslash.
bool SameEventName(std::string_view name, std::string_view canonical) {
  if (!name.starts_with('\\')) canonical.remove_prefix(1);
  return name == canonical;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
           return lower(x) == lower(y);
         });
}

// anonymous = 1 (or "1", true).
bool IsAnonymous(dom::element value) {
  bool flag = false;
  if (value.get_bool().get(flag) == simdjson::SUCCESS) return flag;
  int64_t number = 0;
  return ToInt64(value, number) && number == 1;
}

// realuserid is "null" when absent, JSON null, "", "null"/"NULL" (SQL exports) or 0.
bool IsNullUser(dom::element value) {
  int64_t number = 0;
  if (ToInt64(value, number)) return number == 0;
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    return text.empty() || EqualsIgnoreCase(text, "null");
  }
  return false;
}

void WriteRedacted(dom::object row, std::string& out) {
  out.clear();
  out.push_back('{');
  bool first = true;
  for (const dom::key_value_pair field : row) {
    if (field.key == "userid" || field.key == "relateduserid" || field.key == "ip") continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, field.key);
    out.push_back(':');
    decoder_internal::AppendJson(field.value, out);
  }
  out.push_back('}');
}

}  // namespace

// other.finalgrade (and other.grademax when present) of a user_graded row; `other` may be a
// JSON object, JSON text or PHP-serialised text. False when no usable grade is there.
bool EventDecoder::Impl::MoodleGrade(dom::object row, double& grade, double& grade_max) {
  grade_max = options_.moodle_default_grade_max;
  dom::element other;
  if (!Member(row, "other", other)) return false;
  dom::object members;
  bool is_object = other.get_object().get(members) == simdjson::SUCCESS;
  if (!is_object) {
    std::string_view text;
    if (other.get_string().get(text) != simdjson::SUCCESS) return false;
    while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\t')) {
      text.remove_prefix(1);
    }
    if (text.starts_with('{')) {
      const char* padded = other_input_.Assign(text);
      dom::element parsed;
      if (other_parser_.parse(padded, text.size(), /*realloc_if_needed=*/false).get(parsed) !=
              simdjson::SUCCESS ||
          parsed.get_object().get(members) != simdjson::SUCCESS) {
        return false;
      }
      is_object = true;
    } else {
      decoder_internal::PhpValue value;
      double max = 0;
      if (decoder_internal::PhpFindMember(text, "grademax", value) &&
          decoder_internal::PhpToDouble(value, max) && max > 0) {
        grade_max = max;
      }
      return decoder_internal::PhpFindMember(text, "finalgrade", value) &&
             decoder_internal::PhpToDouble(value, grade);
    }
  }
  dom::element value;
  double max = 0;
  if (Member(members, "grademax", value) && ToDouble(value, max) && max > 0) grade_max = max;
  return Member(members, "finalgrade", value) && ToDouble(value, grade);
}

decoder_internal::RecordResult EventDecoder::Impl::DecodeMoodle(dom::object row,
                                                                CanonicalEvent& event,
                                                                DecodedMessage& out) {
  dom::element value;
  // Privacy first: anonymous rows and "logged in as" rows are dead-lettered whatever they are.
  if (Member(row, "anonymous", value) && IsAnonymous(value)) {
    WriteRedacted(row, out.redacted_payload);
    return RecordResult::Fail(RejectReason::kAnonymous);
  }
  if (Member(row, "realuserid", value) && !IsNullUser(value)) {
    return RecordResult::Fail(RejectReason::kLoginAs);
  }

  const std::string_view event_name = MemberText(row, "eventname", arena_);
  // user_graded is a teacher-level row (edulevel 1) but its finalgrade is the learner's outcome
  // (DESIGN §6), so it is the one exception to "edulevel = 2 only".
  const bool graded = SameEventName(event_name, kUserGraded);
  int64_t edulevel = 0;
  const bool participating =
      Member(row, "edulevel", value) && ToInt64(value, edulevel) && edulevel == kParticipating;
  double grade = 0;
  double grade_max = 0;
  if (graded) {
    if (!MoodleGrade(row, grade, grade_max)) return RecordResult::Skip();
  } else if (!participating) {
    return RecordResult::Skip();
  }

  const std::string_view row_id = MemberText(row, "id", arena_);
  if (row_id.empty()) return RecordResult::Fail(RejectReason::kMissingField);
  event.event_id = arena_.Concat(options_.moodle_site_id, ":", row_id);

  // Learner: relateduserid for quiz attempts and grades (the row's userid is the teacher or
  // whoever acted), else userid. 0, the guest account and "guest" are no learner.
  const std::string_view table = MemberText(row, "objecttable", arena_);
  const std::string_view learner_key =
      table == "quiz_attempts" || table == "grade_grades" ? "relateduserid" : "userid";
  if (Member(row, learner_key, value)) {
    int64_t user_id = 0;
    if (ToInt64(value, user_id)) {
      if (user_id > 0 && user_id != options_.moodle_guest_user_id) {
        event.learner_id = Text(value, arena_);
      }
    } else {
      const std::string_view name = Text(value, arena_);
      if (!EqualsIgnoreCase(name, "guest")) event.learner_id = name;
    }
  }
  if (event.learner_id.empty()) return RecordResult::Fail(RejectReason::kNoLearner);

  // timecreated: unix seconds (fractions allowed, floored to milliseconds).
  double seconds = -1;
  if (!Member(row, "timecreated", value) || !ToDouble(value, seconds) || seconds < 0 ||
      seconds > static_cast<double>(kMaxUnixSeconds)) {
    return RecordResult::Fail(RejectReason::kBadTime);
  }
  int64_t whole = 0;
  if (ToInt64(value, whole)) {
    event.event_time_ms = whole * kMsPerSecond;
  } else {
    event.event_time_ms = static_cast<TimestampMs>(std::floor(seconds * kMsPerSecond));
  }

  // courseid 0 is the system context: no course.
  if (Member(row, "courseid", value)) {
    int64_t course = 0;
    if (!ToInt64(value, course) || course != 0) event.course_id = Text(value, arena_);
  }
  if (!event.course_id.empty()) {
    if (const auto it = cohort_by_course_.find(event.course_id); it != cohort_by_course_.end()) {
      event.cohort_id = it->second;
    }
  }
  event.item_id = MemberText(row, "contextinstanceid", arena_);
  if (!event.item_id.empty()) {
    if (const auto it = skill_by_item_.find(event.item_id); it != skill_by_item_.end()) {
      event.skill_id = it->second;
    }
  }

  if (graded) {
    event.kind = EventKind::kOutcome;
    event.score = std::clamp(grade / grade_max, 0.0, 1.0);
    event.success = grade >= 0.5 * grade_max ? Success::kTrue : Success::kFalse;
  } else if (SameEventName(event_name, kAttemptSubmitted)) {
    event.kind = EventKind::kAttempt;  // the log holds no correctness: success unknown
    if (event.item_id.empty()) return RecordResult::Fail(RejectReason::kMissingField);
  } else {
    event.kind = EventKind::kView;
  }
  return RecordResult::Event();
}

}  // namespace learnflow
