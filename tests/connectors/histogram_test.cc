#include "core/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace learnflow {
namespace {

TEST(HistogramTest, EmptySnapshot) {
  Histogram h({0.1, 1, 10});
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{0.1, 1, 10}));
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{0, 0, 0, 0}));
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum, 0.0);
}

TEST(HistogramTest, UpperBoundsAreInclusive) {
  Histogram h({0.1, 1, 10});
  h.Observe(-5);   // below every bound: first bucket
  h.Observe(0.1);  // le=0.1
  h.Observe(0.10001);
  h.Observe(1);     // le=1
  h.Observe(10);    // le=10
  h.Observe(10.5);  // +Inf
  h.Observe(std::numeric_limits<double>::infinity());
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{2, 2, 1, 2}));
  EXPECT_EQ(s.count, 7u);
}

TEST(HistogramTest, SumAndCount) {
  Histogram h({1, 2});
  h.Observe(0.25);
  h.Observe(1.5);
  h.Observe(3);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_DOUBLE_EQ(s.sum, 4.75);
  EXPECT_EQ(s.count, 3u);
}

TEST(HistogramTest, ObserveManyTimesCountsEachTime) {
  Histogram h({1, 2});
  h.Observe(1.5, 400);  // one batch of 400 records
  h.Observe(0.5);
  h.Observe(3, 0);  // nothing
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.counts, (std::vector<uint64_t>{1, 400, 0}));
  EXPECT_EQ(s.count, 401u);
  EXPECT_DOUBLE_EQ(s.sum, 600.5);
}

TEST(HistogramTest, IgnoresNaN) {
  Histogram h({1});
  h.Observe(std::nan(""));
  h.Observe(0.5);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.sum, 0.5);
}

TEST(HistogramTest, DefaultEngineBucketsAreValid) {
  Histogram processing(kProcessingLatencyBuckets);
  Histogram commit(kCommitDurationBuckets);
  EXPECT_EQ(processing.upper_bounds().size(), kProcessingLatencyBuckets.size());
  EXPECT_EQ(commit.upper_bounds().back(), 60.0);
}

TEST(HistogramDeathTest, RejectsUnsortedBounds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(Histogram({1.0, 0.5}), "strictly increasing");
  EXPECT_DEATH(Histogram(std::span<const double>()), "bucket bounds");
}

// One writer, one concurrent reader: every snapshot is internally consistent (count is the sum
// of the buckets) and never goes backwards; the final one is exact.
TEST(HistogramTest, ConcurrentReaderSeesMonotonicConsistentSnapshots) {
  Histogram h({1, 2, 3});
  constexpr int kObservations = 200000;
  std::thread writer([&h] {
    for (int i = 0; i < kObservations; ++i) h.Observe(static_cast<double>(i % 4) + 0.5);
  });
  HistogramSnapshot previous = h.Snapshot();
  bool consistent = true;
  for (int i = 0; i < 2000; ++i) {
    const HistogramSnapshot s = h.Snapshot();
    uint64_t total = 0;
    for (size_t b = 0; b < s.counts.size(); ++b) {
      total += s.counts[b];
      if (s.counts[b] < previous.counts[b]) consistent = false;
    }
    if (total != s.count) consistent = false;
    previous = s;
  }
  writer.join();
  EXPECT_TRUE(consistent);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.counts, (std::vector<uint64_t>(4, kObservations / 4)));
  EXPECT_DOUBLE_EQ(s.sum, (0.5 + 1.5 + 2.5 + 3.5) * (kObservations / 4));
}

}  // namespace
}  // namespace learnflow
