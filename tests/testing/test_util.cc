#include "tests/testing/test_util.h"

#include <cstdlib>
#include <filesystem>

namespace learnflow::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                      "/learnflow-test-XXXXXX";
  char* made = ::mkdtemp(templ.data());
  LF_CHECK(made != nullptr, "mkdtemp failed for " + templ);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // best effort: a leftover temp dir is harmless
}

std::string LearnflowBinary() {
  const char* path = std::getenv("LEARNFLOW_BINARY");
  return path != nullptr ? path : "learnflow";
}

}  // namespace learnflow::testing
