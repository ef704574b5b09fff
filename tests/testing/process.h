// Child processes for end-to-end tests: spawn the real `learnflow` binary with extra environment,
// send it signals, and wait for it to exit (blocking on SIGCHLD, bounded by a deadline — no
// polling sleeps). Test-only; one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace learnflow::testing {

class ChildProcess {
 public:
  // Starts `argv` with the current environment plus `extra_env` ("NAME=value"); stdout and
  // stderr are appended to `log_path`. Aborts the test binary if the spawn itself fails.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
               const std::string& log_path);
  // Kills (SIGKILL) and reaps the child if it is still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits for the child to exit. Returns false on timeout. `status` is waitpid's status.
  bool Wait(int timeout_ms, int& status);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Reads a whole file (for showing a child's log in a failure message).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace learnflow::testing
