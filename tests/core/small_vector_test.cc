#include "core/small_vector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

namespace learnflow {
namespace {

struct Pair {
  uint32_t id = 7;  // value-initialised items must get the member initialisers
  double p = 0.5;
  bool operator==(const Pair&) const = default;
};

template <typename T, uint32_t N>
std::vector<T> Items(const SmallVector<T, N>& v) {
  return std::vector<T>(v.begin(), v.end());
}

TEST(SmallVectorTest, IsAsLargeAsAStdVectorWhenItsInlineItemsFitSixteenBytes) {
  EXPECT_EQ(sizeof(SmallVector<uint64_t, 2>), sizeof(std::vector<uint64_t>));
  EXPECT_EQ(sizeof(SmallVector<uint32_t, 4>), sizeof(std::vector<uint32_t>));
  EXPECT_EQ(sizeof(SmallVector<Pair, 1>), sizeof(std::vector<Pair>));
}

TEST(SmallVectorTest, KeepsASortedSetLikeAModelUnderRandomOperations) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    SmallVector<uint64_t, 2> v;
    std::vector<uint64_t> model;
    const int steps = static_cast<int>(rng() % 40);
    for (int step = 0; step < steps; ++step) {
      const uint64_t x = rng() % 32;
      const uint32_t op = rng() % 10;
      if (op < 7) {  // insert in order unless present (the window's id and minute sets)
        auto it = std::lower_bound(v.begin(), v.end(), x);
        if (it == v.end() || *it != x) {
          EXPECT_EQ(*v.insert(it, x), x);
        }
        auto m = std::lower_bound(model.begin(), model.end(), x);
        if (m == model.end() || *m != x) model.insert(m, x);
      } else if (op < 9 && !v.empty()) {
        const size_t at = rng() % v.size();
        v.erase(v.begin() + at);
        model.erase(model.begin() + static_cast<ptrdiff_t>(at));
      } else {
        v.push_back(x);  // past the end, as decoding fills a set
        model.push_back(x);
      }
      ASSERT_EQ(Items(v), model) << "round " << round << " step " << step;
      ASSERT_EQ(v.on_heap(), v.capacity() > 2);
      ASSERT_GE(v.capacity(), v.size());
    }
  }
}

TEST(SmallVectorTest, StaysInlineUpToNThenTakesOneHeapBlockForTheUsualFew) {
  SmallVector<uint32_t, 4> v;
  for (uint32_t i = 0; i < 4; ++i) v.push_back(i);
  EXPECT_FALSE(v.on_heap());
  v.push_back(4);
  EXPECT_TRUE(v.on_heap());
  EXPECT_EQ(v.capacity(), 8u);
  const uint32_t* block = v.data();
  for (uint32_t i = 5; i < 8; ++i) v.push_back(i);
  EXPECT_EQ(v.data(), block);  // no reallocation up to the first block's capacity
  v.push_back(v[0]);           // an item of the vector itself, while it grows
  EXPECT_EQ(Items(v), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 0}));
}

TEST(SmallVectorTest, CopiesAndMovesInlineAndHeapItems) {
  for (const size_t n : {0u, 1u, 2u, 3u, 9u}) {
    SmallVector<uint64_t, 2> a;
    for (size_t i = 0; i < n; ++i) a.push_back(100 + i);
    const std::vector<uint64_t> expected = Items(a);

    SmallVector<uint64_t, 2> copy(a);
    EXPECT_EQ(Items(copy), expected);
    copy.push_back(1);  // the copy owns its items
    EXPECT_EQ(Items(a), expected);

    SmallVector<uint64_t, 2> moved(std::move(a));
    EXPECT_EQ(Items(moved), expected);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_FALSE(a.on_heap());

    SmallVector<uint64_t, 2> assigned = {1, 2, 3, 4, 5};
    assigned = std::move(moved);
    EXPECT_EQ(Items(assigned), expected);
    SmallVector<uint64_t, 2> copied = {7};
    copied = assigned;
    EXPECT_EQ(copied, assigned);
    copied = copied;  // self-assignment keeps the items
    EXPECT_EQ(Items(copied), expected);
  }
}

TEST(SmallVectorTest, ResizeValueInitialisesNewItemsAndKeepsOldOnes) {
  SmallVector<Pair, 1> v = {Pair{1, 0.25}};
  v.resize(3);
  EXPECT_EQ(Items(v), (std::vector<Pair>{{1, 0.25}, {}, {}}));
  EXPECT_EQ(v[2].id, 7u);
  v.resize(1);
  EXPECT_EQ(Items(v), (std::vector<Pair>{{1, 0.25}}));
  v.clear();
  EXPECT_TRUE(v.empty());
  v = {Pair{2, 1.0}, Pair{3, 0.0}};
  EXPECT_EQ(Items(v), (std::vector<Pair>{{2, 1.0}, {3, 0.0}}));
}

}  // namespace
}  // namespace learnflow
