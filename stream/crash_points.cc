#include "stream/crash_points.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace learnflow {
namespace {

struct Armed {
  CrashPoint point;
  int64_t remaining;
};

Armed* g_armed = nullptr;  // set once at start-up, before the processing thread runs

}  // namespace

bool ArmCrashPointFromEnvironment(std::string& error) {
  const char* spec = std::getenv("LEARNFLOW_TEST_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return true;
  const std::string_view text(spec);
  const size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  CrashPoint point;
  if (name == "mid_batch") {
    point = CrashPoint::kMidBatch;
  } else if (name == "after_flush") {
    point = CrashPoint::kAfterFlush;
  } else if (name == "after_state_write") {
    point = CrashPoint::kAfterStateWrite;
  } else {
    error = "LEARNFLOW_TEST_CRASH_AT: unknown point '" + std::string(name) +
            "' (mid_batch, after_flush, after_state_write)";
    return false;
  }
  int64_t n = 1;
  if (colon != std::string_view::npos) {
    n = std::atoll(std::string(text.substr(colon + 1)).c_str());
    if (n < 1) {
      error = "LEARNFLOW_TEST_CRASH_AT: count must be >= 1";
      return false;
    }
  }
  g_armed = new Armed{point, n};  // lives until the process dies, by design
  return true;
}

void MaybeCrash(CrashPoint point) {
  Armed* armed = g_armed;
  if (armed == nullptr || armed->point != point) return;
  if (--armed->remaining == 0) std::raise(SIGKILL);
}

}  // namespace learnflow
