// The state remembers whether its learner ids are pseudonyms, and under which key: switching
// pseudonymization on, off or to another key over an existing state is refused.
#include <gtest/gtest.h>

#include "app/engine_runner.h"
#include "state/window_key.h"
#include "tests/testing/test_util.h"

namespace learnflow {
namespace {

PrivacyConfig Privacy(bool on, std::string key = "0123456789abcdef-key") {
  PrivacyConfig p;
  p.pseudonymize_learner_ids = on;
  if (on) p.key = std::move(key);
  return p;
}

class PrivacyStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> Open() {
    StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({.dir = dir_.path() + "/state", .memory_mb = 16});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  testing::TempDir dir_;
};

TEST_F(PrivacyStateTest, TheSameSettingContinuesAndAnotherIsRefusedNamingTheKey) {
  {
    auto store = Open();
    ASSERT_OK(CheckPrivacyOfState(*store, Privacy(true)));
  }
  auto store = Open();
  ASSERT_OK(CheckPrivacyOfState(*store, Privacy(true)));
  const Status other_key = CheckPrivacyOfState(*store, Privacy(true, "another-key-0123456789"));
  EXPECT_EQ(other_key.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_key.message().find("privacy.pseudonymize_learner_ids"), std::string::npos);
  EXPECT_NE(other_key.message().find("under another key"), std::string::npos) << other_key.message();
  EXPECT_EQ(other_key.message().find("0123456789abcdef-key"), std::string::npos) << "no key in messages";
  const Status off = CheckPrivacyOfState(*store, Privacy(false));
  EXPECT_EQ(off.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(off.message().find("without pseudonymization"), std::string::npos) << off.message();
}

TEST_F(PrivacyStateTest, AStateWithRawIdsCannotBePseudonymizedLater) {
  {
    auto store = Open();
    ASSERT_OK(CheckPrivacyOfState(*store, Privacy(false)));
  }
  auto store = Open();
  const Status on = CheckPrivacyOfState(*store, Privacy(true));
  EXPECT_EQ(on.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(on.message().find("with raw learner ids"), std::string::npos) << on.message();
}

TEST_F(PrivacyStateTest, AStoreFromBeforeTheRecordCountsAsRawIdsOnlyWhenItHoldsPositions) {
  {
    // A fresh store (format record only) takes any setting.
    auto store = Open();
    ASSERT_OK(CheckPrivacyOfState(*store, Privacy(true)));
  }
  testing::TempDir other;
  StatusOr<std::unique_ptr<StateStore>> old = StateStore::Open({.dir = other.path() + "/s", .memory_mb = 16});
  ASSERT_OK(old.status());
  StateBatch batch(**old);
  batch.Put(Family::kMeta, "cpos/" + PartitionPrefix(3), std::string(16, '\0'));
  ASSERT_OK((*old)->Write(batch));
  EXPECT_EQ(CheckPrivacyOfState(**old, Privacy(true)).code(), StatusCode::kInvalidArgument);
  ASSERT_OK(CheckPrivacyOfState(**old, Privacy(false)));
}

}  // namespace
}  // namespace learnflow
