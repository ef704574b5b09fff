#include "core/histogram.h"

#include <cmath>
#include <string>

#include "core/check.h"

namespace learnflow {

Histogram::Histogram(std::span<const double> upper_bounds) : num_bounds_(upper_bounds.size()) {
  LF_CHECK(!upper_bounds.empty() && upper_bounds.size() <= kMaxBuckets,
           "histogram needs 1.." + std::to_string(kMaxBuckets) + " bucket bounds, got " +
               std::to_string(upper_bounds.size()));
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    LF_CHECK(std::isfinite(upper_bounds[i]), "histogram bucket bounds must be finite");
    LF_CHECK(i == 0 || upper_bounds[i - 1] < upper_bounds[i],
             "histogram bucket bounds must be strictly increasing");
    bounds_[i] = upper_bounds[i];
  }
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  s.upper_bounds.assign(bounds_.begin(),
                        bounds_.begin() + static_cast<std::ptrdiff_t>(num_bounds_));
  s.counts.resize(num_bounds_ + 1);
  for (size_t i = 0; i <= num_bounds_; ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace learnflow
