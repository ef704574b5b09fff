// learnflow_bench: the performance benchmark of scripts/bench. Each figure is printed beside its
// target and a baseline measured in the same run; the table also goes to results.json.
//
//   build/bench/learnflow_bench --out build/bench-results          # everything, defaults
//   build/bench/learnflow_bench --only inprocess,e2e --events 500000
//
// Scenarios (all but parts with BenchEvents: compact xAPI statements of ~320 bytes):
//   parts      learnflow_pipeline_bench (Google Benchmark): decoders, decode + window update,
//              BKT, checkpoint write, each on one core;
//   inprocess  the whole engine on one thread with Kafka replaced by memory (bench/inprocess.h):
//              events/s of the processing thread, events per CPU-second of the process;
//   e2e        --events through an embedded broker (6 partitions, --learners, --cohorts,
//              --skills): the real `learnflow run` (processing.threads 1) against a plain
//              librdkafka consumer that only reads the same messages. The mock broker keeps only
//              ~5 MiB per partition, so the input is produced in segments of --segment messages;
//              for each segment the engine is stopped (SIGSTOP) while the segment is produced and
//              the plain consumer reads it, then continued (SIGCONT) and timed until
//              `learnflow_events_consumed_total` reaches the segment's end. The plain consumer
//              stays assigned, paused between segments, and is timed from its first message of
//              a segment to its last (librdkafka's start of fetching after a resumption is
//              reported apart). Rates are messages over the summed timed seconds of each reader;
//   latency    then the producer runs at half the engine's e2e rate for --latency-seconds, and
//              p50/p99 of `learnflow_processing_latency_seconds` (poll to state updated, per
//              record) over that interval are reported;
//   memory     --memory-learners distinct learners (--memory-events events, two per session)
//              through a fresh engine, producer held back 60,000 records ahead: peak RSS (VmHWM);
//   recovery   that engine is killed (SIGKILL) once everything is committed and restarted on its
//              state: seconds from the restart to /readyz 200;
//   restore    a fresh engine with an empty state dir takes over a group whose changelog holds
//              --restore-learners learners' state: changelog records applied per second (the
//              mock's retention bounds how large a changelog can be; checked, see docs).
//
// Exit status: 0 when the run completed (targets may be missed: the table says so), 1 when a
// scenario failed, 2 on a usage error.
#include <fmt/core.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_events.h"
#include "bench/harness.h"
#include "bench/inprocess.h"
#include "connectors/kafka_client.h"
#include "core/codec.h"
#include "core/status.h"
#include "core/time.h"
#include "stream/engine.h"

namespace learnflow::bench {
namespace {

// The default topic names (DESIGN §5), as the engine defines them.
const EngineOptions kTopics;
const std::string& kInputTopic = kTopics.input_topic;

struct Flags {
  std::string self;  // this program's path
  std::string binary;
  std::string out_dir;
  std::string only = "parts,inprocess,e2e,latency,memory,recovery,restore";
  int64_t events = 2000000;
  int64_t learners = 100000;
  int64_t cohorts = 500;
  int64_t skills = 2000;
  int partitions = 6;
  int64_t segment = 120000;
  double latency_seconds = 20;
  int64_t memory_learners = 1000000;
  int64_t memory_events = 0;  // 0: 2 x memory_learners
  int64_t restore_learners = 100000;
  int64_t inprocess_events = 0;  // 0: --events
  // session.timeout.ms of the memory, recovery and restore engines (e2e: 60 s, see there).
  int session_timeout_ms = 3000;
  int64_t paced_clock = 0;       // in-process: events per simulated second; 0: the wall clock
  int64_t memory_mb = 256;
  int64_t commit_interval_ms = 1000;  // processing.commit_interval_ms of every engine
  int64_t checkpoint_interval_ms = 5000;  // state.checkpoint_interval_ms of every engine
};

// One line of the table (and of results.json).
struct Figure {
  std::string scenario;
  std::string name;
  double value = 0;
  std::string unit;
  std::string baseline;  // text, may be empty
  std::string target;    // text, may be empty
  std::optional<bool> pass;
};

class Report {
 public:
  void Add(Figure f) { figures_.push_back(std::move(f)); }
  void Note(std::string scenario, std::string text) {
    notes_.emplace_back(std::move(scenario), std::move(text));
  }
  void Print() const;
  Status WriteJson(const std::string& path, const Flags& flags) const;

 private:
  std::vector<Figure> figures_;
  std::vector<std::pair<std::string, std::string>> notes_;
};

std::string Number(double v) {
  if (std::fabs(v) >= 1000) {
    std::string digits = fmt::format("{:.0f}", v);
    std::string out;
    const size_t lead = digits.size() % 3;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && i >= lead && (i - lead) % 3 == 0 && digits[i - 1] != '-') out += ',';
      out += digits[i];
    }
    return out;
  }
  if (std::fabs(v) >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.3g}", v);
}

