// End to end through real parts: the embedded Kafka broker (librdkafka mock cluster on loopback),
// the engine's Kafka source and sink, the event decoders, and RocksDB on disk. Events of all three
// formats plus invalid and late ones go in; the exact learner windows and dead-letter records must
// come out.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "app/simulator.h"
#include "connectors/decoders/event_decoder.h"
#include "connectors/kafka_client.h"
#include "state/state_store.h"
#include "state/window_key.h"
#include "stream/engine.h"
#include "tests/testing/kafka_test_util.h"
#include "tests/testing/signal_records.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::ConsumedRecord;
using testing::ProducedRecord;

constexpr char kInput[] = "learning.events";
constexpr char kSignals[] = "learnflow.learner-signals";
constexpr char kDeadLetter[] = "learnflow.dead-letter";

// Wall clock pinned to 2026-06-01T00:00:00Z, for records without a timestamp (the engine judges
// "more than a day in the future" against each record's own timestamp when it has one).
class FixedClock final : public Clock {
 public:
  TimestampMs NowMs() const override { return *ParseIso8601Millis("2026-06-01T00:00:00Z"); }
};

// A wall clock the test moves, so that the engine's periodic commits fall where the test says.
class SteppingClock final : public Clock {
 public:
  TimestampMs NowMs() const override { return now_; }
  void Advance(TimestampMs ms) { now_ += ms; }

 private:
  TimestampMs now_ = *ParseIso8601Millis("2026-06-01T00:00:00Z");
};

std::string Xapi(const std::string& id, const std::string& name, const std::string& time,
                 const std::string& verb = "answered") {
  return R"({"id":")" + id + R"(","actor":{"objectType":"Agent","account":{"homePage":"https://lms.example.org","name":")" +
         name + R"("}},"verb":{"id":"http://adlnet.gov/expapi/verbs/)" + verb +
         R"("},"object":{"id":"https://lms.example.org/items/q1","definition":{"extensions":{"https://learnflow.dev/xapi/skill":"fractions"}}},"result":{"success":true},"context":{"contextActivities":{"grouping":[{"id":"https://lms.example.org/courses/algebra-1"}]},"extensions":{"https://learnflow.dev/xapi/cohort":"cohort-a"}},"timestamp":")" +
         time + R"("})";
}

std::string CaliperEvent(const std::string& id, const std::string& type, const std::string& action,
                         const std::string& time) {
  return R"({"@context":"http://purl.imsglobal.org/ctx/caliper/v1p2","id":")" + id + R"(","type":")" +
         type + R"(","actor":{"id":"https://lms.example.org/users/bob","type":"Person"},"action":")" +
         action + R"(","object":{"id":"https://lms.example.org/items/q7","type":"AssessmentItem"},"eventTime":")" +
         time + R"(","group":{"id":"https://lms.example.org/sections/s1","type":"CourseSection","subOrganizationOf":{"id":"https://lms.example.org/courses/bio-2","type":"CourseOffering"}},"extensions":{"cohort":"cohort-b"}})";
}

std::string Moodle(int id, int userid, int64_t unix_seconds, int edulevel,
                   const std::string& extra = R"("anonymous":0,"realuserid":null)") {
  return R"({"id":)" + std::to_string(id) +
         R"(,"eventname":"\\mod_page\\event\\course_module_viewed","component":"mod_page","action":"viewed","target":"course_module","objecttable":"page","objectid":3,"crud":"r","edulevel":)" +
         std::to_string(edulevel) + R"(,"contextid":40,"contextlevel":70,"contextinstanceid":12,"userid":)" +
         std::to_string(userid) + R"(,"courseid":7,"relateduserid":null,"other":"N;","timecreated":)" +
         std::to_string(unix_seconds) + R"(,"origin":"web","ip":"10.0.0.1",)" + extra + "}";
}

int64_t UnixSeconds(const char* iso) { return *ParseIso8601Millis(iso) / 1000; }

using RecordSet = std::set<std::pair<std::string, std::string>>;

// The simulator's messages for `options`, in the order it generates them.
std::vector<SimulatedMessage> Simulate(SimulatorOptions options) {
  Simulator simulator(std::move(options));
  std::vector<SimulatedMessage> out;
  SimulatedMessage m;
  while (simulator.Next(m)) out.push_back(m);
  return out;
}

