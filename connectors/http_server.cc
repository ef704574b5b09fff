// g++ 12 with -std=c++20 needs <utility> before the Asio headers (BUILD-NOTES.md): the main
// header, included first, includes it.
#include "connectors/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <exception>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "core/json_writer.h"

namespace learnflow {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` (and '+' to a space when `plus_is_space`). False on a bad escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// The raw path as it may be echoed in a JSON body: ASCII only (other bytes percent-encoded), so
// the body stays valid UTF-8 whatever the client sent.
std::string EchoablePath(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : raw.substr(0, 1024)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  if (raw.size() > 1024) out += "...";
  return out;
}

HttpMethod MethodOf(http::verb verb) {
  switch (verb) {
    case http::verb::get:
      return HttpMethod::kGet;
    case http::verb::head:
      return HttpMethod::kHead;
    case http::verb::post:
      return HttpMethod::kPost;
    case http::verb::put:
      return HttpMethod::kPut;
    case http::verb::delete_:
      return HttpMethod::kDelete;
    default:
      return HttpMethod::kOther;
  }
}

bool RouteAccepts(const HttpRoute& route, HttpMethod method) {
  return route.method == method ||
         (route.method == HttpMethod::kGet && method == HttpMethod::kHead);
}

struct ParsedListen {
  std::string host;
  std::string port;
};

StatusOr<ParsedListen> ParseListen(const std::string& listen) {
  const auto bad = [&](std::string_view why) {
    return InvalidArgumentError("http listen address '" + listen + "': " + std::string(why) +
                                " (expected host:port or [v6addr]:port)");
  };
  ParsedListen out;
  std::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("malformed bracketed IPv6 address");
    }
    out.host = listen.substr(1, close - 1);
    port = std::string_view(listen).substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return bad("no port");
    out.host = listen.substr(0, colon);
    if (out.host.find(':') != std::string::npos) return bad("IPv6 addresses need brackets");
    port = std::string_view(listen).substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad("port must be a number in 0..65535");
  }
  out.port = std::to_string(value);
  return out;
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const std::string addr = endpoint.address().to_string();
  const std::string port = std::to_string(endpoint.port());
  return endpoint.address().is_v6() ? "[" + addr + "]:" + port : addr + ":" + port;
}

}  // namespace

std::string_view HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kHead:
      return "HEAD";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kDelete:
      return "DELETE";
    case HttpMethod::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::optional<std::string_view> HttpRequest::QueryParam(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::JsonError(int status, std::string_view error, std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(body, error);
  if (!message.empty()) {
    body += ",\"message\":";
    AppendJsonString(body, message);
  }
  body += '}';
  return Json(status, std::move(body));
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

// ------------------------------------------------------------------------------------------------

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options) : options_(std::move(options)) {}
  ~Impl() { Stop(); }

  Status Listen();
  void Run();
  void Stop();
  void AddRoute(HttpRoute route);
  // Builds the response for a parsed request; never throws.
  HttpResponse Dispatch(const http::request<http::string_body>& req, bool& head_only);

  const HttpServerOptions& options() const { return options_; }
  void ReleaseSlot() { active_.fetch_sub(1, std::memory_order_relaxed); }

  uint16_t port_ = 0;
  std::string address_;

 private:
  class Session;
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  HttpResponse Route(HttpRequest& request);

  HttpServerOptions options_;
  std::shared_mutex routes_mu_;
  std::vector<std::shared_ptr<const HttpRoute>> routes_;  // guarded by routes_mu_
  std::atomic<size_t> active_{0};                         // connections holding a slot

  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
  // Destroyed explicitly in Stop(), in this order: acceptor, then the io_context (whose
  // destruction frees the pending handlers and with them every connection).
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> accept_backoff_;
  std::vector<std::thread> threads_;
};

// One connection. Owned by the shared_ptrs its pending operations hold; lives on its strand.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket, bool holds_slot)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server.options().max_header_bytes + server.options().max_body_bytes + 4096),
        holds_slot_(holds_slot) {}

  ~Session() {
    if (holds_slot_) server_.ReleaseSlot();
  }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::ReadRequest, shared_from_this()));
  }

  // For a connection over the cap: 503 and close, without reading a request.
  void Reject() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->Respond(HttpResponse::JsonError(503, "too_many_connections",
                                            "the server's connection limit is reached"),
                    /*close=*/true, /*head_only=*/false, /*version=*/11);
    });
  }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options().max_header_bytes));
    parser_->body_limit(server_.options().max_body_bytes);
    stream_.expires_after(server_.options().request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      const auto& http_category = http::make_error_code(http::error::end_of_stream).category();
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec.category() != http_category) {
        return Close();  // the client left, was too slow, or the socket failed
      }
      const bool header_done = parser_->is_header_done();
      if (ec == http::error::header_limit || (ec == http::error::buffer_overflow && !header_done)) {
        return Respond(HttpResponse::JsonError(431, "request_header_too_large"), true, false, 11);
      }
      if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
        return Respond(HttpResponse::JsonError(413, "payload_too_large"), true, false, 11);
      }
      return Respond(HttpResponse::JsonError(400, "bad_request", ec.message()), true, false, 11);
    }
    const http::request<http::string_body>& req = parser_->get();
    bool head_only = false;
    HttpResponse response = server_.Dispatch(req, head_only);
    Respond(std::move(response), !req.keep_alive(), head_only, req.version());
  }

  void Respond(HttpResponse response, bool close, bool head_only, unsigned version) {
    if (response.status < 100 || response.status > 599) {
      response = HttpResponse::JsonError(
          500, "internal", "handler returned status " + std::to_string(response.status));
    }
    res_ = {};
    res_.version(version);
    res_.result(static_cast<unsigned>(response.status));
    res_.set(http::field::server, "learnflow");
    res_.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res_.insert(name, value);
    res_.body() = std::move(response.body);
    res_.keep_alive(!close);
    res_.prepare_payload();
    close_after_write_ = close;
    serializer_.emplace(res_);
    stream_.expires_after(server_.options().request_timeout);
    auto done = beast::bind_front_handler(&Session::OnWrite, shared_from_this());
    if (head_only) {
      http::async_write_header(stream_, *serializer_, std::move(done));
    } else {
      http::async_write(stream_, *serializer_, std::move(done));
    }
  }

  void OnWrite(beast::error_code ec, std::size_t /*bytes*/) {
    serializer_.reset();
    if (ec) return Close();
    if (close_after_write_) return Linger();
    ReadRequest();
  }

  // Half-closes, then reads and discards what the client still sends (until it closes, or
  // linger_timeout), so that closing does not reset the connection before the client has read
  // the response.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(server_.options().linger_timeout);
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->Close();
                              self->DrainSome();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
  bool close_after_write_ = false;
  const bool holds_slot_;
  std::array<char, 4096> drain_{};
};

Status HttpServer::Impl::Listen() {
  if (options_.threads < 1) return InvalidArgumentError("http server: threads must be >= 1");
  if (options_.max_connections < 1) {
    return InvalidArgumentError("http server: max_connections must be >= 1");
  }
  LF_ASSIGN_OR_RETURN(const ParsedListen parsed, ParseListen(options_.listen));
  ioc_ = std::make_unique<net::io_context>(options_.threads);

  beast::error_code ec;
  tcp::resolver resolver(*ioc_);
  const tcp::resolver::results_type results = resolver.resolve(
      parsed.host, parsed.port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return InvalidArgumentError("http listen address '" + options_.listen +
                                "': cannot resolve host '" + parsed.host +
                                "': " + (ec ? ec.message() : "no address"));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_ = std::make_unique<tcp::acceptor>(*ioc_);
  const auto fail = [&](std::string_view step) {
    return IoError("cannot listen on " + options_.listen + " (" + FormatEndpoint(endpoint) +
                   "): " + std::string(step) + ": " + ec.message());
  };
  if (acceptor_->open(endpoint.protocol(), ec)) return fail("open");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (acceptor_->bind(endpoint, ec)) return fail("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec)) return fail("listen");
  const tcp::endpoint bound = acceptor_->local_endpoint(ec);
  if (ec) return fail("local endpoint");
  port_ = bound.port();
  address_ = FormatEndpoint(bound);

  // Built-in routes first, so that options_.routes may replace them.
  if (options_.metrics) {
    AddRoute({HttpMethod::kGet, "/metrics", RouteMatch::kExact, [this](const HttpRequest&) {
                return HttpResponse::Text(200, options_.metrics(),
                                          "text/plain; version=0.0.4; charset=utf-8");
              }});
  }
  AddRoute({HttpMethod::kGet, "/healthz", RouteMatch::kExact, [this](const HttpRequest&) {
              if (!options_.liveness || options_.liveness()) {
                return HttpResponse::Json(200, "{\"status\":\"ok\"}");
              }
              return HttpResponse::Json(503, "{\"status\":\"failed\"}");
            }});
  AddRoute({HttpMethod::kGet, "/readyz", RouteMatch::kExact, [this](const HttpRequest&) {
              const Readiness readiness = options_.readiness ? options_.readiness() : Readiness{};
              if (readiness.ready) return HttpResponse::Json(200, "{\"status\":\"ready\"}");
              std::string body = "{\"status\":\"not_ready\",\"reason\":";
              AppendJsonString(body, readiness.reason.empty() ? "not ready" : readiness.reason);
              body += '}';
              return HttpResponse::Json(503, std::move(body));
            }});
  for (HttpRoute& route : options_.routes) AddRoute(std::move(route));
  options_.routes.clear();
  return Status::Ok();
}

void HttpServer::Impl::Run() {
  work_ = std::make_unique<net::executor_work_guard<net::io_context::executor_type>>(
      ioc_->get_executor());
  accept_backoff_ = std::make_unique<net::steady_timer>(*ioc_);
  net::post(acceptor_->get_executor(), [this] { DoAccept(); });
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_->run();
          return;
        } catch (const std::exception& e) {
          // A handler should never throw (Dispatch catches); keep serving if one does.
          spdlog::error("http server: unexpected exception: {}", e.what());
        }
      }
    });
  }
}

void HttpServer::Impl::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (ioc_ == nullptr) return;
  ioc_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  beast::error_code ignored;
  if (acceptor_ != nullptr) acceptor_->close(ignored);
  accept_backoff_.reset();
  acceptor_.reset();
  work_.reset();
  ioc_.reset();  // destroys pending handlers: every connection is closed here
}

void HttpServer::Impl::DoAccept() {
  acceptor_->async_accept(net::make_strand(*ioc_),
                          beast::bind_front_handler(&Impl::OnAccept, this));
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  if (ec) {
    // E.g. out of file descriptors: back off briefly instead of spinning.
    spdlog::warn("http server {}: accept failed: {}", address_, ec.message());
    accept_backoff_->expires_after(std::chrono::milliseconds(100));
    accept_backoff_->async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) DoAccept();
    });
    return;
  }
  // Only this handler chain increments, so the cap holds exactly.
  if (active_.load(std::memory_order_relaxed) >= options_.max_connections) {
    std::make_shared<Session>(*this, std::move(socket), /*holds_slot=*/false)->Reject();
  } else {
    active_.fetch_add(1, std::memory_order_relaxed);
    std::make_shared<Session>(*this, std::move(socket), /*holds_slot=*/true)->Start();
  }
  DoAccept();
}

void HttpServer::Impl::AddRoute(HttpRoute route) {
  auto shared = std::make_shared<const HttpRoute>(std::move(route));
  std::unique_lock<std::shared_mutex> lock(routes_mu_);
  for (auto& existing : routes_) {
    if (existing->method == shared->method && existing->match == shared->match &&
        existing->path == shared->path) {
      existing = std::move(shared);
      return;
    }
  }
  routes_.push_back(std::move(shared));
}

HttpResponse HttpServer::Impl::Dispatch(const http::request<http::string_body>& req,
                                        bool& head_only) {
  HttpRequest request;
  request.method = MethodOf(req.method());
  head_only = request.method == HttpMethod::kHead;

  std::string_view target(req.target().data(), req.target().size());
  if (target.starts_with("http://") || target.starts_with("https://")) {  // absolute-form
    const size_t authority = target.find("//") + 2;
    const size_t slash = target.find_first_of("/?", authority);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.empty() || (target.front() != '/' && target.front() != '?')) {
    return HttpResponse::JsonError(400, "bad_request", "the request target must be a path");
  }
  const size_t question = target.find('?');
  request.raw_path = std::string(target.substr(0, question));
  if (request.raw_path.empty()) request.raw_path = "/";
  if (!PercentDecode(request.raw_path, false, request.path)) {
    return HttpResponse::JsonError(400, "bad_request", "malformed percent-encoding in the path");
  }
  if (question != std::string_view::npos) {
    std::string_view rest = target.substr(question + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      std::string key, value;
      if (!PercentDecode(pair.substr(0, eq), true, key) ||
          (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, value))) {
        return HttpResponse::JsonError(400, "bad_request",
                                       "malformed percent-encoding in the query");
      }
      request.query.emplace_back(std::move(key), std::move(value));
    }
  }
  for (const auto& field : req.base()) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = req.body();

  try {
    return Route(request);
  } catch (const std::exception& e) {
    spdlog::error("http server: handler for {} failed: {}", EchoablePath(request.raw_path),
                  e.what());
    return HttpResponse::JsonError(500, "internal", e.what());
  } catch (...) {
    return HttpResponse::JsonError(500, "internal");
  }
}

HttpResponse HttpServer::Impl::Route(HttpRequest& request) {
  // Candidates: the exact routes of this path, else the prefix routes with the longest prefix.
  std::vector<std::shared_ptr<const HttpRoute>> candidates;
  {
    std::shared_lock<std::shared_mutex> lock(routes_mu_);
    for (const auto& route : routes_) {
      if (route->match == RouteMatch::kExact && route->path == request.path) {
        candidates.push_back(route);
      }
    }
    if (candidates.empty()) {
      size_t longest = 0;
      for (const auto& route : routes_) {
        if (route->match != RouteMatch::kPrefix || !request.path.starts_with(route->path)) continue;
        if (candidates.empty() || route->path.size() > longest) {
          candidates.clear();
          longest = route->path.size();
        }
        if (route->path.size() == longest) candidates.push_back(route);
      }
    }
  }
  if (candidates.empty()) {
    std::string body = "{\"error\":\"not_found\",\"path\":";
    AppendJsonString(body, EchoablePath(request.raw_path));
    body += '}';
    return HttpResponse::Json(404, std::move(body));
  }
  for (const auto& route : candidates) {
    if (!RouteAccepts(*route, request.method)) continue;
    if (route->match == RouteMatch::kPrefix)
      request.path_suffix = request.path.substr(route->path.size());
    return route->handler(request);
  }
  std::string allow;
  for (const auto& route : candidates) {
    if (!allow.empty()) allow += ", ";
    allow += HttpMethodName(route->method);
    if (route->method == HttpMethod::kGet) allow += ", HEAD";
  }
  HttpResponse response = HttpResponse::JsonError(405, "method_not_allowed");
  response.headers.emplace_back("Allow", std::move(allow));
  return response;
}

// ------------------------------------------------------------------------------------------------

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  LF_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::AddRoute(HttpMethod method, std::string path, RouteMatch match,
                          HttpHandler handler) {
  impl_->AddRoute(HttpRoute{method, std::move(path), match, std::move(handler)});
}

void HttpServer::Stop() { impl_->Stop(); }
uint16_t HttpServer::port() const { return impl_->port_; }
const std::string& HttpServer::address() const { return impl_->address_; }

}  // namespace learnflow
