// The query API over a real socket, reading a real RocksDB store: exact answers, the partitions
// this instance owns and nothing else, errors as JSON naming the bad parameter, huge requests,
// and concurrent clients.
#include "app/query_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "state/window_key.h"
#include "tests/testing/http_test_client.h"
#include "tests/testing/sample_state.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::ClientResponse;
using testing::TestHttpClient;

const TimestampMs kTen = *ParseIso8601Millis("2026-03-02T10:00:00Z");

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir_.path() + "/state", .memory_mb = 16});
    ASSERT_OK(store.status());
    store_ = std::move(*store);
    queries_ = std::make_unique<StateQueries>(*store_, params_, learners_, cohorts_);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_connections = 64;
    options.routes = QueryRoutes(*queries_);
    StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(options));
    ASSERT_OK(server.status());
    server_ = std::move(*server);
  }

  void PutLearner(int32_t partition, std::string_view id, const LearnerState& state) {
    Put(Family::kKeyed, partition, id, state);
  }
  void PutCohort(int32_t partition, std::string_view id, const CohortState& state) {
    Put(Family::kCohortKeyed, partition, id, state);
  }
  template <typename State>
  void Put(Family family, int32_t partition, std::string_view id, const State& state) {
    std::string value;
    state.Encode(value);
    StateBatch batch(*store_);
    batch.Put(family, PartitionPrefix(partition) + std::string(id), value);
    ASSERT_OK(store_->Write(batch));
  }

  std::optional<ClientResponse> Get(std::string_view path) {
    TestHttpClient client(server_->port());
    EXPECT_TRUE(client.connected());
    return client.Get(path);
  }

  testing::TempDir dir_;
  SignalParams params_;
  QueryablePartitions learners_;
  QueryablePartitions cohorts_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<StateQueries> queries_;
  std::unique_ptr<HttpServer> server_;  // last: stopped before what it reads
};

LearnerState Ada() {
  LearnerState s;
  s.last_activity = kTen + 59 * kMsPerMinute;
  s.last_cohort_id = "c1";
  s.bkt = {{"algebra", 0.5}, {"fractions", 0.75}};
  s.SetLatest(testing::SampleLatestRecord(kTen + kMsPerHour, "course-1"));
  return s;
}

CohortState Cohort(bool firing, int64_t active) {
  CohortState s;
  s.firing = firing;
  s.last_window_end = kTen + kMsPerHour;
  s.latest.active_learners = active;
  s.latest.struggling_learners = firing ? active : 0;
  s.latest.struggling_share = firing ? 1.0 : 0.0;
  s.latest.accuracy = firing ? 0.0 : 1.0;
  s.latest.active_minutes = 10;
  s.latest.help_requests = 1;
  return s;
}

TEST_F(QueryApiTest, LearnerAnswersCurrentMasteryAndTheLatestWindowRecord) {
  const std::string id = "https://lms.example.org|ada/x";
  PutLearner(1, id, Ada());
  learners_.Replace(std::vector<int32_t>{0, 1});
  // '/' and '|' percent-encoded, as a client library sends them.
  const std::optional<ClientResponse> r = Get("/v1/learners/https%3A%2F%2Flms.example.org%7Cada%2Fx");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->headers.at("content-type"), "application/json");
  EXPECT_EQ(r->body,
            R"({"learner_id":"https://lms.example.org|ada/x","cohort_id":"c1",)"
            R"("last_event_time":"2026-03-02T10:59:00.000Z","inactive":false,)"
            R"("mastery":{"algebra":0.5,"fractions":0.75},"mean_mastery":0.625,"latest_window":)"
            R"({"kind":"learner_window","schema_version":1,"learner_id":"https://lms.example.org|ada/x",)"
            R"("course_id":"course-1","cohort_id":"c1","window_start":"2026-03-02T10:00:00.000Z",)"
            R"("window_end":"2026-03-02T11:00:00.000Z","events":7,"attempts":5,"correct":1,)"
            R"("accuracy":0.25,"help_requests":2,"active_minutes":6,"sessions":1,)"
            R"("mastery":{"fractions":0.25},"mean_mastery":0.25,"struggling":true}})");
}

TEST_F(QueryApiTest, ALearnerWithoutFinalWindowHasNullLatestWindow) {
  LearnerState s;
  s.last_activity = kTen;
  s.last_cohort_id = "c1";
  PutLearner(0, "bo", s);
  learners_.Replace(std::vector<int32_t>{0});
  const std::optional<ClientResponse> r = Get("/v1/learners/bo");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, R"({"learner_id":"bo","cohort_id":"c1","last_event_time":"2026-03-02T10:00:00.000Z",)"
                     R"("inactive":false,"mastery":{},"mean_mastery":null,"latest_window":null})");
}