// Group and topics of one engine run.
struct Topics {
  std::string group = "pipeline-test";
  std::string input = kInput;
  std::string signals = kSignals;
  std::string dead_letter = kDeadLetter;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
    ASSERT_OK(broker.status());
    broker_ = std::move(*broker);
    ASSERT_OK(broker_->CreateTopic(kInput, 2));
    ASSERT_OK(broker_->CreateTopic(kSignals, 2));
    ASSERT_OK(broker_->CreateTopic(kDeadLetter, 1));
  }

  KafkaClientOptions Client() const {
    KafkaClientOptions client;
    client.bootstrap_servers = broker_->bootstrap_servers();
    client.group_id = "pipeline-test";
    // The mock coordinator waits ~session.timeout.ms per rebalance round (BUILD-NOTES).
    client.properties = {{"session.timeout.ms", "6000"},
                         {"heartbeat.interval.ms", "500"},
                         {"fetch.wait.max.ms", "10"}};
    return client;
  }

  EngineOptions Options() const {
    EngineOptions options;
    options.max_message_bytes = 4096;
    options.commit_interval_ms = 3600000;  // commits are explicit below
    return options;
  }

  // Runs an engine over the state in `dir` until it has consumed `expected` messages, then
  // commits and shuts down.
  void RunEngineUntilConsumed(const std::string& dir, uint64_t expected, EngineCounters* totals,
                              const Topics& topics = Topics()) {
    StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir, .memory_mb = 32});
    ASSERT_OK(store.status());
    KafkaClientOptions client = Client();
    client.group_id = topics.group;
    StatusOr<std::unique_ptr<KafkaSource>> source = KafkaSource::Create(client, topics.input);
    ASSERT_OK(source.status());
    StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
    ASSERT_OK(sink.status());
    EventDecoder decoder;
    FixedClock clock;
    EngineOptions options = Options();
    options.input_topic = topics.input;
    options.learner_signals_topic = topics.signals;
    options.dead_letter_topic = topics.dead_letter;
    Engine engine(options, **source, **sink, decoder, **store, clock);
    ASSERT_OK(engine.Start());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (engine.counters().consumed.load() < expected) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "consumed only " << engine.counters().consumed.load() << " of " << expected;
      ASSERT_OK(engine.RunOnce());
    }
    ASSERT_OK(engine.Shutdown());
    totals->consumed += engine.counters().consumed.load();
    totals->late += engine.counters().late.load();
    totals->skipped += engine.counters().skipped.load();
    totals->duplicates += engine.counters().duplicates.load();
    totals->events += engine.counters().events.load();
    totals->dead_letters += engine.counters().dead_letters.load();
    for (size_t i = 0; i < kRejectReasonCount; ++i) totals->invalid[i] += engine.counters().invalid[i].load();
  }

  // `topic` read to its end (at least `count` records) as a set of (key, value).
  RecordSet ReadSet(const std::string& topic, size_t count) {
    RecordSet out;
    StatusOr<std::vector<ConsumedRecord>> got = testing::ReadTopic(broker_->bootstrap_servers(), topic, count);
    EXPECT_OK(got.status());
    if (got.ok()) {
      for (const ConsumedRecord& r : *got) out.emplace(r.key, r.value);
    }
    return out;
  }
  // Every record of `topic`, once its writer has stopped: as many as its end offsets count (the
  // sinks here are not transactional, so there are no markers). Reading until the topic goes
  // quiet instead could stop early on a loaded machine.
  RecordSet ReadAll(const std::string& topic) {
    StatusOr<int64_t> end = testing::EndOffsetSum(broker_->bootstrap_servers(), topic);
    EXPECT_OK(end.status());
    return ReadSet(topic, end.ok() ? static_cast<size_t>(*end) : 1);
  }

  // What an engine over the state in state_dir_ needs to read kInput and restore from
  // `changelog_topic`, with the fixture's client. Declare it before the engine that borrows it.
  struct EngineParts {
    std::unique_ptr<StateStore> store;
    std::unique_ptr<KafkaSource> source;
    std::unique_ptr<KafkaSink> sink;
    std::unique_ptr<KafkaChangelogReader> changelog;
  };
  Status OpenParts(const std::string& changelog_topic, EngineParts& parts) const {
    LF_ASSIGN_OR_RETURN(parts.store, StateStore::Open({.dir = state_dir_.path(), .memory_mb = 32}));
    LF_ASSIGN_OR_RETURN(parts.source, KafkaSource::Create(Client(), kInput));
    LF_ASSIGN_OR_RETURN(parts.sink, KafkaSink::Create(Client()));
    LF_ASSIGN_OR_RETURN(parts.changelog, KafkaChangelogReader::Create(Client(), changelog_topic));
    return Status::Ok();
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  testing::TempDir state_dir_;
};

