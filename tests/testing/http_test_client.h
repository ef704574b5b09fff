// A tiny blocking HTTP/1.1 client over plain POSIX sockets, for the HTTP server tests.
// Test-only; one thread per client. Sockets have a 60 s receive timeout as a safety net against
// hangs (a test never relies on it for synchronisation).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace learnflow::testing {

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class TestHttpClient {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit TestHttpClient(uint16_t port);
  ~TestHttpClient();
  TestHttpClient(const TestHttpClient&) = delete;
  TestHttpClient& operator=(const TestHttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends all of `data`; false on an error (e.g. the server reset the connection).
  bool Send(std::string_view data);
  // Reads one response; for a response to HEAD pass `head` (no body is read). nullopt on EOF,
  // reset or a malformed response.
  std::optional<ClientResponse> ReadResponse(bool head = false);
  // Sends `GET path` (keep-alive) and reads the response.
  std::optional<ClientResponse> Get(std::string_view path);
  // True when the server has closed the connection (reads EOF or a reset, ignoring any bytes).
  bool ReadsEof();

 private:
  bool Fill();  // reads more bytes into buffer_; false on EOF or error
  int fd_ = -1;
  std::string buffer_;
};

// Asks the server on 127.0.0.1:port for `path` until `done` holds for a response or `timeout`
// passes; returns whether it held. Connection failures (not serving yet) are retried.
bool PollUntil(uint16_t port, const std::string& path,
               const std::function<bool(const ClientResponse&)>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A loopback port that was free a moment ago (the engine under test binds it right after).
uint16_t FreeLoopbackPort();

// Value of the exact series `series` (name and labels as exposed, e.g.
// `learnflow_events_consumed_total{topic="in"}`) in a Prometheus text exposition, or -1.
double MetricSample(const std::string& exposition, const std::string& series);

}  // namespace learnflow::testing
