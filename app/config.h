// Config: the engine's configuration (DESIGN §4) and the loader that assembles it.
//
// Four layers, each overriding the one before:
//   built-in defaults < YAML file < environment LEARNFLOW_<SECTION>_<KEY> < --set section.key=value
// Every value is validated while it is applied; the first problem is returned as an
// InvalidArgument status whose message starts with "config error: ", names the key by its full
// path and says where the value came from:
//   config error: processing.commit_interval_ms: expected an integer >= 10, got "abc" (from --set)
//   config error: windows.sise_ms: unknown key (file learnflow.yaml line 7); did you mean ...
// docs/configuration.md lists every key, its type, default and meaning, and the exact rules for
// environment variables (including kafka.properties) and --set.
//
//   ConfigSources sources;
//   sources.file_path = "learnflow.yaml";
//   sources.sets = {"processing.threads=4"};
//   StatusOr<Config> config = LoadConfig(sources);
//   if (!config.ok()) { std::cerr << config.status().message() << "\n"; return 2; }
//   spdlog::info("configuration:\n{}", DescribeConfig(*config));
//
// Secrets: the resolved pseudonymisation key (privacy.key) and secret-looking librdkafka
// properties are never part of an error message, and DescribeConfig() masks them.
// Thread-safety: LoadConfig() reads files and, unless ConfigSources::env is given, the process
// environment; call it at start-up. Config is a plain value type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/decoders/event_decoder.h"
#include "core/status.h"

namespace learnflow {

enum class Guarantee : uint8_t { kAtLeastOnce, kExactlyOnce };
enum class LogFormat : uint8_t { kText, kJson };
enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarn, kError };

// The spellings used in the YAML file: "at_least_once", "json", "warn", ...
std::string_view GuaranteeName(Guarantee guarantee);
std::string_view LogFormatName(LogFormat format);
std::string_view LogLevelName(LogLevel level);

struct KafkaConfig {
  std::string bootstrap_servers;  // required by `learnflow run` (see ValidateForRun)
  std::string group_id = "learnflow";
  // Passed verbatim to librdkafka (SASL, TLS, tuning). Scalars become their text.
  std::map<std::string, std::string> properties;
  bool operator==(const KafkaConfig&) const = default;
};

struct TopicsConfig {
  std::string input = "learning.events";
  std::string learner_signals = "learnflow.learner-signals";
  std::string cohort_signals = "learnflow.cohort-signals";
  std::string alerts = "learnflow.alerts";
  std::string dead_letter = "learnflow.dead-letter";
  bool input_keyed_by_learner = true;
  bool operator==(const TopicsConfig&) const = default;
};

struct ProcessingConfig {
  Guarantee guarantee = Guarantee::kAtLeastOnce;
  int threads = 1;                          // 1..64
  int64_t commit_interval_ms = 1000;        // >= 10
  int64_t max_out_of_orderness_ms = 60000;  // >= 0
  int64_t idle_timeout_ms = 30000;          // >= 0
  int64_t shutdown_timeout_ms = 30000;      // > 0
  int64_t max_message_bytes = 1048576;      // > 0
  int max_poll_records = 500;               // 1..100000
  bool operator==(const ProcessingConfig&) const = default;
};

struct WindowsConfig {
  int64_t size_ms = 3600000;         // > 0
  int64_t grace_ms = 300000;         // >= 0
  int64_t session_gap_ms = 1800000;  // > 0
  bool operator==(const WindowsConfig&) const = default;
};

struct SignalsConfig {
  // BKT (DESIGN §8). p_guess and p_slip lie in (0, 0.5): >= 0.5 is rejected by the contract,
  // 0 makes the BKT update divide by zero.
  double p_init = 0.3;
  double p_learn = 0.1;
  double p_guess = 0.2;
  double p_slip = 0.1;
  int min_attempts = 5;                  // >= 1
  double accuracy_threshold = 0.5;       // [0, 1]
  double mastery_threshold = 0.4;        // [0, 1]
  int64_t inactivity_ms = 604800000;     // > 0 (7 days)
  int min_cohort_size = 5;               // >= 1
  double cohort_struggling_share = 0.3;  // [0, 1]
  bool operator==(const SignalsConfig&) const = default;
};