TEST_F(PipelineTest, AllFormatsInvalidAndLateGiveExactWindowsAndDeadLetters) {
  const std::string too_large = Xapi("x-large", "alice", "2026-03-02T10:06:00Z") + std::string(5000, ' ');
  const std::string anonymous = Moodle(503, 44, UnixSeconds("2026-03-02T10:33:00Z"), 2,
                                       R"("anonymous":1,"realuserid":null)");
  // Partition 0: xAPI and Caliper learners, then invalid input, then a closer, then a late event.
  const std::vector<std::string> p0 = {
      /*0*/ Xapi("a-1", "alice", "2026-03-02T10:05:00Z"),
      /*1*/ Xapi("a-2", "alice", "2026-03-02T10:20:00.250+00:00"),
      /*2*/ Xapi("a-2", "alice", "2026-03-02T10:20:00.250Z"),  // duplicate event id
      /*3*/ Xapi("a-3", "alice", "2026-03-02T11:40:00+01:00", "experienced"),  // 10:40Z
      /*4*/ R"({"sensor":"https://lms.example.org/sensor","sendTime":"2026-03-02T10:16:00Z","dataVersion":"http://purl.imsglobal.org/ctx/caliper/v1p2","data":[)" +
          CaliperEvent("urn:uuid:b-1", "NavigationEvent", "NavigatedTo", "2026-03-02T10:10:00.000Z") + "," +
          CaliperEvent("urn:uuid:b-2", "AssessmentItemEvent", "Completed", "2026-03-02T10:15:00.000Z") + "]}",
      /*5*/ "this is not json",
      /*6*/ R"({"id":"n-1","verb":{"id":"http://adlnet.gov/expapi/verbs/answered"},"object":{"id":"https://lms.example.org/items/q1"},"timestamp":"2026-03-02T10:07:00Z"})",
      /*7*/ Xapi("t-1", "alice", "2026-13-02T10:07:00Z"),
      /*8*/ too_large,
      /*9*/ Xapi("f-1", "alice", "2099-06-05T10:00:00Z"),  // > 1 day ahead of its record timestamp
      /*10*/ Xapi("d-1", "dave", "2026-03-02T12:10:00Z"),  // watermark 12:09: [10:00, 11:00) final
      /*11*/ Xapi("a-4", "alice", "2026-03-02T10:45:00Z"),  // late
  };
  // Partition 1: Moodle rows (one not participating), anonymous and login-as rows, a closer.
  const std::vector<std::string> p1 = {
      /*0*/ Moodle(501, 42, UnixSeconds("2026-03-02T10:30:00Z"), 2),
      /*1*/ Moodle(502, 42, UnixSeconds("2026-03-02T10:31:30Z"), 2),
      /*2*/ Moodle(504, 42, UnixSeconds("2026-03-02T10:32:00Z"), 1),  // edulevel 1: skipped
      /*3*/ anonymous,
      /*4*/ Moodle(505, 42, UnixSeconds("2026-03-02T10:34:00Z"), 2, R"("anonymous":0,"realuserid":2)"),
      /*5*/ Moodle(506, 43, UnixSeconds("2026-03-02T12:10:00Z"), 2),
  };
  std::vector<ProducedRecord> records;
  for (const std::string& v : p0) records.push_back({0, "k0", v});
  for (const std::string& v : p1) records.push_back({1, "k1", v});
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), kInput, records));

  EngineCounters counters;
  RunEngineUntilConsumed(state_dir_.path(), records.size(), &counters);
  if (HasFatalFailure()) return;

  // Learner windows: exactly the three closed ones, every field computed by hand.
  StatusOr<std::vector<ConsumedRecord>> signals =
      testing::ReadTopic(broker_->bootstrap_servers(), kSignals, 3);
  ASSERT_OK(signals.status());
  const TimestampMs ten = *ParseIso8601Millis("2026-03-02T10:00:00Z");
  testing::ModelOutput got;
  for (const ConsumedRecord& r : *signals) {
    ASSERT_OK(testing::AppendSignalRecord(r.value, got));
    ASSERT_FALSE(got.learner_records.empty());
    EXPECT_EQ(r.key, got.learner_records.back().learner_id) << "learner records are keyed by learner";
  }
  // alice (xAPI): a-1 10:05 and a-2 10:20 answered correctly on "fractions" (a-2 again is a
  // duplicate), a-3 10:40 experienced (a view); a-4 is late. One session (gaps 15 and 20 min).
  // BKT from 0.3: correct -> 0.27/0.41 + (0.14/0.41) * 0.1 = 142/205; correct -> 71/78 +
  // (7/78) * 0.1 = 239/260.
  testing::LearnerRecord alice{.learner_id = "https://lms.example.org|alice",
                               .course_id = "https://lms.example.org/courses/algebra-1",
                               .cohort_id = "cohort-a", .window_start = ten,
                               .window_end = ten + kMsPerHour, .events = 3, .attempts = 2,
                               .correct = 2, .accuracy = 1.0, .help_requests = 0,
                               .active_minutes = 3, .sessions = 1,
                               .mastery = {{"fractions", 239.0 / 260.0}},
                               .mean_mastery = 239.0 / 260.0, .struggling = false};
  // bob (Caliper): a NavigationEvent 10:10 (view) and an AssessmentItemEvent Completed 10:15 (an
  // attempt whose success is unknown: no accuracy, no mastery).
  testing::LearnerRecord bob{.learner_id = "https://lms.example.org/users/bob",
                             .course_id = "https://lms.example.org/courses/bio-2",
                             .cohort_id = "cohort-b", .window_start = ten,
                             .window_end = ten + kMsPerHour, .events = 2, .attempts = 1,
                             .correct = 0, .accuracy = std::nullopt, .help_requests = 0,
                             .active_minutes = 2, .sessions = 1, .mastery = {},
                             .mean_mastery = std::nullopt, .struggling = false};
  // Moodle user 42: two participating page views 10:30 and 10:31:30 (the edulevel-1 row is
  // skipped; the anonymous and login-as rows are dead letters). Cohort = course "7".
  testing::LearnerRecord moodle{.learner_id = "42", .course_id = "7", .cohort_id = "7",
                                .window_start = ten, .window_end = ten + kMsPerHour, .events = 2,
                                .attempts = 0, .correct = 0, .accuracy = std::nullopt,
                                .help_requests = 0, .active_minutes = 2, .sessions = 1,
                                .mastery = {}, .mean_mastery = std::nullopt, .struggling = false};
  EXPECT_NO_SIGNAL_DIFF(testing::DiffLearnerRecords({alice, bob, moodle}, got.learner_records));
  // The exact bytes of one record: key order, nulls, empty mastery.
  const RecordSet bytes = ReadSet(kSignals, 3);
  EXPECT_TRUE(bytes.count(
      {"42",
       R"({"kind":"learner_window","schema_version":1,"learner_id":"42","course_id":"7","cohort_id":"7",)"
       R"("window_start":"2026-03-02T10:00:00.000Z","window_end":"2026-03-02T11:00:00.000Z","events":2,)"
       R"("attempts":0,"correct":0,"accuracy":null,"help_requests":0,"active_minutes":2,"sessions":1,)"
       R"("mastery":{},"mean_mastery":null,"struggling":false})"}))
      << "records: " << ::testing::PrintToString(bytes);

  // Dead letters: the original bytes (anonymous rows redacted) with reason and source headers.
  StatusOr<std::vector<ConsumedRecord>> dead =
      testing::ReadTopic(broker_->bootstrap_servers(), kDeadLetter, 8);
  ASSERT_OK(dead.status());
  std::map<std::string, std::pair<std::string, std::string>> by_source;  // source -> reason, value
  for (const ConsumedRecord& r : *dead) {
    by_source[r.headers.at("learnflow.source")] = {r.headers.at("learnflow.error"), r.value};
  }
  const std::map<std::string, std::pair<std::string, std::string>> want_dead = {
      {"learning.events/0/5", {"invalid_json", p0[5]}},
      {"learning.events/0/6", {"no_learner", p0[6]}},
      {"learning.events/0/7", {"bad_time", p0[7]}},
      {"learning.events/0/8", {"too_large", p0[8]}},
      {"learning.events/0/9", {"future_time", p0[9]}},
      {"learning.events/0/11", {"late", p0[11]}},
      {"learning.events/1/4", {"login_as", p1[4]}},
  };
  ASSERT_EQ(dead->size(), 8u);
  for (const auto& [source, reason_value] : want_dead) {
    ASSERT_TRUE(by_source.count(source)) << "no dead letter for " << source;
    EXPECT_EQ(by_source[source], reason_value) << source;
  }
  ASSERT_TRUE(by_source.count("learning.events/1/3"));
  const auto& [anon_reason, anon_value] = by_source["learning.events/1/3"];
  EXPECT_EQ(anon_reason, "anonymous");
  EXPECT_EQ(anon_value.find(R"("userid")"), std::string::npos) << anon_value;
  EXPECT_EQ(anon_value.find(R"("relateduserid")"), std::string::npos) << anon_value;
  EXPECT_EQ(anon_value.find("10.0.0.1"), std::string::npos) << anon_value;
  EXPECT_NE(anon_value.find(R"("id":503)"), std::string::npos) << anon_value;

  EXPECT_EQ(counters.consumed.load(), records.size());
  EXPECT_EQ(counters.late.load(), 1u);
  EXPECT_EQ(counters.duplicates.load(), 1u);
  EXPECT_EQ(counters.skipped.load(), 1u);
  EXPECT_EQ(counters.invalid[static_cast<size_t>(RejectReason::kInvalidJson)].load(), 1u);
  EXPECT_EQ(counters.invalid[static_cast<size_t>(RejectReason::kAnonymous)].load(), 1u);
  EXPECT_EQ(counters.invalid[static_cast<size_t>(RejectReason::kLate)].load(), 1u);
}

