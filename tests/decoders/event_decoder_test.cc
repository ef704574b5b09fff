// Tests of EventDecoder (DESIGN §6): every mapping row of xAPI, Caliper 1.2 and Moodle, the
// reject reasons, hostile input and buffer reuse across messages.
#include "connectors/decoders/event_decoder.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace learnflow {
namespace {

// ---- helpers ----

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "sample does not contain: " << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

TimestampMs Iso(std::string_view text) {
  const std::optional<TimestampMs> t = ParseIso8601Millis(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(0);
}

class DecoderTest : public ::testing::Test {
 protected:
  explicit DecoderTest(DecoderOptions options = DecoderOptions::Defaults())
      : decoder_(std::move(options)) {}

  const DecodedMessage& Decode(std::string_view payload) {
    // An exactly-sized heap copy: the decoder must not rely on padding after the payload.
    owned_.assign(payload.begin(), payload.end());
    owned_.shrink_to_fit();
    decoder_.Decode(owned_, out_);
    return out_;
  }

  // Decodes a message expected to give exactly one event.
  CanonicalEvent One(std::string_view payload) {
    Decode(payload);
    EXPECT_TRUE(out_.rejects.empty())
        << "rejected: " << (out_.rejects.empty() ? "" : RejectReasonCode(out_.rejects[0].reason));
    EXPECT_EQ(out_.events.size(), 1u);
    return out_.events.empty() ? CanonicalEvent{} : out_.events[0];
  }

  // Decodes a message expected to be rejected as a whole; returns the reason code.
  std::string_view RejectOf(std::string_view payload) {
    Decode(payload);
    EXPECT_TRUE(out_.events.empty());
    EXPECT_EQ(out_.rejects.size(), 1u);
    if (out_.rejects.size() != 1) return "<none>";
    EXPECT_EQ(out_.rejects[0].index, 0u);
    return RejectReasonCode(out_.rejects[0].reason);
  }

  EventDecoder decoder_;
  DecodedMessage out_;
  std::string owned_;
};

// ---- samples (shapes taken from the xAPI 1.0.3 spec, Caliper 1.2 spec examples and Moodle's
// logstore_standard_log) ----

constexpr std::string_view kXapiAnswered = R"({
  "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
  "actor": {
    "objectType": "Agent",
    "name": "Ana Souza",
    "account": {"homePage": "https://lms.example.edu", "name": "ana.souza"}
  },
  "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
  "object": {
    "objectType": "Activity",
    "id": "https://lms.example.edu/quiz/7/question/3",
    "definition": {
      "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
      "interactionType": "choice",
      "extensions": {"https://learnflow.dev/xapi/skill": "fractions.addition"}
    }
  },
  "result": {"success": true, "score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10},
             "response": "b", "duration": "PT12S"},
  "context": {
    "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
    "contextActivities": {
      "parent": [{"id": "https://lms.example.edu/quiz/7", "objectType": "Activity"}],
      "grouping": [{"id": "https://lms.example.edu/course/math-101", "objectType": "Activity"}],
      "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5",
                    "definition": {"type": "http://adlnet.gov/expapi/activities/profile"}}]
    },
    "extensions": {"https://learnflow.dev/xapi/cohort": "math-101-fall"}
  },
  "timestamp": "2026-11-22T10:15:30.250+01:00",
  "stored": "2026-11-22T09:20:00.000Z",
  "authority": {"objectType": "Agent", "mbox": "mailto:lrs@example.edu"},
  "version": "1.0.3"
})";

// Minimal statement; tests splice pieces in.
constexpr std::string_view kXapiMinimal = R"({"id":"st-1",
  "actor":{"mbox":"mailto:learner@example.edu"},
  "verb":{"id":"http://adlnet.gov/expapi/verbs/VERB"},
  "object":{"id":"https://lms.example.edu/activity/1"},
  "timestamp":"2026-11-22T10:00:00Z"})";

std::string XapiWithVerb(std::string_view verb) {
  return Replace(std::string(kXapiMinimal), "VERB", verb);
}

// Caliper 1.2 AssessmentItemEvent Completed (spec example, with learningObjectives added).
constexpr std::string_view kCaliperCompleted = R"({
  "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
  "id": "urn:uuid:e5891580-1ca4-4c58-8e59-7b58b6ac2b13",
  "type": "AssessmentItemEvent",
  "profile": "AssessmentProfile",
  "actor": {"id": "https://example.edu/users/554433", "type": "Person"},
  "action": "Completed",
  "object": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3",
    "type": "AssessmentItem",
    "name": "Assessment Item 3",
    "isPartOf": {"id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1",
                 "type": "Assessment"},
    "learningObjectives": [{"id": "https://example.edu/objectives/fractions", "type": "LearningObjective"}],
    "maxScore": 1.0,
    "isTimeDependent": false
  },
  "generated": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3/users/554433/responses/1",
    "type": "Response",
    "attempt": {
      "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3/users/554433/attempts/1",
      "type": "Attempt",
      "assignee": "https://example.edu/users/554433",
      "assignable": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3",
      "count": 1
    },
    "dateCreated": "2018-11-15T10:15:12.000Z"
  },
  "eventTime": "2018-11-15T10:15:12.000Z",
  "edApp": "https://example.edu",
  "group": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1",
    "type": "CourseSection",
    "courseNumber": "CPS 435-01",
    "academicSession": "Fall 2018",
    "subOrganizationOf": {"id": "https://example.edu/terms/201801/courses/7", "type": "CourseOffering"}
  },
  "membership": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1/rosters/1",
    "type": "Membership",
    "member": "https://example.edu/users/554433",
    "organization": "https://example.edu/terms/201801/courses/7/sections/1",
    "roles": ["Learner"],
    "status": "Active"
  },
  "session": {"id": "https://example.edu/sessions/1f6442a482de72ea6ad134943812bff564a76259", "type": "Session"},
  "extensions": {"cohort": "cps435-fall-section1"}
})";

// Caliper 1.2 GradeEvent Graded (spec example).
constexpr std::string_view kCaliperGraded = R"({
  "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
  "id": "urn:uuid:a50ca17f-5971-47bb-8fca-4e6e6879001d",
  "type": "GradeEvent",
  "profile": "GradingProfile",
  "actor": {"id": "https://example.edu/autograder", "type": "SoftwareApplication", "version": "v2"},
  "action": "Graded",
  "object": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/users/554433/attempts/1",
    "type": "Attempt",
    "assignee": {"id": "https://example.edu/users/554433", "type": "Person"},
    "assignable": {"id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1",
                   "type": "Assessment",
                   "isPartOf": "https://example.edu/terms/201801/courses/7/sections/1/units/2"},
    "count": 1,
    "dateCreated": "2018-11-15T10:05:00.000Z",
    "startedAtTime": "2018-11-15T10:05:00.000Z",
    "endedAtTime": "2018-11-15T10:55:30.000Z",
    "duration": "PT50M30S"
  },
  "eventTime": "2018-11-15T10:57:06.000Z",
  "edApp": "https://example.edu",
  "generated": {
    "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/users/554433/attempts/1/scores/1",
    "type": "Score",
    "attempt": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/users/554433/attempts/1",
    "maxScore": 15.0,
    "scoreGiven": 10.0,
    "scoredBy": "https://example.edu/autograder",
    "comment": "auto-graded exam",
    "dateCreated": "2018-11-15T10:56:00.000Z"
  },
  "group": {"id": "https://example.edu/terms/201801/courses/7/sections/1", "type": "CourseSection",
            "subOrganizationOf": "https://example.edu/terms/201801/courses/7"}
})";

constexpr std::string_view kCaliperMinimal = R"({
  "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
  "id": "urn:uuid:ID",
  "type": "TYPE",
  "actor": "https://example.edu/users/554433",
  "action": "ACTION",
  "object": {"id": "https://example.edu/OBJECT", "type": "DigitalResource"},
  "eventTime": "2018-11-15T10:15:00.000Z",
  "group": "https://example.edu/terms/201801/courses/7"
})";

std::string Caliper(std::string_view type, std::string_view action,
                    std::string_view object = "resources/1", std::string_view id = "1") {
  std::string s = Replace(std::string(kCaliperMinimal), "TYPE", type);
  s = Replace(std::move(s), "ACTION", action);
  s = Replace(std::move(s), "OBJECT", object);
  return Replace(std::move(s), "ID", id);
}

// Moodle 4.x logstore_standard_log row as exported (every column a string).
constexpr std::string_view kMoodleAttemptSubmitted = R"({
  "id": "184467",
  "eventname": "\\mod_quiz\\event\\attempt_submitted",
  "component": "mod_quiz",
  "action": "submitted",
  "target": "attempt",
  "objecttable": "quiz_attempts",
  "objectid": "9921",
  "crud": "u",
  "edulevel": "2",
  "contextid": "3120",
  "contextlevel": "70",
  "contextinstanceid": "845",
  "userid": "2",
  "courseid": "42",
  "relateduserid": "1337",
  "anonymous": "0",
  "other": "{\"submitterid\":\"1337\",\"quizid\":\"77\"}",
  "timecreated": "1700000000",
  "origin": "web",
  "ip": "203.0.113.7",
  "realuserid": null
})";

constexpr std::string_view kMoodleViewed = R"({"id":184470,
  "eventname":"\\mod_page\\event\\course_module_viewed","component":"mod_page","action":"viewed",
  "target":"course_module","objecttable":"page","objectid":15,"crud":"r","edulevel":2,
  "contextid":3200,"contextlevel":70,"contextinstanceid":901,"userid":1337,"courseid":42,
  "relateduserid":null,"anonymous":0,"other":"N;","timecreated":1700000100,"origin":"web",
  "ip":"203.0.113.7","realuserid":null})";

