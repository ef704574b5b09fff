// What the soak (soak.cc) and the benchmark (learnflow_bench.cc) share to drive the real
// `learnflow run`: the engine as a child process, its memory and CPU time from /proc, and its
// HTTP endpoints (/metrics as parsed Prometheus text, /readyz).
//
//   EngineProcess engine;
//   engine.Start({binary, "run", "--config", path}, log_path);
//   uint16_t port = *HttpPortFromLog(ReadFile(log_path));
//   Exposition metrics(HttpGet(port, "/metrics")->second);
//   double consumed = metrics.Sum("learnflow_events_consumed_total");
//
// Threading: none of these share state; use each object from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace learnflow::bench {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start);

// The build directory of the running program (<build>/bench/<program>), for the default path of
// the learnflow binary and of results.
std::filesystem::path BuildDir();

// `learnflow run` (or any program) as a child process, stdout and stderr appended to a log file.
// The destructor kills (SIGKILL) and reaps a child still running, so no early return leaves it
// behind.
class EngineProcess {
 public:
  EngineProcess() = default;
  ~EngineProcess();
  EngineProcess(const EngineProcess&) = delete;
  EngineProcess& operator=(const EngineProcess&) = delete;

  Status Start(const std::vector<std::string>& argv, const std::string& log_path);
  pid_t pid() const { return pid_; }
  void Signal(int signal) const;
  // Whether the child has exited (reaping it); `status` is waitpid's status then.
  bool Exited();
  // Waits up to `timeout_s` for the child to exit.
  bool Wait(double timeout_s);
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

struct ProcMemory {
  int64_t rss_kib = -1;
  int64_t hwm_kib = -1;
  int64_t anon_kib = -1;
  double cpu_s = 0;  // user + system CPU time so far
};

// VmRSS, VmHWM and RssAnon of `pid` from /proc/<pid>/status (-1 when unreadable), and its CPU
// time from /proc/<pid>/stat.
ProcMemory ReadProcMemory(pid_t pid);

std::string ReadFile(const std::string& path);
// The last `n` lines of `text`.
std::string LastLines(const std::string& text, int n);

// The port of the engine's "http: ... on HOST:PORT" start-up log line, once it is there.
std::optional<uint16_t> HttpPortFromLog(const std::string& log);
// Waits (up to `timeout_s`) for the engine's HTTP port to appear in `log_path`. Errors: the
// engine exited (with the log's last lines) or the timeout passed.
StatusOr<uint16_t> AwaitHttpPort(EngineProcess& engine, const std::string& log_path,
                                 double timeout_s);

// GET http://127.0.0.1:port/path (Connection: close). Returns the status and body, or nullopt.
std::optional<std::pair<int, std::string>> HttpGet(uint16_t port, const std::string& path);

// One scrape of the Prometheus text format: the samples, by metric name and label text.
class Exposition {
 public:
  explicit Exposition(std::string_view text);

  // Sum of the samples of `name` whose labels contain `label` (e.g. `topic="x"`); 0 if none.
  double Sum(std::string_view name, std::string_view label = {}) const;
  // Largest such sample, or 0.
  double Max(std::string_view name, std::string_view label = {}) const;
  bool Has(std::string_view name) const;
  size_t size() const { return samples_.size(); }
  // The `q` quantile (0..1) of histogram `name` (its _bucket samples) over the observations made
  // since the scrape `before`, interpolated linearly inside the bucket as Prometheus'
  // histogram_quantile does; nullopt without observations in between.
  std::optional<double> HistogramQuantileSince(const Exposition& before, std::string_view name,
                                               double q) const;

 private:
  struct Sample {
    std::string name;
    std::string labels;
    double value = 0;
  };
  // Cumulative bucket counts of histogram `name` by upper bound (+Inf as HUGE_VAL).
  std::map<double, double> Buckets(std::string_view name) const;

  std::vector<Sample> samples_;
};

std::string TopicLabel(std::string_view topic);

}  // namespace learnflow::bench