TEST_F(QueryApiTest, OnlyPartitionsThisInstanceOwnsAreAnswered) {
  PutLearner(3, "ada", Ada());
  PutCohort(3, "c1", Cohort(true, 5));
  learners_.Replace(std::vector<int32_t>{0, 1});
  cohorts_.Replace(std::vector<int32_t>{0});
  // The store still holds partition 3 (e.g. revoked a moment ago), but it is not ours.
  std::optional<ClientResponse> r = Get("/v1/learners/ada");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":"not_found","message":"learner \"ada\" is not in the state of this )"
                     R"j(instance (unknown, or owned by another instance)"})j");
  r = Get("/v1/cohorts/c1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404) << r->body;
  r = Get("/v1/cohorts?struggling=true");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, R"({"cohorts":[],"truncated":false})");

  learners_.Replace(std::vector<int32_t>{3});
  cohorts_.Replace(std::vector<int32_t>{3});
  EXPECT_EQ(Get("/v1/learners/ada")->status, 200);
  EXPECT_EQ(Get("/v1/cohorts/c1")->status, 200);
  learners_.Remove(std::vector<int32_t>{3});
  EXPECT_EQ(Get("/v1/learners/ada")->status, 404);
}

TEST_F(QueryApiTest, AKnownLearnerInSeveralPartitionsIsAnsweredByTheMostRecentlyActive) {
  LearnerState old = Ada();
  old.last_activity = kTen;
  old.bkt = {{"algebra", 0.125}};
  PutLearner(0, "ada", old);
  PutLearner(1, "ada", Ada());
  learners_.Replace(std::vector<int32_t>{0, 1});
  const std::optional<ClientResponse> r = Get("/v1/learners/ada");
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->body.find(R"("mastery":{"algebra":0.5,"fractions":0.75})"), std::string::npos) << r->body;
}

TEST_F(QueryApiTest, CohortAnswersItsAlertStateAndLatestCohortRecord) {
  CohortState s = Cohort(true, 6);
  s.latest.mean_mastery = 0.375;
  PutCohort(2, "cohort/7 b", s);
  cohorts_.Replace(std::vector<int32_t>{2});
  const std::optional<ClientResponse> r = Get("/v1/cohorts/cohort%2F7%20b");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body,
            R"({"cohort_id":"cohort/7 b","struggling":true,"latest_window":{"kind":"cohort_window",)"
            R"("schema_version":1,"cohort_id":"cohort/7 b","window_start":"2026-03-02T10:00:00.000Z",)"
            R"("window_end":"2026-03-02T11:00:00.000Z","active_learners":6,"struggling_learners":6,)"
            R"("struggling_share":1,"accuracy":0,"mean_mastery":0.375,"active_minutes":10,)"
            R"("help_requests":1}})");
}

