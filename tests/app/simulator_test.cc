#include "app/simulator.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "connectors/decoders/event_decoder.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

std::vector<SimulatedMessage> Generate(const SimulatorOptions& options) {
  Simulator simulator(options);
  std::vector<SimulatedMessage> messages;
  SimulatedMessage message;
  while (simulator.Next(message)) messages.push_back(message);
  return messages;
}

SimulatorOptions Options(const std::string& format, int64_t events, uint64_t seed = 1) {
  SimulatorOptions options;
  options.format = format;
  options.events = events;
  options.seed = seed;
  return options;
}

const char* const kFormats[] = {"xapi", "caliper", "moodle", "mixed"};

TEST(SimulatorTest, ValidateRejectsBadOptions) {
  EXPECT_OK(ValidateSimulatorOptions(SimulatorOptions()));
  struct Case {
    void (*mutate)(SimulatorOptions&);
    std::string expected_prefix;
  };
  const Case cases[] = {
      {[](SimulatorOptions& o) { o.learners = 0; }, "simulator: learners: expected 1 .. "},
      {[](SimulatorOptions& o) { o.learners = 20'000'000; }, "simulator: learners: "},
      {[](SimulatorOptions& o) { o.events = -1; }, "simulator: events: expected >= 0"},
      {[](SimulatorOptions& o) { o.format = "json"; },
       "simulator: format: expected xapi, caliper, moodle or mixed, got \"json\""},
      {[](SimulatorOptions& o) { o.cohorts = 0; }, "simulator: cohorts: "},
      {[](SimulatorOptions& o) { o.cohorts = 201; }, "simulator: cohorts: expected 1 .. 200"},
      {[](SimulatorOptions& o) { o.start_ms = -1; }, "simulator: start_ms: "},
      {[](SimulatorOptions& o) { o.simulated_ms_per_event = 0; },
       "simulator: simulated_ms_per_event: "},
      {[](SimulatorOptions& o) {
         o.simulated_ms_per_event = std::numeric_limits<double>::infinity();
       },
       "simulator: simulated_ms_per_event: "},
      {[](SimulatorOptions& o) { o.max_jitter_ms = -1; }, "simulator: max_jitter_ms: "},
  };
  for (const Case& c : cases) {
    SimulatorOptions options;
    c.mutate(options);
    const Status status = ValidateSimulatorOptions(options);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message().rfind(c.expected_prefix, 0), 0u) << status.message();
  }
}

TEST(SimulatorTest, SameSeedSameMessagesOtherSeedOtherMessages) {
  for (const char* format : kFormats) {
    SCOPED_TRACE(format);
    const std::vector<SimulatedMessage> a = Generate(Options(format, 3000, 7));
    const std::vector<SimulatedMessage> b = Generate(Options(format, 3000, 7));
    const std::vector<SimulatedMessage> c = Generate(Options(format, 3000, 8));
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), c.size());
    size_t different = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].payload, b[i].payload) << i;
      ASSERT_EQ(a[i].key, b[i].key) << i;
      ASSERT_EQ(a[i].event_time_ms, b[i].event_time_ms) << i;
      if (a[i].payload != c[i].payload) ++different;
    }
    EXPECT_GT(different, a.size() * 9 / 10);
  }
}

// A fixed fingerprint of seed 1: changes to the model show up here (update it on purpose).
TEST(SimulatorTest, FirstMessageIsStable) {
  const std::vector<SimulatedMessage> messages = Generate(Options("xapi", 1));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].event_time_ms, kDefaultSimulatorStartMs);
  EXPECT_NE(messages[0].payload.find("\"timestamp\":\"2026-01-05T08:00:00.000Z\""),
            std::string::npos)
      << messages[0].payload;
}