// The configurable lists and mappings of DESIGN §6; defaults are DecoderOptions::Defaults().
struct DecodingConfig {
  DecodingConfig();  // fills in DecoderOptions::Defaults()
  std::vector<std::string> xapi_attempt_verbs;
  std::vector<std::string> xapi_view_verbs;
  std::vector<std::string> xapi_help_verbs;
  std::vector<std::string> xapi_completion_verbs;
  std::vector<std::string> xapi_session_end_verbs;
  std::vector<std::string> xapi_system_verbs;
  std::vector<std::string> xapi_retraction_verbs;
  std::vector<std::string> xapi_passed_verbs;  // imply success when result.success is absent
  std::vector<std::string> xapi_failed_verbs;
  std::vector<std::string> caliper_help_tools;
  std::string moodle_site_id;
  std::map<std::string, std::string> moodle_cohort_by_course;  // courseid -> cohort id
  std::map<std::string, std::string> moodle_skill_by_item;     // contextinstanceid -> skill id
  int64_t moodle_guest_user_id = 1;                            // >= 0
  double moodle_default_grade_max = 100.0;                     // > 0
  bool operator==(const DecodingConfig&) const = default;
};

struct StateConfig {
  std::string dir = "./learnflow-state";
  int64_t memory_mb = 256;  // >= 16: one budget for every RocksDB store (DESIGN §9a)
  // >= 0: how often a commit also writes the local checkpoint (0: every commit); commits in
  // between write only the changelogs (EngineOptions::checkpoint_interval_ms).
  int64_t checkpoint_interval_ms = 5000;
  bool operator==(const StateConfig&) const = default;
};

struct HttpConfig {
  std::string listen = "0.0.0.0:8080";  // host:port, IPv6 as [::1]:8080, port 0..65535
  bool operator==(const HttpConfig&) const = default;
};

struct MetricsConfig {
  int64_t max_cohorts = 1000;  // >= 0
  bool operator==(const MetricsConfig&) const = default;
};

struct PrivacyConfig {
  bool pseudonymize_learner_ids = false;
  std::string key_file;                             // path of a file holding the key
  std::string key_env = "LEARNFLOW_PSEUDONYM_KEY";  // name of an environment variable
  // Resolved by LoadConfig when pseudonymize_learner_ids is true: exactly one of key_file and
  // key_env yields it, at least 16 bytes. Empty otherwise. Never log it.
  std::string key;
  bool operator==(const PrivacyConfig&) const = default;
};

struct LogConfig {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
  bool operator==(const LogConfig&) const = default;
};

// The whole configuration. A default-constructed Config holds every default.
struct Config {
  KafkaConfig kafka;
  TopicsConfig topics;
  ProcessingConfig processing;
  WindowsConfig windows;
  SignalsConfig signals;
  DecodingConfig decoding;
  StateConfig state;
  HttpConfig http;
  MetricsConfig metrics;
  PrivacyConfig privacy;
  LogConfig log;

  // The decoder's options built from the `decoding` section.
  DecoderOptions decoder_options() const;

  bool operator==(const Config&) const = default;
};

// Where the configuration comes from.
struct ConfigSources {
  // YAML file; empty means defaults only (plus environment and --set).
  std::string file_path;
  // "section.key=value", applied in order (a later one wins). Values of scalar keys are taken
  // literally; list and map keys take YAML flow syntax ("[a, b]", "{k: v}"); a map entry can be
  // set alone: "kafka.properties.security.protocol=SASL_SSL".
  std::vector<std::string> sets;
  // The environment: name -> value. std::nullopt reads the process environment (`environ`).
  // Used for LEARNFLOW_* overrides and for privacy.key_env. Tests inject their own.
  std::optional<std::map<std::string, std::string>> env;
};

// Assembles, validates and returns the configuration, or InvalidArgument naming the first bad
// key and its source. Reads the file and, when pseudonymisation is on, the key file.
StatusOr<Config> LoadConfig(const ConfigSources& sources);

// What `learnflow run` needs beyond LoadConfig(): kafka.bootstrap_servers set.
Status ValidateForRun(const Config& config);

// The configuration as YAML (every key, in document order), with secrets masked: librdkafka
// properties whose name looks secret (password, secret, sasl.oauthbearer.*, private keys,
// tokens, credentials) show "******", and the pseudonymisation key is never printed. Loading
// the output again gives back the same Config, except for masked values.
std::string DescribeConfig(const Config& config);

// True for librdkafka property names whose values DescribeConfig() masks.
bool IsSecretPropertyName(std::string_view name);

}  // namespace learnflow