TEST_F(PipelineTest, RestartResumesWindowsAndPositionFromTheStateStore) {
  // First run: one event for dave in [12:00, 13:00), left open.
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), kInput,
                                    {{0, "k", Xapi("d-1", "dave", "2026-03-02T12:10:00Z")}}));
  EngineCounters counters;
  RunEngineUntilConsumed(state_dir_.path(), 1, &counters);
  if (HasFatalFailure()) return;

  // Second run on the same state: a second event for the window and one that closes it. The
  // window must hold both events (state restored) and the first event must not be re-read
  // (position restored): dave's count is exactly 2.
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), kInput,
                                    {{0, "k", Xapi("d-2", "dave", "2026-03-02T12:50:00Z")},
                                     {0, "k", Xapi("e-1", "erin", "2026-03-02T14:00:00Z")}}));
  EngineCounters second;
  RunEngineUntilConsumed(state_dir_.path(), 2, &second);
  if (HasFatalFailure()) return;
  EXPECT_EQ(second.consumed.load(), 2u);

  StatusOr<std::vector<ConsumedRecord>> signals =
      testing::ReadTopic(broker_->bootstrap_servers(), kSignals, 1);
  ASSERT_OK(signals.status());
  ASSERT_EQ(signals->size(), 1u);
  EXPECT_EQ((*signals)[0].key, "https://lms.example.org|dave");
  EXPECT_NE((*signals)[0].value.find(R"("window_start":"2026-03-02T12:00:00.000Z")"), std::string::npos);
  EXPECT_NE((*signals)[0].value.find(R"("events":2,)"), std::string::npos) << (*signals)[0].value;
}