TEST(SimulatorTest, CountsAreHonoured) {
  for (const char* format : kFormats) {
    SCOPED_TRACE(format);
    EXPECT_EQ(Generate(Options(format, 1)).size(), 1u);
    EXPECT_EQ(Generate(Options(format, 1234)).size(), 1234u);
  }
  // 0 = unbounded.
  Simulator simulator(Options("mixed", 0));
  SimulatedMessage message;
  for (int i = 0; i < 50000; ++i) ASSERT_TRUE(simulator.Next(message));
  EXPECT_EQ(simulator.produced(), 50000);
  // After the end, Next() keeps returning false and leaves the message alone.
  Simulator bounded(Options("xapi", 2));
  ASSERT_TRUE(bounded.Next(message));
  ASSERT_TRUE(bounded.Next(message));
  const std::string last = message.payload;
  EXPECT_FALSE(bounded.Next(message));
  EXPECT_FALSE(bounded.Next(message));
  EXPECT_EQ(message.payload, last);
}

TEST(SimulatorTest, LearnersAndCohortsStayInRange) {
  SimulatorOptions options = Options("xapi", 5000);
  options.learners = 10;
  options.cohorts = 3;
  std::set<std::string> learners;
  std::set<std::string> cohorts;
  for (const SimulatedMessage& m : Generate(options)) {
    learners.insert(m.learner_id);
    cohorts.insert(m.cohort_id);
    EXPECT_EQ(m.key, m.learner_id);
  }
  EXPECT_EQ(learners.size(), 10u);
  EXPECT_EQ(cohorts, (std::set<std::string>{"cohort-01", "cohort-02", "cohort-03"}));
}

// Out of order by at most max_jitter_ms, in order per learner.
TEST(SimulatorTest, EventTimeIsBoundedOutOfOrder) {
  struct Setting {
    TimestampMs jitter;
    double ms_per_event;
  };
  for (const char* format : kFormats) {
    for (const Setting setting : {Setting{0, 17280}, Setting{20000, 17280}, Setting{1500, 300}}) {
      const TimestampMs jitter = setting.jitter;
      SCOPED_TRACE(::testing::Message() << format << " jitter " << jitter);
      SimulatorOptions options = Options(format, 10000);
      options.max_jitter_ms = jitter;
      options.simulated_ms_per_event = setting.ms_per_event;
      TimestampMs max_so_far = std::numeric_limits<TimestampMs>::min();
      std::map<std::string, TimestampMs> last_by_learner;
      size_t out_of_order = 0;
      for (const SimulatedMessage& m : Generate(options)) {
        if (max_so_far != std::numeric_limits<TimestampMs>::min()) {
          ASSERT_GE(m.event_time_ms, max_so_far - jitter) << m.payload;
          if (m.event_time_ms < max_so_far) ++out_of_order;
        }
        max_so_far = std::max(max_so_far, m.event_time_ms);
        TimestampMs& last = last_by_learner[m.learner_id];
        ASSERT_GE(m.event_time_ms, last) << m.payload;
        last = m.event_time_ms;
      }
      if (jitter == 0) {
        EXPECT_EQ(out_of_order, 0u);
      } else {
        EXPECT_GT(out_of_order, 100u);  // the jitter is really there
      }
    }
  }
}

TEST(SimulatorTest, DefaultsSpanAboutTwoDays) {
  const std::vector<SimulatedMessage> messages = Generate(SimulatorOptions());
  ASSERT_EQ(messages.size(), 10000u);
  const double days =
      static_cast<double>(messages.back().event_time_ms - messages.front().event_time_ms) /
      kMsPerDay;
  EXPECT_GT(days, 1.7);
  EXPECT_LT(days, 2.3);
}

TEST(SimulatorTest, FewerEventsAtNight) {
  SimulatorOptions options = Options("xapi", 30000);
  int64_t night = 0;  // 00:00-06:00 UTC
  int64_t day = 0;    // 09:00-15:00 UTC
  for (const SimulatedMessage& m : Generate(options)) {
    const int64_t hour = FloorDiv(m.event_time_ms, kMsPerHour) % 24;
    if (hour < 6) ++night;
    if (hour >= 9 && hour < 15) ++day;
  }
  EXPECT_LT(night * 5, day) << night << " at night, " << day << " by day";

  options.daily_rhythm = false;
  night = day = 0;
  for (const SimulatedMessage& m : Generate(options)) {
    const int64_t hour = FloorDiv(m.event_time_ms, kMsPerHour) % 24;
    if (hour < 6) ++night;
    if (hour >= 9 && hour < 15) ++day;
  }
  EXPECT_GT(night * 10, day * 7) << night << " at night, " << day << " by day";
}

