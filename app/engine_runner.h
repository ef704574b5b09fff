// EngineRunner: one engine wired from a Config — state store, Kafka source and sink, changelog
// reader, decoder — plus its HTTP endpoint on `http.listen` (/metrics, /healthz, /readyz and the
// query API of app/query_api.h).
// Used by `learnflow run` and `learnflow demo`.
//
// Lifecycle: Create() opens the state store and the Kafka clients (no network I/O yet); Run()
// subscribes and processes until `stop`, then drains and commits. Threading: Run() on one thread;
// counters() from any thread. Errors: Create() fails with InvalidArgument on bad config or a state
// dir it must refuse (another format, another pseudonymization: exit code 2), with IoError when
// the state dir cannot be created, opened or written (exit code 1, like every I/O failure); Run()
// returns runtime failures (exit code 1), among them a state write failing (disk full, read-only).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "app/config.h"
#include "core/status.h"
#include "operators/learner_signals.h"
#include "state/state_store.h"
#include "stream/counters.h"

namespace learnflow {

// The signal parameters of the `windows` and `signals` sections.
SignalParams SignalParamsFrom(const Config& config);

// The state records whether (and under which key) its learner ids are pseudonyms. Refuses, with
// InvalidArgument naming privacy.pseudonymize_learner_ids, to continue a state written with raw
// ids under pseudonymization, or under another key, or with pseudonyms without it (raw and
// pseudonymized ids would mix; old learners would emit raw ids). A store without the record that
// already holds task positions predates it and was written with raw ids. Records the setting in
// a new store.
Status CheckPrivacyOfState(StateStore& store, const PrivacyConfig& privacy);

class EngineRunner {
 public:
  static StatusOr<std::unique_ptr<EngineRunner>> Create(const Config& config);
  ~EngineRunner();

  Status Run(const std::atomic<bool>& stop);
  const EngineCounters& counters() const;
  // The HTTP endpoint's bound address, e.g. "0.0.0.0:8080".
  const std::string& http_address() const;

 private:
  class Impl;
  explicit EngineRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace learnflow
