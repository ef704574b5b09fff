// HttpServer: learnflow's one HTTP port (DESIGN §10) — /metrics, /healthz, /readyz and the
// routes other modules register (e.g. /v1/learners/{id}).
//
// HTTP/1.1 on Boost.Beast with its own io_context thread(s); handlers run there, never on the
// processing thread. Keep-alive is supported. Defences: request header and body size limits
// (431 / 413, then the connection is closed), a cap on concurrent connections (the extra ones
// get 503 and are closed), and a read timeout per request that also bounds idle keep-alive
// connections, so slow or silent clients cannot hold slots. Error bodies are JSON.
//
//   HttpServerOptions options;
//   options.listen = "0.0.0.0:8080";
//   options.metrics = [&metrics] { return metrics.Scrape(); };
//   options.liveness = [&] { return !engine_failed.load(); };
//   options.readiness = [&] { return Readiness{...}; };
//   StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(std::move(options));
//   if (!server.ok()) return server.status();  // "cannot listen on 0.0.0.0:8080: ..."
//   (*server)->AddRoute(HttpMethod::kGet, "/v1/learners/", RouteMatch::kPrefix, handler);
//
// Lifecycle: Start() binds and starts serving; Stop() (or the destructor) closes the listener and
// every connection and joins the threads. Threading: every method may be called from any thread
// except from inside a handler (Stop() there would wait for itself). Handlers and probes are
// called on the server's threads, possibly concurrently when `threads` > 1; an exception thrown by
// one becomes a 500 response.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace learnflow {

enum class HttpMethod { kGet, kHead, kPost, kPut, kDelete, kOther };
std::string_view HttpMethodName(HttpMethod method);

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string path;      // percent-decoded, without the query ("/v1/learners/a|b")
  std::string raw_path;  // as sent, before decoding ("/v1/learners/a%7Cb")
  // For a prefix route: the decoded path after the prefix ("a|b"); empty for exact routes.
  std::string path_suffix;
  // Decoded query parameters in request order ('+' is a space); a key without '=' has "".
  std::vector<std::pair<std::string, std::string>> query;
  // Header fields in request order; names as sent (compare case-insensitively).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of query parameter `name`, if present.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
  // The first value of header `name` (case-insensitive), if present.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra header fields

  static HttpResponse Json(int status, std::string body);
  // {"error":"<error>"} plus, when given, "message":"<message>" (escaped).
  static HttpResponse JsonError(int status, std::string_view error, std::string_view message = {});
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

enum class RouteMatch {
  kExact,   // the decoded path equals the route's path
  kPrefix,  // the decoded path starts with the route's path (longest registered prefix wins)
};

struct HttpRoute {
  HttpMethod method = HttpMethod::kGet;  // a kGet route also answers HEAD
  std::string path;
  RouteMatch match = RouteMatch::kExact;
  HttpHandler handler;
};

struct Readiness {
  bool ready = true;
  std::string reason;  // why not ready, e.g. "restoring state"; shown in the 503 body
};

struct HttpServerOptions {
  // "host:port", "[v6addr]:port"; host may be a name (first resolved address is used); port 0
  // picks a free port (see port()).
  std::string listen = "0.0.0.0:8080";
  int threads = 1;                      // io_context threads, >= 1
  size_t max_connections = 256;         // concurrent connections; more get 503
  size_t max_header_bytes = 16 * 1024;  // request line + header fields; more: 431
  size_t max_body_bytes = 16 * 1024;    // more: 413
  // Each request (from the end of the previous response, so including keep-alive idle time)
  // must arrive within this; each response must be written within it. Else the connection closes.
  std::chrono::milliseconds request_timeout{10000};
  // After an error response that closes the connection, unread input is drained for at most this
  // long so the client can read the response instead of getting a reset.
  std::chrono::milliseconds linger_timeout{2000};

  // GET /metrics body (Prometheus text format 0.0.4). Empty: no /metrics route.
  std::function<std::string()> metrics;
  // GET /healthz: 200 {"status":"ok"} while this returns true, else 503 {"status":"failed"}.
  // Empty: always alive.
  std::function<bool()> liveness;
  // GET /readyz: 200 {"status":"ready"} or 503 {"status":"not_ready","reason":"..."}.
  // Empty: always ready.
  std::function<Readiness()> readiness;
  // More routes, registered before the server starts.
  std::vector<HttpRoute> routes;
};

class HttpServer {
 public:
  // Binds `options.listen` and starts serving. Errors: InvalidArgument for a malformed address or
  // option, IoError when the address cannot be bound (in use, not local, no permission); the
  // message names the address.
  static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route while serving (thread-safe). A later route with the same method, path and match
  // replaces the earlier one.
  void AddRoute(HttpMethod method, std::string path, RouteMatch match, HttpHandler handler);

  // Stops accepting, closes every connection, waits for running handlers and joins the threads.
  // Idempotent.
  void Stop();

  uint16_t port() const;               // the bound port (useful with port 0)
  const std::string& address() const;  // the bound address, "127.0.0.1:41234" / "[::1]:8080"

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace learnflow
