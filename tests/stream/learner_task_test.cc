#include "stream/learner_task.h"

#include "operators/cohort_signals.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

struct Emitted {
  std::string key;
  std::string value;
  bool operator==(const Emitted&) const = default;
};

CanonicalEvent Event(std::string_view id, std::string_view learner, TimestampMs t) {
  CanonicalEvent e;
  e.event_id = id;
  e.learner_id = learner;
  e.course_id = "course";
  e.cohort_id = "cohort";
  e.item_id = "item";
  e.skill_id = "item";
  e.event_time_ms = t;
  e.kind = EventKind::kView;
  return e;
}

class LearnerTaskTest : public ::testing::Test {
 protected:
  static constexpr TimestampMs kHour = kMsPerHour;
  static constexpr TimestampMs kMinute = kMsPerMinute;
  LearnerSignalsOperator op_{SignalParams{.window_size_ms = kHour, .grace_ms = 5 * kMinute}};
  LearnerTaskOptions options_{.max_out_of_orderness_ms = kMinute};

  // Collects the learner-signals records a task emits.
  class Collector final : public TaskOutput {
   public:
    Status Emit(Output output, std::string_view key, std::string_view value) override {
      EXPECT_EQ(output, Output::kLearnerSignals);
      out.push_back({std::string(key), std::string(value)});
      return Status::Ok();
    }
    Status Repartition(std::string_view, std::string_view) override { return Status::Ok(); }
    Status Broadcast(std::string_view) override { return Status::Ok(); }
    void OnCohortWindow(std::string_view, const CohortWindowSummary&, bool) override {}
    std::vector<Emitted> out;
  };

  std::vector<Emitted> Drain(LearnerTask& task) {
    Collector collector;
    StatusOr<size_t> n = task.EmitFinal(collector);
    EXPECT_OK(n.status());
    return std::move(collector.out);
  }
};

TEST_F(LearnerTaskTest, BoundedShuffleGivesTheSameWindowsAsSortedInput) {
  // 600 events of 7 learners over 5 hours, one every 30 s, then a closer.
  std::vector<std::string> ids, learners;
  std::vector<TimestampMs> times;
  for (int i = 0; i < 600; ++i) {
    ids.push_back("e" + std::to_string(i));
    learners.push_back("learner-" + std::to_string(i % 7));
    times.push_back(i * 30 * 1000);
  }
  std::vector<size_t> sorted(600);
  for (size_t i = 0; i < sorted.size(); ++i) sorted[i] = i;
  // Shuffle within blocks of 3 consecutive events (spanning 60 s = max out-of-orderness).
  std::vector<size_t> shuffled = sorted;
  std::mt19937 rng(7);
  for (size_t i = 0; i + 3 <= shuffled.size(); i += 3) std::shuffle(shuffled.begin() + i, shuffled.begin() + i + 3, rng);

  auto run = [&](const std::vector<size_t>& order) {
    LearnerTask task(0, op_, options_);
    std::vector<Emitted> out;
    for (size_t i : order) {
      EXPECT_EQ(task.Process(Event(ids[i], learners[i], times[i])), LearnerTask::Outcome::kCounted);
      for (Emitted& e : Drain(task)) out.push_back(std::move(e));
    }
    task.Process(Event("closer", "z", 10 * kHour));
    for (Emitted& e : Drain(task)) out.push_back(std::move(e));
    std::sort(out.begin(), out.end(), [](const Emitted& a, const Emitted& b) { return a.value < b.value; });
    return out;
  };
  const std::vector<Emitted> a = run(sorted);
  const std::vector<Emitted> b = run(shuffled);
  EXPECT_EQ(a.size(), 5u * 7u);
  EXPECT_EQ(a, b);
}

TEST_F(LearnerTaskTest, EventForAFinalWindowIsLateAndChangesNothing) {
  LearnerTask task(0, op_, options_);
  EXPECT_EQ(task.Process(Event("a", "l", 10 * kMinute)), LearnerTask::Outcome::kCounted);
  // Watermark 1:05 - 1 min = 1:04: [0, 1h) not final yet (needs 1:05).
  EXPECT_EQ(task.Process(Event("b", "l", kHour + 5 * kMinute)), LearnerTask::Outcome::kCounted);
  EXPECT_TRUE(Drain(task).empty());
  EXPECT_EQ(task.Process(Event("c", "l", 59 * kMinute)), LearnerTask::Outcome::kCounted);
  // Watermark 1:05: final.
  EXPECT_EQ(task.Process(Event("d", "l", kHour + 6 * kMinute)), LearnerTask::Outcome::kCounted);
  const std::vector<Emitted> out = Drain(task);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].value.find(R"("events":2,)"), std::string::npos) << out[0].value;
  EXPECT_TRUE(task.IsLate(30 * kMinute));
  EXPECT_EQ(task.Process(Event("e", "l", 30 * kMinute)), LearnerTask::Outcome::kLate);
  EXPECT_TRUE(Drain(task).empty());
}

