// KeyedTable across several changelog writes between two checkpoints (the engine checkpoints
// every state.checkpoint_interval_ms, and commits in between write only the changelog).
#include "stream/keyed_table.h"

#include <gtest/gtest.h>

#include <charconv>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "state/window_key.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

struct Counter {
  int64_t n = 0;
  void Encode(std::string& out) const { out += std::to_string(n); }
  Status Decode(std::string_view in) {
    const auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), n);
    if (ec != std::errc() || end != in.data() + in.size()) return InternalError("not a number");
    return Status::Ok();
  }
};

using Table = KeyedTable<Counter, /*kOrdered=*/false>;
using Records = std::vector<std::pair<std::string, std::string>>;

class KeyedTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir_.path(), .memory_mb = 16});
    ASSERT_OK(store.status());
    store_ = std::move(*store);
  }

  void Bump(std::string_view key) {
    Table::Entry& entry = table_.FindOrCreate(key);
    ++entry.value.n;
    table_.MarkChanged(entry);
  }
  // The records of one changelog write: (tag + key, value or "-" for a tombstone).
  Records WriteChangelog() {
    Records sent;
    const ChangelogFn send = [&](std::string_view key, const std::string_view* value) {
      sent.emplace_back(std::string(key), value != nullptr ? std::string(*value) : "-");
      return Status::Ok();
    };
    EXPECT_OK(table_.WriteChangelog(send).status());
    return sent;
  }
  // Checkpoints into the store; returns the number of operations in the batch.
  size_t Checkpoint() {
    StateBatch batch(*store_);
    table_.Checkpoint(batch, /*rewrite=*/false);
    const size_t n = batch.Count();
    EXPECT_OK(store_->Write(batch));
    return n;
  }
  // The stored value of `key`, or "absent".
  std::string Stored(std::string_view key) {
    std::string value;
    bool found = false;
    EXPECT_OK(store_->Get(Family::kKeyed, PartitionPrefix(0) + std::string(key), value, found));
    return found ? value : "absent";
  }

  testing::TempDir dir_;
  std::unique_ptr<StateStore> store_;
  Table table_{'C', Family::kKeyed, PartitionPrefix(0)};
};

TEST_F(KeyedTableTest, EachChangelogWriteCarriesOnlyItsOwnChangesAndTheCheckpointEachEntryOnce) {
  Bump("b");
  Bump("a");
  Bump("b");
  EXPECT_EQ(WriteChangelog(), (Records{{"Cb", "2"}, {"Ca", "1"}}));
  // A second commit without a checkpoint: only what changed since the first.
  Bump("c");
  Bump("b");
  EXPECT_EQ(WriteChangelog(), (Records{{"Cc", "1"}, {"Cb", "3"}}));
  // A logged entry erased before any checkpoint: a tombstone, and nothing stored for it.
  table_.Erase(table_.entries().find("c"), /*delete_in_store=*/true);
  EXPECT_EQ(WriteChangelog(), (Records{{"Cc", "-"}}));
  EXPECT_EQ(WriteChangelog(), Records{});

  // The checkpoint writes a and b once each, with their latest values, and c's delete.
  EXPECT_EQ(Checkpoint(), 3u);
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("b"), "3");
  EXPECT_EQ(Stored("c"), "absent");
  // Nothing changed since: nothing to write, neither to the changelog nor to the store.
  EXPECT_EQ(WriteChangelog(), Records{});
  EXPECT_EQ(Checkpoint(), 0u);

  // After the checkpoint only new changes go anywhere.
  Bump("a");
  EXPECT_EQ(WriteChangelog(), (Records{{"Ca", "2"}}));
  EXPECT_EQ(Checkpoint(), 1u);
  EXPECT_EQ(Stored("a"), "2");
  EXPECT_EQ(Stored("b"), "3");
}

// A checkpoint that runs before the changelog write of its changes (not the engine's order, but
// the table must not lose them): the entries are stored and still go to the next changelog write.
TEST_F(KeyedTableTest, ChangesNotYetLoggedAtACheckpointStillGoToTheChangelog) {
  Bump("x");
  Bump("y");
  EXPECT_EQ(WriteChangelog(), (Records{{"Cx", "1"}, {"Cy", "1"}}));
  Bump("y");
  Bump("z");
  EXPECT_EQ(Checkpoint(), 3u);
  EXPECT_EQ(Stored("y"), "2");
  EXPECT_EQ(Stored("z"), "1");
  EXPECT_EQ(WriteChangelog(), (Records{{"Cy", "2"}, {"Cz", "1"}}));
  // Listed again for the changelog only: already in the store.
  EXPECT_EQ(Checkpoint(), 0u);
}

}  // namespace
}  // namespace learnflow
