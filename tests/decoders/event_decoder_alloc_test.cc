// Steady-state decoding must not allocate (STYLE.md rule 4): once the decoder's buffers and the
// DecodedMessage have grown to fit a workload, decoding it again performs no operator new.
// This file replaces the global operator new/delete of the test binary to count allocations.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "connectors/decoders/event_decoder.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* CountedAllocNoThrow(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n == 0 ? 1 : n);
}

void* CountedAlloc(std::size_t n) {
  if (void* p = CountedAllocNoThrow(n)) return p;
  throw std::bad_alloc();
}
}  // namespace

// Every form that the replaced deletes below free must come from malloc too: simdjson sizes its
// buffers with `new (std::nothrow) uint8_t[n]`, and a sanitizer build reports a new/free mismatch
// if the nothrow forms keep the library's allocator.
void* operator new(std::size_t n) { return CountedAlloc(n); }
void* operator new[](std::size_t n) { return CountedAlloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocNoThrow(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return CountedAllocNoThrow(n); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace learnflow {
namespace {

const std::vector<std::string>& Workload() {
  static const std::vector<std::string>* const messages = new std::vector<std::string>{
      // xAPI: account learner (composed), lower-cased mbox, no id (hashed), voided, bad time.
      R"({"id":"a1","actor":{"account":{"homePage":"https://lms.example.edu","name":"ana"}},
          "verb":{"id":"http://adlnet.gov/expapi/verbs/answered"},
          "object":{"id":"https://lms.example.edu/q/1"},"result":{"success":true,"score":{"raw":3,"max":4}},
          "context":{"contextActivities":{"grouping":[{"id":"course-1"}]},
                     "extensions":{"https://learnflow.dev/xapi/cohort":17}},
          "timestamp":"2026-11-22T10:15:30.250+01:00","stored":"2026-11-22T09:20:00Z"})",
      R"({"actor":{"mbox":"mailto:Ana@Example.EDU"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},
          "object":{"id":"https://lms.example.edu/q/2"},"timestamp":"2026-11-22T10:00:00Z"})",
      R"({"id":"v1","actor":{"mbox":"mailto:admin@example.edu"},"verb":{"id":"http://adlnet.gov/expapi/verbs/voided"},
          "object":{"objectType":"StatementRef","id":"a1"},"timestamp":"2026-11-22T11:00:00Z"})",
      R"({"id":"b1","actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"x"},"object":{"id":"o"},"timestamp":"yesterday"})",
      // Caliper envelope with numeric ids (composed text) and a bad event.
      R"({"sensor":"s","sendTime":"2018-11-15T11:05:01.000Z","dataVersion":"v","data":[
          {"id":123,"type":"ViewEvent","action":"Viewed","actor":"https://example.edu/users/1",
           "object":{"id":456},"eventTime":"2018-11-15T10:15:00.000Z",
           "group":{"id":"https://example.edu/s/1","type":"CourseSection","subOrganizationOf":{"id":789}}},
          {"id":"urn:x","type":"GradeEvent","action":"Graded","actor":"https://example.edu/grader",
           "object":{"id":"urn:attempt:1","assignee":"https://example.edu/users/1","assignable":"urn:a"},
           "generated":{"scoreGiven":"7","maxScore":10},"eventTime":"2018-11-15T10:16:00.000Z"},
          {"id":"urn:y","type":"ViewEvent","action":"Viewed","actor":"https://example.edu/users/1",
           "eventTime":"never"}]})",
      // Moodle: strings everywhere, PHP and JSON-text `other`, anonymous (redacted), skipped.
      R"({"id":"1","eventname":"\\mod_quiz\\event\\attempt_submitted","objecttable":"quiz_attempts",
          "edulevel":"2","contextinstanceid":"845","userid":"2","courseid":"42","relateduserid":"1337",
          "anonymous":"0","timecreated":"1700000000","realuserid":null})",
      R"({"id":2,"eventname":"\\core\\event\\user_graded","objecttable":"grade_grades","edulevel":1,
          "contextinstanceid":42,"userid":3,"courseid":42,"relateduserid":1337,"anonymous":0,
          "other":"a:2:{s:10:\"finalgrade\";d:85.5;s:6:\"itemid\";i:6;}","timecreated":1700000200})",
      R"({"id":3,"eventname":"\\core\\event\\user_graded","objecttable":"grade_grades","edulevel":1,
          "contextinstanceid":42,"userid":3,"courseid":42,"relateduserid":1337,"anonymous":0,
          "other":"{\"finalgrade\":\"55.0\",\"grademax\":\"60\"}","timecreated":1700000200})",
      R"({"id":4,"eventname":"\\mod_page\\event\\course_module_viewed","edulevel":2,"userid":1337,
          "courseid":42,"contextinstanceid":901,"anonymous":1,"ip":"203.0.113.7","timecreated":1700000100,
          "other":{"deep":[1,2.5,"x",true,null]}})",
      R"({"id":5,"eventname":"\\core\\event\\course_viewed","edulevel":0,"userid":1337,"timecreated":1})",
      "not json at all",
  };
  return *messages;
}

TEST(DecoderAllocationTest, SteadyStateDecodingDoesNotAllocate) {
  EventDecoder decoder;
  DecodedMessage out;
  // The counter is wired: the first decode grows buffers.
  g_allocations = 0;
  g_counting = true;
  decoder.Decode(Workload()[0], out);
  g_counting = false;
  EXPECT_GT(g_allocations.load(), 0);
  for (int warm_up = 0; warm_up < 3; ++warm_up) {
    for (const std::string& message : Workload()) decoder.Decode(message, out);
  }
  size_t events = 0;
  g_allocations = 0;
  g_counting = true;
  for (int round = 0; round < 200; ++round) {
    for (const std::string& message : Workload()) {
      decoder.Decode(message, out);
      events += out.events.size();
    }
  }
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  EXPECT_EQ(events, 200u * 8u);
}

}  // namespace
}  // namespace learnflow
