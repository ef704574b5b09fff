// LF_CHECK: an always-on invariant check (unlike assert, it stays in release builds).
//
// A failed check means a bug in learnflow, never bad input: bad input is data and goes to the
// dead-letter topic. On failure it prints the condition, file, line and message to stderr and
// aborts the process; state on disk stays consistent because it is only written in atomic batches.
#pragma once

#include <string_view>

namespace learnflow::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line,
                              std::string_view message);
}  // namespace learnflow::internal

#define LF_CHECK(condition, message)                                                   \
  do {                                                                                 \
    if (!(condition)) [[unlikely]] {                                                   \
      ::learnflow::internal::CheckFailed(#condition, __FILE__, __LINE__, (message));   \
    }                                                                                  \
  } while (0)
