// Histogram: a fixed-bucket, lock-free histogram for hot-path measurements (latencies, sizes).
//
// Bucket upper bounds are fixed at construction (at most kMaxBuckets, strictly increasing,
// finite); an implicit +Inf bucket catches everything above the last bound. Observe() is one
// bucket search over at most kMaxBuckets doubles plus two relaxed atomic adds: no allocation, no
// lock, no system call. Snapshot() copies the counts for a scrape.
//
//   Histogram latency({0.001, 0.01, 0.1, 1});   // seconds, Prometheus-style `le` bounds
//   latency.Observe(0.004);                      // counts in the le=0.01 bucket
//   HistogramSnapshot s = latency.Snapshot();    // s.count == 1, s.sum == 0.004
//
// Thread-safety: Observe() may be called from any number of threads (it is designed for one
// writer, the processing thread); Snapshot() from any thread concurrently. A snapshot taken
// during writes is not an atomic cut: its count is always the sum of its buckets (so cumulative
// bucket counts are consistent), but `sum` may include an observation whose bucket it missed,
// or the other way round. Values only grow, so consecutive snapshots never go backwards.
// A Histogram is neither copyable nor movable (it holds atomics); construct it in place.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace learnflow {

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // finite bounds, ascending; +Inf is implicit
  // counts[i]: observations v with upper_bounds[i-1] < v <= upper_bounds[i] (not cumulative);
  // counts.back() (index upper_bounds.size()) is the +Inf bucket.
  std::vector<uint64_t> counts;
  uint64_t count = 0;  // sum of counts
  double sum = 0.0;    // sum of the observed values
};

class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 32;

  // REQUIRES: 1 <= upper_bounds.size() <= kMaxBuckets, finite and strictly increasing
  // (checked: a violation is a programming error and aborts).
  explicit Histogram(std::span<const double> upper_bounds);
  Histogram(std::initializer_list<double> upper_bounds)
      : Histogram(std::span<const double>(upper_bounds.begin(), upper_bounds.size())) {}

  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records `value` `times` times (e.g. once per record of a batch that took `value`). NaN is
  // ignored (it has no bucket and would poison the sum).
  void Observe(double value, uint64_t times = 1) {
    if (value != value || times == 0) return;  // NaN
    size_t i = 0;
    while (i < num_bounds_ && value > bounds_[i]) ++i;
    counts_[i].fetch_add(times, std::memory_order_relaxed);
    sum_.fetch_add(value * static_cast<double>(times), std::memory_order_relaxed);
  }

  HistogramSnapshot Snapshot() const;
  std::span<const double> upper_bounds() const { return {bounds_.data(), num_bounds_}; }

 private:
  std::array<double, kMaxBuckets> bounds_{};
  size_t num_bounds_ = 0;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<double> sum_{0.0};
};

// Prometheus-style default bounds, in seconds.
// From a poll's return to the state update of its records: 0.5 ms .. 10 s.
inline constexpr std::array<double, 14> kProcessingLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// One commit cycle (flush + state write + group commit): 1 ms .. 60 s (the flush timeout).
inline constexpr std::array<double, 15> kCommitDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

}  // namespace learnflow