// Realistic sessions: after a session end, the learner rests longer than the session gap.
TEST(SimulatorTest, SessionsEndWithARest) {
  const std::vector<SimulatedMessage> messages = Generate(Options("xapi", 20000));
  std::map<std::string, TimestampMs> ended_at;
  int rests = 0;
  int short_rests = 0;
  for (const SimulatedMessage& m : messages) {
    if (const auto it = ended_at.find(m.learner_id); it != ended_at.end()) {
      ++rests;
      if (m.event_time_ms - it->second < 30 * kMsPerMinute) ++short_rests;
      ended_at.erase(it);
    }
    if (m.kind == EventKind::kSessionEnd) ended_at[m.learner_id] = m.event_time_ms;
  }
  EXPECT_GT(rests, 300);
  EXPECT_LT(short_rests * 10, rests) << short_rests << " of " << rests;
}

simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& payload) {
  simdjson::dom::element root;
  const auto error = parser.parse(payload).get(root);
  EXPECT_EQ(error, simdjson::SUCCESS) << payload;
  return root;
}

std::string_view Text(simdjson::dom::element e, std::string_view pointer) {
  std::string_view value;
  if (e.at_pointer(pointer).get(value) != simdjson::SUCCESS) return "<missing>";
  return value;
}

bool Has(simdjson::dom::element e, std::string_view pointer) {
  return e.at_pointer(pointer).error() == simdjson::SUCCESS;
}

TEST(SimulatorTest, XapiStatementsCarryTheRequiredFields) {
  simdjson::dom::parser parser;
  for (const SimulatedMessage& m : Generate(Options("xapi", 3000))) {
    const simdjson::dom::element s = Parse(parser, m.payload);
    EXPECT_EQ(Text(s, "/id").size(), 36u) << m.payload;
    EXPECT_EQ(Text(s, "/actor/account/homePage"), "https://lms.example.org");
    EXPECT_EQ("https://lms.example.org|" + std::string(Text(s, "/actor/account/name")),
              m.learner_id);
    EXPECT_EQ(Text(s, "/verb/id").rfind("http", 0), 0u);
    EXPECT_EQ(Text(s, "/object/id"), m.item_id);
    EXPECT_EQ(Text(s, "/context/contextActivities/grouping/0/id"), m.course_id);
    EXPECT_EQ(Text(s, "/context/extensions/https:~1~1learnflow.dev~1xapi~1cohort"), m.cohort_id);
    EXPECT_EQ(ParseIso8601Millis(Text(s, "/timestamp")), m.event_time_ms);
    EXPECT_TRUE(Has(s, "/stored"));
    if (m.kind == EventKind::kAttempt) {
      EXPECT_EQ(Text(s, "/object/definition/extensions/https:~1~1learnflow.dev~1xapi~1skill"),
                m.skill_id);
      bool success = false;
      ASSERT_EQ(s.at_pointer("/result/success").get(success), simdjson::SUCCESS) << m.payload;
      EXPECT_EQ(success, m.success == Success::kTrue);
      double scaled = -1;
      ASSERT_EQ(s.at_pointer("/result/score/scaled").get(scaled), simdjson::SUCCESS);
      EXPECT_GE(scaled, 0.0);
      EXPECT_LE(scaled, 1.0);
    }
  }
}