// Periodic commits between two local checkpoints write only the changelog. An engine that dies
// after such commits, before any checkpoint, leaves no position in its store; the next one
// restores what those commits logged and counts every event exactly once.
TEST_F(PipelineTest, CommitsBetweenCheckpointsAreReplayedFromTheChangelogAfterACrash) {
  const std::string changelog_topic = "pipeline-test-windows-changelog";
  ASSERT_OK(broker_->CreateTopic(changelog_topic, 2));
  auto produce = [&](const std::string& id, const std::string& name, const std::string& time) {
    return testing::ProduceRecords(broker_->bootstrap_servers(), kInput,
                                   {{0, "k", Xapi(id, name, time)}});
  };
  ASSERT_OK(produce("d-1", "dave", "2026-03-02T12:10:00Z"));
  ASSERT_OK(produce("d-2", "dave", "2026-03-02T12:20:00Z"));
  EngineOptions options = Options();
  options.changelog_topic = changelog_topic;
  options.commit_interval_ms = 1000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  {
    EngineParts parts;
    ASSERT_OK(OpenParts(changelog_topic, parts));
    EventDecoder decoder;
    SteppingClock clock;
    EngineOptions first = options;
    first.checkpoint_interval_ms = 3600000;
    Engine engine(first, *parts.source, *parts.sink, decoder, *parts.store, clock,
                  parts.changelog.get());
    ASSERT_OK(engine.Start());
    const EngineCounters& counters = engine.counters();
    auto run_until_consumed = [&](uint64_t n) {
      while (counters.consumed.load() < n) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "consumed " << counters.consumed.load();
        ASSERT_OK(engine.RunOnce());
      }
      // The next turn commits: the interval has passed.
      clock.Advance(first.commit_interval_ms);
      ASSERT_OK(engine.RunOnce());
    };
    run_until_consumed(2);
    if (HasFatalFailure()) return;
    ASSERT_OK(produce("d-3", "dave", "2026-03-02T12:30:00Z"));
    run_until_consumed(3);
    if (HasFatalFailure()) return;
    EXPECT_GE(counters.commits.load(), 2u);
    EXPECT_EQ(counters.checkpoints.load(), 0u);
    // The store holds no position for the partition: nothing was checkpointed.
    std::string value;
    bool found = true;
    ASSERT_OK(parts.store->Get(Family::kMeta, "pos/" + PartitionPrefix(0), value, found));
    EXPECT_FALSE(found);
    // Dies here: no final commit, no shutdown.
  }

  // The next engine on the same state directory: restore, then an event that closes the window.
  ASSERT_OK(produce("e-1", "erin", "2026-03-02T14:00:00Z"));
  EngineParts parts;
  ASSERT_OK(OpenParts(changelog_topic, parts));
  EventDecoder decoder;
  FixedClock clock;
  Engine engine(options, *parts.source, *parts.sink, decoder, *parts.store, clock,
                parts.changelog.get());
  ASSERT_OK(engine.Start());
  const EngineCounters& counters = engine.counters();
  while (counters.consumed.load() < 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "erin's event never consumed";
    ASSERT_OK(engine.RunOnce());
  }
  ASSERT_OK(engine.Shutdown());
  EXPECT_GT(counters.restored.load(), 0u) << "nothing came back from the changelog";
  // Only erin's event: the three before it are below the restored position.
  EXPECT_EQ(counters.consumed.load(), 1u);
  // The shutdown's commit is settled, so it checkpoints (and so does the revocation after it).
  EXPECT_GE(counters.checkpoints.load(), 1u);
  StatusOr<std::vector<ConsumedRecord>> signals =
      testing::ReadTopic(broker_->bootstrap_servers(), kSignals, 1);
  ASSERT_OK(signals.status());
  ASSERT_EQ(signals->size(), 1u);
  EXPECT_EQ((*signals)[0].key, "https://lms.example.org|dave");
  EXPECT_NE((*signals)[0].value.find(R"("events":3,)"), std::string::npos) << (*signals)[0].value;
}