TEST_F(LearnerTaskTest, DuplicateEventIdCountsOnce) {
  LearnerTask task(0, op_, options_);
  EXPECT_EQ(task.Process(Event("same", "l", kMinute)), LearnerTask::Outcome::kCounted);
  EXPECT_EQ(task.Process(Event("same", "l", kMinute)), LearnerTask::Outcome::kDuplicate);
  task.Process(Event("closer", "z", 3 * kHour));
  const std::vector<Emitted> out = Drain(task);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].value.find(R"("events":1,)"), std::string::npos) << out[0].value;
}

TEST_F(LearnerTaskTest, CheckpointRestoresOpenWindowsPositionAndWatermark) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  {
    LearnerTask task(3, op_, options_);
    ASSERT_OK(task.Load(**store));
    EXPECT_EQ(task.next_offset(), kOffsetFromGroup);
    task.Process(Event("a", "l", 10 * kMinute));
    task.Consumed(0);
    task.Process(Event("b", "l", kHour + 10 * kMinute));  // closes [0, 1h)
    task.Consumed(1);
    EXPECT_EQ(Drain(task).size(), 1u);
    StateBatch batch(**store);
    task.Checkpoint(batch);
    ASSERT_OK((*store)->Write(batch));
  }
  LearnerTask restored(3, op_, options_);
  ASSERT_OK(restored.Load(**store));
  EXPECT_EQ(restored.next_offset(), 2);
  EXPECT_EQ(restored.watermark(), kHour + 9 * kMinute);
  EXPECT_EQ(restored.open_windows(), 1u) << "the emitted window is dropped, the open one kept";
  EXPECT_TRUE(restored.IsLate(20 * kMinute));
  restored.Process(Event("c", "l", kHour + 20 * kMinute));
  restored.Process(Event("closer", "z", 5 * kHour));
  const std::vector<Emitted> out = Drain(restored);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "l");
  EXPECT_NE(out[0].value.find(R"("window_start":"1970-01-01T01:00:00.000Z")"), std::string::npos);
  EXPECT_NE(out[0].value.find(R"("events":2,)"), std::string::npos) << out[0].value;
}

// An unsettled commit: its changes go to the changelog first and its closing "P" only when asked
// (after the engine's flush); its local checkpoint points a restore at that "P". A restart
// restoring from there reads the "P" alone: the state and position stay those of the checkpoint
// and nothing needs rewriting. Records of a later commit after it do need the rewrite.
TEST_F(LearnerTaskTest, ARestoreFromTheCheckpointsOwnPositionRecordChangesNothing) {
  struct LogRecord {
    std::string key;
    std::string value;
  };
  std::vector<LogRecord> log;
  const ChangelogFn append = [&](std::string_view key, const std::string_view* value) {
    log.push_back({std::string(key), value ? std::string(*value) : std::string()});
    return Status::Ok();
  };
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  LearnerTask original(2, op_, options_);
  ASSERT_OK(original.Load(**store));
  original.Process(Event("a", "l1", 10 * kMinute));
  original.Process(Event("b", "l2", 20 * kMinute));
  original.Consumed(1);
  StatusOr<bool> wrote = original.WriteChangelog(append, /*with_position=*/false);
  ASSERT_OK(wrote.status());
  EXPECT_TRUE(*wrote);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.back().key, "P") << "the position record waits";
  const auto position_at = static_cast<int64_t>(log.size());
  {
    StateBatch batch(**store);
    original.Checkpoint(batch, position_at);  // at the "P", as an unsettled commit does
    ASSERT_OK((*store)->Write(batch));
  }
  ASSERT_OK(original.WritePosition(append));
  ASSERT_EQ(log.size(), static_cast<size_t>(position_at) + 1);
  EXPECT_EQ(log.back().key, "P");
  ASSERT_OK(original.WritePosition(append));
  EXPECT_EQ(log.size(), static_cast<size_t>(position_at) + 1) << "sent once";

  LearnerTask restarted(2, op_, options_);
  ASSERT_OK(restarted.Load(**store));
  EXPECT_EQ(restarted.changelog_next(), position_at);
  const std::string_view p(log.back().value);
  ASSERT_OK(restarted.ApplyChangelog(position_at, "P", &p));
  restarted.FinishRestore();
  EXPECT_EQ(restarted.next_offset(), 2);
  EXPECT_EQ(restarted.changelog_next(), position_at + 1);
  EXPECT_EQ(restarted.open_windows(), 2u);
  StateBatch batch(**store);
  restarted.Checkpoint(batch);
  EXPECT_EQ(batch.Count(), 1u) << "the position only, no rewrite of the partition";

  // A later commit's records before a "P" are applied, and then the state is rewritten.
  original.Process(Event("c", "l3", 30 * kMinute));
  original.Consumed(2);
  const size_t later = log.size();
  ASSERT_OK(original.WriteChangelog(append).status());
  LearnerTask behind(2, op_, options_);
  ASSERT_OK(behind.Load(**store));
  for (size_t i = later; i < log.size(); ++i) {
    const std::string_view value(log[i].value);
    ASSERT_OK(behind.ApplyChangelog(static_cast<int64_t>(i), log[i].key, &value));
  }
  behind.FinishRestore();
  EXPECT_EQ(behind.open_windows(), 3u);
  StateBatch rewrite(**store);
  behind.Checkpoint(rewrite);
  EXPECT_GT(rewrite.Count(), 4u) << "the range delete and every entry";
}