constexpr std::string_view kMoodleUserGradedPhp = R"({"id":"184480",
  "eventname":"\\core\\event\\user_graded","component":"core","action":"graded","target":"user",
  "objecttable":"grade_grades","objectid":"5512","crud":"u","edulevel":"1","contextid":"3100",
  "contextlevel":"50","contextinstanceid":"42","userid":"3","courseid":"42","relateduserid":"1337",
  "anonymous":"0",
  "other":"a:3:{s:6:\"itemid\";i:612;s:10:\"overridden\";b:0;s:10:\"finalgrade\";d:85.5;}",
  "timecreated":"1700000200","origin":"web","ip":"198.51.100.9","realuserid":null})";

// ======================= xAPI =======================

TEST_F(DecoderTest, XapiFullStatementMapsEveryField) {
  const CanonicalEvent e = One(kXapiAnswered);
  EXPECT_EQ(out_.format, InputFormat::kXapi);
  EXPECT_EQ(e.event_id, "6690e6c9-3ef0-4ed3-8b37-7f3964730bee");
  EXPECT_EQ(e.learner_id, "https://lms.example.edu|ana.souza");
  EXPECT_EQ(e.course_id, "https://lms.example.edu/course/math-101");  // grouping before parent
  EXPECT_EQ(e.cohort_id, "math-101-fall");
  EXPECT_EQ(e.item_id, "https://lms.example.edu/quiz/7/question/3");
  EXPECT_EQ(e.skill_id, "fractions.addition");
  EXPECT_EQ(e.event_time_ms, Iso("2026-11-22T09:15:30.250Z"));  // +01:00 converted to UTC
  EXPECT_EQ(e.stored_time_ms, Iso("2026-11-22T09:20:00.000Z"));
  EXPECT_EQ(e.kind, EventKind::kAttempt);
  EXPECT_EQ(e.success, Success::kTrue);
  EXPECT_DOUBLE_EQ(e.score, 0.8);
  EXPECT_TRUE(e.attempt_ref.empty());
  EXPECT_TRUE(e.retracts_event_id.empty());
  EXPECT_FALSE(e.closes_session);
  EXPECT_EQ(out_.skipped, 0u);
  EXPECT_TRUE(out_.redacted_payload.empty());
}

TEST_F(DecoderTest, XapiLearnerFallsBackThroughIdentifiers) {
  const std::string base(kXapiMinimal);
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("mbox":"mailto:Ana.Souza@Example.EDU")")).learner_id,
            "mailto:ana.souza@example.edu");
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("mbox_sha1sum":"EBD31E95054C018B10727CCFFD2EF2EC3A016EE9")"))
                .learner_id,
            "EBD31E95054C018B10727CCFFD2EF2EC3A016EE9");
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("openid":"https://openid.example.org/ana")")).learner_id,
            "https://openid.example.org/ana");
  // An account without homePage is incomplete: the next identifier is used.
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("account":{"name":"ana"},"mbox":"mailto:A@B.C")")).learner_id,
            "mailto:a@b.c");
  // Account wins over mbox.
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("mbox":"mailto:a@b.c","account":{"homePage":"https://x","name":"u1"})"))
                .learner_id,
            "https://x|u1");
  // Account name given as a number.
  EXPECT_EQ(One(Replace(base, R"("mbox":"mailto:learner@example.edu")",
                        R"("account":{"homePage":"https://x","name":90210})")).learner_id,
            "https://x|90210");
}

TEST_F(DecoderTest, XapiNoLearner) {
  const std::string base(kXapiMinimal);
  EXPECT_EQ(RejectOf(Replace(base, R"("actor":{"mbox":"mailto:learner@example.edu"},)", "")),
            "no_learner");
  EXPECT_EQ(RejectOf(Replace(base, R"({"mbox":"mailto:learner@example.edu"})", "null")),
            "no_learner");
  EXPECT_EQ(RejectOf(Replace(base, R"({"mbox":"mailto:learner@example.edu"})", R"("ana")")),
            "no_learner");
  EXPECT_EQ(RejectOf(Replace(base, R"({"mbox":"mailto:learner@example.edu"})", "{}")),
            "no_learner");
  EXPECT_EQ(RejectOf(Replace(base, R"("mbox":"mailto:learner@example.edu")", R"("mbox":"")")),
            "no_learner");
  // A Group, even an identified one, is not a learner.
  EXPECT_EQ(RejectOf(Replace(base, R"({"mbox":"mailto:learner@example.edu"})",
                             R"({"objectType":"Group","name":"Team A",
                                 "account":{"homePage":"https://x","name":"team-a"},
                                 "member":[{"mbox":"mailto:a@example.edu"}]})")),
            "no_learner");
}

TEST_F(DecoderTest, XapiCourseAndCohortFallbacks) {
  const std::string with_context = Replace(std::string(kXapiMinimal), R"("timestamp")",
                                           R"("context":{"contextActivities":CA},"timestamp")");
  // grouping as a single object (not an array).
  CanonicalEvent e = One(Replace(with_context, "CA", R"({"grouping":{"id":"course-A"},
                                                         "parent":{"id":"parent-B"}})"));
  EXPECT_EQ(e.course_id, "course-A");
  EXPECT_EQ(e.cohort_id, "course-A");  // no cohort extension: course
  // No grouping: the first parent.
  e = One(Replace(with_context, "CA", R"({"parent":[{"id":"parent-B"},{"id":"parent-C"}]})"));
  EXPECT_EQ(e.course_id, "parent-B");
  EXPECT_EQ(e.cohort_id, "parent-B");
  // Empty grouping array: parent.
  e = One(Replace(with_context, "CA", R"({"grouping":[],"parent":{"id":"parent-B"}})"));
  EXPECT_EQ(e.course_id, "parent-B");
  // No course at all: both empty (the engine decides).
  e = One(kXapiMinimal);
  EXPECT_EQ(e.course_id, "");
  EXPECT_EQ(e.cohort_id, "");
  // Cohort extension without course; cohort given as a number.
  e = One(Replace(std::string(kXapiMinimal), R"("timestamp")",
                  R"("context":{"extensions":{"https://learnflow.dev/xapi/cohort":2026}},"timestamp")"));
  EXPECT_EQ(e.course_id, "");
  EXPECT_EQ(e.cohort_id, "2026");
}

TEST_F(DecoderTest, XapiSkillFallbacks) {
  const std::string with_category = Replace(
      std::string(kXapiMinimal), R"("timestamp")",
      R"("context":{"contextActivities":{"category":[
          {"id":"https://w3id.org/xapi/cmi5/context/categories/cmi5",
           "definition":{"type":"http://adlnet.gov/expapi/activities/profile"}},
          {"id":"https://example.edu/skills/algebra"}]}},"timestamp")");
  EXPECT_EQ(One(with_category).skill_id, "https://example.edu/skills/algebra");
  // Only a profile category: the item.
  const std::string profile_only = Replace(
      std::string(kXapiMinimal), R"("timestamp")",
      R"("context":{"contextActivities":{"category":{"id":"https://w3id.org/xapi/video",
          "definition":{"type":"http://adlnet.gov/expapi/activities/profile"}}}},"timestamp")");
  EXPECT_EQ(One(profile_only).skill_id, "https://lms.example.edu/activity/1");
  EXPECT_EQ(One(kXapiMinimal).skill_id, "https://lms.example.edu/activity/1");
  // The skill extension wins over categories.
  const std::string both = Replace(
      with_category, R"("object":{"id":"https://lms.example.edu/activity/1"})",
      R"("object":{"id":"https://lms.example.edu/activity/1","definition":{"extensions":
          {"https://learnflow.dev/xapi/skill":"skill-x"}}})");
  EXPECT_EQ(One(both).skill_id, "skill-x");
}

TEST_F(DecoderTest, XapiScoreRules) {
  const auto score_of = [this](std::string_view score) {
    return One(Replace(XapiWithVerb("scored"), R"("timestamp")",
                       std::string(R"("result":{"score":)") + std::string(score) +
                           R"(},"timestamp")"))
        .score;
  };
  EXPECT_DOUBLE_EQ(score_of(R"({"scaled":0.25})"), 0.25);
  EXPECT_DOUBLE_EQ(score_of(R"({"scaled":1.5})"), 1.0);   // clamped
  EXPECT_DOUBLE_EQ(score_of(R"({"scaled":-0.5})"), 0.0);  // xAPI allows [-1,1]; clamped
  EXPECT_DOUBLE_EQ(score_of(R"({"scaled":"0.75"})"), 0.75);            // number as string
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":7,"max":10})"), 0.7);            // min defaults to 0
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":15,"min":10,"max":20})"), 0.5);  // (raw-min)/(max-min)
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":"30","min":"10","max":"20"})"), 1.0);
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":5,"min":10,"max":20})"), 0.0);
  EXPECT_EQ(score_of(R"({"raw":5,"min":10,"max":10})"), CanonicalEvent::kNoScore);  // max == min
  EXPECT_EQ(score_of(R"({"raw":5,"max":-1})"), CanonicalEvent::kNoScore);
  EXPECT_EQ(score_of(R"({"raw":5})"), CanonicalEvent::kNoScore);
  EXPECT_EQ(score_of(R"({"raw":"five","max":10})"), CanonicalEvent::kNoScore);
  EXPECT_EQ(score_of(R"({})"), CanonicalEvent::kNoScore);
  EXPECT_FALSE(One(kXapiMinimal).has_score());
  // Bounds whose differences overflow a double (a NaN score before; tests/fuzz/regressions/xapi).
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":1e308,"min":-1e308,"max":1.5e308})"), 0.8);
  EXPECT_DOUBLE_EQ(score_of(R"({"raw":1.7e308,"min":-1.7e308,"max":1e308})"), 1.0);
}

