#include "connectors/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/metrics.h"
#include "tests/testing/http_test_client.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

using testing::ClientResponse;
using testing::TestHttpClient;

HttpServerOptions LocalOptions() {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  return options;
}

// -1 / "<no response>" when there was no (well-formed) response.
int StatusOf(const std::optional<ClientResponse>& r) { return r.has_value() ? r->status : -1; }
std::string BodyOf(const std::optional<ClientResponse>& r) {
  return r.has_value() ? r->body : "<no response>";
}

std::unique_ptr<HttpServer> StartOrDie(HttpServerOptions options) {
  StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  return std::move(server).value();
}

TEST(HttpServerTest, BindsAnEphemeralPortAndServesHealthz) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));

  TestHttpClient client(server->port());
  ASSERT_TRUE(client.connected());
  const std::optional<ClientResponse> r = client.Get("/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  EXPECT_EQ(r->headers.at("content-type"), "application/json");
}

TEST(HttpServerTest, HealthzFollowsTheLivenessProbe) {
  std::atomic<bool> alive{true};
  HttpServerOptions options = LocalOptions();
  options.liveness = [&alive] { return alive.load(); };
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  EXPECT_EQ(StatusOf(client.Get("/healthz")), 200);
  alive.store(false);
  const std::optional<ClientResponse> r = client.Get("/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"status":"failed"})");
}

TEST(HttpServerTest, ReadyzReadyAndNotReady) {
  std::mutex mu;
  Readiness state{false, "restoring state"};
  HttpServerOptions options = LocalOptions();
  options.readiness = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return state;
  };
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());

  std::optional<ClientResponse> r = client.Get("/readyz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"status":"not_ready","reason":"restoring state"})");

  {
    std::lock_guard<std::mutex> lock(mu);
    state = Readiness{false, "broker \"b1\" down"};
  }
  r = client.Get("/readyz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, R"({"status":"not_ready","reason":"broker \"b1\" down"})");

  {
    std::lock_guard<std::mutex> lock(mu);
    state = Readiness{true, ""};
  }
  r = client.Get("/readyz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"status":"ready"})");
}

TEST(HttpServerTest, ProbesDefaultToAliveAndReady) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  EXPECT_EQ(StatusOf(client.Get("/readyz")), 200);
  EXPECT_EQ(StatusOf(client.Get("/healthz")), 200);
  EXPECT_EQ(StatusOf(client.Get("/metrics")), 404);  // no metrics callback, no route
}

TEST(HttpServerTest, MetricsReflectTheCounters) {
  EngineCounters counters;
  MetricsOptions metrics_options;
  metrics_options.version = "9.9.9";
  metrics_options.produced_topics =
      EngineProducedTopics(counters, "learnflow.learner-signals", "learnflow.dead-letter");
  MetricsRegistry metrics(counters, std::move(metrics_options));
  HttpServerOptions options = LocalOptions();
  options.metrics = [&metrics] { return metrics.Scrape(); };
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);

  Bump(counters.consumed, 321);
  Bump(counters.invalid[static_cast<size_t>(RejectReason::kLate)], 4);
  Bump(counters.learner_records, 17);
  counters.commit_duration.Observe(0.02);

  TestHttpClient client(server->port());
  const std::optional<ClientResponse> r = client.Get("/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& body = r->body;
  EXPECT_NE(body.find("\nlearnflow_events_consumed_total{topic=\"learning.events\"} 321\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("\nlearnflow_events_invalid_total{reason=\"late\"} 4\n"), std::string::npos);
  EXPECT_NE(body.find("\nlearnflow_events_invalid_total{reason=\"no_learner\"} 0\n"),
            std::string::npos);
  EXPECT_NE(
      body.find("\nlearnflow_records_produced_total{topic=\"learnflow.learner-signals\"} 17\n"),
      std::string::npos);
  EXPECT_NE(body.find("\nlearnflow_commit_duration_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(body.find("\nlearnflow_build_info{version=\"9.9.9\"} 1\n"), std::string::npos);

  // The next scrape on the same keep-alive connection sees the new value.
  Bump(counters.consumed);
  const std::optional<ClientResponse> again = client.Get("/metrics");
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->body.find("learnflow_events_consumed_total{topic=\"learning.events\"} 322\n"),
            std::string::npos);
}

TEST(HttpServerTest, UnknownPathIs404WithEscapedPath) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  std::optional<ClientResponse> r = client.Get("/nope");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.at("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"error":"not_found","path":"/nope"})");

  // A quote and a backslash in the path are escaped; bytes outside ASCII are echoed
  // percent-encoded, so the body is valid JSON and UTF-8 whatever was sent.
  r = client.Get("/a\"b\\c\xff?x=1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":"not_found","path":"/a\"b\\c%FF"})");
}