void Report::Print() const {
  std::printf("\n%-10s %-44s %16s %-10s %-30s %-22s %s\n", "scenario", "figure", "value", "unit",
              "baseline (same run)", "target", "");
  for (const Figure& f : figures_) {
    std::printf("%-10s %-44s %16s %-10s %-30s %-22s %s\n", f.scenario.c_str(), f.name.c_str(),
                Number(f.value).c_str(), f.unit.c_str(), f.baseline.c_str(), f.target.c_str(),
                !f.pass.has_value() ? "" : (*f.pass ? "PASS" : "FAIL"));
  }
  for (const auto& [scenario, text] : notes_)
    std::printf("  %s: %s\n", scenario.c_str(), text.c_str());
  std::fflush(stdout);
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

Status Report::WriteJson(const std::string& path, const Flags& flags) const {
  utsname host{};
  uname(&host);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string j = "{\n";
  j += fmt::format("  \"date\": {},\n  \"host\": {},\n  \"cpus\": {},\n", JsonString(date),
                   JsonString(std::string(host.sysname) + " " + host.release + " " + host.machine),
                   std::thread::hardware_concurrency());
  j += fmt::format(
      "  \"settings\": {{\"events\": {}, \"learners\": {}, \"cohorts\": {}, \"skills\": {}, "
      "\"partitions\": {}, \"segment\": {}, \"memory_learners\": {}, \"restore_learners\": {}, "
      "\"commit_interval_ms\": {}, \"checkpoint_interval_ms\": {}, \"memory_mb\": {}, "
      "\"session_timeout_ms\": {}}},\n",
      flags.events, flags.learners, flags.cohorts, flags.skills, flags.partitions, flags.segment,
      flags.memory_learners, flags.restore_learners, flags.commit_interval_ms,
      flags.checkpoint_interval_ms, flags.memory_mb, flags.session_timeout_ms);
  j += "  \"figures\": [\n";
  for (size_t i = 0; i < figures_.size(); ++i) {
    const Figure& f = figures_[i];
    j += fmt::format(
        "    {{\"scenario\": {}, \"figure\": {}, \"value\": {}, \"unit\": {}, \"baseline\": {}, "
        "\"target\": {}, \"pass\": {}}}{}\n",
        JsonString(f.scenario), JsonString(f.name),
        std::isfinite(f.value) ? fmt::format("{}", f.value) : "null", JsonString(f.unit),
        JsonString(f.baseline), JsonString(f.target),
        !f.pass.has_value() ? "null" : (*f.pass ? "true" : "false"),
        i + 1 < figures_.size() ? "," : "");
  }
  j += "  ],\n  \"notes\": [\n";
  for (size_t i = 0; i < notes_.size(); ++i) {
    j += fmt::format("    {{\"scenario\": {}, \"note\": {}}}{}\n", JsonString(notes_[i].first),
                     JsonString(notes_[i].second), i + 1 < notes_.size() ? "," : "");
  }
  j += "  ]\n}\n";
  std::ofstream out(path);
  out << j;
  if (!out) return IoError("cannot write " + path);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Setup shared by the scenarios that run `learnflow run`.

BenchEventsOptions EventsFor(const Flags& flags, int64_t events, int64_t learners) {
  BenchEventsOptions o;
  o.events = events;
  o.learners = learners;
  o.cohorts = std::min(flags.cohorts, learners);
  o.skills = std::max(flags.skills, o.cohorts);
  return o;
}

int32_t PartitionOf(std::string_view key, int partitions) {
  return static_cast<int32_t>(StableHash64(key) % static_cast<uint64_t>(partitions));
}

// A broker with the input, output and internal topics of `group`.
StatusOr<std::unique_ptr<EmbeddedBroker>> StartBroker(const Flags& flags, std::string_view group) {
  LF_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, EmbeddedBroker::Start(1));
  std::vector<std::string> topics = {kTopics.input_topic, kTopics.learner_signals_topic,
                                     kTopics.cohort_signals_topic, kTopics.alerts_topic,
                                     kTopics.dead_letter_topic};
  for (std::string& t : InternalTopics(group)) topics.push_back(std::move(t));
  for (const std::string& t : topics) LF_RETURN_IF_ERROR(broker->CreateTopic(t, flags.partitions));
  return broker;
}

// One engine instance: its config, state dir and log under `dir`.
struct EngineSetup {
  std::string config_path;
  std::string log_path;
  std::string state_dir;
};

StatusOr<EngineSetup> WriteEngineConfig(const Flags& flags, const std::string& dir,
                                        const std::string& bootstrap, std::string_view group,
                                        const std::string& state_dir, int session_timeout_ms) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  EngineSetup s{dir + "/learnflow.yaml", dir + "/engine.log", state_dir};
  std::string y = "# Generated by learnflow_bench.\n";
  y += fmt::format("kafka:\n  bootstrap_servers: \"{}\"\n  group_id: {}\n", bootstrap, group);
  // Static membership (as in the Helm chart): a restarted instance takes its partitions back
  // without waiting for its old session to expire.
  y += fmt::format(
      "  properties:\n    session.timeout.ms: {}\n    heartbeat.interval.ms: 500\n"
      "    statistics.interval.ms: 1000\n    group.instance.id: {}-0\n",
      session_timeout_ms, group);
  y += fmt::format("processing:\n  threads: 1\n  commit_interval_ms: {}\n",
                   flags.commit_interval_ms);
  y += fmt::format("state:\n  dir: \"{}\"\n  memory_mb: {}\n  checkpoint_interval_ms: {}\n",
                   state_dir, flags.memory_mb, flags.checkpoint_interval_ms);
  y += "http:\n  listen: \"127.0.0.1:0\"\n";
  y += "log:\n  format: text\n  level: info\n";
  std::ofstream out(s.config_path);
  out << y;
  if (!out) return IoError("cannot write " + s.config_path);
  return s;
}

std::optional<Exposition> Metrics(uint16_t port) {
  std::optional<std::pair<int, std::string>> r = HttpGet(port, "/metrics");
  if (!r.has_value() || r->first != 200) return std::nullopt;
  return Exposition(r->second);
}

int64_t Consumed(const Exposition& e) {
  return std::llround(e.Sum("learnflow_events_consumed_total"));
}

// Seconds from spawning the engine to: its HTTP server answering, its first partition
// assignment (`learnflow_rebalances_total` > 0: the group's join round is over; the state is
// loaded after it), and /readyz 200 with every input partition assigned.
struct StartTimes {
  double http_s = 0;
  double assigned_s = 0;
  double ready_s = 0;
};