TEST_F(DecoderTest, XapiSuccessRules) {
  const auto with_result = [](std::string_view verb, std::string_view result) {
    return Replace(XapiWithVerb(verb), R"("timestamp")",
                   std::string(R"("result":)") + std::string(result) + R"(,"timestamp")");
  };
  EXPECT_EQ(One(XapiWithVerb("passed")).success, Success::kTrue);
  EXPECT_EQ(One(XapiWithVerb("failed")).success, Success::kFalse);
  EXPECT_EQ(One(XapiWithVerb("answered")).success, Success::kUnknown);
  EXPECT_EQ(One(with_result("answered", R"({"success":false})")).success, Success::kFalse);
  EXPECT_EQ(One(with_result("answered", R"({"success":"true"})")).success, Success::kTrue);
  // result.success wins over the verb.
  EXPECT_EQ(One(with_result("passed", R"({"success":false})")).success, Success::kFalse);
  EXPECT_EQ(One(with_result("answered", R"({"success":"maybe"})")).success, Success::kUnknown);
  EXPECT_EQ(One(XapiWithVerb("passed")).kind, EventKind::kAttempt);
}

TEST_F(DecoderTest, XapiVerbKinds) {
  struct Case {
    std::string verb;
    EventKind kind;
  };
  const std::string adl = "http://adlnet.gov/expapi/verbs/";
  const std::vector<Case> cases = {
      {adl + "answered", EventKind::kAttempt},     {adl + "passed", EventKind::kAttempt},
      {adl + "failed", EventKind::kAttempt},       {adl + "scored", EventKind::kAttempt},
      {adl + "attempted", EventKind::kView},       {adl + "experienced", EventKind::kView},
      {adl + "progressed", EventKind::kView},      {adl + "initialized", EventKind::kView},
      {adl + "asked", EventKind::kHelp},           {adl + "completed", EventKind::kCompletion},
      {adl + "terminated", EventKind::kSessionEnd}, {adl + "exited", EventKind::kSessionEnd},
      {adl + "suspended", EventKind::kSessionEnd}, {adl + "abandoned", EventKind::kSessionEnd},
      {"https://w3id.org/xapi/adl/verbs/abandoned", EventKind::kSessionEnd},
      {"https://w3id.org/xapi/adl/verbs/logged-out", EventKind::kSessionEnd},
      {adl + "launched", EventKind::kSystem},      {adl + "commented", EventKind::kOther},
      {"https://w3id.org/xapi/adl/verbs/logged-in", EventKind::kOther},
      {"http://id.tincanapi.com/verb/viewed", EventKind::kOther},
      // Exact IRIs: no case folding, no trailing slash tolerance.
      {adl + "Answered", EventKind::kOther},       {adl + "answered/", EventKind::kOther},
  };
  for (const Case& c : cases) {
    const std::string statement =
        Replace(std::string(kXapiMinimal), "http://adlnet.gov/expapi/verbs/VERB", c.verb);
    const CanonicalEvent e = One(statement);
    EXPECT_EQ(e.kind, c.kind) << c.verb;
    EXPECT_EQ(e.closes_session, c.kind == EventKind::kSessionEnd || c.kind == EventKind::kSystem)
        << c.verb;
  }
  EXPECT_EQ(RejectOf(Replace(std::string(kXapiMinimal),
                             R"({"id":"http://adlnet.gov/expapi/verbs/VERB"})", "{}")),
            "missing_field");
}

TEST(DecoderOptionsTest, ConfiguredVerbLists) {
  DecoderOptions options = DecoderOptions::Defaults();
  options.xapi_help_verbs.push_back("https://example.edu/verbs/requested-hint");
  options.xapi_attempt_verbs.push_back("https://example.edu/verbs/solved");
  options.xapi_passed_verbs.push_back("https://example.edu/verbs/solved");
  // A verb listed twice: the first kind list (attempt) wins.
  options.xapi_view_verbs.push_back("http://adlnet.gov/expapi/verbs/answered");
  EventDecoder decoder(options);
  DecodedMessage out;
  const std::string base(kXapiMinimal);
  decoder.Decode(Replace(base, "http://adlnet.gov/expapi/verbs/VERB",
                         "https://example.edu/verbs/requested-hint"),
                 out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kHelp);
  decoder.Decode(Replace(base, "http://adlnet.gov/expapi/verbs/VERB",
                         "https://example.edu/verbs/solved"),
                 out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kAttempt);
  EXPECT_EQ(out.events[0].success, Success::kTrue);
  decoder.Decode(Replace(base, "VERB", "answered"), out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kAttempt);

  // Empty options: every verb is "other"; voided is then an ordinary verb.
  EventDecoder bare{DecoderOptions{}};
  bare.Decode(Replace(base, "VERB", "answered"), out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kOther);
}

TEST(DecoderOptionsTest, ManyConfiguredVerbsWithSharedPrefixesAndTails) {
  // Verbs are found by a hash of their length and last bytes: IRIs that differ only early on,
  // or only in the middle, must still be told apart, at any number of configured verbs.
  DecoderOptions options = DecoderOptions::Defaults();
  const auto verb = [](int i, std::string_view list) {
    return "https://example.edu/" + std::string(list) + "/" + std::to_string(1000 + i) +
           "/verbs/practised";
  };
  for (int i = 0; i < 300; ++i) options.xapi_help_verbs.push_back(verb(i, "help"));
  for (int i = 0; i < 300; ++i) options.xapi_view_verbs.push_back(verb(i, "view"));
  EventDecoder decoder(options);
  DecodedMessage out;
  const std::string base(kXapiMinimal);
  const auto kind_of = [&](const std::string& iri) {
    decoder.Decode(Replace(base, "http://adlnet.gov/expapi/verbs/VERB", iri), out);
    EXPECT_EQ(out.events.size(), 1u) << iri;
    return out.events.empty() ? EventKind::kOther : out.events[0].kind;
  };
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(kind_of(verb(i, "help")), EventKind::kHelp) << i;
    EXPECT_EQ(kind_of(verb(i, "view")), EventKind::kView) << i;
  }
  EXPECT_EQ(kind_of(verb(300, "help")), EventKind::kOther);
  EXPECT_EQ(kind_of(verb(0, "hElp")), EventKind::kOther);
  EXPECT_EQ(kind_of("http://adlnet.gov/expapi/verbs/answered"), EventKind::kAttempt);
}

TEST_F(DecoderTest, XapiVoidedStatementRetracts) {
  const std::string voided = R"({
    "id": "0e3b1b38-6c2b-4a47-9b8c-3b1a7e0c9f10",
    "actor": {"objectType": "Agent", "name": "LRS admin", "mbox": "mailto:admin@example.edu"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
    "object": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
    "timestamp": "2026-11-22T11:00:00Z"})";
  CanonicalEvent e = One(voided);
  EXPECT_EQ(e.kind, EventKind::kRetraction);
  EXPECT_EQ(e.retracts_event_id, "6690e6c9-3ef0-4ed3-8b37-7f3964730bee");
  EXPECT_EQ(e.event_id, "0e3b1b38-6c2b-4a47-9b8c-3b1a7e0c9f10");
  EXPECT_EQ(e.learner_id, "mailto:admin@example.edu");
  EXPECT_EQ(e.item_id, "");  // the object is a statement, not an activity
  EXPECT_FALSE(e.closes_session);
  // A voiding statement needs no learner of its own (e.g. made by a Group authority).
  e = One(Replace(voided, R"({"objectType": "Agent", "name": "LRS admin", "mbox": "mailto:admin@example.edu"})",
                  R"({"objectType": "Group", "member": []})"));
  EXPECT_EQ(e.kind, EventKind::kRetraction);
  EXPECT_EQ(e.learner_id, "");
  // The object must be a StatementRef with an id.
  EXPECT_EQ(RejectOf(Replace(voided, R"("objectType": "StatementRef")", R"("objectType": "Activity")")),
            "bad_void");
  EXPECT_EQ(RejectOf(Replace(voided, R"(, "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"})", "}")),
            "bad_void");
  EXPECT_EQ(RejectOf(Replace(voided, R"("objectType": "StatementRef", )", "")), "bad_void");
  EXPECT_EQ(RejectOf(Replace(voided, R"({"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"})",
                             R"("6690e6c9")")),
            "bad_void");
}

TEST_F(DecoderTest, XapiEventIdHashWhenAbsent) {
  const std::string no_id = Replace(std::string(kXapiMinimal), R"("id":"st-1",)", "");
  const std::string id1(One(no_id).event_id);
  EXPECT_EQ(id1.size(), 8u + 16u);
  EXPECT_EQ(id1.substr(0, 8), "fnv1a64:");
  EXPECT_EQ(id1.find_first_not_of("0123456789abcdef", 8), std::string::npos);
  // Stable: same bytes, same id, in another decoder too.
  EventDecoder other;
  DecodedMessage out;
  other.Decode(no_id, out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].event_id, id1);
  // Different statement, different id. Empty id string counts as absent.
  EXPECT_NE(One(Replace(no_id, "activity/1", "activity/2")).event_id, id1);
  EXPECT_EQ(One(Replace(std::string(kXapiMinimal), R"("id":"st-1")", R"("id":"")")).event_id.substr(0, 8),
            "fnv1a64:");
  // FNV-1a 64 of the exact bytes (reference value computed independently for "{}"-less input).
  EXPECT_EQ(One(Replace(std::string(kXapiMinimal), R"("id":"st-1")", R"("id":12345)")).event_id,
            "12345");
}

