#include "core/block_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace learnflow {
namespace {

// Each test runs on a thread of its own: a fresh pool, emptied when the thread exits.
template <typename Body>
void OnNewThread(Body body) {
  std::thread thread(body);
  thread.join();
}

TEST(BlockPoolTest, AFreedBlockServesTheNextAllocationOfItsSizeClass) {
  OnNewThread([] {
    void* block = AllocateBlock(100);
    FreeBlock(block, 100);
    EXPECT_EQ(PooledBytes(), 112u);  // 100 bytes take a block of 112
    void* other_class = AllocateBlock(120);
    EXPECT_NE(other_class, block);
    EXPECT_EQ(PooledBytes(), 112u);
    void* same_class = AllocateBlock(97);
    EXPECT_EQ(same_class, block);
    EXPECT_EQ(PooledBytes(), 0u);
    FreeBlock(same_class, 97);
    FreeBlock(other_class, 120);
    EXPECT_EQ(PooledBytes(), 240u);
  });
}

TEST(BlockPoolTest, HandsOutTheLastFreedBlockFirst) {
  OnNewThread([] {
    void* first = AllocateBlock(64);
    void* second = AllocateBlock(64);
    FreeBlock(first, 64);
    FreeBlock(second, 64);
    EXPECT_EQ(AllocateBlock(64), second);
    EXPECT_EQ(AllocateBlock(64), first);
    FreeBlock(first, 64);
    FreeBlock(second, 64);
  });
}

TEST(BlockPoolTest, KeepsNoMoreThanItsCap) {
  OnNewThread([] {
    constexpr size_t kBytes = 512;
    std::vector<void*> blocks(kMaxPooledBytes / kBytes + 100);
    for (void*& block : blocks) block = AllocateBlock(kBytes);
    for (void* block : blocks) FreeBlock(block, kBytes);
    EXPECT_EQ(PooledBytes(), kMaxPooledBytes);
  });
}

TEST(BlockPoolTest, LargeAndEmptyBlocksGoStraightBackToTheAllocator) {
  OnNewThread([] {
    void* large = AllocateBlock(513);
    std::memset(large, 1, 513);
    FreeBlock(large, 513);
    void* empty = AllocateBlock(0);
    EXPECT_NE(empty, nullptr);
    FreeBlock(empty, 0);
    EXPECT_EQ(PooledBytes(), 0u);
  });
}

TEST(BlockPoolTest, ABlockFreedOnAnotherThreadJoinsThatThreadsPool) {
  OnNewThread([] {
    void* block = AllocateBlock(32);
    size_t other_pool = 0;
    OnNewThread([&] {
      FreeBlock(block, 32);
      other_pool = PooledBytes();
    });
    EXPECT_EQ(other_pool, 32u);
    EXPECT_EQ(PooledBytes(), 0u);
  });
}

// Frees its block when the thread's thread_local objects are destroyed.
struct FreesAtThreadExit {
  void* block = nullptr;
  size_t* pooled_after = nullptr;
  ~FreesAtThreadExit() {
    if (block == nullptr) return;
    FreeBlock(block, 48);
    *pooled_after = PooledBytes();
  }
};

TEST(BlockPoolTest, ABlockFreedAfterTheThreadsPoolWasEmptiedGoesStraightBack) {
  size_t pooled_before_exit = 0;
  size_t pooled_after = 99;
  OnNewThread([&] {
    // Constructed before the pool's first block, so destroyed after the pool was emptied.
    static thread_local FreesAtThreadExit late;
    late.block = AllocateBlock(48);
    late.pooled_after = &pooled_after;
    FreeBlock(AllocateBlock(64), 64);
    pooled_before_exit = PooledBytes();
  });
  EXPECT_EQ(pooled_before_exit, 64u);
  EXPECT_EQ(pooled_after, 0u);
}

}  // namespace
}  // namespace learnflow
