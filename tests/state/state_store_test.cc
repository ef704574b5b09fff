#include "state/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "state/window_key.h"
#include "tests/testing/scratch_mount.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

std::vector<std::string> Keys(const StateStore& store, Family family) {
  std::vector<std::string> keys;
  EXPECT_OK(store.Scan(family, std::string(1, '\0'), std::string(16, '\xff'),
                       [&](std::string_view k, std::string_view) {
                         keys.emplace_back(k);
                         return true;
                       }));
  return keys;
}

TEST(StateStoreTest, BatchIsAtomicAndSurvivesReopen) {
  testing::TempDir dir;
  {
    StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
    ASSERT_OK(store.status());
    StateBatch batch(**store);
    batch.Put(Family::kWindows, "w1", "state-1");
    batch.Put(Family::kMeta, "pos", "42");
    EXPECT_EQ(batch.Count(), 2u);
    ASSERT_OK((*store)->Write(batch));
  }
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  std::string value;
  bool found = false;
  ASSERT_OK((*store)->Get(Family::kMeta, "pos", value, found));
  EXPECT_TRUE(found);
  EXPECT_EQ(value, "42");
  ASSERT_OK((*store)->Get(Family::kWindows, "pos", value, found));
  EXPECT_FALSE(found) << "families are separate key spaces";
}

TEST(StateStoreTest, DeleteRangeDropsFinalWindowsOfOnePartitionOnly) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  StateBatch batch(**store);
  std::string key;
  for (int32_t partition : {0, 1}) {
    for (TimestampMs end : {-kMsPerHour, kMsPerHour, 2 * kMsPerHour, 3 * kMsPerHour}) {
      key.clear();
      AppendPartitionPrefix(key, partition);
      AppendLocalWindowKey(key, end, "learner", "cohort");
      batch.Put(Family::kWindows, key, "v");
    }
  }
  ASSERT_OK((*store)->Write(batch));
  batch.Clear();
  // Drop partition 0's windows ending at or before 2h (including the negative one).
  std::string begin, end;
  AppendPartitionPrefix(begin, 0);
  AppendPartitionTimeBound(end, 0, 2 * kMsPerHour + 1);
  batch.DeleteRange(Family::kWindows, begin, end);
  ASSERT_OK((*store)->Write(batch));

  std::vector<TimestampMs> remaining_p0, remaining_p1;
  for (const std::string& k : Keys(**store, Family::kWindows)) {
    WindowKeyParts parts;
    ASSERT_TRUE(ParseLocalWindowKey(std::string_view(k).substr(4), parts));
    EXPECT_EQ(parts.key1, "learner");
    EXPECT_EQ(parts.key2, "cohort");
    (ReadBigEndian32(k) == 0 ? remaining_p0 : remaining_p1).push_back(parts.window_end);
  }
  EXPECT_EQ(remaining_p0, (std::vector<TimestampMs>{3 * kMsPerHour}));
  EXPECT_EQ(remaining_p1, (std::vector<TimestampMs>{-kMsPerHour, kMsPerHour, 2 * kMsPerHour, 3 * kMsPerHour}));
}

