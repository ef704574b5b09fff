// Helpers shared by the tests: status assertions and scratch directories.
// Test-only code; single-threaded use.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/status.h"

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const ::learnflow::Status lf_s_ = (expr);                \
    ASSERT_TRUE(lf_s_.ok()) << #expr << ": " << lf_s_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                      \
  do {                                                       \
    const ::learnflow::Status lf_s_ = (expr);                \
    EXPECT_TRUE(lf_s_.ok()) << #expr << ": " << lf_s_.ToString(); \
  } while (0)

namespace learnflow::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Path of the `learnflow` executable under test ($LEARNFLOW_BINARY, set by ctest).
std::string LearnflowBinary();

// `promtool check metrics` (Debian package prometheus) over an exposition: exit code 0 clean,
// 1 parse error, 3 lint problems (listed in `output`). `available` is false without promtool.
struct PromtoolResult {
  bool available = false;
  int exit_code = -1;
  std::string output;
};
PromtoolResult PromtoolCheckMetrics(const std::string& exposition);

}  // namespace learnflow::testing
