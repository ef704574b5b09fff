// learnflow: streaming analytics for learning data. `learnflow --help` lists the commands.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/commands.h"
#include "app/signals.h"

int main(int argc, char** argv) {
  using namespace learnflow;
  InstallStopSignals();
  spdlog::set_default_logger(spdlog::stderr_color_mt("learnflow"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  CLI::App app{"learnflow: event-driven streaming analytics for learning data (xAPI, Caliper, "
               "Moodle) on Kafka"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(LEARNFLOW_VERSION));

  ConfigArgs run_args;
  CLI::App* run = app.add_subcommand("run", "Run the engine against a Kafka cluster");
  run->add_option("--config", run_args.config_path, "YAML configuration file")->required();
  run->add_option("--set", run_args.sets, "Override a key: section.key=value (repeatable)");

  ConfigArgs check_args;
  CLI::App* check = app.add_subcommand("check-config", "Validate a configuration and print it");
  check->add_option("--config", check_args.config_path, "YAML configuration file")->required();
  check->add_option("--set", check_args.sets, "Override a key: section.key=value (repeatable)");

  BrokerArgs broker_args;
  CLI::App* broker = app.add_subcommand(
      "broker", "Standalone embedded Kafka on 127.0.0.1; prints bootstrap.servers=... first");
  broker->add_option("--brokers", broker_args.brokers, "Number of brokers")->check(CLI::Range(1, 16));
  broker->add_option("--partitions", broker_args.partitions, "Partitions per topic")
      ->check(CLI::Range(1, 1000));
  broker->add_option("--topics", broker_args.topics, "Topics to create (default: learnflow's)")
      ->delimiter(',');

  SimulateArgs sim_args;
  CLI::App* simulate = app.add_subcommand("simulate", "Produce synthetic learner events");
  simulate->add_option("--bootstrap-servers", sim_args.bootstrap_servers, "Kafka bootstrap servers")
      ->required();
  simulate->add_option("--topic", sim_args.topic, "Topic to produce to");
  simulate->add_option("--learners", sim_args.options.learners, "Number of learners")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  simulate->add_option("--events", sim_args.options.events, "Events to produce (0 = forever)")
      ->check(CLI::NonNegativeNumber);
  simulate->add_option("--rate", sim_args.rate, "Events per second (0 = as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  simulate->add_option("--format", sim_args.options.format, "Event format")
      ->check(CLI::IsMember({"xapi", "caliper", "moodle", "mixed"}));
  simulate->add_option("--seed", sim_args.options.seed, "Random seed (same seed, same events)");
  simulate->add_option("--start", sim_args.start,
                       "Event time of the first event, ISO 8601 (default 2026-01-05T08:00:00Z)");

  DemoArgs demo_args;
  CLI::App* demo = app.add_subcommand(
      "demo", "Embedded Kafka + simulated learners + the engine, all in one process");
  demo->add_option("--learners", demo_args.learners, "Simulated learners")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  demo->add_option("--rate", demo_args.rate, "Events per second")->check(CLI::PositiveNumber);
  demo->add_option("--seed", demo_args.seed, "Simulator seed");
  demo->add_option("--partitions", demo_args.partitions, "Input partitions")->check(CLI::Range(1, 64));
  demo->add_option("--http-listen", demo_args.http_listen,
                   "HTTP endpoint (/metrics, /healthz, /readyz), host:port; port 0 picks one");
  demo->add_option("--state-dir", demo_args.state_dir,
                   "Keep engine state here (default: a temporary directory removed at exit)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (run->parsed()) return RunCommand(run_args);
  if (check->parsed()) return CheckConfigCommand(check_args);
  if (broker->parsed()) return BrokerCommand(broker_args);
  if (simulate->parsed()) return SimulateCommand(sim_args);
  if (demo->parsed()) return DemoCommand(demo_args);
  return 2;
}