TEST(SimulatorTest, CaliperEventsCarryTheRequiredFields) {
  simdjson::dom::parser parser;
  std::string completed_attempt;
  int pairs = 0;
  for (const SimulatedMessage& m : Generate(Options("caliper", 3000))) {
    const simdjson::dom::element envelope = Parse(parser, m.payload);
    EXPECT_EQ(Text(envelope, "/dataVersion"), "http://purl.imsglobal.org/ctx/caliper/v1p2");
    EXPECT_TRUE(Has(envelope, "/sensor"));
    const simdjson::dom::element e = envelope.at_pointer("/data/0").value();
    EXPECT_FALSE(Has(envelope, "/data/1"));
    EXPECT_EQ(Text(e, "/id").rfind("urn:uuid:", 0), 0u);
    EXPECT_EQ(ParseIso8601Millis(Text(e, "/eventTime")), m.event_time_ms);
    EXPECT_EQ(Text(e, "/extensions/cohort"), m.cohort_id);
    EXPECT_EQ(Text(e, "/group/subOrganizationOf/id"), m.course_id);
    const std::string_view type = Text(e, "/type");
    const std::string_view action = Text(e, "/action");
    if (type == "GradeEvent") {
      EXPECT_EQ(action, "Graded");
      EXPECT_EQ(Text(e, "/object/assignee/id"), m.learner_id);
      // Joined to the AssessmentItemEvent just before, on the Attempt id.
      EXPECT_EQ(Text(e, "/object/id"), completed_attempt);
      EXPECT_EQ(Text(e, "/generated/attempt"), completed_attempt);
      double given = -1;
      double max = -1;
      ASSERT_EQ(e.at_pointer("/generated/scoreGiven").get(given), simdjson::SUCCESS);
      ASSERT_EQ(e.at_pointer("/generated/maxScore").get(max), simdjson::SUCCESS);
      EXPECT_EQ(given >= 0.5 * max, m.success == Success::kTrue);
      completed_attempt.clear();
      ++pairs;
    } else {
      EXPECT_TRUE(completed_attempt.empty()) << "Completed without its GradeEvent";
      if (type == "SessionEvent" && action == "TimedOut") {
        EXPECT_EQ(Text(e, "/object/user/id"), m.learner_id);
      } else {
        EXPECT_EQ(Text(e, "/actor/id"), m.learner_id);
        EXPECT_EQ(Text(e, "/actor/type"), "Person");
      }
      if (type == "AssessmentItemEvent") {
        EXPECT_EQ(action, "Completed");
        EXPECT_EQ(Text(e, "/object/learningObjectives/0/id"), m.skill_id);
        completed_attempt = Text(e, "/generated/attempt/id");
      }
    }
  }
  EXPECT_GT(pairs, 500);
}

TEST(SimulatorTest, MoodleRowsCarryTheRequiredFields) {
  simdjson::dom::parser parser;
  int64_t last_id = 0;
  for (const SimulatedMessage& m : Generate(Options("moodle", 3000))) {
    const simdjson::dom::element row = Parse(parser, m.payload);
    for (const char* column :
         {"/eventname", "/component", "/action", "/target", "/objecttable", "/objectid", "/crud",
          "/edulevel", "/contextinstanceid", "/userid", "/relateduserid", "/courseid",
          "/timecreated", "/anonymous", "/realuserid", "/other"}) {
      EXPECT_TRUE(Has(row, column)) << column << " in " << m.payload;
    }
    int64_t id = 0;
    ASSERT_EQ(row.at_pointer("/id").get(id), simdjson::SUCCESS);
    EXPECT_GT(id, last_id);
    last_id = id;
    int64_t user = 0;
    ASSERT_EQ(row.at_pointer("/userid").get(user), simdjson::SUCCESS);
    EXPECT_EQ(std::to_string(user), m.learner_id);
    int64_t seconds = 0;
    ASSERT_EQ(row.at_pointer("/timecreated").get(seconds), simdjson::SUCCESS);
    EXPECT_EQ(seconds * 1000, m.event_time_ms);
    int64_t anonymous = -1;
    ASSERT_EQ(row.at_pointer("/anonymous").get(anonymous), simdjson::SUCCESS);
    EXPECT_EQ(anonymous, 0);
    EXPECT_TRUE(row.at_pointer("/realuserid").is_null());
    int64_t edulevel = -1;
    ASSERT_EQ(row.at_pointer("/edulevel").get(edulevel), simdjson::SUCCESS);
    EXPECT_EQ(edulevel == 2, !m.skipped);
    if (m.kind == EventKind::kAttempt) {
      EXPECT_EQ(Text(row, "/eventname"), "\\mod_quiz\\event\\attempt_submitted");
      EXPECT_EQ(Text(row, "/objecttable"), "quiz_attempts");
      int64_t related = 0;
      ASSERT_EQ(row.at_pointer("/relateduserid").get(related), simdjson::SUCCESS);
      EXPECT_EQ(related, user);
    }
  }
}

