// Fuzz target: the configuration loader (app/config.h LoadConfig) on YAML text, environment
// overrides and --set values. Seeds: corpus/config.
//
// Input: the YAML file, then optionally NUL-separated pieces; a piece `LEARNFLOW_<NAME>=value` is
// an environment variable (the process environment is never read), any other piece a --set.
// The file is handed to LoadConfig through an anonymous memory file (memfd, opened by its
// /proc/self/fd path), so nothing is written to disk and nothing is left behind. The
// pseudonymisation key file is always the target's own (a last --set), so that no input can make
// the loader read an arbitrary path such as /dev/zero.
//
// Checked: errors start with "config error: "; an accepted config keeps every range config.h
// documents, builds an EventDecoder, and survives DescribeConfig(): the description never shows
// the key, and loading it again gives back the same Config (secret properties masked).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "connectors/decoders/event_decoder.h"
#include "core/check.h"

namespace learnflow {
namespace {

constexpr std::string_view kKey = "fuzz-pseudonym-key-7c1e0f9a2b";
constexpr std::string_view kMask = "******";
constexpr int64_t kMaxDurationMs = 10 * 366 * kMsPerDay;

// An anonymous in-memory file, readable by path for as long as the process lives.
class MemoryFile {
 public:
  MemoryFile(const char* name, std::string_view content) : fd_(memfd_create(name, 0)) {
    LF_CHECK(fd_ >= 0, "memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
    Write(content);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  void Write(std::string_view text) {
    LF_CHECK(ftruncate(fd_, 0) == 0, "ftruncate failed");
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = pwrite(fd_, text.data() + done, text.size() - done,
                               static_cast<off_t>(done));
      LF_CHECK(n > 0, "pwrite failed");
      done += static_cast<size_t>(n);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

bool InRange(int64_t value, int64_t min, int64_t max) { return value >= min && value <= max; }
// In [0, 1]; false for NaN.
bool InUnitInterval(double value) { return value >= 0.0 && value <= 1.0; }

// The ranges config.h documents next to each field.
void CheckRanges(const Config& c) {
  const ProcessingConfig& p = c.processing;
  LF_CHECK(InRange(p.threads, 1, 64), "processing.threads in 1..64");
  LF_CHECK(InRange(p.commit_interval_ms, 10, kMaxDurationMs), "commit_interval_ms >= 10");
  LF_CHECK(InRange(p.max_out_of_orderness_ms, 0, kMaxDurationMs), "out-of-orderness >= 0");
  LF_CHECK(InRange(p.idle_timeout_ms, 0, kMaxDurationMs), "idle_timeout_ms >= 0");
  LF_CHECK(InRange(p.shutdown_timeout_ms, 1, kMaxDurationMs), "shutdown_timeout_ms > 0");
  LF_CHECK(p.max_message_bytes > 0, "max_message_bytes > 0");
  LF_CHECK(InRange(p.max_poll_records, 1, 100000), "max_poll_records in 1..100000");
  const WindowsConfig& w = c.windows;
  LF_CHECK(InRange(w.size_ms, 1, kMaxDurationMs), "windows.size_ms > 0");
  LF_CHECK(InRange(w.grace_ms, 0, kMaxDurationMs), "windows.grace_ms >= 0");
  LF_CHECK(InRange(w.session_gap_ms, 1, kMaxDurationMs), "windows.session_gap_ms > 0");
  const SignalsConfig& s = c.signals;
  LF_CHECK(InUnitInterval(s.p_init) && InUnitInterval(s.p_learn), "p_init, p_learn in [0, 1]");
  LF_CHECK(s.p_guess > 0 && s.p_guess < 0.5 && s.p_slip > 0 && s.p_slip < 0.5,
           "p_guess and p_slip in (0, 0.5)");
  LF_CHECK(s.min_attempts >= 1 && s.min_cohort_size >= 1, "minimum counts >= 1");
  LF_CHECK(InUnitInterval(s.accuracy_threshold) && InUnitInterval(s.mastery_threshold) &&
               InUnitInterval(s.cohort_struggling_share),
           "thresholds in [0, 1]");
  LF_CHECK(InRange(s.inactivity_ms, 1, kMaxDurationMs), "inactivity_ms > 0");
  LF_CHECK(c.decoding.moodle_guest_user_id >= 0, "moodle_guest_user_id >= 0");
  LF_CHECK(c.decoding.moodle_default_grade_max > 0 && std::isfinite(c.decoding.moodle_default_grade_max),
           "moodle_default_grade_max > 0");
  LF_CHECK(!c.decoding.moodle_site_id.empty(), "moodle_site_id non-empty");
  LF_CHECK(c.state.memory_mb >= 16 && !c.state.dir.empty(), "state.memory_mb >= 16, dir set");
  LF_CHECK(c.metrics.max_cohorts >= 0, "metrics.max_cohorts >= 0");
  LF_CHECK(!c.kafka.group_id.empty(), "kafka.group_id non-empty");
  if (c.privacy.pseudonymize_learner_ids) {
    LF_CHECK(c.privacy.key.size() >= 16, "a pseudonymisation key of at least 16 bytes");
  } else {
    LF_CHECK(c.privacy.key.empty(), "no key resolved when pseudonymisation is off");
  }
}

}  // namespace
}  // namespace learnflow

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using learnflow::Config;
  using learnflow::ConfigSources;
  using learnflow::StatusOr;
  static learnflow::MemoryFile file("learnflow-fuzz-config", "");
  // Key files end with a newline when written by an editor; the loader strips it.
  static learnflow::MemoryFile key_file("learnflow-fuzz-key", std::string(learnflow::kKey) + "\n");
  const std::string forced_key_file = "privacy.key_file=" + key_file.path();

  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t file_end = std::min(input.find('\0'), input.size());
  ConfigSources sources;
  sources.file_path = file.path();
  sources.env.emplace();
  for (size_t pos = file_end; pos < input.size();) {
    const size_t begin = pos + 1;
    const size_t end = std::min(input.find('\0', begin), input.size());
    const std::string piece(input.substr(begin, end - begin));
    const size_t equals = piece.find('=');
    if (piece.starts_with("LEARNFLOW_") && equals != std::string::npos) {
      (*sources.env)[piece.substr(0, equals)] = piece.substr(equals + 1);
    } else {
      sources.sets.push_back(piece);
    }
    pos = end;
  }
  sources.sets.push_back(forced_key_file);
  file.Write(input.substr(0, file_end));

  const StatusOr<Config> config = learnflow::LoadConfig(sources);
  if (!config.ok()) {
    LF_CHECK(config.status().message().starts_with("config error: "),
             "config errors start with \"config error: \"");
    return 0;
  }
  learnflow::CheckRanges(*config);
  learnflow::EventDecoder decoder(config->decoder_options());

  const std::string description = learnflow::DescribeConfig(*config);
  if (!config->privacy.key.empty() && input.find(learnflow::kKey) == std::string_view::npos) {
    LF_CHECK(description.find(learnflow::kKey) == std::string::npos,
             "DescribeConfig never shows the pseudonymisation key");
  }
  file.Write(description);
  ConfigSources again;
  again.file_path = file.path();
  again.env.emplace();
  again.sets = {forced_key_file};
  const StatusOr<Config> reloaded = learnflow::LoadConfig(again);
  LF_CHECK(reloaded.ok(), "DescribeConfig output loads: " + reloaded.status().message() +
                              "\n" + description);
  Config expected = *config;
  for (auto& [name, value] : expected.kafka.properties) {
    if (learnflow::IsSecretPropertyName(name)) value = learnflow::kMask;
  }
  LF_CHECK(*reloaded == expected, "DescribeConfig output loads back the same config:\n" + description);
  return 0;
}
