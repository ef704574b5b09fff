#include "core/skill_ids.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace learnflow {
namespace {

TEST(SkillIdsTest, SameNameSameIdAndNamesComeBack) {
  const std::string long_name = "https://lms.example.org/skills/course-12/skill-3";
  const SkillId a = SkillIds::Intern(long_name);
  const SkillId b = SkillIds::Intern("skill-ids-test-short");
  const SkillId empty = SkillIds::Intern("");
  EXPECT_NE(a, b);
  EXPECT_NE(a, empty);
  EXPECT_EQ(SkillIds::Intern(std::string(long_name)), a);  // another buffer, the same id
  EXPECT_EQ(SkillIds::Name(a), long_name);
  EXPECT_EQ(SkillIds::Name(b), "skill-ids-test-short");
  EXPECT_EQ(SkillIds::Name(empty), "");
  EXPECT_TRUE(SkillIds::NameLess(a, b));  // "https..." < "skill..."
  EXPECT_FALSE(SkillIds::NameLess(b, a));
  EXPECT_FALSE(SkillIds::NameLess(a, a));
}

// More names than one chunk of the registry, interned by four threads at once in different
// orders: every thread gets the same id for a name, and every id names its name.
TEST(SkillIdsTest, ConcurrentInterningAgreesOnEveryId) {
  constexpr int kNames = 10000;
  constexpr int kThreads = 4;
  const size_t before = SkillIds::size();
  std::vector<std::vector<SkillId>> ids(kThreads, std::vector<SkillId>(kNames));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &ids] {
      for (int k = 0; k < kNames; ++k) {
        const int i = (t % 2 == 0) ? k : kNames - 1 - k;
        ids[t][i] = SkillIds::Intern("concurrent-skill-" + std::to_string(i));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(SkillIds::size(), before + kNames);
  for (int i = 0; i < kNames; ++i) {
    for (int t = 1; t < kThreads; ++t) ASSERT_EQ(ids[t][i], ids[0][i]) << i;
    ASSERT_EQ(SkillIds::Name(ids[0][i]), "concurrent-skill-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace learnflow