// Starts the engine and waits for /readyz 200 with every input partition assigned. Returns the
// HTTP port.
StatusOr<uint16_t> StartEngine(const Flags& flags, EngineProcess& engine, const EngineSetup& s,
                               double timeout_s, StartTimes* times = nullptr) {
  const auto start = Clock::now();
  LF_RETURN_IF_ERROR(engine.Start({flags.binary, "run", "--config", s.config_path}, s.log_path));
  LF_ASSIGN_OR_RETURN(uint16_t port, AwaitHttpPort(engine, s.log_path, timeout_s));
  StartTimes t;
  t.http_s = SecondsSince(start);
  while (true) {
    std::optional<Exposition> m = Metrics(port);
    if (t.assigned_s == 0 && m.has_value() && m->Sum("learnflow_rebalances_total") > 0) {
      t.assigned_s = SecondsSince(start);
    }
    std::optional<std::pair<int, std::string>> ready = HttpGet(port, "/readyz");
    if (ready.has_value() && ready->first == 200) {
      m = Metrics(port);
      if (m.has_value() && m->Sum("learnflow_assigned_partitions") >= flags.partitions) {
        t.ready_s = SecondsSince(start);
        if (t.assigned_s == 0) t.assigned_s = t.ready_s;
        if (times != nullptr) *times = t;
        return port;
      }
    }
    if (engine.Exited()) {
      return InternalError("the engine exited:\n" + LastLines(ReadFile(s.log_path), 20));
    }
    if (SecondsSince(start) > timeout_s) {
      return UnavailableError(
          fmt::format("the engine was not ready within {:.0f} s; log {}", timeout_s, s.log_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Waits until the engine has consumed `target` messages; polls /metrics every `poll_ms`.
// Returns the seconds from the call until the count reached `target`, interpolated linearly
// between the last scrape below it and the first at or above it (each scrape costs the engine
// CPU, so timed waits scrape sparsely). `from`, when not negative, is the count at the call (a
// stopped engine's). A scrape's time is the middle of its request.
StatusOr<double> AwaitConsumed(EngineProcess& engine, uint16_t port, int64_t target,
                               double timeout_s, int poll_ms, const std::string& log_path,
                               int64_t from = -1) {
  const auto start = Clock::now();
  double before_t = 0;
  int64_t before = from;
  while (true) {
    const double asked = SecondsSince(start);
    std::optional<Exposition> m = Metrics(port);
    const double t = (asked + SecondsSince(start)) / 2;
    if (m.has_value()) {
      const int64_t now = Consumed(*m);
      if (now >= target) {
        if (before < 0 || now == before) return t;
        return before_t + (t - before_t) * static_cast<double>(target - before) /
                              static_cast<double>(now - before);
      }
      before_t = t;
      before = now;
    }
    if (engine.Exited()) {
      return InternalError("the engine exited:\n" + LastLines(ReadFile(log_path), 20));
    }
    if (SecondsSince(start) > timeout_s) {
      return UnavailableError(fmt::format("the engine consumed {} of {} messages in {:.0f} s",
                                          m.has_value() ? Consumed(*m) : -1, target, timeout_s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

// Waits for a commit that started after the engine had consumed everything it will consume.
Status AwaitCommitAfter(EngineProcess& engine, uint16_t port, double timeout_s) {
  std::optional<Exposition> m = Metrics(port);
  if (!m.has_value()) return UnavailableError("/metrics did not answer");
  const double commits = m->Sum("learnflow_commits_total");
  const auto start = Clock::now();
  while (SecondsSince(start) < timeout_s && !engine.Exited()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    m = Metrics(port);
    // Two more: the first may have been running when consumption ended.
    if (m.has_value() && m->Sum("learnflow_commits_total") >= commits + 2) return Status::Ok();
  }
  return UnavailableError("no commit after the last message");
}

// ---------------------------------------------------------------------------------------------
// The plain consumer: librdkafka only, reading each segment's messages from an assignment of all
// partitions, touching every payload byte count, nothing else.

class PlainConsumer {
  struct ListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* l) const {
      rd_kafka_topic_partition_list_destroy(l);
    }
  };
  using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

 public:
  static StatusOr<std::unique_ptr<PlainConsumer>> Create(const std::string& bootstrap,
                                                         int partitions,
                                                         std::string topic = kInputTopic) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::map<std::string, std::string> props = {
        {"bootstrap.servers", bootstrap},      {"group.id", "bench-plain"},
        {"client.id", "bench-plain"},          {"enable.auto.commit", "false"},
        {"enable.partition.eof", "false"},     {"auto.offset.reset", "earliest"},
        {"isolation.level", "read_committed"},
    };
    for (const auto& [k, v] : props) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return InvalidArgumentError(fmt::format("plain consumer: {}: {}", k, err));
      }
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == nullptr) return InternalError(std::string("plain consumer: ") + err);
    rd_kafka_poll_set_consumer(rk);
    auto c = std::unique_ptr<PlainConsumer>(new PlainConsumer(rk, partitions, std::move(topic)));
    return c;
  }
  ~PlainConsumer() {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  struct ReadTimes {
    double start_s = 0;  // from the assignment or resumption to the first message
    double read_s = 0;   // from the first message to the last
  };
  // Reads the next `count` messages (over all partitions). Between calls the partitions stay
  // assigned but paused. The wait for the first message after the assignment (the first call)
  // or the resumption (later calls) is librdkafka starting to fetch: 0.05-0.9 s per call on the
  // embedded broker, against 0.04-0.05 s to read 120,000 messages, so it is reported apart.
  StatusOr<ReadTimes> Read(int64_t count, double timeout_s) {
    PartitionList list(rd_kafka_topic_partition_list_new(partitions_));
    for (int p = 0; p < partitions_; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset =
          next_[static_cast<size_t>(p)];
    }
    const auto start = Clock::now();
    const rd_kafka_resp_err_t err = assigned_ ? rd_kafka_resume_partitions(rk_, list.get())
                                              : rd_kafka_assign(rk_, list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return InternalError(std::string("plain consumer assign: ") + rd_kafka_err2str(err));
    }
    assigned_ = true;
    int64_t read = 0;
    double first = 0;
    while (read < count) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
      if (m == nullptr) {
        if (SecondsSince(start) > timeout_s) {
          return UnavailableError(
              fmt::format("plain consumer read {} of {} messages", read, count));
        }
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        bytes_ += static_cast<int64_t>(m->len) + static_cast<int64_t>(m->key_len);
        next_[static_cast<size_t>(m->partition)] = m->offset + 1;
        if (read == 0) first = SecondsSince(start);
        ++read;
      }
      rd_kafka_message_destroy(m);
    }
    const double seconds = SecondsSince(start);
    rd_kafka_pause_partitions(rk_, list.get());
    return ReadTimes{first, seconds - first};
  }
  int64_t bytes() const { return bytes_; }

 private:
  PlainConsumer(rd_kafka_t* rk, int partitions, std::string topic)
      : rk_(rk),
        partitions_(partitions),
        topic_(std::move(topic)),
        next_(static_cast<size_t>(partitions), 0) {}
  rd_kafka_t* rk_;
  int partitions_;
  std::string topic_;
  std::vector<int64_t> next_;
  int64_t bytes_ = 0;
  bool assigned_ = false;
};

// Sends BenchEvents to the input topic, partitioned by learner.
class InputProducer {
 public:
  static StatusOr<std::unique_ptr<InputProducer>> Create(const std::string& bootstrap,
                                                         const BenchEventsOptions& events,
                                                         int partitions) {
    KafkaClientOptions client;
    client.bootstrap_servers = bootstrap;
    client.group_id = "bench-producer";
    LF_ASSIGN_OR_RETURN(std::unique_ptr<KafkaSink> sink, KafkaSink::Create(client));
    return std::unique_ptr<InputProducer>(new InputProducer(std::move(sink), events, partitions));
  }
  // Sends up to `n` more events; returns how many were sent (fewer at the end of the stream).
  StatusOr<int64_t> Send(int64_t n) {
    const std::string& topic = kInputTopic;
    int64_t sent = 0;
    while (sent < n && events_.Next(event_)) {
      const std::string_view payload(event_.payload);
      LF_RETURN_IF_ERROR(
          sink_->SendTo(topic, PartitionOf(event_.key, partitions_), event_.key, &payload));
      learners_seen_.insert(event_.learner);
      bytes_ += static_cast<int64_t>(event_.payload.size());
      ++sent;
      if (sent % 256 == 0) sink_->Poll();
    }
    return sent;
  }
  Status Flush() { return sink_->Flush(120000); }
  int64_t produced() const { return events_.produced(); }
  int64_t bytes() const { return bytes_; }
  size_t distinct_learners() const { return learners_seen_.size(); }

 private:
  InputProducer(std::unique_ptr<KafkaSink> sink, const BenchEventsOptions& events, int partitions)
      : sink_(std::move(sink)), events_(events), partitions_(partitions) {}
  std::unique_ptr<KafkaSink> sink_;
  BenchEvents events_;
  BenchEvent event_;
  int partitions_;
  int64_t bytes_ = 0;
  std::set<int64_t> learners_seen_;
};

// Records the broker no longer holds at the start of `topic` (the sum of its partitions' low
// watermarks): the mock cluster drops the oldest beyond ~5 MiB per partition. `total`, when
// given, receives the sum of the high watermarks.
StatusOr<int64_t> DroppedRecords(const std::string& bootstrap, const std::string& topic,
                                 int partitions, int64_t* total = nullptr) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return InvalidArgumentError(err);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) return InternalError(err);
  int64_t dropped = 0;
  Status status;
  for (int p = 0; p < partitions && status.ok(); ++p) {
    int64_t low = 0, high = 0;
    const rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status =
          UnavailableError(fmt::format("watermarks of {}-{}: {}", topic, p, rd_kafka_err2str(e)));
    }
    dropped += low;
    if (total != nullptr) *total += high;
  }
  rd_kafka_destroy(rk);
  if (!status.ok()) return status;
  return dropped;
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

// parts: learnflow_pipeline_bench (Google Benchmark) beside this binary, its JSON read back.
Status Parts(const Flags& flags, const std::string& dir, Report& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string json_path = dir + "/parts.json";
  const std::string log_path = dir + "/parts.log";
  std::filesystem::remove(log_path, ec);
  const std::string program =
      (std::filesystem::path(flags.self).parent_path() / "learnflow_pipeline_bench").string();
  std::printf("parts: %s...\n", program.c_str());
  std::fflush(stdout);
  EngineProcess bench;
  LF_RETURN_IF_ERROR(bench.Start({program, "--benchmark_min_time=0.5",
                                  "--benchmark_out=" + json_path, "--benchmark_out_format=json"},
                                 log_path));
  if (!bench.Wait(1800) || !WIFEXITED(bench.status()) || WEXITSTATUS(bench.status()) != 0) {
    return InternalError("learnflow_pipeline_bench failed:\n" + LastLines(ReadFile(log_path), 20));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.load(json_path).get(root) != simdjson::SUCCESS) {
    return InternalError("cannot parse " + json_path);
  }
  simdjson::dom::array benchmarks;
  if (root["benchmarks"].get_array().get(benchmarks) != simdjson::SUCCESS) {
    return InternalError("no benchmarks in " + json_path);
  }
  for (simdjson::dom::element b : benchmarks) {
    std::string_view name;
    if (b["name"].get_string().get(name) != simdjson::SUCCESS) continue;
    double items = 0;
    double windows = 0;
    if (b["windows_per_s"].get_double().get(windows) == simdjson::SUCCESS) {
      report.Add({"parts", std::string(name), windows, "windows/s", "", "", std::nullopt});
    } else if (b["items_per_second"].get_double().get(items) == simdjson::SUCCESS) {
      report.Add({"parts", std::string(name), items, "items/s", "", "", std::nullopt});
    }
  }
  report.Note("parts", "Google Benchmark, one core each (" + json_path + ")");
  return Status::Ok();
}

Status InProcess(const Flags& flags, const std::string& dir, Report& report) {
  InProcessOptions options;
  options.events = EventsFor(
      flags, flags.inprocess_events > 0 ? flags.inprocess_events : flags.events, flags.learners);
  options.partitions = flags.partitions;
  options.memory_mb = static_cast<int>(flags.memory_mb);
  options.commit_interval_ms = flags.commit_interval_ms;
  options.checkpoint_interval_ms = flags.checkpoint_interval_ms;
  options.paced_events_per_second = flags.paced_clock;
  std::filesystem::remove_all(dir + "/state");
  std::printf("inprocess: %lld events, %lld learners, on this thread...\n",
              static_cast<long long>(options.events.events),
              static_cast<long long>(flags.learners));
  std::fflush(stdout);
  // The engine logs partition assignments at info: keep the table readable.
  spdlog::set_level(spdlog::level::warn);
  LF_ASSIGN_OR_RETURN(InProcessResult r, RunInProcess(options, dir + "/state"));
  std::filesystem::remove_all(dir + "/state");
  const double thread_rate = static_cast<double>(r.events) / r.wall_s;
  const double per_cpu = static_cast<double>(r.events) / r.process_cpu_s;
  report.Add({"inprocess", "events/s, one processing thread (wall)", thread_rate, "events/s", "",
              ">= 1,000,000", thread_rate >= 1e6});
  report.Add({"inprocess", "events per CPU-second, whole process", per_cpu, "events/s", "",
              ">= 1,000,000", per_cpu >= 1e6});
  report.Note(
      "inprocess",
      fmt::format("{} events in {:.2f} s; CPU {:.2f} s on the processing thread, {:.2f} s in "
                  "the process; {} learner records, {} cohort records, {} commits, {} invalid",
                  r.events, r.wall_s, r.thread_cpu_s, r.process_cpu_s, r.learner_records,
                  r.cohort_records, r.commits, r.invalid));
  return Status::Ok();
}

// e2e and latency share one broker and engine.
Status EndToEnd(const Flags& flags, const std::string& dir, bool run_e2e, bool run_latency,
                Report& report) {
  const std::string group = "bench";
  LF_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, StartBroker(flags, group));
  const std::string bootstrap = broker->bootstrap_servers();
  std::filesystem::remove_all(dir + "/state");
  // Long sessions: the engine is stopped (SIGSTOP) while each segment is produced and read by
  // the plain consumer.
  LF_ASSIGN_OR_RETURN(EngineSetup setup,
                      WriteEngineConfig(flags, dir, bootstrap, group, dir + "/state", 60000));
  std::filesystem::remove(setup.log_path);
  const BenchEventsOptions events = EventsFor(flags, run_e2e ? flags.events : 0, flags.learners);
  BenchEventsOptions stream = events;
  stream.events = std::numeric_limits<int64_t>::max();  // the latency phase continues the stream
  LF_ASSIGN_OR_RETURN(std::unique_ptr<InputProducer> producer,
                      InputProducer::Create(bootstrap, stream, flags.partitions));
  LF_ASSIGN_OR_RETURN(std::unique_ptr<PlainConsumer> plain,
                      PlainConsumer::Create(bootstrap, flags.partitions));
  EngineProcess engine;
  std::printf("e2e: starting the engine (log %s)...\n", setup.log_path.c_str());
  std::fflush(stdout);
  LF_ASSIGN_OR_RETURN(uint16_t port, StartEngine(flags, engine, setup, 120));

  double engine_s = 0;
  double plain_s = 0;
  // The plain consumer's waits for its first message of each segment (see PlainConsumer).
  double plain_start_s = 0;
  int64_t total = 0;
  double engine_rate = 0;
  if (run_e2e) {
    std::printf("e2e: %lld events in segments of %lld...\n", static_cast<long long>(flags.events),
                static_cast<long long>(flags.segment));
    std::fflush(stdout);
    int segments = 0;
    // The engine's CPU time and time in commits over the scenario, for the note.
    const double cpu_before = ReadProcMemory(engine.pid()).cpu_s;
    std::optional<Exposition> before = Metrics(port);
    if (!before.has_value()) return UnavailableError("/metrics did not answer");
    while (total < flags.events) {
      engine.Signal(SIGSTOP);
      LF_ASSIGN_OR_RETURN(int64_t n, producer->Send(std::min(flags.segment, flags.events - total)));
      LF_RETURN_IF_ERROR(producer->Flush());
      total += n;
      LF_ASSIGN_OR_RETURN(const PlainConsumer::ReadTimes p, plain->Read(n, 120));
      plain_start_s += p.start_s;
      plain_s += p.read_s;
      engine.Signal(SIGCONT);
      // Every 20 ms: scraping /metrics (a few hundred kB with 500 cohorts) costs the engine CPU.
      LF_ASSIGN_OR_RETURN(const double waited,
                          AwaitConsumed(engine, port, total, 300, 20, setup.log_path, total - n));
      engine_s += waited;
      ++segments;
    }
    engine.Signal(SIGCONT);
    const double plain_rate = static_cast<double>(total) / plain_s;
    engine_rate = static_cast<double>(total) / engine_s;
    const double ratio = engine_rate / plain_rate;
    report.Add({"e2e", "plain librdkafka consumer", plain_rate, "events/s", "", "", std::nullopt});
    report.Add({"e2e", "engine, full pipeline, 1 processing thread", engine_rate, "events/s",
                fmt::format("plain consumer {}/s", Number(plain_rate)), "", std::nullopt});
    report.Add({"e2e", "engine / plain consumer", ratio, "ratio", "", ">= 0.7", ratio >= 0.7});
    const ProcMemory mem = ReadProcMemory(engine.pid());
    std::optional<Exposition> after = Metrics(port);
    if (!after.has_value()) return UnavailableError("/metrics did not answer");
    const std::string_view commit_s = "learnflow_commit_duration_seconds_sum";
    const std::string_view commits = "learnflow_commits_total";
    const std::string_view produced = "learnflow_records_produced_total";
    report.Note(
        "e2e",
        fmt::format("{} events ({:.0f} bytes each on average, {} distinct learners) in "
                    "{} segments; engine {:.2f} s from SIGCONT to the last message of each "
                    "segment (CPU {:.2f} s, {:.0f} commits taking {:.2f} s, {:.0f} records "
                    "produced), plain consumer {:.2f} s from the first message of each segment "
                    "to its last (and {:.2f} s before those first messages, librdkafka starting "
                    "to fetch after the partitions were resumed); engine VmHWM {:.0f} MiB",
                    total, static_cast<double>(producer->bytes()) / static_cast<double>(total),
                    producer->distinct_learners(), segments, engine_s, mem.cpu_s - cpu_before,
                    after->Sum(commits) - before->Sum(commits),
                    after->Sum(commit_s) - before->Sum(commit_s),
                    after->Sum(produced) - before->Sum(produced), plain_s, plain_start_s,
                    static_cast<double>(mem.hwm_kib) / 1024.0));
  }

  if (run_latency) {
    if (engine_rate <= 0) {
      return InvalidArgumentError("the latency scenario needs the e2e scenario's engine rate");
    }
    const double rate = engine_rate / 2;
    std::printf("latency: %.0f events/s for %.0f s...\n", rate, flags.latency_seconds);
    std::fflush(stdout);
    std::optional<Exposition> before = Metrics(port);
    if (!before.has_value()) return UnavailableError("/metrics did not answer");
    const auto start = Clock::now();
    int64_t sent = 0;
    while (SecondsSince(start) < flags.latency_seconds) {
      const auto due = static_cast<int64_t>(rate * SecondsSince(start));
      if (due > sent) {
        LF_ASSIGN_OR_RETURN(int64_t n, producer->Send(due - sent));
        sent += n;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    LF_RETURN_IF_ERROR(producer->Flush());
    LF_RETURN_IF_ERROR(AwaitConsumed(engine, port, total + sent, 120, 20, setup.log_path).status());
    std::optional<Exposition> after = Metrics(port);
    if (!after.has_value()) return UnavailableError("/metrics did not answer");
    const std::string_view h = "learnflow_processing_latency_seconds";
    const std::optional<double> p50 = after->HistogramQuantileSince(*before, h, 0.5);
    const std::optional<double> p99 = after->HistogramQuantileSince(*before, h, 0.99);
    if (!p50.has_value() || !p99.has_value()) return InternalError("no latency observations");
    report.Add({"latency", "p50 poll to state updated", *p50 * 1000, "ms",
                fmt::format("at {}/s (half the e2e rate)", Number(rate)), "", std::nullopt});
    report.Add({"latency", "p99 poll to state updated", *p99 * 1000, "ms",
                fmt::format("at {}/s (half the e2e rate)", Number(rate)), "<= 50 ms",
                *p99 * 1000 <= 50});
    report.Note("latency", fmt::format("{} events in {:.1f} s; quantiles interpolated in the "
                                       "histogram's buckets (0.5, 1, 2.5, 5, 10, 25, 50 ms ...)",
                                       sent, flags.latency_seconds));
  }
  engine.Signal(SIGTERM);
  engine.Wait(60);
  return Status::Ok();
}

// memory and recovery: a fresh engine over --memory-learners learners, then SIGKILL and restart.
Status MemoryAndRecovery(const Flags& flags, const std::string& dir, bool run_recovery,
                         Report& report) {
  const std::string group = "benchmem";
  LF_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, StartBroker(flags, group));
  const std::string bootstrap = broker->bootstrap_servers();
  std::filesystem::remove_all(dir + "/state");
  LF_ASSIGN_OR_RETURN(EngineSetup setup,
                      WriteEngineConfig(flags, dir, bootstrap, group, dir + "/state",
                                        flags.session_timeout_ms));
  std::filesystem::remove(setup.log_path);
  const int64_t events = flags.memory_events > 0 ? flags.memory_events : 2 * flags.memory_learners;
  BenchEventsOptions options = EventsFor(flags, events, flags.memory_learners);
  options.events_per_session = 2;
  LF_ASSIGN_OR_RETURN(std::unique_ptr<InputProducer> producer,
                      InputProducer::Create(bootstrap, options, flags.partitions));
  EngineProcess engine;
  std::printf("memory: %lld events of %lld learners (log %s)...\n", static_cast<long long>(events),
              static_cast<long long>(flags.memory_learners), setup.log_path.c_str());
  std::fflush(stdout);
  LF_ASSIGN_OR_RETURN(uint16_t port, StartEngine(flags, engine, setup, 120));
  const ProcMemory idle = ReadProcMemory(engine.pid());
  constexpr int64_t kMaxAhead = 60000;
  int64_t consumed = 0;
  int64_t max_rss_kib = 0;
  const auto start = Clock::now();
  while (producer->produced() < events) {
    if (producer->produced() - consumed < kMaxAhead) {
      LF_RETURN_IF_ERROR(
          producer->Send(std::min<int64_t>(5000, events - producer->produced())).status());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::optional<Exposition> m = Metrics(port);
    if (m.has_value()) consumed = Consumed(*m);
    max_rss_kib = std::max(max_rss_kib, ReadProcMemory(engine.pid()).rss_kib);
    if (engine.Exited())
      return InternalError("the engine exited:\n" + LastLines(ReadFile(setup.log_path), 20));
  }
  LF_RETURN_IF_ERROR(producer->Flush());
  LF_RETURN_IF_ERROR(AwaitConsumed(engine, port, events, 600, 50, setup.log_path).status());
  const double run_s = SecondsSince(start);
  LF_RETURN_IF_ERROR(AwaitCommitAfter(engine, port, 60));
  const ProcMemory mem = ReadProcMemory(engine.pid());
  max_rss_kib = std::max(max_rss_kib, mem.rss_kib);
  const double hwm_mib = static_cast<double>(mem.hwm_kib) / 1024.0;
  report.Add({"memory",
              fmt::format("peak RSS (VmHWM), {} learners",
                          Number(static_cast<double>(flags.memory_learners))),
              hwm_mib, "MiB",
              fmt::format("idle engine {:.0f} MiB", static_cast<double>(idle.rss_kib) / 1024.0),
              "<= 1024 MiB", hwm_mib <= 1024});
  std::optional<Exposition> m = Metrics(port);
  report.Note(
      "memory",
      fmt::format("{} events, {} distinct learners, {:.1f} s ({:.0f} events/s); "
                  "state.memory_mb {}; RSS at the end {:.0f} MiB; state bytes {:.0f} MiB",
                  events, producer->distinct_learners(), run_s, static_cast<double>(events) / run_s,
                  flags.memory_mb, static_cast<double>(mem.rss_kib) / 1024.0,
                  m.has_value() ? m->Sum("learnflow_state_bytes") / 1048576.0 : -1.0));
  if (!run_recovery) return Status::Ok();

  engine.Signal(SIGKILL);
  engine.Wait(30);
  std::printf("recovery: restarting after SIGKILL...\n");
  std::fflush(stdout);
  EngineProcess restarted;
  StartTimes times;
  LF_ASSIGN_OR_RETURN(uint16_t port2, StartEngine(flags, restarted, setup, 300, &times));
  const double ready_s = times.ready_s;
  report.Add({"recovery",
              fmt::format("restart to ready after SIGKILL, {} learners",
                          Number(static_cast<double>(flags.memory_learners))),
              ready_s, "s", "", "<= 10 s", ready_s <= 10});
  report.Add({"recovery", "  of which: start-up (RocksDB open, clients, HTTP)", times.http_s, "s",
              "", "", std::nullopt});
  report.Add({"recovery", "  of which: the group's join round (broker)",
              times.assigned_s - times.http_s, "s", "", "", std::nullopt});
  report.Add({"recovery", "  of which: loading the state and restoring", ready_s - times.assigned_s,
              "s", "", "", std::nullopt});
  std::optional<Exposition> m2 = Metrics(port2);
  report.Note(
      "recovery",
      fmt::format("from spawning the process to /readyz 200 with all {} partitions "
                  "assigned (local RocksDB state; {} changelog records replayed); the "
                  "join round ends at the first assignment (learnflow_rebalances_total)",
                  flags.partitions,
                  m2.has_value() ? std::llround(m2->Sum("learnflow_restored_records_total")) : -1));
  restarted.Signal(SIGTERM);
  restarted.Wait(60);
  return Status::Ok();
}

// The restore's span in an engine's text log, in seconds: from the first partition assigned with
// a changelog to restore ("; restoring from") to the last partition restored ("restored:"). The
// log's timestamps have millisecond resolution; a restore within one millisecond counts as one.
std::optional<double> RestoreSpanFromLog(const std::string& log) {
  std::optional<TimestampMs> first;
  std::optional<TimestampMs> last;
  size_t begin = 0;
  while (begin < log.size()) {
    size_t end = log.find('\n', begin);
    if (end == std::string::npos) end = log.size();
    const std::string_view line(log.data() + begin, end - begin);
    begin = end + 1;
    const bool started = line.find("; restoring from ") != std::string_view::npos;
    const bool restored = line.find(" restored: ") != std::string_view::npos;
    if (!started && !restored) continue;
    const std::optional<TimestampMs> t = ParseIso8601Millis(line.substr(0, line.find(' ')));
    if (!t.has_value()) continue;
    if (started && (!first.has_value() || *t < *first)) first = t;
    if (restored && (!last.has_value() || *t > *last)) last = t;
  }
  if (!first.has_value() || !last.has_value() || *last < *first) return std::nullopt;
  return static_cast<double>(std::max<TimestampMs>(*last - *first, 1)) / 1000.0;
}

// restore: --restore-learners learners' state in the changelog, restored by a fresh instance.
Status Restore(const Flags& flags, const std::string& dir, Report& report) {
  const std::string group = "benchrestore";
  LF_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, StartBroker(flags, group));
  const std::string bootstrap = broker->bootstrap_servers();
  std::filesystem::remove_all(dir + "/state-a");
  std::filesystem::remove_all(dir + "/state-b");
  LF_ASSIGN_OR_RETURN(EngineSetup a, WriteEngineConfig(flags, dir + "/a", bootstrap, group,
                                                       dir + "/state-a", flags.session_timeout_ms));
  std::filesystem::remove(a.log_path);
  const int64_t events = 2 * flags.restore_learners;
  BenchEventsOptions options = EventsFor(flags, events, flags.restore_learners);
  options.events_per_session = 2;
  LF_ASSIGN_OR_RETURN(std::unique_ptr<InputProducer> producer,
                      InputProducer::Create(bootstrap, options, flags.partitions));
  std::printf("restore: building the changelog of %lld learners...\n",
              static_cast<long long>(flags.restore_learners));
  std::fflush(stdout);
  {
    EngineProcess engine;
    LF_ASSIGN_OR_RETURN(uint16_t port, StartEngine(flags, engine, a, 120));
    LF_RETURN_IF_ERROR(producer->Send(events).status());
    LF_RETURN_IF_ERROR(producer->Flush());
    LF_RETURN_IF_ERROR(AwaitConsumed(engine, port, events, 600, 50, a.log_path).status());
    LF_RETURN_IF_ERROR(AwaitCommitAfter(engine, port, 60));
    engine.Signal(SIGTERM);
    if (!engine.Wait(60)) return InternalError("the first engine did not stop on SIGTERM");
  }
  // The changelog must be whole: the mock broker drops the oldest records beyond ~5 MiB per
  // partition, and a restore of a truncated log would be refused.
  int64_t changelog_records = 0;
  LF_ASSIGN_OR_RETURN(int64_t dropped, DroppedRecords(bootstrap, ChangelogTopic(group),
                                                      flags.partitions, &changelog_records));
  if (dropped > 0) {
    return InvalidArgumentError(fmt::format(
        "the embedded broker dropped {} of the changelog's oldest records (it keeps ~5 MiB per "
        "partition); use fewer --restore-learners",
        dropped));
  }
  // The same-run baseline: a plain librdkafka consumer reading the whole changelog.
  double plain_rate = 0;
  {
    LF_ASSIGN_OR_RETURN(std::unique_ptr<PlainConsumer> plain,
                        PlainConsumer::Create(bootstrap, flags.partitions, ChangelogTopic(group)));
    LF_ASSIGN_OR_RETURN(const PlainConsumer::ReadTimes t, plain->Read(changelog_records, 120));
    plain_rate = static_cast<double>(changelog_records) / (t.start_s + t.read_s);
  }
  report.Add({"restore", "plain librdkafka consumer, the same changelog", plain_rate,
              "records/s", "", "", std::nullopt});
  LF_ASSIGN_OR_RETURN(EngineSetup b, WriteEngineConfig(flags, dir + "/b", bootstrap, group,
                                                       dir + "/state-b", flags.session_timeout_ms));
  std::filesystem::remove(b.log_path);
  EngineProcess engine;
  LF_RETURN_IF_ERROR(engine.Start({flags.binary, "run", "--config", b.config_path}, b.log_path));
  LF_ASSIGN_OR_RETURN(uint16_t port, AwaitHttpPort(engine, b.log_path, 120));
  // The restore is timed by the engine's own log lines (its partitions' "restoring from" to
  // their "restored"): a small restore ends between two scrapes. The scrapes only tell when it
  // is over and how many records it read.
  double restored = 0;
  const auto start = Clock::now();
  while (true) {
    std::optional<Exposition> m = Metrics(port);
    if (m.has_value()) {
      restored = m->Sum("learnflow_restored_records_total");
      if (restored > 0 && m->Sum("learnflow_restoring") == 0 &&
          m->Sum("learnflow_assigned_partitions") >= flags.partitions) {
        break;
      }
    }
    if (engine.Exited())
      return InternalError("the engine exited:\n" + LastLines(ReadFile(b.log_path), 20));
    if (SecondsSince(start) > 300) return UnavailableError("the restore did not finish in 300 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::optional<double> restore_s = RestoreSpanFromLog(ReadFile(b.log_path));
  if (!restore_s.has_value()) {
    return InternalError("the engine's log " + b.log_path + " does not show the restore");
  }
  const double rate = restored / *restore_s;
  report.Add({"restore", "changelog restore", rate, "records/s",
              fmt::format("plain consumer {:.0f}/s", plain_rate), ">= 200,000", rate >= 200000});
  report.Note("restore",
              fmt::format("{:.0f} changelog records of {} learners restored in {:.3f} s, from the "
                          "first partition's \"restoring from\" to the last one's \"restored\" "
                          "in the engine's log",
                          restored, flags.restore_learners, *restore_s));
  engine.Signal(SIGTERM);
  engine.Wait(60);
  return Status::Ok();
}

int Run(const Flags& flags) {
  std::set<std::string> only;
  for (size_t pos = 0; pos <= flags.only.size();) {
    size_t comma = flags.only.find(',', pos);
    if (comma == std::string::npos) comma = flags.only.size();
    if (comma > pos) only.insert(flags.only.substr(pos, comma - pos));
    pos = comma + 1;
  }
  const std::set<std::string> known = {"parts",  "inprocess", "e2e",    "latency",
                                       "memory", "recovery",  "restore"};
  for (const std::string& s : only) {
    if (known.count(s) == 0) {
      std::fprintf(stderr,
                   "learnflow_bench: --only: unknown scenario '%s' (scenarios: parts, "
                   "inprocess, e2e, latency, memory, recovery, restore)\n",
                   s.c_str());
      return 2;
    }
  }
  if (only.count("latency") > 0 && only.count("e2e") == 0) {
    std::fprintf(stderr, "learnflow_bench: --only: latency runs at half the e2e rate; add e2e\n");
    return 2;
  }
  if (only.count("recovery") > 0 && only.count("memory") == 0) {
    std::fprintf(
        stderr,
        "learnflow_bench: --only: recovery restarts the memory scenario's engine; add memory\n");
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "learnflow_bench: cannot create %s: %s\n", flags.out_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  Report report;
  Status failed;
  const auto run = [&](const char* name, const std::function<Status()>& f) {
    if (!failed.ok()) return;
    Status s = f();
    if (!s.ok()) failed = Status(s.code(), std::string(name) + ": " + s.message());
  };
  if (only.count("parts"))
    run("parts", [&] { return Parts(flags, flags.out_dir + "/parts", report); });
  if (only.count("inprocess"))
    run("inprocess", [&] { return InProcess(flags, flags.out_dir + "/inprocess", report); });
  if (only.count("e2e") || only.count("latency")) {
    run("e2e", [&] {
      return EndToEnd(flags, flags.out_dir + "/e2e", only.count("e2e") > 0,
                      only.count("latency") > 0, report);
    });
  }
  if (only.count("memory")) {
    run("memory", [&] {
      return MemoryAndRecovery(flags, flags.out_dir + "/memory", only.count("recovery") > 0,
                               report);
    });
  }
  if (only.count("restore"))
    run("restore", [&] { return Restore(flags, flags.out_dir + "/restore", report); });
  report.Print();
  const Status written = report.WriteJson(flags.out_dir + "/results.json", flags);
  if (!written.ok())
    std::fprintf(stderr, "learnflow_bench: %s\n", written.ToString().c_str());
  else
    std::printf("results: %s/results.json\n", flags.out_dir.c_str());
  if (!failed.ok()) {
    std::fprintf(stderr, "learnflow_bench: %s\n", failed.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace learnflow::bench

int main(int argc, char** argv) {
  using learnflow::bench::Flags;
  Flags flags;
  const std::filesystem::path build = learnflow::bench::BuildDir();
  flags.binary = (build / "app" / "learnflow").string();
  flags.self = (build / "bench" / "learnflow_bench").string();
  flags.out_dir = (build / "bench-results").string();
  CLI::App app{
      "learnflow performance benchmark: in-process, end-to-end against a plain consumer, "
      "latency, memory, recovery and restore (see docs/performance.md)"};
  app.add_option("--binary", flags.binary, "The learnflow executable")->capture_default_str();
  app.add_option("--out", flags.out_dir, "Directory for results.json, configs, logs and state")
      ->capture_default_str();
  app.add_option("--only", flags.only, "Comma-separated scenarios")->capture_default_str();
  app.add_option("--events", flags.events, "Events of the e2e scenario (and in-process)")
      ->check(CLI::Range(int64_t{1000}, int64_t{1000000000}))
      ->capture_default_str();
  app.add_option("--learners", flags.learners, "Learners of the e2e and in-process scenarios")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--cohorts", flags.cohorts, "Cohorts")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--skills", flags.skills, "Skills (spread evenly over cohorts)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--partitions", flags.partitions, "Input partitions")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--segment", flags.segment,
                 "e2e: messages per produced segment (the mock keeps ~5 MiB per partition)")
      ->check(CLI::Range(int64_t{1000}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--latency-seconds", flags.latency_seconds, "Duration of the latency scenario")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_option("--memory-learners", flags.memory_learners,
                 "Distinct learners of the memory scenario")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--memory-events", flags.memory_events,
                 "Events of the memory scenario (0: 2 per learner)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--restore-learners", flags.restore_learners,
                 "Learners whose state the restore scenario restores")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}))
      ->capture_default_str();
  app.add_option("--inprocess-events", flags.inprocess_events,
                 "Events of the in-process scenario (0: --events)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--session-timeout-ms", flags.session_timeout_ms,
                 "session.timeout.ms of the memory, recovery and restore engines. The embedded "
                 "broker has no static membership: a restart after SIGKILL waits for the killed "
                 "member's session to expire, so this bounds the recovery's join round")
      ->check(CLI::Range(1000, 300000))
      ->capture_default_str();
  app.add_option("--paced-clock", flags.paced_clock,
                 "in-process: the engine's clock advances one second per this many events, so "
                 "commits fall at the same events in every run (for callgrind); 0: wall clock")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--commit-interval-ms", flags.commit_interval_ms,
                 "processing.commit_interval_ms of every engine (in-process too)")
      ->check(CLI::Range(int64_t{10}, int64_t{600000}))
      ->capture_default_str();
  app.add_option("--checkpoint-interval-ms", flags.checkpoint_interval_ms,
                 "state.checkpoint_interval_ms of every engine (in-process too; 0: every commit)")
      ->check(CLI::Range(int64_t{0}, int64_t{3600000}))
      ->capture_default_str();
  app.add_option("--memory-mb", flags.memory_mb, "state.memory_mb of the engines")
      ->check(CLI::Range(int64_t{16}, int64_t{65536}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!std::filesystem::exists(flags.binary)) {
    std::fprintf(stderr, "learnflow_bench: no engine binary at %s (--binary)\n",
                 flags.binary.c_str());
    return 2;
  }
  return learnflow::bench::Run(flags);
}