TEST_F(QueryApiTest, ACohortStateWrittenBeforeTheLatestWindowWasKeptAnswersNull) {
  std::string v1 = {1, 1};  // version 1, firing
  for (int i = 0; i < 8; ++i) v1.push_back(static_cast<char>(((kTen + kMsPerHour) >> (8 * i)) & 0xff));
  StateBatch batch(*store_);
  batch.Put(Family::kCohortKeyed, PartitionPrefix(0) + "c1", v1);
  ASSERT_OK(store_->Write(batch));
  cohorts_.Replace(std::vector<int32_t>{0});
  const std::optional<ClientResponse> r = Get("/v1/cohorts/c1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, R"({"cohort_id":"c1","struggling":true,"latest_window":null})");
}

TEST_F(QueryApiTest, CohortListFiltersOnStrugglingAcrossPartitionsInIdOrderWithALimit) {
  PutCohort(0, "c3", Cohort(true, 5));
  PutCohort(1, "c1", Cohort(true, 7));
  PutCohort(1, "c2", Cohort(false, 9));
  PutCohort(0, "c4", Cohort(false, 5));
  cohorts_.Replace(std::vector<int32_t>{0, 1});
  auto ids = [&](std::string_view path) {
    const std::optional<ClientResponse> r = Get(path);
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << r->body;
    std::string found;
    for (size_t at = 0; (at = r->body.find(R"({"cohort_id":")", at)) != std::string::npos;) {
      at += 14;
      found += r->body.substr(at, r->body.find('"', at) - at) + ",";
    }
    const bool truncated = r->body.ends_with(R"("truncated":true})");
    return found + (truncated ? "truncated" : "");
  };
  EXPECT_EQ(ids("/v1/cohorts?struggling=true"), "c1,c3,");
  EXPECT_EQ(ids("/v1/cohorts?struggling=false"), "c2,c4,");
  EXPECT_EQ(ids("/v1/cohorts"), "c1,c2,c3,c4,");
  EXPECT_EQ(ids("/v1/cohorts?limit=3"), "c1,c2,c3,truncated");
  EXPECT_EQ(ids("/v1/cohorts?struggling=true&limit=1"), "c1,truncated");
}

TEST_F(QueryApiTest, BadRequestsAreJsonErrorsNamingTheParameter) {
  learners_.Replace(std::vector<int32_t>{0});
  const struct {
    const char* path;
    int status;
    const char* body;
  } cases[] = {
      {"/v1/cohorts?struggling=yes", 400,
       R"({"error":"bad_request","message":"struggling: expected true or false, got \"yes\""})"},
      {"/v1/cohorts?strugling=true", 400,
       R"j({"error":"bad_request","message":"unknown query parameter \"strugling\" (known: struggling, limit)"})j"},
      {"/v1/cohorts?limit=0", 400,
       R"({"error":"bad_request","message":"limit: expected an integer from 1 to 10000, got \"0\""})"},
      {"/v1/cohorts?limit=12abc", 400,
       R"({"error":"bad_request","message":"limit: expected an integer from 1 to 10000, got \"12abc\""})"},
      {"/v1/learners/", 400, R"({"error":"bad_request","message":"missing learner id"})"},
      {"/v1/cohorts/", 400, R"({"error":"bad_request","message":"missing cohort id"})"},
      {"/v1/learners/ada?x=1", 400, R"({"error":"bad_request","message":"unknown query parameter \"x\""})"},
      {"/v1/learner/ada", 404, nullptr},
      {"/v2/cohorts", 404, nullptr},
  };
  for (const auto& c : cases) {
    const std::optional<ClientResponse> r = Get(c.path);
    ASSERT_TRUE(r.has_value()) << c.path;
    EXPECT_EQ(r->status, c.status) << c.path << ": " << r->body;
    EXPECT_EQ(r->headers.at("content-type"), "application/json") << c.path;
    if (c.body != nullptr) {
      EXPECT_EQ(r->body, c.body) << c.path;
    }
    EXPECT_TRUE(r->body.starts_with(R"({"error":")")) << c.path << ": " << r->body;
  }
  const std::optional<ClientResponse> r = Get("/v1/learners/" + std::string(kMaxQueryIdBytes + 1, 'a'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, R"({"error":"bad_request","message":"learner id longer than 1024 bytes"})");
}

TEST_F(QueryApiTest, AHugeRequestIsRefusedAndTheServerKeepsServing) {
  PutLearner(0, "ada", Ada());
  learners_.Replace(std::vector<int32_t>{0});
  TestHttpClient client(server_->port());
  ASSERT_TRUE(client.connected());
  // A 64 KiB request line: over the 16 KiB header limit.
  client.Send("GET /v1/learners/" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::optional<ClientResponse> refused = client.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 431);
  EXPECT_TRUE(client.ReadsEof());
  EXPECT_EQ(Get("/v1/learners/ada")->status, 200);
}

TEST_F(QueryApiTest, CorruptStateIsAnInternalErrorNotACrash) {
  StateBatch batch(*store_);
  batch.Put(Family::kKeyed, PartitionPrefix(0) + "ada", "\x02garbage");
  ASSERT_OK(store_->Write(batch));
  learners_.Replace(std::vector<int32_t>{0});
  const std::optional<ClientResponse> r = Get("/v1/learners/ada");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":"internal","message":"partition 0: corrupt learner state"})");
}

TEST_F(QueryApiTest, ConcurrentClientsWhileTheStateChangesAllGetConsistentAnswers) {
  LearnerState ada = Ada();
  PutLearner(0, "ada", ada);
  PutCohort(0, "c1", Cohort(true, 5));
  learners_.Replace(std::vector<int32_t>{0});
  cohorts_.Replace(std::vector<int32_t>{0});
  std::atomic<bool> stop{false};
  // A writer keeps replacing the learner's state, as the commit cycle does.
  std::thread writer([&] {
    LearnerState s = Ada();
    for (int i = 0; !stop.load(); ++i) {
      s.bkt[0].p = (i % 2 == 0) ? 0.5 : 0.25;
      PutLearner(0, "ada", s);
    }
  });
  std::atomic<int> ok{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      TestHttpClient client(server_->port());  // keep-alive: 50 requests on one connection
      for (int i = 0; i < 50; ++i) {
        const bool learner = (i + t) % 2 == 0;
        const std::optional<ClientResponse> r =
            client.Get(learner ? "/v1/learners/ada" : "/v1/cohorts?struggling=true");
        const bool good =
            r.has_value() && r->status == 200 &&
            (learner ? (r->body.find(R"("mastery":{"algebra":0.5,)") != std::string::npos ||
                        r->body.find(R"("mastery":{"algebra":0.25,)") != std::string::npos)
                     : r->body.starts_with(R"({"cohorts":[{"cohort_id":"c1",)"));
        (good ? ok : bad).fetch_add(1);
      }
    });
  }
  for (std::thread& c : clients) c.join();
  stop = true;
  writer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load(), 8 * 50);
}

}  // namespace
}  // namespace learnflow