TEST(HttpServerTest, WrongMethodIs405) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  ASSERT_TRUE(client.Send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
  std::optional<ClientResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->body, R"({"error":"method_not_allowed"})");
  EXPECT_EQ(r->headers.at("allow"), "GET, HEAD");

  // An unknown method on a known path, too; the connection stays usable.
  ASSERT_TRUE(client.Send("BREW /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(StatusOf(client.Get("/readyz")), 200);
}

TEST(HttpServerTest, HeadAnswersWithHeadersOnly) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  ASSERT_TRUE(client.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::optional<ClientResponse> r = client.ReadResponse(/*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.at("content-length"), "15");  // {"status":"ok"}
  // No body followed: the next response starts right away.
  EXPECT_EQ(BodyOf(client.Get("/healthz")), R"({"status":"ok"})");
}

TEST(HttpServerTest, MalformedRequestsAre400AndClose) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  for (const std::string& request :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/1.1\r\nno colon here\r\n\r\n"),
        std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n")}) {
    TestHttpClient client(server->port());
    ASSERT_TRUE(client.Send(request));
    const std::optional<ClientResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value()) << request;
    EXPECT_EQ(r->status, 400) << request;
    EXPECT_EQ(r->headers.at("content-type"), "application/json");
    EXPECT_EQ(r->body.rfind(R"({"error":"bad_request")", 0), 0u) << r->body;
    EXPECT_EQ(r->headers.at("connection"), "close");
    EXPECT_TRUE(client.ReadsEof()) << request;
  }
  // A well-formed request with a bad percent-escape: 400, and the connection stays usable.
  TestHttpClient client(server->port());
  const std::optional<ClientResponse> r = client.Get("/v1/learners/%zz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body,
            R"({"error":"bad_request","message":"malformed percent-encoding in the path"})");
  EXPECT_EQ(StatusOf(client.Get("/healthz")), 200);
}

TEST(HttpServerTest, HugeHeaderIsRejectedAndTheServerKeepsServing) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  {
    TestHttpClient client(server->port());
    std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ";
    request.append(1 << 20, 'a');
    request += "\r\n\r\n";
    // The server answers before reading everything; the send may or may not complete, and the
    // client may see the 431 or (if the kernel resets the connection first) nothing at all.
    // Either way the connection ends.
    client.Send(request);
    const std::optional<ClientResponse> r = client.ReadResponse();
    if (r.has_value()) {
      EXPECT_EQ(r->status, 431);
      EXPECT_EQ(r->body, R"({"error":"request_header_too_large"})");
      EXPECT_EQ(r->headers.at("connection"), "close");
    }
    EXPECT_TRUE(client.ReadsEof());
  }
  TestHttpClient client(server->port());
  const std::optional<ClientResponse> r = client.Get("/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, OversizedBodyIs413) {
  HttpServerOptions options = LocalOptions();
  options.max_body_bytes = 1024;
  options.routes.push_back(
      {HttpMethod::kPost, "/echo", RouteMatch::kExact,
       [](const HttpRequest& req) { return HttpResponse::Text(200, req.body); }});
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  {
    TestHttpClient client(server->port());
    ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
    const std::optional<ClientResponse> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
  }
  TestHttpClient client(server->port());
  // Declared too large: rejected as soon as the header is read, before any body byte.
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  const std::optional<ClientResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body, R"({"error":"payload_too_large"})");
  EXPECT_TRUE(client.ReadsEof());
}

TEST(HttpServerTest, RoutesPrefixesAndQueryParameters) {
  HttpServerOptions options = LocalOptions();
  options.routes.push_back(
      {HttpMethod::kGet, "/v1/cohorts", RouteMatch::kExact, [](const HttpRequest& req) {
         return HttpResponse::Text(
             200, "list struggling=" + std::string(req.QueryParam("struggling").value_or("-")));
       }});
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  // Added while serving.
  server->AddRoute(HttpMethod::kGet, "/v1/learners/", RouteMatch::kPrefix,
                   [](const HttpRequest& req) {
                     std::string out = "learner=" + req.path_suffix;
                     for (const auto& [k, v] : req.query) out += ";" + k + "=" + v;
                     out += ";ua=" + std::string(req.Header("user-agent").value_or("-"));
                     return HttpResponse::Text(200, out);
                   });
  server->AddRoute(
      HttpMethod::kGet, "/v1/learners/special/", RouteMatch::kPrefix,
      [](const HttpRequest& req) { return HttpResponse::Text(200, "special " + req.path_suffix); });
  server->AddRoute(HttpMethod::kGet, "/boom", RouteMatch::kExact,
                   [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });

  TestHttpClient client(server->port());
  std::optional<ClientResponse> r = client.Get("/v1/cohorts?struggling=true");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "list struggling=true");
  EXPECT_EQ(r->headers.at("content-type"), "text/plain; charset=utf-8");

  ASSERT_TRUE(client.Send(
      "GET /v1/learners/https%3A%2F%2Flms.example.org%7Calice?a=1&b=x+y%21&flag HTTP/1.1\r\n"
      "Host: x\r\nUser-Agent: tester\r\n\r\n"));
  r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "learner=https://lms.example.org|alice;a=1;b=x y!;flag=;ua=tester");

  r = client.Get("/v1/learners/special/bob");  // the longest prefix wins
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "special bob");

  r = client.Get("/boom");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":"internal","message":"kaput"})");

  server->AddRoute(HttpMethod::kGet, "/weird", RouteMatch::kExact,
                   [](const HttpRequest&) { return HttpResponse::Json(42, "{}"); });
  r = client.Get("/weird");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":"internal","message":"handler returned status 42"})");

  r = client.Get("/v1/learners");  // neither the prefix (no trailing slash) nor an exact route
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
}

TEST(HttpServerTest, KeepAliveAndConnectionClose) {
  auto server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient client(server->port());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(StatusOf(client.Get("/healthz")), 200);
  // Two pipelined requests, the second asking to close.
  ASSERT_TRUE(
      client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::optional<ClientResponse> r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, R"({"status":"ok"})");
  r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, R"({"status":"ready"})");
  EXPECT_EQ(r->headers.at("connection"), "close");
  EXPECT_TRUE(client.ReadsEof());

  // HTTP/1.0 without keep-alive closes after the response.
  TestHttpClient old(server->port());
  ASSERT_TRUE(old.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  r = old.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(old.ReadsEof());
}

TEST(HttpServerTest, ConcurrentKeepAliveClients) {
  std::atomic<uint64_t> scrapes{0};
  HttpServerOptions options = LocalOptions();
  options.threads = 2;
  options.metrics = [&scrapes] {
    return "scrape " + std::to_string(scrapes.fetch_add(1) + 1) + "\n";
  };
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);

  constexpr int kClients = 32;
  constexpr int kRequests = 20;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestHttpClient client(server->port());
      if (!client.connected()) {
        failures[c] = "connect failed";
        return;
      }
      for (int i = 0; i < kRequests; ++i) {
        const char* path = i % 3 == 0 ? "/healthz" : i % 3 == 1 ? "/readyz" : "/metrics";
        const std::optional<ClientResponse> r = client.Get(path);
        const bool good = r.has_value() && r->status == 200 &&
                          (i % 3 == 0   ? r->body == R"({"status":"ok"})"
                           : i % 3 == 1 ? r->body == R"({"status":"ready"})"
                                        : r->body.rfind("scrape ", 0) == 0);
        if (!good) {
          failures[c] = std::string("request ") + std::to_string(i) + " to " + path + " failed";
          return;
        }
        ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
  EXPECT_EQ(ok.load(), kClients * kRequests);
  int metrics_requests = 0;
  for (int i = 0; i < kRequests; ++i) metrics_requests += i % 3 == 2 ? 1 : 0;
  EXPECT_EQ(scrapes.load(), static_cast<uint64_t>(kClients * metrics_requests));
}

TEST(HttpServerTest, ConnectionCapIsEnforced) {
  constexpr int kCap = 4;
  HttpServerOptions options = LocalOptions();
  options.max_connections = kCap;
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);

  // Idle connections take every slot (the server accepts in connection order).
  std::vector<std::unique_ptr<TestHttpClient>> idle;
  for (int i = 0; i < kCap; ++i) {
    idle.push_back(std::make_unique<TestHttpClient>(server->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  TestHttpClient extra(server->port());
  ASSERT_TRUE(extra.connected());
  const std::optional<ClientResponse> r = extra.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body.rfind(R"({"error":"too_many_connections")", 0), 0u) << r->body;
  EXPECT_EQ(r->headers.at("connection"), "close");
  EXPECT_TRUE(extra.ReadsEof());

  // The connections holding the slots are served normally.
  for (auto& client : idle) {
    const std::optional<ClientResponse> ok = client->Get("/healthz");
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200);
  }
}

TEST(HttpServerTest, SlowAndIdleClientsAreDisconnected) {
  HttpServerOptions options = LocalOptions();
  options.request_timeout = std::chrono::milliseconds(50);
  auto server = StartOrDie(std::move(options));
  ASSERT_NE(server, nullptr);
  // Only outcomes that do not depend on timing: a request that is never finished and a
  // connection that never sends anything are both closed (the keep-alive idle time between two
  // requests runs under the same per-request deadline).
  TestHttpClient slow(server->port());
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "));  // never finished
  TestHttpClient silent(server->port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(slow.ReadsEof());
  EXPECT_TRUE(silent.ReadsEof());
}

TEST(HttpServerTest, StopWithOpenConnectionsReturns) {
  std::unique_ptr<HttpServer> server = StartOrDie(LocalOptions());
  ASSERT_NE(server, nullptr);
  TestHttpClient idle(server->port());
  TestHttpClient served(server->port());
  TestHttpClient partial(server->port());
  ASSERT_TRUE(idle.connected());
  EXPECT_EQ(StatusOf(served.Get("/healthz")), 200);  // keep-alive, now idle between requests
  ASSERT_TRUE(partial.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: "));  // mid-header

  server->Stop();
  EXPECT_TRUE(idle.ReadsEof());
  EXPECT_TRUE(served.ReadsEof());
  EXPECT_TRUE(partial.ReadsEof());
  server->Stop();  // idempotent
  server.reset();  // and the destructor after Stop() is fine
}

TEST(HttpServerTest, DestructorStopsTheServer) {
  uint16_t port = 0;
  std::unique_ptr<TestHttpClient> client;
  {
    std::unique_ptr<HttpServer> server = StartOrDie(LocalOptions());
    ASSERT_NE(server, nullptr);
    port = server->port();
    client = std::make_unique<TestHttpClient>(port);
    EXPECT_EQ(StatusOf(client->Get("/healthz")), 200);
  }
  EXPECT_TRUE(client->ReadsEof());
}

TEST(HttpServerTest, BadListenAddressesAreClearErrors) {
  for (const char* listen : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http",
                             "::1:8080", "[::1:8080", ":8080"}) {
    HttpServerOptions options;
    options.listen = listen;
    const StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << listen;
    EXPECT_NE(server.status().message().find("'" + std::string(listen) + "'"), std::string::npos)
        << server.status().ToString();
  }
}

TEST(HttpServerTest, PortInUseIsAnIoErrorNamingTheAddress) {
  auto first = StartOrDie(LocalOptions());
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.listen = first->address();
  const StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  EXPECT_NE(second.status().message().find("cannot listen on " + first->address()),
            std::string::npos)
      << second.status().ToString();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().ToString();
}

TEST(HttpServerTest, ListensOnIpv6Loopback) {
  HttpServerOptions options;
  options.listen = "[::1]:0";
  StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status().ToString();
  EXPECT_EQ((*server)->address(), "[::1]:" + std::to_string((*server)->port()));
}

}  // namespace
}  // namespace learnflow