// Readiness (/readyz) follows `restoring`: it must be set from the moment partitions are
// assigned, not only at the engine's next turn, or a probe in between sees "ready" while the
// state is still being brought up to date.
TEST_F(PipelineTest, RestoringFromTheMomentPartitionsAreAssignedUntilTheChangelogIsRead) {
  const std::string changelog_topic = "pipeline-test-windows-changelog";
  ASSERT_OK(broker_->CreateTopic(changelog_topic, 2));
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), kInput,
                                    {{0, "k", Xapi("f-1", "fay", "2026-03-02T12:10:00Z")}}));
  EngineParts parts;
  ASSERT_OK(OpenParts(changelog_topic, parts));
  EventDecoder decoder;
  FixedClock clock;
  EngineOptions options = Options();
  options.changelog_topic = changelog_topic;
  Engine engine(options, *parts.source, *parts.sink, decoder, *parts.store, clock,
                parts.changelog.get());
  ASSERT_OK(engine.Start());
  const EngineCounters& counters = engine.counters();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (counters.assigned_partitions.load() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no partition was assigned";
    ASSERT_FALSE(counters.restoring.load()) << "restoring before any assignment";
    ASSERT_OK(engine.RunOnce());
  }
  // The turn that assigned the partitions has not read their changelog yet.
  EXPECT_TRUE(counters.restoring.load());
  EXPECT_EQ(counters.consumed.load(), 0u);
  while (counters.restoring.load()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the restore never finished";
    ASSERT_OK(engine.RunOnce());
  }
  while (counters.consumed.load() < 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "nothing consumed after the restore";
    ASSERT_OK(engine.RunOnce());
  }
  EXPECT_FALSE(counters.restoring.load());
  ASSERT_OK(engine.Shutdown());
}

TEST_F(PipelineTest, GarbageNeverCrashesOrStallsAPartition) {
  // Seeded mutations of valid messages of each format (truncation, byte flips, inserted bytes),
  // random binary, deep nesting and empty payloads, on both partitions; then a valid event per
  // partition. Every message must be consumed (no partition stalls, the engine keeps running) and
  // every rejected or late event must be in the dead-letter topic with its headers.
  const std::vector<std::string> seeds = {
      Xapi("s-1", "sam", "2026-03-02T10:05:00Z"),
      "{\"sensor\":\"x\",\"data\":[" + CaliperEvent("urn:uuid:s-2", "NavigationEvent", "NavigatedTo", "2026-03-02T10:10:00Z") + "]}",
      Moodle(900, 77, UnixSeconds("2026-03-02T10:30:00Z"), 2),
  };
  std::mt19937_64 rng(20261122);
  std::vector<ProducedRecord> records;
  for (int i = 0; i < 400; ++i) {
    std::string v = seeds[rng() % seeds.size()];
    switch (rng() % 6) {
      case 0: v.resize(rng() % v.size()); break;
      case 1: for (int k = 0; k < 4; ++k) v[rng() % v.size()] = static_cast<char>(rng()); break;
      case 2: v.insert(rng() % v.size(), std::string(1 + rng() % 8, static_cast<char>(rng()))); break;
      case 3: { v.assign(1 + rng() % 200, '\0'); for (char& c : v) c = static_cast<char>(rng()); break; }
      case 4: v = std::string(2000, '[') ; break;
      case 5: v.clear(); break;
    }
    records.push_back({static_cast<int32_t>(i % 2), "k", v});
  }
  records.push_back({0, "k", Xapi("last-0", "amy", "2026-03-02T12:00:00Z")});
  records.push_back({1, "k", Xapi("last-1", "ben", "2026-03-02T12:00:00Z")});
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), kInput, records));

  EngineCounters counters;
  RunEngineUntilConsumed(state_dir_.path(), records.size(), &counters);
  if (HasFatalFailure()) return;
  EXPECT_EQ(counters.consumed.load(), records.size());
  uint64_t invalid = 0;
  for (const auto& n : counters.invalid) invalid += n.load();
  EXPECT_GT(invalid, 200u) << "most mutations are invalid";
  EXPECT_EQ(counters.dead_letters.load(), invalid);
  StatusOr<std::vector<ConsumedRecord>> dead =
      testing::ReadTopic(broker_->bootstrap_servers(), kDeadLetter, invalid);
  ASSERT_OK(dead.status());
  EXPECT_EQ(dead->size(), invalid);
  for (const ConsumedRecord& r : *dead) {
    EXPECT_TRUE(r.headers.count("learnflow.error"));
    EXPECT_TRUE(r.headers.count("learnflow.source"));
  }
}