// A learner with several open windows at once (two cohorts, two hours, opened out of order):
// emitting some leaves the others reachable from the learner, and later events land in them,
// not in new windows.
TEST_F(LearnerTaskTest, ALearnersOtherOpenWindowsStayReachableWhenSomeAreEmitted) {
  LearnerTask task(0, op_, options_);
  auto in = [](std::string_view id, std::string_view cohort, TimestampMs t) {
    CanonicalEvent e = Event(id, "l", t);
    e.cohort_id = cohort;
    return e;
  };
  task.Process(in("a1", "A", 61 * kMinute));  // [1h, 2h) of A opens first
  task.Process(in("b1", "B", 59 * kMinute));  // then [0, 1h) of B and of A, within the grace
  task.Process(in("a0", "A", 30 * kMinute));
  task.Process(in("a2", "A", 66 * kMinute));  // the watermark passes [0, 1h) and its grace
  EXPECT_EQ(task.open_windows(), 3u);
  std::vector<Emitted> out = Drain(task);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].value.find(R"("cohort_id":"A")"), std::string::npos) << out[0].value;
  EXPECT_NE(out[1].value.find(R"("cohort_id":"B")"), std::string::npos) << out[1].value;
  EXPECT_EQ(task.open_windows(), 1u);
  task.Process(in("a3", "A", 70 * kMinute));  // the open [1h, 2h) window of cohort A
  task.Process(in("b2", "B", 80 * kMinute));  // a new one of cohort B
  EXPECT_EQ(task.open_windows(), 2u);
  task.Process(Event("closer", "z", 3 * kHour));
  out = Drain(task);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].value.find(R"("cohort_id":"A")"), std::string::npos) << out[0].value;
  EXPECT_NE(out[0].value.find(R"("events":3,)"), std::string::npos) << out[0].value;
  EXPECT_NE(out[1].value.find(R"("cohort_id":"B")"), std::string::npos) << out[1].value;
  EXPECT_NE(out[1].value.find(R"("events":1,)"), std::string::npos) << out[1].value;
}

TEST_F(LearnerTaskTest, FinalWindowsComeInWindowEndLearnerCohortOrder) {
  LearnerTask task(0, op_, options_);
  // Opened in an order unlike the key order: the second hour first, learners and cohorts mixed.
  struct Open {
    const char* learner;
    const char* cohort;
    TimestampMs t;
  };
  const std::vector<Open> opens = {{"m", "c2", kHour + kMinute}, {"b", "c1", kHour + 2 * kMinute},
                                   {"m", "c1", 10 * kMinute},    {"b", "c2", 11 * kMinute},
                                   {"a", "c9", 12 * kMinute},    {"b", "c1", 13 * kMinute}};
  int n = 0;
  for (const Open& open : opens) {
    const std::string id = "e" + std::to_string(n++);  // the event views it
    CanonicalEvent e = Event(id, open.learner, open.t);
    e.cohort_id = open.cohort;
    ASSERT_EQ(task.Process(e), LearnerTask::Outcome::kCounted) << open.learner << open.cohort;
  }
  EXPECT_TRUE(Drain(task).empty()) << "no window is final yet";
  task.Process(Event("closer", "z", 3 * kHour));
  const std::vector<Emitted> out = Drain(task);
  const std::vector<Open> expected = {{"a", "c9", kHour}, {"b", "c1", kHour}, {"b", "c2", kHour},
                                      {"m", "c1", kHour}, {"b", "c1", 2 * kHour},
                                      {"m", "c2", 2 * kHour}};
  ASSERT_EQ(out.size(), expected.size());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].key, expected[i].learner) << i;
    EXPECT_NE(out[i].value.find(std::string(R"("cohort_id":")") + expected[i].cohort + "\""),
              std::string::npos)
        << i << ": " << out[i].value;
    const std::string end = expected[i].t == kHour ? "01:00" : "02:00";
    EXPECT_NE(out[i].value.find(R"("window_end":"1970-01-01T)" + end), std::string::npos)
        << i << ": " << out[i].value;
  }
}

