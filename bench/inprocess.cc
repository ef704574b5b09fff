#include "bench/inprocess.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/decoders/event_decoder.h"
#include "core/codec.h"
#include "state/state_store.h"
#include "stream/engine.h"

namespace learnflow::bench {
namespace {

constexpr std::string_view kRepartition = "bench-cohort-repartition";

double CpuSeconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One partition's messages from offset `base`: their bytes in blocks that never move (so views
// stay valid while appending), no allocation per message. Forget(n) drops the first n; the
// blocks that only they used are kept for reuse (as a consumer reuses its fetch buffers).
class MessageLog {
 public:
  struct Message {
    std::string_view key;
    std::string_view payload;
    TimestampMs timestamp_ms;
  };
  static constexpr size_t kBlockBytes = size_t{1} << 20;

  void Append(std::string_view key, std::string_view payload, TimestampMs timestamp_ms) {
    const size_t need = key.size() + payload.size();
    if (blocks_.empty() || blocks_.back().used + need > blocks_.back().size) {
      const size_t bytes = std::max(need, kBlockBytes);
      std::unique_ptr<char[]> block;
      if (bytes == kBlockBytes && !spare_.empty()) {
        block = std::move(spare_.back());
        spare_.pop_back();
      } else {
        block.reset(new char[bytes]);  // not zeroed: only written bytes are read
      }
      blocks_.push_back(Block{std::move(block), bytes, 0, base_ + size()});
    }
    Block& b = blocks_.back();
    char* at = b.bytes.get() + b.used;
    std::copy(key.begin(), key.end(), at);
    std::copy(payload.begin(), payload.end(), at + key.size());
    b.used += need;
    messages_.push_back(Message{std::string_view(at, key.size()),
                                std::string_view(at + key.size(), payload.size()), timestamp_ms});
  }
  size_t base() const { return base_; }
  size_t size() const { return messages_.size() - head_; }
  const Message& operator[](size_t i) const { return messages_[head_ + i]; }
  void Forget(size_t n) {
    head_ += n;
    base_ += n;
    // A block goes once the next one starts at or before the first message kept.
    while (blocks_.size() > 1 && blocks_[1].first <= base_) Retire();
    if (size() == 0) {
      messages_.clear();
      head_ = 0;
      while (!blocks_.empty()) Retire();
    } else if (head_ > messages_.size() / 2) {
      messages_.erase(messages_.begin(), messages_.begin() + static_cast<ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  struct Block {
    std::unique_ptr<char[]> bytes;
    size_t size;
    size_t used;
    size_t first;  // offset of the block's first message
  };
  void Retire() {
    if (blocks_.front().size == kBlockBytes) spare_.push_back(std::move(blocks_.front().bytes));
    blocks_.pop_front();
  }

  std::deque<Block> blocks_;
  std::vector<std::unique_ptr<char[]>> spare_;
  std::vector<Message> messages_;  // from messages_[head_] at offset base_
  size_t head_ = 0;
  size_t base_ = 0;
};

// Messages of several partitions, served like a consumer: assigned all at the first Poll, up to
// `max` per Poll, one partition per Poll in turn (like a fetch response). Views stay valid until
// the next Poll. With `forget_served`, what a Poll served is freed at the next Poll (a queue);
// without, the messages stay for the whole run (pre-generated input: nothing freed while timed).
class MemorySource final : public Source {
 public:
  MemorySource(int partitions, bool forget_served)
      : partitions_(static_cast<size_t>(partitions)), forget_served_(forget_served) {}

  void Append(int32_t partition, std::string_view key, std::string_view payload) {
    // Stamped at append, as a producer stamps a record (Kafka's CreateTime): the engine takes
    // a record's own timestamp for "now" and reads the clock only for records without one.
    const TimestampMs now = SystemClock().NowMs();
    partitions_[static_cast<size_t>(partition)].messages.Append(key, payload, now);
  }
  size_t Served() const { return served_; }
  size_t Pending() const {
    size_t n = 0;
    for (const Partition& p : partitions_) n += p.messages.size() - (p.next - p.messages.base());
    return n;
  }

  Status Subscribe(AssignmentListener& listener) override {
    listener_ = &listener;
    return Status::Ok();
  }
  Status Poll(int /*timeout_ms*/, size_t max, std::vector<InputMessage>& out) override {
    out.clear();
    if (!assigned_) {
      assigned_ = true;
      std::vector<int32_t> all(partitions_.size());
      std::iota(all.begin(), all.end(), 0);
      std::vector<StartPosition> starts;
      LF_RETURN_IF_ERROR(listener_->OnAssigned(all, starts));
      for (size_t i = 0; i < starts.size(); ++i) partitions_[i].paused = starts[i].paused;
    }
    if (forget_served_) {
      for (Partition& p : partitions_) p.messages.Forget(p.next - p.messages.base());
    }
    const size_t index = cursor_;
    cursor_ = (cursor_ + 1) % partitions_.size();
    Partition& p = partitions_[index];
    if (p.paused) return Status::Ok();
    while (out.size() < max && p.next - p.messages.base() < p.messages.size()) {
      const auto& [key, payload, timestamp_ms] = p.messages[p.next - p.messages.base()];
      InputMessage& m = out.emplace_back();
      m.partition = static_cast<int32_t>(index);
      m.offset = static_cast<int64_t>(p.next++);
      m.key = key;
      m.payload = payload;
      m.timestamp_ms = timestamp_ms;
    }
    served_ += out.size();
    return Status::Ok();
  }
  Status Commit(std::span<const PartitionOffset>) override { return Status::Ok(); }
  Status Pause(std::span<const int32_t> partitions) override { return SetPaused(partitions, true); }
  Status Resume(std::span<const int32_t> partitions) override {
    return SetPaused(partitions, false);
  }
  Status Close() override { return Status::Ok(); }
  bool BrokersReachable() const override { return true; }

 private:
  struct Partition {
    MessageLog messages;
    size_t next = 0;
    bool paused = false;
  };
  Status SetPaused(std::span<const int32_t> partitions, bool paused) {
    for (const int32_t p : partitions) partitions_[static_cast<size_t>(p)].paused = paused;
    return Status::Ok();
  }

  std::vector<Partition> partitions_;
  bool forget_served_;
  AssignmentListener* listener_ = nullptr;
  bool assigned_ = false;
  size_t cursor_ = 0;
  size_t served_ = 0;
};

// A clock that advances with the input served instead of with time (InProcessOptions::
// paced_events_per_second).
class PacedClock final : public Clock {
 public:
  PacedClock(const MemorySource& source, int64_t events_per_second)
      : source_(source), events_per_second_(events_per_second), start_ms_(SystemClock().NowMs()) {}
  TimestampMs NowMs() const override {
    return start_ms_ + static_cast<TimestampMs>(source_.Served()) * 1000 / events_per_second_;
  }

 private:
  const MemorySource& source_;
  int64_t events_per_second_;
  TimestampMs start_ms_;  // the wall clock at the start (input times are near it)
};

// Counts records per topic and partition (their offsets) and drops them, except the repartition
// topic's, which go to the cohort stage's source.
class MemorySink final : public Sink {
 public:
  MemorySink(int partitions, MemorySource& repartition)
      : partitions_(partitions), repartition_(repartition) {}

  Status Send(std::string_view topic, std::string_view key, std::string_view value,
              std::span<const Header> /*headers*/) override {
    const auto partition =
        static_cast<int32_t>(StableHash64(key) % static_cast<uint64_t>(partitions_));
    return SendTo(topic, partition, key, &value);
  }
  Status SendTo(std::string_view topic, int32_t partition, std::string_view key,
                const std::string_view* value) override {
    if (topic == kRepartition) repartition_.Append(partition, key, value != nullptr ? *value : "");
    ++Offsets(topic)[static_cast<size_t>(partition)];
    return Status::Ok();
  }
  int64_t LastDeliveredOffset(std::string_view topic, int32_t partition) const override {
    auto it = offsets_.find(topic);
    return it == offsets_.end() ? -1 : it->second[static_cast<size_t>(partition)];
  }
  void Poll() override {}
  Status Flush(int /*timeout_ms*/) override { return Status::Ok(); }
  size_t InFlight() const override { return 0; }
  uint64_t Delivered(std::string_view topic) const override {
    auto it = offsets_.find(topic);
    if (it == offsets_.end()) return 0;
    uint64_t n = 0;
    for (const int64_t last : it->second) n += static_cast<uint64_t>(last + 1);
    return n;
  }

 private:
  // The engine sends runs of records to one topic: the last topic found is compared first, so
  // that the sink's own cost stays out of the engine's figure.
  std::vector<int64_t>& Offsets(std::string_view topic) {
    if (last_offsets_ != nullptr && topic == last_topic_) return *last_offsets_;
    auto it = offsets_.find(topic);
    if (it == offsets_.end()) {
      it = offsets_.emplace(std::string(topic), std::vector<int64_t>(partitions_, -1)).first;
    }
    last_topic_ = it->first;  // the map's key: nodes never move
    last_offsets_ = &it->second;
    return it->second;
  }

  int partitions_;
  MemorySource& repartition_;
  std::map<std::string, std::vector<int64_t>, std::less<>> offsets_;
  std::string_view last_topic_;
  std::vector<int64_t>* last_offsets_ = nullptr;
};

// A changelog with nothing to restore: every started partition is caught up at once.
class EmptyChangelog final : public ChangelogReader {
 public:
  Status Start(int32_t partition, int64_t /*from_offset*/) override {
    started_.push_back(partition);
    return Status::Ok();
  }
  Status Stop(int32_t partition) override {
    std::erase(started_, partition);
    return Status::Ok();
  }
  Status Poll(size_t /*max*/, std::vector<ChangelogRecord>& out,
              std::vector<int32_t>& caught_up) override {
    out.clear();
    caught_up.clear();
    caught_up.swap(started_);
    return Status::Ok();
  }

 private:
  std::vector<int32_t> started_;
};

}  // namespace

StatusOr<InProcessResult> RunInProcess(const InProcessOptions& options,
                                       const std::string& state_dir) {
  // The input, partitioned by learner as producers key it.
  MemorySource source(options.partitions, /*forget_served=*/false);
  {
    BenchEvents events(options.events);
    BenchEvent e;
    while (events.Next(e)) {
      source.Append(
          static_cast<int32_t>(StableHash64(e.key) % static_cast<uint64_t>(options.partitions)),
          e.key, e.payload);
    }
  }
  MemorySource cohort_source(options.partitions, /*forget_served=*/true);
  MemorySink sink(options.partitions, cohort_source);
  EmptyChangelog changelog;
  EmptyChangelog cohort_changelog;
  EventDecoder decoder;
  LF_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
                      StateStore::Open({.dir = state_dir, .memory_mb = options.memory_mb}));

  EngineOptions engine_options;
  engine_options.changelog_topic = "bench-windows-changelog";
  engine_options.repartition_topic = std::string(kRepartition);
  engine_options.repartition_partitions = options.partitions;
  engine_options.input_partitions = options.partitions;
  engine_options.cohort_changelog_topic = "bench-cohorts-changelog";
  engine_options.poll_timeout_ms = 0;
  engine_options.commit_interval_ms = options.commit_interval_ms;
  engine_options.checkpoint_interval_ms = options.checkpoint_interval_ms;
  const PacedClock paced(source, std::max<int64_t>(options.paced_events_per_second, 1));
  const Clock& clock = options.paced_events_per_second > 0 ? static_cast<const Clock&>(paced)
                                                            : SystemClock();
  Engine engine(engine_options, source, sink, decoder, *store, clock, &changelog);
  engine.EnableCohortStage(cohort_source, &cohort_changelog);
  LF_RETURN_IF_ERROR(engine.Start());

  const auto wall_start = std::chrono::steady_clock::now();
  const double thread_start = CpuSeconds(RUSAGE_THREAD);
  const double process_start = CpuSeconds(RUSAGE_SELF);
  while (source.Pending() > 0 || cohort_source.Pending() > 0) {
    LF_RETURN_IF_ERROR(engine.RunOnce());
  }
  LF_RETURN_IF_ERROR(engine.Commit());
  InProcessResult r;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  r.thread_cpu_s = CpuSeconds(RUSAGE_THREAD) - thread_start;
  r.process_cpu_s = CpuSeconds(RUSAGE_SELF) - process_start;
  const EngineCounters& c = engine.counters();
  r.events = static_cast<int64_t>(c.consumed.load());
  r.learner_records = static_cast<int64_t>(c.learner_records.load());
  r.cohort_records = static_cast<int64_t>(c.cohort_records.load());
  r.commits = static_cast<int64_t>(c.commits.load());
  for (const auto& n : c.invalid) r.invalid += static_cast<int64_t>(n.load());
  return r;
}

}  // namespace learnflow::bench