// Commits write each partition's keys in key order, beside range deletes of the same partitions:
// the pattern the memtable's per-partition insertion hints serve (state_store.cc). Every round's
// store must equal a model of it, key for key.
TEST(StateStoreTest, SortedWritesAndRangeDeletesOfManyPartitionsKeepExactlyTheModelsKeys) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  std::map<std::string, std::string> windows;
  std::map<std::string, std::string> keyed;
  std::mt19937 rng(7);
  StateBatch batch(**store);
  std::string key;
  std::string end;
  for (int round = 0; round < 60; ++round) {
    const TimestampMs window_end = (round / 3 + 1) * kMsPerHour;
    for (int32_t partition = 0; partition < 3; ++partition) {
      std::vector<std::string> learners;
      for (int i = 0; i < 300; ++i) {
        // Some ids make keys too short for a hint ("p|a"): they are written without one.
        const int n = static_cast<int>(rng() % 2000);
        learners.push_back(n % 50 == 0 ? std::string(1, static_cast<char>('a' + n % 26))
                                       : "mailto:l" + std::to_string(100000 + n) + "@example.org");
      }
      std::sort(learners.begin(), learners.end());
      learners.erase(std::unique(learners.begin(), learners.end()), learners.end());
      const std::string value = "r" + std::to_string(round);
      for (const std::string& learner : learners) {
        key.clear();
        AppendPartitionPrefix(key, partition);
        AppendLocalWindowKey(key, window_end, learner, "cohort");
        batch.Put(Family::kWindows, key, value);
        windows[key] = value;
      }
      for (const std::string& learner : learners) {
        key = PartitionPrefix(partition) + learner;
        batch.Put(Family::kKeyed, key, value);
        keyed[key] = value;
      }
      if (round % 4 == 3) {  // windows that ended an hour ago are final: dropped by time
        key = PartitionPrefix(partition);
        end.clear();
        AppendPartitionTimeBound(end, partition, window_end - kMsPerHour + 1);
        batch.DeleteRange(Family::kWindows, key, end);
        windows.erase(windows.lower_bound(key), windows.lower_bound(end));
      }
      if (round % 10 == 9 && partition == 1) {  // a partition's table replaced, as after a restore
        key = PartitionPrefix(partition);
        end = PartitionPrefix(partition + 1);
        batch.DeleteRange(Family::kKeyed, key, end);
        keyed.erase(keyed.lower_bound(key), keyed.lower_bound(end));
      }
    }
    ASSERT_OK((*store)->Write(batch));
    batch.Clear();
    for (const auto& [family, model] : {std::pair{Family::kWindows, &windows},
                                        std::pair{Family::kKeyed, &keyed}}) {
      std::vector<std::pair<std::string, std::string>> stored;
      ASSERT_OK((*store)->Scan(family, std::string(1, '\0'), std::string(16, '\xff'),
                               [&](std::string_view k, std::string_view v) {
                                 stored.emplace_back(k, v);
                                 return true;
                               }));
      ASSERT_EQ(stored, (std::vector<std::pair<std::string, std::string>>(model->begin(),
                                                                          model->end())))
          << FamilyName(family) << ", round " << round;
    }
  }
  EXPECT_FALSE(windows.empty());
  EXPECT_FALSE(keyed.empty());
}

TEST(StateStoreDeathTest, RangeDeleteBeginningWithALongKeyIsRefused) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(store.status());
  StateBatch batch(**store);
  batch.DeleteRange(Family::kMeta, "pos/000000000000", "pos0");  // meta takes no hints
  EXPECT_EQ(batch.Count(), 1u);
  EXPECT_DEATH(batch.DeleteRange(Family::kWindows, std::string(13, 'a'), std::string(13, 'b')),
               "DeleteRange in windows: a begin key of 13 bytes");
}

TEST(StateStoreTest, BigEndianKeyPartsHaveTheirBytesInNumericOrder) {
  std::string out = "k";
  AppendBigEndian32(out, 0xA1B2C3D4u);
  AppendBigEndian64(out, 0x0102030405060708ULL);
  EXPECT_EQ(out, std::string("k\xA1\xB2\xC3\xD4\x01\x02\x03\x04\x05\x06\x07\x08", 13));
  EXPECT_EQ(ReadBigEndian32(std::string_view(out).substr(1)), 0xA1B2C3D4u);
  EXPECT_EQ(ReadBigEndian64(std::string_view(out).substr(5)), 0x0102030405060708ULL);
}

TEST(StateStoreTest, UnwritableDirectoryIsAClearError) {
  testing::TempDir dir;
  // Permissions do not stop root: as root, the parent is a read-only file system instead (EROFS
  // stops everyone).
  std::unique_ptr<testing::ScratchMount> read_only;
  std::string parent = dir.path();
  if (::geteuid() == 0) {
    StatusOr<std::unique_ptr<testing::ScratchMount>> mount =
        testing::ScratchMount::ReadOnlyTmpfs(dir.path() + "/read-only");
    if (!mount.ok()) GTEST_SKIP() << "root ignores directory permissions, and " << mount.status().message();
    read_only = std::move(*mount);
    parent = read_only->path();
  } else {
    ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  }
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = parent + "/state", .memory_mb = 16});
  EXPECT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError) << store.status().ToString();
  EXPECT_NE(store.status().message().find(parent + "/state"), std::string::npos) << store.status().ToString();
  ::chmod(dir.path().c_str(), 0700);
}

TEST(StateStoreTest, StateDirThatIsAFileIsAClearError) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = file, .memory_mb = 16});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
  EXPECT_NE(store.status().message().find(file), std::string::npos) << store.status().ToString();
}

TEST(StateStoreTest, SecondOpenOfTheSameDirIsRefused) {
  testing::TempDir dir;
  StatusOr<std::unique_ptr<StateStore>> first = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  ASSERT_OK(first.status());
  StatusOr<std::unique_ptr<StateStore>> second = StateStore::Open({.dir = dir.path(), .memory_mb = 16});
  EXPECT_FALSE(second.ok()) << "RocksDB's LOCK file must keep two engines off one state dir";
}

}  // namespace
}  // namespace learnflow
