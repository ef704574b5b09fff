#include "stream/crash_points.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace learnflow {
namespace {

struct Armed {
  CrashPoint point;
  int64_t remaining;
  // Passes of `gate` still to come before `point` starts counting (0: counting).
  CrashPoint gate;
  int64_t gate_remaining;
};

Armed* g_armed = nullptr;  // set once at start-up, before the processing thread runs

// Parses "<point>[:<n>]"; false with the reason in `error`.
bool ParsePoint(std::string_view text, CrashPoint& point, int64_t& n, std::string& error) {
  const size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
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
  n = 1;
  if (colon != std::string_view::npos) {
    n = std::atoll(std::string(text.substr(colon + 1)).c_str());
    if (n < 1) {
      error = "LEARNFLOW_TEST_CRASH_AT: count must be >= 1";
      return false;
    }
  }
  return true;
}

}  // namespace

bool ArmCrashPointFromEnvironment(std::string& error) {
  const char* spec = std::getenv("LEARNFLOW_TEST_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return true;
  const std::string_view text(spec);
  const size_t at = text.find('@');
  Armed armed{CrashPoint::kMidBatch, 1, CrashPoint::kMidBatch, 0};
  if (!ParsePoint(text.substr(0, at), armed.point, armed.remaining, error)) return false;
  if (at != std::string_view::npos &&
      !ParsePoint(text.substr(at + 1), armed.gate, armed.gate_remaining, error)) {
    return false;
  }
  g_armed = new Armed(armed);  // lives until the process dies, by design
  return true;
}

void MaybeCrash(CrashPoint point) {
  Armed* armed = g_armed;
  if (armed == nullptr) return;
  if (armed->gate_remaining > 0) {
    if (point == armed->gate) --armed->gate_remaining;
    return;
  }
  if (armed->point == point && --armed->remaining == 0) std::raise(SIGKILL);
}

}  // namespace learnflow