TEST_F(PipelineTest, BoundedShuffleGivesTheSameWindowsAsSortedInputAndLateEventsAreDeadLettered) {
  // 3,000 simulated xAPI events in event-time order, and the same events displaced by up to
  // 30 s (within the 60 s out-of-orderness bound), each through its own engine and topics.
  // Every field of every window must be the same.
  SimulatorOptions sim;
  sim.learners = 100;
  sim.events = 3000;
  sim.format = "xapi";
  sim.seed = 3;
  std::vector<SimulatedMessage> messages = Simulate(sim);
  std::stable_sort(messages.begin(), messages.end(), [](const auto& a, const auto& b) {
    return a.event_time_ms < b.event_time_ms;
  });
  std::vector<std::pair<TimestampMs, size_t>> displaced;
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < messages.size(); ++i) {
    displaced.emplace_back(messages[i].event_time_ms + static_cast<TimestampMs>(rng() % 30000), i);
  }
  std::sort(displaced.begin(), displaced.end());
  // Mastery (BKT) follows each learner's record order by definition, so every learner keeps its
  // own order: the slots a learner's events occupy in the displaced order are refilled with its
  // events in event-time order. The interleaving of learners (and so the watermark) is shuffled.
  std::map<std::string, std::vector<size_t>> by_learner;
  for (size_t i = 0; i < messages.size(); ++i) by_learner[messages[i].learner_id].push_back(i);
  std::map<std::string, size_t> next_of_learner;
  std::vector<ProducedRecord> sorted, shuffled;
  for (const auto& msg : messages) sorted.push_back({-1, msg.key, msg.payload});
  for (const auto& [t, slot] : displaced) {
    const std::string& learner = messages[slot].learner_id;
    const size_t i = by_learner[learner][next_of_learner[learner]++];
    shuffled.push_back({-1, messages[i].key, messages[i].payload});
  }
  // Three events two hours behind the end, for learners of the stream: beyond the grace period.
  const TimestampMs old_time = messages.back().event_time_ms - 2 * kMsPerHour;
  for (int i = 0; i < 3; ++i) {
    const SimulatedMessage& learner = messages[messages.size() - 1 - i * 7];
    const std::string name = learner.learner_id.substr(learner.learner_id.find('|') + 1);
    shuffled.push_back({-1, learner.key, Xapi("late-" + std::to_string(i), name, FormatIso8601Millis(old_time))});
  }
  for (const char* topic : {"sorted.in", "sorted.out", "sorted.dead", "shuffled.in", "shuffled.out", "shuffled.dead"}) {
    ASSERT_OK(broker_->CreateTopic(topic, 2));
  }
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), "sorted.in", sorted));
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), "shuffled.in", shuffled));

  testing::TempDir sorted_dir, shuffled_dir;
  EngineCounters a, b;
  RunEngineUntilConsumed(sorted_dir.path(), sorted.size(), &a, {"sorted", "sorted.in", "sorted.out", "sorted.dead"});
  if (HasFatalFailure()) return;
  RunEngineUntilConsumed(shuffled_dir.path(), shuffled.size(), &b,
                         {"shuffled", "shuffled.in", "shuffled.out", "shuffled.dead"});
  if (HasFatalFailure()) return;
  EXPECT_EQ(a.late.load(), 0u);
  EXPECT_EQ(b.late.load(), 3u);

  const RecordSet from_sorted = ReadAll("sorted.out");
  const RecordSet from_shuffled = ReadSet("shuffled.out", from_sorted.size());
  EXPECT_GT(from_sorted.size(), 100u);
  EXPECT_EQ(from_shuffled, from_sorted);

  StatusOr<std::vector<ConsumedRecord>> dead = testing::ReadTopic(broker_->bootstrap_servers(), "shuffled.dead", 3);
  ASSERT_OK(dead.status());
  ASSERT_EQ(dead->size(), 3u);
  for (const ConsumedRecord& r : *dead) {
    EXPECT_EQ(r.headers.at("learnflow.error"), "late");
    EXPECT_NE(r.value.find("late-"), std::string::npos);
  }
}