TEST_F(LearnerTaskTest, WindowsNotSentBecauseTheOutputFailedAreSentByTheNextEmit) {
  class FailsSecondEmit final : public TaskOutput {
   public:
    Status Emit(Output, std::string_view key, std::string_view) override {
      if (++calls == 2) return UnavailableError("brokers unreachable");
      keys.emplace_back(key);
      return Status::Ok();
    }
    Status Repartition(std::string_view, std::string_view) override { return Status::Ok(); }
    Status Broadcast(std::string_view) override { return Status::Ok(); }
    void OnCohortWindow(std::string_view, const CohortWindowSummary&, bool) override {}
    int calls = 0;
    std::vector<std::string> keys;
  };
  LearnerTask task(0, op_, options_);
  for (const char* learner : {"c", "a", "b"}) task.Process(Event(learner, learner, 10 * kMinute));
  task.Process(Event("closer", "z", 3 * kHour));
  FailsSecondEmit failing;
  EXPECT_EQ(task.EmitFinal(failing).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failing.keys, std::vector<std::string>{"a"});
  EXPECT_EQ(task.open_windows(), 3u) << "b and c kept, and the closer's open window";
  const std::vector<Emitted> out = Drain(task);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, "b");
  EXPECT_EQ(out[1].key, "c");
  EXPECT_TRUE(Drain(task).empty()) << "each window is sent once";
}


TEST_F(LearnerTaskTest, ChangelogReplayRebuildsStateAndIgnoresACommitCutShort) {
  struct LogRecord {
    std::string key;
    std::string value;
    bool tombstone;
  };
  std::vector<LogRecord> log;
  const ChangelogFn append = [&](std::string_view key, const std::string_view* value) {
    log.push_back({std::string(key), value ? std::string(*value) : std::string(), value == nullptr});
    return Status::Ok();
  };
  LearnerTask original(0, op_, options_);
  original.Process(Event("a", "l1", 10 * kMinute));
  original.Process(Event("b", "l2", 20 * kMinute));
  original.Consumed(1);
  StatusOr<bool> wrote = original.WriteChangelog(append);
  ASSERT_OK(wrote.status());
  EXPECT_TRUE(*wrote);
  StatusOr<bool> again = original.WriteChangelog(append);
  ASSERT_OK(again.status());
  EXPECT_FALSE(*again) << "nothing changed since the last commit";
  // Second commit: l1's window closes (tombstone), a new window opens.
  original.Process(Event("c", "l1", kHour + 10 * kMinute));
  original.Consumed(2);
  EXPECT_EQ(Drain(original).size(), 2u);
  ASSERT_OK(original.WriteChangelog(append).status());
  const size_t complete = log.size();
  // A third commit cut short by a crash: its window record made it, its 'P' did not.
  original.Process(Event("d", "l3", kHour + 11 * kMinute));
  original.Consumed(3);
  ASSERT_OK(original.WriteChangelog(append).status());
  log.pop_back();
  ASSERT_EQ(log[complete - 1].key, "P");

  LearnerTask restored(0, op_, options_);
  for (size_t i = 0; i < log.size(); ++i) {
    const std::string_view value(log[i].value);
    ASSERT_OK(restored.ApplyChangelog(static_cast<int64_t>(i), log[i].key,
                                      log[i].tombstone ? nullptr : &value));
  }
  restored.FinishRestore();
  EXPECT_EQ(restored.next_offset(), 3) << "the position of the last complete commit (after offset 2)";
  EXPECT_EQ(restored.changelog_next(), static_cast<int64_t>(complete));
  EXPECT_EQ(restored.open_windows(), 1u);
  EXPECT_EQ(restored.watermark(), kHour + 9 * kMinute);
  // The next commit overrides the cut records' keys (l3's window and learner state are not in
  // this state): a later restore of the whole log, cut records included, must not bring them back.
  const size_t before_override = log.size();
  ASSERT_OK(restored.WriteChangelog(append).status());
  ASSERT_EQ(log.size(), before_override + (before_override - complete) + 1) << "tombstones + P";
  for (size_t i = complete; i < before_override; ++i) {
    const auto it = std::find_if(log.begin() + static_cast<std::ptrdiff_t>(before_override), log.end(),
                                 [&](const LogRecord& r) { return r.key == log[i].key; });
    ASSERT_NE(it, log.end()) << "cut record " << i << " not overridden";
    EXPECT_TRUE(it->tombstone);
  }
  EXPECT_EQ(log.back().key, "P");
  LearnerTask third(0, op_, options_);
  for (size_t i = 0; i < log.size(); ++i) {
    const std::string_view value(log[i].value);
    ASSERT_OK(third.ApplyChangelog(static_cast<int64_t>(i), log[i].key, log[i].tombstone ? nullptr : &value));
  }
  third.FinishRestore();
  EXPECT_EQ(third.open_windows(), 1u);
  // Replaying the input after that position gives what the original gives.
  for (LearnerTask* task : {&original, &restored}) {
    if (task == &restored) task->Process(Event("d", "l3", kHour + 11 * kMinute));
    task->Process(Event("z", "l9", 5 * kHour));
  }
  EXPECT_EQ(Drain(restored), Drain(original));
}