TEST_F(DecoderTest, XapiTimeRules) {
  const std::string base(kXapiMinimal);
  // stored only: event time from stored; stored_time_ms is only set when both are present.
  CanonicalEvent e = One(Replace(base, R"("timestamp":"2026-11-22T10:00:00Z")",
                                 R"("stored":"2026-11-22T10:05:00.000Z")"));
  EXPECT_EQ(e.event_time_ms, Iso("2026-11-22T10:05:00Z"));
  EXPECT_EQ(e.stored_time_ms, CanonicalEvent::kNoTime);
  // Both: timestamp is event time, stored kept (offline-sync delay).
  e = One(Replace(base, R"("timestamp":"2026-11-22T10:00:00Z")",
                  R"("timestamp":"2026-11-22T04:30:00-05:30","stored":"2026-11-22T12:00:00Z")"));
  EXPECT_EQ(e.event_time_ms, Iso("2026-11-22T10:00:00Z"));
  EXPECT_EQ(e.stored_time_ms - e.event_time_ms, 2 * kMsPerHour);
  // No offset means UTC.
  EXPECT_EQ(One(Replace(base, "10:00:00Z", "10:00:00")).event_time_ms, Iso("2026-11-22T10:00:00Z"));
  // Bad stored beside a good timestamp is ignored.
  e = One(Replace(base, R"("timestamp":"2026-11-22T10:00:00Z")",
                  R"("timestamp":"2026-11-22T10:00:00Z","stored":"soon")"));
  EXPECT_EQ(e.stored_time_ms, CanonicalEvent::kNoTime);
  // Bad or missing times.
  for (const char* bad : {R"("2026-13-01T00:00:00Z")", R"("yesterday")", R"("")", "1700000000",
                          R"("2026-02-30T10:00:00Z")", "true", "{}"}) {
    EXPECT_EQ(RejectOf(Replace(base, R"("2026-11-22T10:00:00Z")", bad)), "bad_time") << bad;
  }
  EXPECT_EQ(RejectOf(Replace(base, R"(,
  "timestamp":"2026-11-22T10:00:00Z")", "")),
            "bad_time");
  // A bad timestamp is not replaced by stored.
  EXPECT_EQ(RejectOf(Replace(base, R"("timestamp":"2026-11-22T10:00:00Z")",
                             R"("timestamp":"yesterday","stored":"2026-11-22T10:05:00Z")")),
            "bad_time");
}

TEST_F(DecoderTest, XapiAttemptNeedsAnItem) {
  EXPECT_EQ(RejectOf(Replace(XapiWithVerb("answered"), R"({"id":"https://lms.example.edu/activity/1"})",
                             R"({"objectType":"Agent","mbox":"mailto:x@y.z"})")),
            "missing_field");
  // Not an attempt: fine without an item id.
  EXPECT_EQ(One(Replace(XapiWithVerb("experienced"), R"({"id":"https://lms.example.edu/activity/1"})",
                        R"({"objectType":"Agent","mbox":"mailto:x@y.z"})")).item_id,
            "");
}

TEST_F(DecoderTest, XapiUnicodePassesThroughUntouched) {
  const std::string name = "Zo\xC3\xAB \xE5\xB1\xB1\xE7\x94\xB0 \xF0\x9F\x9A\x80 \xD9\x85\xD8\xB1\xD9\x8A\xD9\x85";
  const std::string statement = Replace(
      std::string(kXapiMinimal), R"("mbox":"mailto:learner@example.edu")",
      R"("account":{"homePage":"https://lms.example.edu/\u00e9cole","name":")" + name + R"("})");
  const CanonicalEvent e = One(statement);
  EXPECT_EQ(e.learner_id, "https://lms.example.edu/\xC3\xA9" "cole|" + name);
  // Upper-case non-ASCII letters in mbox are not folded (only ASCII is).
  EXPECT_EQ(One(Replace(std::string(kXapiMinimal), "mailto:learner@example.edu",
                        "mailto:\xC3\x89LODIE@EXAMPLE.EDU")).learner_id,
            "mailto:\xC3\x89lodie@example.edu");
}

TEST_F(DecoderTest, HugeIdsAreFine) {
  const std::string big_id(10 * 1024, 'x');
  const std::string big_name(12 * 1024, 'n');
  std::string statement = Replace(std::string(kXapiMinimal), "st-1", big_id);
  statement = Replace(std::move(statement), R"("mbox":"mailto:learner@example.edu")",
                      R"("account":{"homePage":"https://lms.example.edu","name":")" + big_name +
                          R"("})");
  statement = Replace(std::move(statement), "https://lms.example.edu/activity/1",
                      "https://lms.example.edu/" + big_id);
  const CanonicalEvent e = One(statement);
  EXPECT_EQ(e.event_id, big_id);
  EXPECT_EQ(e.learner_id, "https://lms.example.edu|" + big_name);
  EXPECT_EQ(e.item_id, "https://lms.example.edu/" + big_id);
  EXPECT_EQ(e.skill_id, e.item_id);
}

// ======================= Caliper =======================

TEST_F(DecoderTest, CaliperAssessmentItemCompletedIsAnAttempt) {
  const CanonicalEvent e = One(kCaliperCompleted);
  EXPECT_EQ(out_.format, InputFormat::kCaliper);
  EXPECT_EQ(e.event_id, "urn:uuid:e5891580-1ca4-4c58-8e59-7b58b6ac2b13");
  EXPECT_EQ(e.learner_id, "https://example.edu/users/554433");
  EXPECT_EQ(e.course_id, "https://example.edu/terms/201801/courses/7");  // CourseSection's parent
  EXPECT_EQ(e.cohort_id, "cps435-fall-section1");
  EXPECT_EQ(e.item_id, "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3");
  EXPECT_EQ(e.skill_id, "https://example.edu/objectives/fractions");
  EXPECT_EQ(e.attempt_ref,
            "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3/users/554433/attempts/1");
  EXPECT_EQ(e.event_time_ms, Iso("2018-11-15T10:15:12.000Z"));
  EXPECT_EQ(e.stored_time_ms, CanonicalEvent::kNoTime);
  EXPECT_EQ(e.kind, EventKind::kAttempt);
  EXPECT_EQ(e.success, Success::kUnknown);
  EXPECT_FALSE(e.has_score());
  EXPECT_FALSE(e.closes_session);
}

TEST_F(DecoderTest, CaliperCompletedFallbacks) {
  std::string s(kCaliperCompleted);
  // generated.attempt as a bare IRI.
  s = Replace(std::move(s), R"("attempt": {
      "id": "https://example.edu/terms/201801/courses/7/sections/1/assess/1/items/3/users/554433/attempts/1",)",
              R"("attempt": "urn:attempt:1", "ignored": {)");
  EXPECT_EQ(One(s).attempt_ref, "urn:attempt:1");
  // No learningObjectives: isPartOf.
  s = Replace(std::move(s), R"("learningObjectives": [{"id": "https://example.edu/objectives/fractions", "type": "LearningObjective"}],)",
              "");
  EXPECT_EQ(One(s).skill_id, "https://example.edu/terms/201801/courses/7/sections/1/assess/1");
  // No generated at all: no attempt_ref, still an attempt.
  const std::string no_generated =
      Replace(Caliper("AssessmentItemEvent", "Completed", "items/9"), "", "");
  const CanonicalEvent e = One(no_generated);
  EXPECT_EQ(e.kind, EventKind::kAttempt);
  EXPECT_EQ(e.attempt_ref, "");
  EXPECT_EQ(e.skill_id, "https://example.edu/items/9");  // item
  // Group as a bare IRI: the course; no cohort extension: the course.
  EXPECT_EQ(e.course_id, "https://example.edu/terms/201801/courses/7");
  EXPECT_EQ(e.cohort_id, e.course_id);
}

TEST_F(DecoderTest, CaliperGradeEventIsAnOutcomeOfTheAttempt) {
  const CanonicalEvent e = One(kCaliperGraded);
  EXPECT_EQ(e.kind, EventKind::kOutcome);
  EXPECT_EQ(e.learner_id, "https://example.edu/users/554433");  // assignee, not the autograder
  EXPECT_EQ(e.attempt_ref,
            "https://example.edu/terms/201801/courses/7/sections/1/assess/1/users/554433/attempts/1");
  EXPECT_EQ(e.item_id, "https://example.edu/terms/201801/courses/7/sections/1/assess/1");
  EXPECT_EQ(e.skill_id, "https://example.edu/terms/201801/courses/7/sections/1/units/2");
  EXPECT_EQ(e.course_id, "https://example.edu/terms/201801/courses/7");
  EXPECT_EQ(e.success, Success::kTrue);  // 10 >= 0.5 * 15
  EXPECT_DOUBLE_EQ(e.score, 10.0 / 15.0);
  EXPECT_EQ(e.event_time_ms, Iso("2018-11-15T10:57:06.000Z"));
}

