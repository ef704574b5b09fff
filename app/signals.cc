#include "app/signals.h"

#include <csignal>
#include <chrono>
#include <thread>

namespace learnflow {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "signal handler needs a lock-free flag");

extern "C" void OnStopSignal(int /*signal*/) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace

void InstallStopSignals() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout/socket is an error value, not a death
}

const std::atomic<bool>& StopRequested() { return g_stop; }

void RequestStop() { g_stop.store(true, std::memory_order_relaxed); }

bool WaitForStop(int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!g_stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return g_stop.load(std::memory_order_relaxed);
}

}  // namespace learnflow
