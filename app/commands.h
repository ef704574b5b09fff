// The `learnflow` subcommands (DESIGN §3). Each returns the process exit code:
// 0 ok, 2 usage or configuration error, 1 runtime failure.
// Called from main() on the main thread after InstallStopSignals().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/simulator.h"

namespace learnflow {

struct BrokerArgs {
  int brokers = 1;
  int partitions = 6;
  std::vector<std::string> topics;  // empty: the default topics of DESIGN §5
};
int BrokerCommand(const BrokerArgs& args);

struct SimulateArgs {
  std::string bootstrap_servers;
  std::string topic = "learning.events";
  double rate = 0;  // events per second; 0 = as fast as possible
  std::string start;  // ISO 8601; empty = the simulator's fixed default
  SimulatorOptions options;
};
int SimulateCommand(const SimulateArgs& args);

struct ConfigArgs {
  std::string config_path;
  std::vector<std::string> sets;
};
int RunCommand(const ConfigArgs& args);
int CheckConfigCommand(const ConfigArgs& args);

struct DemoArgs {
  int64_t learners = 300;
  double rate = 2000;
  uint64_t seed = 42;
  int partitions = 6;
  std::string state_dir;  // empty: a fresh temporary directory, removed at exit
  std::string http_listen = "127.0.0.1:8080";
};
int DemoCommand(const DemoArgs& args);

}  // namespace learnflow
