#include "bench/harness.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace learnflow::bench {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::filesystem::path BuildDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return std::filesystem::current_path();
  return exe.parent_path().parent_path();
}

EngineProcess::~EngineProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

Status EngineProcess::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return InternalError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  reaped_ = false;
  status_ = 0;
  return Status::Ok();
}

void EngineProcess::Signal(int signal) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, signal);
}

bool EngineProcess::Exited() {
  if (reaped_) return true;
  if (pid_ <= 0) return true;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

bool EngineProcess::Wait(double timeout_s) {
  const auto start = Clock::now();
  while (!Exited()) {
    if (SecondsSince(start) > timeout_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

ProcMemory ReadProcMemory(pid_t pid) {
  ProcMemory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    const auto value = [&line] {
      return std::strtoll(line.c_str() + line.find(':') + 1, nullptr, 10);
    };
    if (line.starts_with("VmRSS:")) m.rss_kib = value();
    if (line.starts_with("VmHWM:")) m.hwm_kib = value();
    if (line.starts_with("RssAnon:")) m.anon_kib = value();
  }
  // /proc/<pid>/stat: utime and stime are fields 14 and 15, after the parenthesised command.
  const std::string stat = [&] {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(f, text);
    return text;
  }();
  const size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    m.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return m;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string LastLines(const std::string& text, int n) {
  size_t pos = text.size();
  for (int i = 0; i <= n && pos > 0; ++i) {
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

std::optional<uint16_t> HttpPortFromLog(const std::string& log) {
  constexpr std::string_view kMarker = "/v1/cohorts?struggling=true on ";
  const size_t line = log.rfind(kMarker);  // the latest start's line
  if (line == std::string::npos) return std::nullopt;
  const size_t from = line + kMarker.size();
  const size_t end = log.find_first_of(" \n", from);
  const std::string address = log.substr(from, end - from);
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  const long port = std::strtol(address.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

StatusOr<uint16_t> AwaitHttpPort(EngineProcess& engine, const std::string& log_path,
                                 double timeout_s) {
  const auto start = Clock::now();
  // The log is appended to across restarts: only a line written after this call counts.
  const size_t skip = ReadFile(log_path).size();
  while (true) {
    if (engine.Exited()) {
      return InternalError("the engine exited during start-up:\n" +
                           LastLines(ReadFile(log_path), 20));
    }
    const std::string log = ReadFile(log_path);
    if (log.size() > skip) {
      if (std::optional<uint16_t> port = HttpPortFromLog(log.substr(skip))) return *port;
    }
    if (SecondsSince(start) > timeout_s) {
      return UnavailableError(
          fmt::format("no HTTP address in {} after {:.0f} s", log_path, timeout_s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<std::pair<int, std::string>> HttpGet(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::optional<std::pair<int, std::string>> result;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string response;
      char buffer[65536];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
      const size_t body = response.find("\r\n\r\n");
      if (n == 0 && response.starts_with("HTTP/1.1 ") && body != std::string::npos) {
        result.emplace(std::atoi(response.c_str() + 9), response.substr(body + 4));
      }
    }
  }
  ::close(fd);
  return result;
}

Exposition::Exposition(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos) continue;
    Sample sample;
    sample.name.assign(line.substr(0, name_end));
    size_t value_at = name_end + 1;
    if (line[name_end] == '{') {
      const size_t close = line.rfind('}');
      if (close == std::string_view::npos) continue;
      sample.labels.assign(line.substr(name_end + 1, close - name_end - 1));
      value_at = close + 2;
    }
    if (value_at >= line.size()) continue;
    sample.value = std::strtod(std::string(line.substr(value_at)).c_str(), nullptr);
    samples_.push_back(std::move(sample));
  }
}

double Exposition::Sum(std::string_view name, std::string_view label) const {
  double sum = 0;
  for (const Sample& s : samples_) {
    if (s.name == name && s.labels.find(label) != std::string::npos) sum += s.value;
  }
  return sum;
}

double Exposition::Max(std::string_view name, std::string_view label) const {
  double max = 0;
  for (const Sample& s : samples_) {
    if (s.name == name && s.labels.find(label) != std::string::npos) max = std::max(max, s.value);
  }
  return max;
}

bool Exposition::Has(std::string_view name) const {
  return std::any_of(samples_.begin(), samples_.end(),
                     [&](const Sample& s) { return s.name == name; });
}

std::map<double, double> Exposition::Buckets(std::string_view name) const {
  std::map<double, double> buckets;
  const std::string bucket_name = std::string(name) + "_bucket";
  for (const Sample& s : samples_) {
    if (s.name != bucket_name) continue;
    const size_t le = s.labels.find("le=\"");
    if (le == std::string::npos) continue;
    const std::string bound = s.labels.substr(le + 4, s.labels.find('"', le + 4) - le - 4);
    const double upper = bound == "+Inf" ? HUGE_VAL : std::strtod(bound.c_str(), nullptr);
    buckets[upper] += s.value;
  }
  return buckets;
}

std::optional<double> Exposition::HistogramQuantileSince(const Exposition& before,
                                                         std::string_view name, double q) const {
  std::map<double, double> buckets = Buckets(name);
  for (const auto& [upper, count] : before.Buckets(name)) buckets[upper] -= count;
  if (buckets.empty() || buckets.rbegin()->second <= 0) return std::nullopt;
  const double rank = q * buckets.rbegin()->second;
  double lower = 0;
  double below = 0;
  for (const auto& [upper, cumulative] : buckets) {
    if (cumulative >= rank) {
      if (std::isinf(upper)) return lower;  // beyond the last finite bound: report that bound
      const double in_bucket = cumulative - below;
      return in_bucket <= 0 ? upper : lower + (upper - lower) * (rank - below) / in_bucket;
    }
    lower = upper;
    below = cumulative;
  }
  return lower;
}

std::string TopicLabel(std::string_view topic) { return fmt::format("topic=\"{}\"", topic); }

}  // namespace learnflow::bench