TEST_F(LearnerTaskTest, SystemEventsMoveEventTimeButOpenNoWindow) {
  LearnerTask task(0, op_, options_);
  CanonicalEvent launched = Event("s", "l", 10 * kMinute);
  launched.kind = EventKind::kSystem;
  EXPECT_EQ(task.Process(launched), LearnerTask::Outcome::kNotCounted);
  EXPECT_EQ(task.open_windows(), 0u);
  EXPECT_EQ(task.watermark(), 9 * kMinute);
}

TEST_F(LearnerTaskTest, APartitionWithoutRecordsForTheIdleTimeoutSaysSoOnceThenResumes) {
  LearnerTask task(1, op_, LearnerTaskOptions{.max_out_of_orderness_ms = kMinute,
                                              .input_partitions = 2, .idle_timeout_ms = 1000});
  class Markers final : public TaskOutput {
   public:
    Status Emit(Output, std::string_view, std::string_view) override { return Status::Ok(); }
    Status Repartition(std::string_view, std::string_view) override { return Status::Ok(); }
    Status Broadcast(std::string_view value) override {
      LearnerSummary s;
      WatermarkMarker m;
      EXPECT_EQ(ParseRepartitionRecord(value, s, m), RepartitionRecordType::kMarker);
      markers.push_back(m);
      return Status::Ok();
    }
    void OnCohortWindow(std::string_view, const CohortWindowSummary&, bool) override {}
    std::vector<WatermarkMarker> markers;
  } out;
  task.MarkActive(5000);
  task.Process(Event("a", "l", 2 * kHour));
  ASSERT_OK(task.EmitFinal(out, 5000).status());
  ASSERT_EQ(out.markers.size(), 1u);
  EXPECT_FALSE(out.markers[0].idle);
  EXPECT_EQ(out.markers[0].upstream_partition, 1);
  EXPECT_EQ(out.markers[0].upstream_count, 2);
  EXPECT_EQ(out.markers[0].bound, kHour);
  ASSERT_OK(task.EmitFinal(out, 5999).status());
  EXPECT_EQ(out.markers.size(), 1u) << "not idle yet";
  ASSERT_OK(task.EmitFinal(out, 6000).status());
  ASSERT_EQ(out.markers.size(), 2u);
  EXPECT_TRUE(out.markers[1].idle);
  ASSERT_OK(task.EmitFinal(out, 9000).status());
  EXPECT_EQ(out.markers.size(), 2u) << "idleness is said once";
  task.MarkActive(9500);
  task.Process(Event("b", "l", 2 * kHour + kMinute));
  ASSERT_OK(task.EmitFinal(out, 9500).status());
  ASSERT_EQ(out.markers.size(), 3u);
  EXPECT_FALSE(out.markers[2].idle) << "active again, with its bound";
  EXPECT_EQ(out.markers[2].bound, kHour);
}

TEST_F(LearnerTaskTest, CorruptChangelogRecordIsAnError) {
  LearnerTask task(0, op_, options_);
  const std::string_view short_position("12345");
  EXPECT_FALSE(task.ApplyChangelog(0, "P", &short_position).ok());
  EXPECT_FALSE(task.ApplyChangelog(1, "X-unknown", nullptr).ok());
}

}  // namespace
}  // namespace learnflow
