#include "bench/bench_events.h"

#include <algorithm>
#include <numeric>
#include <string_view>

namespace learnflow::bench {
namespace {

constexpr TimestampMs kStartMs = 1767600000000;  // 2026-01-05T08:00:00Z
constexpr std::string_view kHex = "0123456789abcdef";

void AppendPadded(std::string& out, int64_t value, int width) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (int i = n; i < width; ++i) out += '0';
  while (n > 0) out += digits[--n];
}

}  // namespace

BenchEvents::BenchEvents(const BenchEventsOptions& options)
    : options_(options), rng_(options.seed * 0x9E3779B97F4A7C15ULL + 1) {
  options_.learners = std::max<int64_t>(1, options_.learners);
  options_.cohorts = std::clamp<int64_t>(options_.cohorts, 1, options_.learners);
  options_.skills = std::max(options_.skills, options_.cohorts);
  options_.active_sessions = std::clamp<int64_t>(options_.active_sessions, 1, options_.learners);
  events_per_session_ = options_.events_per_session > 0
                            ? options_.events_per_session
                            : std::clamp<int64_t>(options_.events / options_.learners, 2, 8);
  // A stride coprime with the learner count visits every learner once per `learners` sessions,
  // in an order that spreads them over cohorts and partitions.
  stride_ = 7919;
  while (std::gcd(stride_, static_cast<uint64_t>(options_.learners)) != 1) ++stride_;
  slots_.resize(static_cast<size_t>(options_.active_sessions));
  for (Slot& slot : slots_) {
    slot.learner = NextLearner();
    slot.left = events_per_session_;
  }
}

uint64_t BenchEvents::Random() {  // splitmix64
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t BenchEvents::NextLearner() {
  const auto learners = static_cast<uint64_t>(options_.learners);
  return static_cast<int64_t>((static_cast<uint64_t>(started_++) * stride_) % learners);
}

bool BenchEvents::Next(BenchEvent& out) {
  if (produced_ >= options_.events) return false;
  Slot& slot = slots_[Random() % slots_.size()];
  const int64_t learner = slot.learner;
  if (--slot.left == 0) {
    slot.learner = NextLearner();
    slot.left = events_per_session_;
  }
  const int64_t cohort = learner % options_.cohorts;
  const int64_t skills_per_cohort = options_.skills / options_.cohorts;
  const int64_t skill = cohort * skills_per_cohort +
                        static_cast<int64_t>(Random() % static_cast<uint64_t>(skills_per_cohort));
  const uint64_t roll = Random() % 100;
  const TimestampMs t =
      kStartMs + static_cast<TimestampMs>(static_cast<double>(produced_) * options_.ms_per_event);

  out.learner = learner;
  out.event_time_ms = t;
  out.key.assign("mailto:l");
  AppendPadded(out.key, learner, 7);
  out.key += "@example.org";

  std::string& p = out.payload;
  p.assign(R"({"id":")");
  const uint64_t a = Random();
  const uint64_t b = Random();
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) p += '-';
    p += kHex[((i < 16 ? a : b) >> ((i % 16) * 4)) & 0xF];
  }
  p += R"(","actor":{"mbox":")";
  p += out.key;
  p += R"("},"verb":{"id":"http://adlnet.gov/expapi/verbs/)";
  std::string_view verb;
  if (roll < 55) {
    verb = "answered";
  } else if (roll < 85) {
    verb = "experienced";
  } else if (roll < 95) {
    verb = "asked";
  } else {
    verb = "completed";
  }
  p += verb;
  // The activity is the skill's item: item_id = skill_id.
  p += R"("},"object":{"id":"https://lms.example.org/s/)";
  AppendPadded(p, skill, 4);
  p += R"("},)";
  if (roll < 55) {
    // Cohort 1 struggles (30 % correct); elsewhere 75 %.
    const uint64_t percent = cohort == 1 ? 30 : 75;
    p += (Random() % 100 < percent) ? R"("result":{"success":true},)"
                                    : R"("result":{"success":false},)";
  }
  p += R"("context":{"extensions":{"https://learnflow.dev/xapi/cohort":"cohort-)";
  AppendPadded(p, cohort, 3);
  p += R"("}},"timestamp":")";
  AppendIso8601Millis(t, p);
  p += R"("})";
  ++produced_;
  return true;
}

}  // namespace learnflow::bench