TEST_F(DecoderTest, CaliperGradeScoreRules) {
  const std::string base(kCaliperGraded);
  const auto with_score = [&](std::string_view given, std::string_view max) {
    std::string s = Replace(base, R"("scoreGiven": 10.0)", given);
    return One(Replace(std::move(s), R"("maxScore": 15.0)", max));
  };
  CanonicalEvent e = with_score(R"("scoreGiven": 5)", R"("maxScore": 15)");
  EXPECT_EQ(e.success, Success::kFalse);
  EXPECT_DOUBLE_EQ(e.score, 1.0 / 3.0);
  e = with_score(R"("scoreGiven": 7.5)", R"("maxScore": 15)");  // exactly half: success
  EXPECT_EQ(e.success, Success::kTrue);
  e = with_score(R"("scoreGiven": "12")", R"("maxScore": "15.0")");  // numbers as strings
  EXPECT_EQ(e.success, Success::kTrue);
  EXPECT_DOUBLE_EQ(e.score, 0.8);
  e = with_score(R"("scoreGiven": 20)", R"("maxScore": 15)");  // extra credit, clamped
  EXPECT_DOUBLE_EQ(e.score, 1.0);
  e = with_score(R"("scoreGiven": 3)", R"("maxScore": 0)");
  EXPECT_EQ(e.success, Success::kUnknown);
  EXPECT_FALSE(e.has_score());
  e = with_score(R"("noScore": 3)", R"("maxScore": 15)");
  EXPECT_EQ(e.success, Success::kUnknown);
  EXPECT_EQ(e.kind, EventKind::kOutcome);
  // The learner may be a bare IRI.
  e = One(Replace(base, R"("assignee": {"id": "https://example.edu/users/554433", "type": "Person"})",
                  R"("assignee": "https://example.edu/users/778899")"));
  EXPECT_EQ(e.learner_id, "https://example.edu/users/778899");
  // No assignee: no learner.
  EXPECT_EQ(RejectOf(Replace(base, R"("assignee": {"id": "https://example.edu/users/554433", "type": "Person"},)", "")),
            "no_learner");
}

TEST_F(DecoderTest, CaliperViewsToolUseAndSessions) {
  CanonicalEvent e = One(Caliper("NavigationEvent", "NavigatedTo", "pages/2"));
  EXPECT_EQ(e.kind, EventKind::kView);
  EXPECT_EQ(e.item_id, "https://example.edu/pages/2");
  EXPECT_EQ(One(Caliper("ViewEvent", "Viewed")).kind, EventKind::kView);
  EXPECT_EQ(One(Caliper("ToolUseEvent", "Used", "tools/calculator")).kind, EventKind::kView);
  e = One(Caliper("SessionEvent", "LoggedOut", "sessions/9"));
  EXPECT_EQ(e.kind, EventKind::kSessionEnd);
  EXPECT_TRUE(e.closes_session);
  EXPECT_EQ(e.learner_id, "https://example.edu/users/554433");
  // Other Caliper events are valid and counted as "other".
  EXPECT_EQ(One(Caliper("AssessmentItemEvent", "Started")).kind, EventKind::kOther);
  EXPECT_EQ(One(Caliper("SessionEvent", "LoggedIn")).kind, EventKind::kOther);
  EXPECT_EQ(One(Caliper("AnnotationEvent", "Bookmarked")).kind, EventKind::kOther);
  EXPECT_EQ(One(Caliper("ToolUseEvent", "Launched")).kind, EventKind::kOther);
}

TEST(CaliperHelpToolsTest, ToolUseOfAHelpToolIsHelp) {
  DecoderOptions options = DecoderOptions::Defaults();
  options.caliper_help_tools = {"https://example.edu/tools/ai-tutor", "https://example.edu/tools/hints"};
  EventDecoder decoder(options);
  DecodedMessage out;
  decoder.Decode(Caliper("ToolUseEvent", "Used", "tools/ai-tutor"), out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kHelp);
  decoder.Decode(Caliper("ToolUseEvent", "Used", "tools/calculator"), out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, EventKind::kView);
}

TEST_F(DecoderTest, CaliperTimedOutIsASystemEventForObjectUser) {
  const std::string timed_out = R"({
    "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "id": "urn:uuid:4e61cf6c-ffbe-45bc-893f-afe7ad4079dc",
    "type": "SessionEvent",
    "profile": "SessionProfile",
    "actor": {"id": "https://example.edu", "type": "SoftwareApplication"},
    "action": "TimedOut",
    "object": {
      "id": "https://example.edu/sessions/7d6b88adf746f0692e2e873308b78c60fb13a864",
      "type": "Session",
      "user": {"id": "https://example.edu/users/112233", "type": "Person"},
      "dateCreated": "2018-11-15T10:15:00.000Z",
      "startedAtTime": "2018-11-15T10:15:00.000Z",
      "endedAtTime": "2018-11-15T11:15:00.000Z",
      "duration": "PT3600S"
    },
    "eventTime": "2018-11-15T11:15:00.000Z",
    "edApp": "https://example.edu"
  })";
  const CanonicalEvent e = One(timed_out);
  EXPECT_EQ(e.kind, EventKind::kSystem);
  EXPECT_TRUE(e.closes_session);
  EXPECT_EQ(e.learner_id, "https://example.edu/users/112233");
  EXPECT_EQ(e.course_id, "");
  EXPECT_EQ(e.cohort_id, "");
  // Without object.user there is no learner (the actor is the application).
  EXPECT_EQ(RejectOf(Replace(timed_out, R"("user": {"id": "https://example.edu/users/112233", "type": "Person"},)", "")),
            "no_learner");
}

TEST_F(DecoderTest, CaliperFullIrisForTypeAndAction) {
  const CanonicalEvent e = One(Caliper("http://purl.imsglobal.org/caliper/SessionEvent",
                                       "http://purl.imsglobal.org/vocab/caliper/v1/action#LoggedOut"));
  EXPECT_EQ(e.kind, EventKind::kSessionEnd);
  EXPECT_EQ(One(Caliper("http://purl.imsglobal.org/caliper/ViewEvent",
                        "http://purl.imsglobal.org/caliper/actions/Viewed")).kind,
            EventKind::kView);
}

TEST_F(DecoderTest, CaliperAnonymousPersonIsNoLearner) {
  // Caliper 1.2 §4.4: an anonymous entity's id is its type IRI.
  std::string s = Replace(std::string(kCaliperCompleted),
                          R"("actor": {"id": "https://example.edu/users/554433", "type": "Person"})",
                          R"("actor": {"id": "http://purl.imsglobal.org/caliper/Person", "type": "Person"})");
  EXPECT_EQ(RejectOf(s), "no_learner");
  s = Replace(Caliper("ViewEvent", "Viewed"), R"("actor": "https://example.edu/users/554433")",
              R"("actor": "https://purl.imsglobal.org/caliper/Person")");
  EXPECT_EQ(RejectOf(s), "no_learner");
  EXPECT_EQ(RejectOf(Replace(Caliper("ViewEvent", "Viewed"),
                             R"("actor": "https://example.edu/users/554433",)", "")),
            "no_learner");
  // An anonymous group is no course.
  s = Replace(Caliper("ViewEvent", "Viewed"), R"("group": "https://example.edu/terms/201801/courses/7")",
              R"("group": {"id": "http://purl.imsglobal.org/caliper/CourseSection", "type": "CourseSection"})");
  EXPECT_EQ(One(s).course_id, "");
}

TEST_F(DecoderTest, CaliperGroupMapping) {
  const std::string base = Caliper("ViewEvent", "Viewed");
  const std::string group = R"("group": "https://example.edu/terms/201801/courses/7")";
  // A Group that is not a CourseSection: its own id.
  EXPECT_EQ(One(Replace(base, group, R"("group": {"id": "https://example.edu/groups/4", "type": "Group",
                                      "subOrganizationOf": "https://example.edu/x"})")).course_id,
            "https://example.edu/groups/4");
  // A CourseSection without subOrganizationOf: its own id.
  EXPECT_EQ(One(Replace(base, group, R"("group": {"id": "https://example.edu/sections/1", "type": "CourseSection"})"))
                .course_id,
            "https://example.edu/sections/1");
  // Full type IRI; subOrganizationOf as a bare IRI.
  EXPECT_EQ(One(Replace(base, group, R"("group": {"id": "https://example.edu/sections/1",
        "type": "http://purl.imsglobal.org/caliper/CourseSection",
        "subOrganizationOf": "https://example.edu/courses/7"})")).course_id,
            "https://example.edu/courses/7");
  // No group: empty course and cohort; cohort extension alone.
  const std::string no_group = Replace(base, "," + std::string("\n  ") + group, "");
  CanonicalEvent e = One(no_group);
  EXPECT_EQ(e.course_id, "");
  EXPECT_EQ(e.cohort_id, "");
  e = One(Replace(no_group, R"("eventTime")", R"("extensions": {"cohort": 7}, "eventTime")"));
  EXPECT_EQ(e.cohort_id, "7");
}

TEST_F(DecoderTest, CaliperRequiredFields) {
  EXPECT_EQ(RejectOf(Replace(Caliper("ViewEvent", "Viewed"), R"("id": "urn:uuid:1",)", "")),
            "missing_field");
  EXPECT_EQ(RejectOf(Replace(Caliper("ViewEvent", "Viewed"), R"("urn:uuid:1")", "null")),
            "missing_field");
  // Ids that are JSON numbers become text.
  EXPECT_EQ(One(Replace(Caliper("ViewEvent", "Viewed"), R"("urn:uuid:1")", "98765")).event_id,
            "98765");
  for (const char* bad : {R"("2026-13-01T00:00:00.000Z")", R"("yesterday")", R"("")", "null", "1542276900"}) {
    EXPECT_EQ(RejectOf(Replace(Caliper("ViewEvent", "Viewed"), R"("2018-11-15T10:15:00.000Z")", bad)),
              "bad_time")
        << bad;
  }
  // An attempt needs an item.
  EXPECT_EQ(RejectOf(Replace(Caliper("AssessmentItemEvent", "Completed"),
                             R"("object": {"id": "https://example.edu/resources/1", "type": "DigitalResource"},)", "")),
            "missing_field");
}

TEST_F(DecoderTest, CaliperEnvelopeUnpacksEventsAndIndexesRejects) {
  const std::string good1 = Caliper("ViewEvent", "Viewed", "pages/1", "env-1");
  const std::string bad = Replace(Caliper("ViewEvent", "Viewed", "pages/2", "env-2"),
                                  R"("2018-11-15T10:15:00.000Z")", R"("not a time")");
  const std::string good2(kCaliperGraded);
  const std::string envelope = R"({
    "sensor": "https://example.edu/sensors/1",
    "sendTime": "2018-11-15T11:05:01.000Z",
    "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "data": [)" + good1 + "," + bad + "," + good2 + "]}";
  Decode(envelope);
  EXPECT_EQ(out_.format, InputFormat::kCaliper);
  ASSERT_EQ(out_.events.size(), 2u);
  EXPECT_EQ(out_.events[0].event_id, "urn:uuid:env-1");
  EXPECT_EQ(out_.events[0].item_id, "https://example.edu/pages/1");
  EXPECT_EQ(out_.events[1].event_id, "urn:uuid:a50ca17f-5971-47bb-8fca-4e6e6879001d");
  EXPECT_EQ(out_.events[1].kind, EventKind::kOutcome);
  ASSERT_EQ(out_.rejects.size(), 1u);
  EXPECT_EQ(out_.rejects[0].index, 1u);
  EXPECT_EQ(RejectReasonCode(out_.rejects[0].reason), "bad_time");
}

TEST_F(DecoderTest, CaliperEnvelopeWithDescribesAndJunk) {
  const std::string envelope = R"({"sensor":"https://example.edu/sensors/1",
    "sendTime":"2018-11-15T11:05:01.000Z","dataVersion":"http://purl.imsglobal.org/ctx/caliper/v1p2",
    "data":[
      {"@context":"http://purl.imsglobal.org/ctx/caliper/v1p2","id":"https://example.edu/users/554433",
       "type":"Person","dateCreated":"2018-08-01T06:00:00.000Z"},
      42,
      )" + Caliper("ViewEvent", "Viewed", "pages/1", "a") + R"(,
      {"hello":"world"},
      )" + Replace(Caliper("ViewEvent", "Viewed", "pages/1", "b"), R"("id": "urn:uuid:b",)", "") + R"(
    ]})";
  Decode(envelope);
  ASSERT_EQ(out_.events.size(), 1u);
  EXPECT_EQ(out_.events[0].event_id, "urn:uuid:a");
  EXPECT_EQ(out_.skipped, 1u);  // the Person describe
  ASSERT_EQ(out_.rejects.size(), 3u);
  EXPECT_EQ(out_.rejects[0].index, 1u);
  EXPECT_EQ(RejectReasonCode(out_.rejects[0].reason), "unknown_format");
  EXPECT_EQ(out_.rejects[1].index, 3u);
  EXPECT_EQ(RejectReasonCode(out_.rejects[1].reason), "unknown_format");
  EXPECT_EQ(out_.rejects[2].index, 4u);
  EXPECT_EQ(RejectReasonCode(out_.rejects[2].reason), "missing_field");

  Decode(R"({"sensor":"s","sendTime":"2018-11-15T11:05:01.000Z","dataVersion":"v","data":[]})");
  EXPECT_EQ(out_.format, InputFormat::kCaliper);
  EXPECT_TRUE(out_.events.empty());
  EXPECT_TRUE(out_.rejects.empty());
}

TEST_F(DecoderTest, CaliperEnvelopeNumericIdsDoNotShareScratch) {
  // Every event composes its id from a number: each view must stay distinct and intact.
  std::string data;
  for (int i = 0; i < 300; ++i) {
    if (i > 0) data += ",";
    data += Replace(Caliper("ViewEvent", "Viewed", "pages/" + std::to_string(i), "x"),
                    R"("urn:uuid:x")", std::to_string(1000000 + i));
  }
  Decode(R"({"sensor":"s","sendTime":"t","dataVersion":"v","data":[)" + data + "]}");
  ASSERT_EQ(out_.events.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(out_.events[i].event_id, std::to_string(1000000 + i));
    EXPECT_EQ(out_.events[i].item_id, "https://example.edu/pages/" + std::to_string(i));
  }
}

// ======================= Moodle =======================

TEST_F(DecoderTest, MoodleQuizAttemptSubmittedIsAnAttempt) {
  const CanonicalEvent e = One(kMoodleAttemptSubmitted);
  EXPECT_EQ(out_.format, InputFormat::kMoodle);
  EXPECT_EQ(e.event_id, "moodle:184467");
  EXPECT_EQ(e.learner_id, "1337");  // relateduserid for quiz_attempts
  EXPECT_EQ(e.course_id, "42");
  EXPECT_EQ(e.cohort_id, "42");
  EXPECT_EQ(e.item_id, "845");
  EXPECT_EQ(e.skill_id, "845");
  EXPECT_EQ(e.event_time_ms, 1700000000 * kMsPerSecond);
  EXPECT_EQ(e.kind, EventKind::kAttempt);
  EXPECT_EQ(e.success, Success::kUnknown);
  EXPECT_FALSE(e.has_score());
}

TEST_F(DecoderTest, MoodleParticipatingRowIsAView) {
  const CanonicalEvent e = One(kMoodleViewed);  // JSON numbers rather than strings
  EXPECT_EQ(e.event_id, "moodle:184470");
  EXPECT_EQ(e.learner_id, "1337");  // userid
  EXPECT_EQ(e.course_id, "42");
  EXPECT_EQ(e.item_id, "901");
  EXPECT_EQ(e.kind, EventKind::kView);
  EXPECT_EQ(e.event_time_ms, 1700000100 * kMsPerSecond);
  // Event names without the leading backslash are accepted.
  EXPECT_EQ(One(Replace(std::string(kMoodleAttemptSubmitted), R"("\\mod_quiz)", R"("mod_quiz)")).kind,
            EventKind::kAttempt);
  // Fractional timecreated (some exports): floored to milliseconds.
  EXPECT_EQ(One(Replace(std::string(kMoodleViewed), "1700000100", "1700000100.5")).event_time_ms,
            1700000100500);
}

TEST_F(DecoderTest, MoodleNonParticipatingRowsAreSkipped) {
  for (const char* level : {R"("edulevel":0)", R"("edulevel":1)", R"("edulevel":"1")", R"("edulevel":null)"}) {
    Decode(Replace(std::string(kMoodleViewed), R"("edulevel":2)", level));
    EXPECT_EQ(out_.format, InputFormat::kMoodle);
    EXPECT_TRUE(out_.events.empty()) << level;
    EXPECT_TRUE(out_.rejects.empty()) << level;
    EXPECT_EQ(out_.skipped, 1u) << level;
  }
}

TEST_F(DecoderTest, MoodleUserGradedPhpOtherGivesAnOutcome) {
  const CanonicalEvent e = One(kMoodleUserGradedPhp);
  EXPECT_EQ(e.kind, EventKind::kOutcome);
  EXPECT_EQ(e.learner_id, "1337");  // relateduserid for grade_grades, not the teacher
  EXPECT_EQ(e.event_id, "moodle:184480");
  EXPECT_EQ(e.success, Success::kTrue);  // 85.5 of the default maximum 100
  EXPECT_DOUBLE_EQ(e.score, 0.855);
  EXPECT_EQ(e.attempt_ref, "");
}

TEST_F(DecoderTest, MoodleUserGradedOtherVariants) {
  const std::string base(kMoodleUserGradedPhp);
  const std::string php_other =
      R"("a:3:{s:6:\"itemid\";i:612;s:10:\"overridden\";b:0;s:10:\"finalgrade\";d:85.5;}")";
  // JSON text (Moodle >= 3.x with jsonformat) with a grademax.
  CanonicalEvent e = One(Replace(base, php_other,
                                 R"("{\"itemid\":612,\"overridden\":false,\"finalgrade\":\"4.00000\",\"grademax\":10}")"));
  EXPECT_EQ(e.success, Success::kFalse);
  EXPECT_DOUBLE_EQ(e.score, 0.4);
  // A JSON object (the producer decoded `other` already).
  e = One(Replace(base, php_other, R"({"itemid":612,"overridden":true,"finalgrade":50})"));
  EXPECT_EQ(e.success, Success::kTrue);
  EXPECT_DOUBLE_EQ(e.score, 0.5);
  // PHP with the grade as a numeric string.
  e = One(Replace(base, "d:85.5;", R"(s:8:\"30.00000\";)"));
  EXPECT_EQ(e.success, Success::kFalse);
  // No usable grade: the teacher row is skipped like other non-participating rows.
  for (const std::string& other : {std::string(R"("N;")"), std::string("null"),
                                  std::string(R"("a:1:{s:6:\"itemid\";i:1;}")"),
                                  std::string(R"("{\"finalgrade\":null}")"),
                                  std::string(R"("a:1:{s:10:\"finalgrade\";N;}")"),
                                  std::string(R"("a:2:{broken")"), std::string(R"("{broken")")}) {
    Decode(Replace(base, php_other, other));
    EXPECT_TRUE(out_.events.empty()) << other;
    EXPECT_TRUE(out_.rejects.empty()) << other;
    EXPECT_EQ(out_.skipped, 1u) << other;
  }
}

TEST(MoodleGradeOptionsTest, DefaultGradeMaxIsConfigurable) {
  DecoderOptions options = DecoderOptions::Defaults();
  options.moodle_default_grade_max = 200.0;
  EventDecoder decoder(options);
  DecodedMessage out;
  decoder.Decode(kMoodleUserGradedPhp, out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].success, Success::kFalse);  // 85.5 < 100
  EXPECT_DOUBLE_EQ(out.events[0].score, 85.5 / 200.0);
}

TEST_F(DecoderTest, MoodleAnonymousRowIsRedacted) {
  const std::string row =
      Replace(std::string(kMoodleAttemptSubmitted), R"("anonymous": "0")", R"("anonymous": "1")");
  EXPECT_EQ(RejectOf(row), "anonymous");
  ASSERT_FALSE(out_.redacted_payload.empty());
  // The redacted payload is valid JSON: the row without userid, relateduserid and ip.
  simdjson::dom::parser parser;
  simdjson::dom::object redacted;
  ASSERT_EQ(parser.parse(out_.redacted_payload).get_object().get(redacted), simdjson::SUCCESS)
      << out_.redacted_payload;
  for (const char* key : {"userid", "relateduserid", "ip"}) {
    EXPECT_EQ(redacted.at_key(key).error(), simdjson::NO_SUCH_FIELD) << key;
  }
  std::string_view text;
  ASSERT_EQ(redacted["eventname"].get_string().get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "\\mod_quiz\\event\\attempt_submitted");
  ASSERT_EQ(redacted["other"].get_string().get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, R"({"submitterid":"1337","quizid":"77"})");
  EXPECT_TRUE(redacted["realuserid"].is_null());
  // 1337 (the learner) survives only inside `other`, which is not a column the design strips.
  const size_t first = out_.redacted_payload.find("1337");
  EXPECT_GT(first, out_.redacted_payload.find("submitterid"));
  EXPECT_EQ(out_.redacted_payload.find("1337", first + 1), std::string::npos);
  EXPECT_EQ(out_.redacted_payload.find("203.0.113.7"), std::string::npos);

  // Anonymous applies to every row, participating or not, with numbers and unicode intact.
  const std::string other_row = Replace(
      Replace(std::string(kMoodleViewed), R"("anonymous":0)", R"("anonymous":1)"),
      R"("other":"N;")", R"("other":"{\"name\":\"Zo\u00eb \ud83d\ude80 \\\"q\\\"\"}")");
  EXPECT_EQ(RejectOf(Replace(other_row, R"("edulevel":2)", R"("edulevel":0)")), "anonymous");
  ASSERT_EQ(parser.parse(out_.redacted_payload).get_object().get(redacted), simdjson::SUCCESS)
      << out_.redacted_payload;
  int64_t id = 0;
  ASSERT_EQ(redacted["id"].get_int64().get(id), simdjson::SUCCESS);
  EXPECT_EQ(id, 184470);
  ASSERT_EQ(redacted["other"].get_string().get(text), simdjson::SUCCESS);
  EXPECT_EQ(text, "{\"name\":\"Zo\xC3\xAB \xF0\x9F\x9A\x80 \\\"q\\\"\"}");
  EXPECT_EQ(redacted.at_key("userid").error(), simdjson::NO_SUCH_FIELD);
  // anonymous as a JSON boolean.
  EXPECT_EQ(RejectOf(Replace(std::string(kMoodleViewed), R"("anonymous":0)", R"("anonymous":true)")),
            "anonymous");
  // The next message clears the redacted payload.
  One(kMoodleViewed);
  EXPECT_TRUE(out_.redacted_payload.empty());
}

// Found by fuzzing (tests/fuzz/regressions/moodle): integral doubles were written without a
// fraction, so 95555555555555555555.0 became an integer literal beyond 64 bits that simdjson, the
// decoder's own parser, refuses.
TEST_F(DecoderTest, MoodleRedactedNumbersStayDoubles) {
  const std::string row =
      Replace(Replace(std::string(kMoodleViewed), R"("anonymous":0)", R"("anonymous":1)"),
              R"("objectid":15)",
              R"("objectid":95555555555555555555.0,"grade":1500.0,"delta":-0.0,"ratio":0.25,)"
              R"("big":1e20)");
  EXPECT_EQ(RejectOf(row), "anonymous");
  simdjson::dom::parser parser;
  simdjson::dom::object redacted;
  ASSERT_EQ(parser.parse(out_.redacted_payload).get_object().get(redacted), simdjson::SUCCESS)
      << out_.redacted_payload;
  struct Expected {
    const char* key;
    double value;
  };
  for (const Expected& expected :
       {Expected{"objectid", 95555555555555555555.0}, Expected{"grade", 1500.0},
        Expected{"delta", -0.0}, Expected{"ratio", 0.25}, Expected{"big", 1e20}}) {
    double value = 1;
    ASSERT_EQ(redacted[expected.key].get_double().get(value), simdjson::SUCCESS) << expected.key;
    EXPECT_TRUE(redacted[expected.key].is_double()) << expected.key;
    EXPECT_EQ(value, expected.value) << expected.key;
    EXPECT_EQ(std::signbit(value), std::signbit(expected.value)) << expected.key;
  }
  int64_t id = 0;
  ASSERT_EQ(redacted["id"].get_int64().get(id), simdjson::SUCCESS);  // integers stay integers
  EXPECT_EQ(id, 184470);
}

TEST_F(DecoderTest, MoodleLoginAs) {
  const std::string row(kMoodleAttemptSubmitted);
  EXPECT_EQ(RejectOf(Replace(row, R"("realuserid": null)", R"("realuserid": "2")")), "login_as");
  EXPECT_EQ(RejectOf(Replace(row, R"("realuserid": null)", R"("realuserid": 2)")), "login_as");
  // Also for non-participating rows.
  EXPECT_EQ(RejectOf(Replace(Replace(row, R"("realuserid": null)", R"("realuserid": "2")"),
                             R"("edulevel": "2")", R"("edulevel": "0")")),
            "login_as");
  // Null-like values are not a login-as.
  for (const char* none : {R"("realuserid": "")", R"("realuserid": "NULL")", R"("realuserid": 0)"}) {
    EXPECT_EQ(One(Replace(row, R"("realuserid": null)", none)).kind, EventKind::kAttempt) << none;
  }
  EXPECT_EQ(One(Replace(row, R"(,
  "realuserid": null)", "")).kind,
            EventKind::kAttempt);
}

TEST_F(DecoderTest, MoodleNoLearner) {
  const std::string row(kMoodleViewed);
  for (const char* user : {R"("userid":0)", R"("userid":"0")", R"("userid":1)", R"("userid":"1")",
                           R"("userid":"guest")", R"("userid":"Guest")", R"("userid":null)",
                           R"("userid":"")", R"("userid":-5)", R"("userid":{})"}) {
    EXPECT_EQ(RejectOf(Replace(row, R"("userid":1337)", user)), "no_learner") << user;
  }
  // quiz_attempts uses relateduserid, whatever userid says.
  EXPECT_EQ(RejectOf(Replace(std::string(kMoodleAttemptSubmitted), R"("relateduserid": "1337")",
                             R"("relateduserid": null)")),
            "no_learner");
  // A configured guest id.
  DecoderOptions options = DecoderOptions::Defaults();
  options.moodle_guest_user_id = 9;
  EventDecoder decoder(options);
  DecodedMessage out;
  decoder.Decode(Replace(row, R"("userid":1337)", R"("userid":9)"), out);
  ASSERT_EQ(out.rejects.size(), 1u);
  EXPECT_EQ(out.rejects[0].reason, RejectReason::kNoLearner);
  decoder.Decode(Replace(row, R"("userid":1337)", R"("userid":1)"), out);
  EXPECT_EQ(out.events.size(), 1u);
}

TEST_F(DecoderTest, MoodleTimeAndRequiredFields) {
  const std::string row(kMoodleAttemptSubmitted);
  for (const char* bad : {R"("yesterday")", R"("")", "-1", "null", R"("2026-11-22T10:00:00Z")",
                          "99999999999999", "{}"}) {
    EXPECT_EQ(RejectOf(Replace(row, R"("1700000000")", bad)), "bad_time") << bad;
  }
  EXPECT_EQ(RejectOf(Replace(row, R"("id": "184467",)", "")), "missing_field");
  // An attempt needs an item.
  EXPECT_EQ(RejectOf(Replace(row, R"("contextinstanceid": "845",)", "")), "missing_field");
}

TEST_F(DecoderTest, MoodleCourseZeroIsNoCourse) {
  const CanonicalEvent e = One(Replace(std::string(kMoodleViewed), R"("courseid":42)", R"("courseid":0)"));
  EXPECT_EQ(e.course_id, "");
  EXPECT_EQ(e.cohort_id, "");
}

TEST(MoodleMappingTest, SiteIdCohortAndSkillMappings) {
  DecoderOptions options = DecoderOptions::Defaults();
  options.moodle_site_id = "lms.example.edu";
  options.moodle_cohort_by_course = {{"42", "cohort-fall-2026"}};
  options.moodle_skill_by_item = {{"845", "skill:quadratics"}};
  EventDecoder decoder(options);
  DecodedMessage out;
  decoder.Decode(kMoodleAttemptSubmitted, out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].event_id, "lms.example.edu:184467");
  EXPECT_EQ(out.events[0].cohort_id, "cohort-fall-2026");
  EXPECT_EQ(out.events[0].skill_id, "skill:quadratics");
  EXPECT_EQ(out.events[0].item_id, "845");
  // Unmapped item: skill falls back to the item; numbers map like strings.
  decoder.Decode(kMoodleViewed, out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].cohort_id, "cohort-fall-2026");
  EXPECT_EQ(out.events[0].skill_id, "901");
}

// ======================= hostile input =======================

TEST_F(DecoderTest, NotJsonOrNotAnObject) {
  const std::string truncated(kXapiAnswered.substr(0, kXapiAnswered.size() / 2));
  for (const std::string& payload :
       {std::string(), std::string(" "), std::string("{"), truncated, std::string("[]"),
        "[" + std::string(kXapiMinimal) + "]", std::string(R"("just a string")"), std::string("42"),
        std::string("null"), std::string("true"), std::string("{\"a\":1}garbage"),
        std::string("{\"a\":\"\xff\xfe\"}"), std::string("{'single':'quotes'}"),
        std::string("{\"a\":1,}"), std::string("\xEF\xBB\xBF{}"),
        std::string("{\"id\":123456789012345678901234567890}"), std::string("{\"a\":NaN}"),
        std::string("{\"a\":1e999}"), std::string("{\"a\":\"\0\"}", 8)}) {
    EXPECT_EQ(RejectOf(payload), "invalid_json") << payload;
    EXPECT_EQ(out_.format, InputFormat::kUnknown);
  }
}

TEST_F(DecoderTest, UnknownFormat) {
  for (const char* payload :
       {"{}", R"({"hello":"world"})", R"({"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"x"}})",
        R"({"eventname":"\\core\\event\\user_loggedin"})", R"({"action":"Viewed","eventTime":"2018-11-15T10:15:00.000Z"})",
        R"({"sensor":"s","data":"not an array"})"}) {
    EXPECT_EQ(RejectOf(payload), "unknown_format") << payload;
  }
}

TEST_F(DecoderTest, DeeplyNestedJunk) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  EXPECT_EQ(RejectOf(deep), "invalid_json");
  std::string deep_object;
  for (int i = 0; i < 5000; ++i) deep_object += "{\"a\":";
  deep_object += "1";
  deep_object += std::string(5000, '}');
  EXPECT_EQ(RejectOf(deep_object), "invalid_json");
  // Moderately nested junk inside a valid statement is ignored.
  std::string junk;
  for (int i = 0; i < 200; ++i) junk += "{\"x\":[";
  junk += "null";
  for (int i = 0; i < 200; ++i) junk += "]}";
  const CanonicalEvent e = One(Replace(std::string(kXapiMinimal), R"("timestamp")",
                                       R"("junk":)" + junk + R"(,"timestamp")"));
  EXPECT_EQ(e.event_id, "st-1");
  // Redacting a deeply nested anonymous row works too.
  EXPECT_EQ(RejectOf(Replace(Replace(std::string(kMoodleViewed), R"("anonymous":0)", R"("anonymous":1)"),
                             R"("other":"N;")", R"("other":)" + junk)),
            "anonymous");
  simdjson::dom::parser parser;
  EXPECT_EQ(parser.parse(out_.redacted_payload).error(), simdjson::SUCCESS);
}

TEST_F(DecoderTest, BinaryGarbageNeverCrashes) {
  std::mt19937 rng(20261122);
  const std::vector<std::string> seeds = {std::string(kXapiAnswered), std::string(kCaliperGraded),
                                          std::string(kMoodleUserGradedPhp)};
  for (int i = 0; i < 3000; ++i) {
    std::string payload;
    if (i % 3 == 0) {
      payload.resize(rng() % 512);
      for (char& c : payload) c = static_cast<char>(rng());
    } else {
      // Mutations of real messages: flips, truncations, duplications.
      payload = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits && !payload.empty(); ++k) {
        const size_t pos = rng() % payload.size();
        switch (rng() % 3) {
          case 0: payload[pos] = static_cast<char>(rng()); break;
          case 1: payload.resize(pos); break;
          default: payload.insert(pos, payload.substr(pos, rng() % 64)); break;
        }
      }
    }
    Decode(payload);
    EXPECT_EQ(out_.events.size() + out_.rejects.size() + out_.skipped >= 1, true);
    for (const CanonicalEvent& e : out_.events) {
      if (e.kind != EventKind::kRetraction) {
        EXPECT_FALSE(e.learner_id.empty());
      }
      EXPECT_FALSE(e.event_id.empty());
      if (e.has_score()) {
        EXPECT_LE(e.score, 1.0);
      }
    }
  }
}

TEST_F(DecoderTest, NamesOfFormatsAndReasons) {
  EXPECT_EQ(InputFormatName(InputFormat::kXapi), "xapi");
  EXPECT_EQ(InputFormatName(InputFormat::kCaliper), "caliper");
  EXPECT_EQ(InputFormatName(InputFormat::kMoodle), "moodle");
  EXPECT_EQ(InputFormatName(InputFormat::kUnknown), "unknown");
  EXPECT_EQ(RejectReasonCode(RejectReason::kInvalidJson), "invalid_json");
  EXPECT_EQ(RejectReasonCode(RejectReason::kUnknownFormat), "unknown_format");
  EXPECT_EQ(RejectReasonCode(RejectReason::kNoLearner), "no_learner");
  EXPECT_EQ(RejectReasonCode(RejectReason::kBadTime), "bad_time");
  EXPECT_EQ(RejectReasonCode(RejectReason::kMissingField), "missing_field");
  EXPECT_EQ(RejectReasonCode(RejectReason::kAnonymous), "anonymous");
  EXPECT_EQ(RejectReasonCode(RejectReason::kLoginAs), "login_as");
  EXPECT_EQ(RejectReasonCode(RejectReason::kBadVoid), "bad_void");
}

// ======================= reuse =======================

TEST_F(DecoderTest, ViewsFollowTheCurrentMessageAcrossManyDecodes) {
  struct Expected {
    std::string payload;
    std::string event_id;
    std::string learner_id;
    std::string item_id;
  };
  std::vector<Expected> messages;
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    // Composed learner ids (account and lower-cased mbox) of varying length.
    std::string x = Replace(std::string(kXapiMinimal), "st-1", "st-" + n);
    x = Replace(std::move(x), R"("mbox":"mailto:learner@example.edu")",
                i % 2 == 0 ? R"("account":{"homePage":"https://h)" + n + R"(","name":"u)" +
                                 std::string(i * 37, 'z') + R"("})"
                           : R"("mbox":"mailto:USER)" + n + R"(@EXAMPLE.EDU")");
    messages.push_back({x, "st-" + n,
                        i % 2 == 0 ? "https://h" + n + "|u" + std::string(i * 37, 'z')
                                   : "mailto:user" + n + "@example.edu",
                        "https://lms.example.edu/activity/1"});
    // Moodle: composed event id, numbers as text.
    std::string m = Replace(std::string(kMoodleViewed), R"("id":184470)", R"("id":)" + std::to_string(500 + i));
    m = Replace(std::move(m), R"("userid":1337)", R"("userid":)" + std::to_string(2000 + i));
    m = Replace(std::move(m), R"("contextinstanceid":901)", R"("contextinstanceid":)" + std::to_string(7000 + i));
    messages.push_back({m, "moodle:" + std::to_string(500 + i), std::to_string(2000 + i),
                        std::to_string(7000 + i)});
    // Caliper: views into the parser's string buffer.
    messages.push_back({Caliper("ViewEvent", "Viewed", "p/" + n, "c" + n), "urn:uuid:c" + n,
                        "https://example.edu/users/554433", "https://example.edu/p/" + n});
  }
  std::mt19937 rng(5);
  for (int round = 0; round < 2000; ++round) {
    const Expected& m = messages[rng() % messages.size()];
    Decode(m.payload);
    ASSERT_EQ(out_.events.size(), 1u) << m.payload;
    const CanonicalEvent& e = out_.events[0];
    ASSERT_EQ(e.event_id, m.event_id);
    ASSERT_EQ(e.learner_id, m.learner_id);
    ASSERT_EQ(e.item_id, m.item_id);
    ASSERT_EQ(e.skill_id, m.item_id);
  }
}

TEST_F(DecoderTest, ReusedOutputIsClearedBetweenMessages) {
  Decode(R"({"sensor":"s","sendTime":"t","dataVersion":"v","data":[)" + Caliper("ViewEvent", "Viewed") +
         ",1," + Caliper("ViewEvent", "Viewed") + "]}");
  EXPECT_EQ(out_.events.size(), 2u);
  EXPECT_EQ(out_.rejects.size(), 1u);
  Decode(Replace(std::string(kMoodleViewed), R"("edulevel":2)", R"("edulevel":1)"));
  EXPECT_EQ(out_.events.size(), 0u);
  EXPECT_EQ(out_.rejects.size(), 0u);
  EXPECT_EQ(out_.skipped, 1u);
  EXPECT_EQ(out_.format, InputFormat::kMoodle);
  Decode("nope");
  EXPECT_EQ(out_.skipped, 0u);
  EXPECT_EQ(out_.format, InputFormat::kUnknown);
}

}  // namespace
}  // namespace learnflow
