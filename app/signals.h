// Process-wide stop request, set by SIGINT/SIGTERM.
//
// InstallStopSignals() routes both signals to a lock-free flag that the commands poll; a second
// signal while stopping is left to the default action only after the command has returned.
// Call once from main() before starting threads.
#pragma once

#include <atomic>

namespace learnflow {

void InstallStopSignals();
// True once SIGINT or SIGTERM has arrived (or RequestStop() was called).
const std::atomic<bool>& StopRequested();
void RequestStop();
// Sleeps up to `ms`, returning early when a stop is requested. Returns StopRequested().
bool WaitForStop(int ms);

}  // namespace learnflow