// The ground truth of each message is what the real decoder makes of it.
TEST(SimulatorTest, DecoderAgreesWithTheGroundTruth) {
  for (const char* format : kFormats) {
    SCOPED_TRACE(format);
    EventDecoder decoder(DecoderOptions::Defaults());
    DecodedMessage decoded;
    std::map<EventKind, int> kinds;
    for (const SimulatedMessage& m : Generate(Options(format, 5000))) {
      decoder.Decode(m.payload, decoded);
      ASSERT_TRUE(decoded.rejects.empty())
          << RejectReasonCode(decoded.rejects[0].reason) << ": " << m.payload;
      if (m.skipped) {
        EXPECT_TRUE(decoded.events.empty()) << m.payload;
        continue;
      }
      ASSERT_EQ(decoded.events.size(), 1u) << m.payload;
      const CanonicalEvent& e = decoded.events[0];
      EXPECT_EQ(InputFormatName(decoded.format), m.format);
      EXPECT_EQ(e.learner_id, m.learner_id) << m.payload;
      EXPECT_EQ(e.cohort_id, m.cohort_id) << m.payload;
      EXPECT_EQ(e.course_id, m.course_id) << m.payload;
      EXPECT_EQ(e.item_id, m.item_id) << m.payload;
      EXPECT_EQ(e.skill_id, m.skill_id) << m.payload;
      EXPECT_EQ(e.event_time_ms, m.event_time_ms) << m.payload;
      EXPECT_EQ(e.kind, m.kind) << m.payload;
      EXPECT_EQ(e.success, m.success) << m.payload;
      ++kinds[e.kind];
    }
    EXPECT_GT(kinds[EventKind::kAttempt], 1000);
    EXPECT_GT(kinds[EventKind::kView], 500);
    if (std::string(format) != "moodle") {
      EXPECT_GT(kinds[EventKind::kSessionEnd], 50);
    }
    if (std::string(format) == "xapi") {
      EXPECT_GT(kinds[EventKind::kHelp], 50);
      EXPECT_GT(kinds[EventKind::kCompletion], 5);
    }
  }
}

// With DecoderSettingsFor(), every format names cohorts and skills alike and Caliper hints are
// help requests.
TEST(SimulatorTest, DecoderSettingsUnifyTheFormats) {
  const SimulatorOptions options = Options("mixed", 6000);
  const SimulatorDecoderSettings settings = DecoderSettingsFor(options);
  DecoderOptions decoder_options = DecoderOptions::Defaults();
  decoder_options.caliper_help_tools = settings.caliper_help_tools;
  decoder_options.moodle_cohort_by_course = {settings.moodle_cohort_by_course.begin(),
                                             settings.moodle_cohort_by_course.end()};
  decoder_options.moodle_skill_by_item = {settings.moodle_skill_by_item.begin(),
                                          settings.moodle_skill_by_item.end()};
  EventDecoder decoder(decoder_options);
  DecodedMessage decoded;
  std::map<std::string, std::set<std::string>> skills_by_format;
  int caliper_help = 0;
  std::set<std::string> cohorts;
  for (const SimulatedMessage& m : Generate(options)) {
    decoder.Decode(m.payload, decoded);
    ASSERT_TRUE(decoded.rejects.empty()) << m.payload;
    if (decoded.events.empty()) continue;
    const CanonicalEvent& e = decoded.events[0];
    cohorts.insert(std::string(e.cohort_id));
    if (e.kind == EventKind::kAttempt) {
      skills_by_format[std::string(m.format)].insert(std::string(e.skill_id));
    }
    if (m.format == "caliper" && e.kind == EventKind::kHelp) ++caliper_help;
  }
  EXPECT_EQ(cohorts.size(), 8u);
  EXPECT_EQ(*cohorts.begin(), "cohort-01");
  std::set<std::string> all_skills;  // 8 courses x 5 skills
  for (const auto& [item, skill] : settings.moodle_skill_by_item) all_skills.insert(skill);
  EXPECT_EQ(all_skills.size(), 40u);
  for (const char* format : {"xapi", "caliper", "moodle"}) {
    const std::set<std::string>& skills = skills_by_format[format];
    EXPECT_GE(skills.size(), 35u) << format;
    EXPECT_TRUE(std::includes(all_skills.begin(), all_skills.end(), skills.begin(), skills.end()))
        << format;
  }
  EXPECT_GT(caliper_help, 20);
}

