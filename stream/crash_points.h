// Crash points: deterministic fault injection for crash-recovery tests.
//
// A test starts the engine with LEARNFLOW_TEST_CRASH_AT=<point>:<n> (e.g. `after_flush:3`); the
// n-th time the engine passes that point, the process kills itself with SIGKILL — no destructors,
// no flush, exactly like `kill -9` at that instant. Points:
//   mid_batch          after applying a message, before the rest of its batch
//   after_flush        in the commit, outputs acknowledged (or the transaction committed), state
//                      not yet written
//   after_state_write  in the commit, state and offsets written (when its checkpoint was due;
//                      otherwise at the same place, with the checkpoint some commits back),
//                      group commit not yet sent
// The two commit points count only commits that carry work (input consumed since the previous
// commit), so a count means the same thing however long the engine idled first.
// `<point>:<n>@<gate>:<k>` starts counting the passes of <point> only after the k-th pass of
// <gate>: `mid_batch:500@after_flush:2` dies mid-batch 500 messages after the second commit
// that carried work, whatever the engine's speed.
// Unset (production): every check is one relaxed load of a null pointer. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace learnflow {

enum class CrashPoint : uint8_t { kMidBatch, kAfterFlush, kAfterStateWrite };

// Reads LEARNFLOW_TEST_CRASH_AT once. Returns false (and arms nothing) when it is malformed,
// with the reason in `error`.
bool ArmCrashPointFromEnvironment(std::string& error);

// Kills the process if `point` is armed and this is its n-th pass.
void MaybeCrash(CrashPoint point);

}  // namespace learnflow
