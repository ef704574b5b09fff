#include "tests/testing/test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

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

PromtoolResult PromtoolCheckMetrics(const std::string& exposition) {
  PromtoolResult result;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) return result;
  result.available = true;
  TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  {
    std::ofstream out(path);
    out << exposition;
  }
  const std::string command = "promtool check metrics < '" + path + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace learnflow::testing
