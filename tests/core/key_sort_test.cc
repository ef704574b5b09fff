#include "core/key_sort.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace learnflow {
namespace {

std::vector<std::string> SortedBySortByKey(std::vector<std::string> keys) {
  std::vector<const std::string*> items;
  for (const std::string& key : keys) items.push_back(&key);
  std::vector<KeySortSlot<const std::string*>> scratch;
  SortByKey(items, [](const std::string* k) { return std::string_view(*k); }, scratch);
  std::vector<std::string> out;
  for (const std::string* key : items) out.push_back(*key);
  return out;
}

std::vector<std::string> SortedByStdSort(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

TEST(KeySortTest, OrdersLikeStringComparisonWithSharedPrefixesZeroBytesAndPrefixKeys) {
  const std::vector<std::string> keys = {
      "mailto:l0012345@example.org", "mailto:l0012344@example.org", "mailto:l",
      "mailto:l0012345@example.orf", "mailto:l0012345@example.or", "mailto:l0012345",
      std::string("mailto:l\0", 9), std::string("mailto:l\0\0", 10), "mailto:m",
      std::string("mailto:l0012345\xff", 16), "mailto:l0012345@example.org\x01"};
  EXPECT_EQ(SortedBySortByKey(keys), SortedByStdSort(keys));
}

TEST(KeySortTest, RandomKeysOfFewLettersAndLongSharedPrefixesOrderLikeStdSort) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    const std::string prefix(rng() % 20, 'p');
    std::vector<std::string> keys;
    const int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      std::string key = prefix;
      const int len = static_cast<int>(rng() % 14);
      // Three letters, one of them zero: many ties of the 8-byte heads and keys that are
      // prefixes of others.
      for (int j = 0; j < len; ++j) key += "\0ab"[rng() % 3];
      keys.push_back(std::move(key));
    }
    ASSERT_EQ(SortedBySortByKey(keys), SortedByStdSort(keys)) << "round " << round;
  }
}

TEST(KeySortTest, NoItemsOrOneItemIsLeftAsIs) {
  EXPECT_TRUE(SortedBySortByKey({}).empty());
  EXPECT_EQ(SortedBySortByKey({"only"}), std::vector<std::string>{"only"});
}

}  // namespace
}  // namespace learnflow