TEST_F(PipelineTest, BrokerOutageMidStreamIsWaitedOutAndResultsStayExact) {
  SimulatorOptions sim;
  sim.learners = 80;
  sim.events = 4000;
  sim.format = "mixed";
  sim.seed = 5;
  std::vector<ProducedRecord> records;
  for (const SimulatedMessage& m : Simulate(sim)) records.push_back({-1, m.key, m.payload});
  for (const char* topic : {"ref.in", "ref.out", "ref.dead", "outage.in", "outage.out", "outage.dead"}) {
    ASSERT_OK(broker_->CreateTopic(topic, 2));
  }
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), "ref.in", records));
  ASSERT_OK(testing::ProduceRecords(broker_->bootstrap_servers(), "outage.in", records));
  testing::TempDir ref_dir, outage_dir;
  EngineCounters ref;
  RunEngineUntilConsumed(ref_dir.path(), records.size(), &ref, {"ref", "ref.in", "ref.out", "ref.dead"});
  if (HasFatalFailure()) return;

  // The outage run: the only broker goes down once a third of the input is processed, and comes
  // back once the engine reports it unreachable.
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = outage_dir.path(), .memory_mb = 32});
  ASSERT_OK(store.status());
  KafkaClientOptions client = Client();
  client.group_id = "outage";
  client.properties["reconnect.backoff.max.ms"] = "200";
  StatusOr<std::unique_ptr<KafkaSource>> source = KafkaSource::Create(client, "outage.in");
  StatusOr<std::unique_ptr<KafkaSink>> sink = KafkaSink::Create(client);
  ASSERT_OK(source.status());
  ASSERT_OK(sink.status());
  EventDecoder decoder;
  EngineOptions options = Options();
  options.input_topic = "outage.in";
  options.learner_signals_topic = "outage.out";
  options.dead_letter_topic = "outage.dead";
  options.commit_interval_ms = 0;  // commit after every batch (the clock is fixed)
  options.max_poll_records = 50;
  options.flush_timeout_ms = 300;
  FixedClock clock;
  Engine engine(options, **source, **sink, decoder, **store, clock);
  ASSERT_OK(engine.Start());
  bool went_down = false;
  bool came_back = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::thread restorer;
  while (engine.counters().consumed.load() < records.size()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "consumed " << engine.counters().consumed.load();
    if (!went_down && engine.counters().consumed.load() > records.size() / 3) {
      ASSERT_OK(broker_->SetBrokerDown(1));
      went_down = true;
      // Brings the broker back once the engine has noticed (the engine thread may be inside a
      // commit waiting for it, so this runs beside it).
      restorer = std::thread([&] {
        while (engine.counters().broker_reachable.load() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::yield();
        }
        came_back = broker_->SetBrokerUp(1).ok();
      });
    }
    ASSERT_OK(engine.RunOnce());
  }
  ASSERT_OK(engine.Shutdown());
  if (restorer.joinable()) restorer.join();
  EXPECT_TRUE(went_down);
  EXPECT_TRUE(came_back);

  const RecordSet expected = ReadAll("ref.out");
  EXPECT_GT(expected.size(), 50u);
  EXPECT_EQ(ReadSet("outage.out", expected.size()), expected);
}

// The embedded cluster places partition leaders round-robin, as Kafka does, so every broker
// leads some partition (fault tests inject errors per broker and rely on it). The mock cluster
// alone picks each leader at random.
TEST(EmbeddedBrokerTest, CreatedTopicsSpreadPartitionLeadersOverEveryBroker) {
  StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(3);
  ASSERT_OK(broker.status());
  for (const auto& [topic, partitions] : {std::pair<std::string, int>{"spread.six", 6}, {"spread.two", 2}}) {
    ASSERT_OK((*broker)->CreateTopic(topic, partitions));
    StatusOr<std::vector<int32_t>> leaders = testing::PartitionLeaders((*broker)->bootstrap_servers(), topic);
    ASSERT_OK(leaders.status());
    std::vector<int32_t> expected;
    for (int p = 0; p < partitions; ++p) expected.push_back(1 + p % 3);
    EXPECT_EQ(*leaders, expected) << topic;
  }
}

}  // namespace
}  // namespace learnflow
