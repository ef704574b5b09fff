#include "core/string_key_map.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace learnflow {
namespace {

// The map's contents as an ordered map, by iteration.
template <typename V>
std::map<std::string, V> Contents(const StringKeyMap<V>& map) {
  std::map<std::string, V> out;
  for (const auto& [key, value] : map) {
    EXPECT_TRUE(out.emplace(std::string(key), value).second) << "key visited twice: " << key;
  }
  return out;
}

TEST(StringKeyMapTest, FindsInsertsAndErasesLikeAModelUnderRandomOperations) {
  std::mt19937 rng(7);
  StringKeyMap<int> map;
  std::map<std::string, int> model;
  for (int step = 0; step < 200000; ++step) {
    // Few distinct keys of varied length (empty, short, past 15 bytes), so keys come back after
    // being erased and probe paths cross deleted slots.
    const uint32_t n = rng() % 3000;
    std::string key = (n % 7 == 0) ? "" : "mailto:l" + std::to_string(n);
    if (n % 3 == 0) key += "@example.org";
    const uint32_t op = rng() % 10;
    if (op < 5) {
      auto [it, inserted] = map.try_emplace(key);
      auto [model_it, model_inserted] = model.try_emplace(key, 0);
      ASSERT_EQ(inserted, model_inserted) << key;
      ASSERT_EQ(it->first, key);
      ASSERT_EQ(it->second, model_it->second) << key;
      it->second = ++model_it->second;
    } else if (op < 8) {
      auto it = map.find(key);
      auto model_it = model.find(key);
      ASSERT_EQ(it == map.end(), model_it == model.end()) << key;
      if (it != map.end()) {
        map.erase(it);
        model.erase(model_it);
      }
    } else {
      auto it = map.find(key);
      ASSERT_EQ(it == map.end(), model.count(key) == 0) << key;
      if (it != map.end()) {
        ASSERT_EQ(it->second, model[key]);
      }
    }
    ASSERT_EQ(map.size(), model.size());
  }
  EXPECT_EQ(Contents(map), model);
}

TEST(StringKeyMapTest, ItemsAndTheirKeysStayPutAcrossRehashesAndOtherErases) {
  StringKeyMap<std::string> map;
  std::vector<const StringKeyMap<std::string>::Item*> items;
  for (int i = 0; i < 1000; ++i) {
    auto& item = *map.try_emplace("learner-" + std::to_string(i) + "@example.org").first;
    item.second = "value " + std::to_string(i);
    items.push_back(&item);
  }
  for (int i = 0; i < 1000; i += 2) {
    map.erase(map.find("learner-" + std::to_string(i) + "@example.org"));
  }
  for (int i = 1000; i < 20000; ++i) map.try_emplace("other-" + std::to_string(i));  // rehashes
  for (int i = 1; i < 1000; i += 2) {
    const std::string key = "learner-" + std::to_string(i) + "@example.org";
    const auto it = map.find(key);
    ASSERT_NE(it, map.end()) << key;
    EXPECT_EQ(&*it, items[static_cast<size_t>(i)]);
    EXPECT_EQ(it->first, key);
    EXPECT_EQ(it->second, "value " + std::to_string(i));
  }
}

TEST(StringKeyMapTest, ALoopMayEraseAtItsIteratorAndGoOn) {
  StringKeyMap<int> map;
  for (int i = 0; i < 500; ++i) map.try_emplace(std::to_string(i)).first->second = i;
  for (auto it = map.begin(); it != map.end();) {
    auto next = it;
    ++next;
    if (it->second % 3 != 0) map.erase(it);
    it = next;
  }
  std::map<std::string, int> expected;
  for (int i = 0; i < 500; i += 3) expected[std::to_string(i)] = i;
  EXPECT_EQ(Contents(map), expected);
}

TEST(StringKeyMapTest, DestroysEveryValueItHolds) {
  auto counter = std::make_shared<int>(0);
  {
    StringKeyMap<std::shared_ptr<int>> map;
    for (int i = 0; i < 100; ++i) map.try_emplace(std::to_string(i)).first->second = counter;
    map.erase(map.find("5"));
    EXPECT_EQ(counter.use_count(), 100);
    map.clear();
    EXPECT_EQ(counter.use_count(), 1);
    EXPECT_TRUE(map.empty());
    EXPECT_EQ(map.find("6"), map.end());
    for (int i = 0; i < 10; ++i) map.try_emplace(std::to_string(i)).first->second = counter;
    EXPECT_EQ(counter.use_count(), 11);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST(StringKeyMapTest, CandidateIsTheKeysItemSaveForRareTagCollisions) {
  StringKeyMap<int> map;
  EXPECT_EQ(map.Candidate(StringKeyMap<int>::HashOf("absent")), nullptr);
  map.PrefetchSlot(StringKeyMap<int>::HashOf("absent"));  // no table yet: a no-op
  std::vector<std::string> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back("mailto:l" + std::to_string(i) + "@example.org");
  for (size_t i = 0; i < keys.size(); ++i) {
    map.try_emplace(keys[i]).first->second = static_cast<int>(i);
  }
  size_t own = 0;
  for (const std::string& key : keys) {
    const uint64_t hash = StringKeyMap<int>::HashOf(key);
    map.PrefetchSlot(hash);
    const auto* item = map.Candidate(hash);
    ASSERT_NE(item, nullptr) << key;  // a present key's own slot is on its probe path
    if (item == &*map.find(key)) ++own;
  }
  // Another item comes first only when an earlier slot on the probe path has the same 16-bit
  // tag: rare at three-quarters load at most.
  EXPECT_GE(own, keys.size() - 10);
  // Erased items are never candidates.
  for (size_t i = 0; i < keys.size(); i += 2) map.erase(map.find(keys[i]));
  for (size_t i = 0; i < keys.size(); i += 2) {
    const auto* item = map.Candidate(StringKeyMap<int>::HashOf(keys[i]));
    if (item != nullptr) {
      EXPECT_NE(item->first, keys[i]);
      EXPECT_EQ(item->second % 2, 1);
    }
  }
}

}  // namespace
}  // namespace learnflow