TEST(SimulatorTest, StrugglingCohortSucceedsLess) {
  for (const char* format : {"xapi", "caliper"}) {
    SCOPED_TRACE(format);
    std::map<std::string, std::pair<int, int>> by_cohort;  // correct, known outcomes
    for (const SimulatedMessage& m : Generate(Options(format, 20000))) {
      if (m.success == Success::kUnknown) continue;
      auto& [correct, total] = by_cohort[m.cohort_id];
      correct += m.success == Success::kTrue;
      ++total;
    }
    ASSERT_EQ(by_cohort.size(), 8u);
    const auto share = [&](const std::string& cohort) {
      const auto& [correct, total] = by_cohort.at(cohort);
      EXPECT_GT(total, 100) << cohort;
      return static_cast<double>(correct) / total;
    };
    const double struggling = share("cohort-01");
    EXPECT_LT(struggling, 0.45);
    for (const auto& [cohort, counts] : by_cohort) {
      if (cohort == "cohort-01") continue;
      EXPECT_GT(share(cohort), struggling + 0.25) << cohort;
    }
  }
}

// DESIGN §8 applied to the ground truth: hourly windows in which a cohort has at least 5 active
// learners and at least 30% of them struggle (>= 5 attempts, accuracy < 0.5). The struggling
// cohort produces such windows; the others rarely do.
TEST(SimulatorTest, StrugglingCohortWouldRaiseAlerts) {
  struct LearnerWindow {
    int attempts = 0;
    int correct = 0;
  };
  // (cohort, hour) -> learner -> counts
  std::map<std::pair<std::string, int64_t>, std::map<std::string, LearnerWindow>> windows;
  for (const SimulatedMessage& m : Generate(Options("xapi", 20000))) {
    auto& learner = windows[{m.cohort_id, FloorDiv(m.event_time_ms, kMsPerHour)}][m.learner_id];
    if (m.kind == EventKind::kAttempt) {
      ++learner.attempts;
      learner.correct += m.success == Success::kTrue;
    }
  }
  std::map<std::string, std::pair<int, int>> alerts;  // cohort -> firing windows, big windows
  for (const auto& [key, learners] : windows) {
    if (learners.size() < 5) continue;
    int struggling = 0;
    for (const auto& [id, w] : learners) {
      struggling += w.attempts >= 5 && w.correct * 2 < w.attempts;
    }
    auto& [firing, eligible] = alerts[key.first];
    ++eligible;
    firing += struggling * 10 >= static_cast<int>(learners.size()) * 3;
  }
  EXPECT_GE(alerts["cohort-01"].first, 3);
  for (const auto& [cohort, counts] : alerts) {
    if (cohort == "cohort-01") continue;
    EXPECT_GE(counts.second, 2) << cohort << ": too few windows with 5 active learners";
    EXPECT_LE(counts.first * 4, counts.second) << cohort;
  }
}

}  // namespace
}  // namespace learnflow
