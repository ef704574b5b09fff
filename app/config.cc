#include "app/config.h"

#include <unistd.h>  // environ
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "core/time.h"

namespace learnflow {
namespace {

// Durations are capped so that sums such as `window end + grace` cannot overflow.
constexpr int64_t kMaxDurationMs = 10 * 366 * kMsPerDay;
constexpr size_t kMinPseudonymKeyBytes = 16;
constexpr std::string_view kEnvPrefix = "LEARNFLOW_";
constexpr std::string_view kMask = "******";

// Where a value came from, for error messages.
struct Origin {
  enum class Layer { kFile, kEnv, kSet } layer = Layer::kFile;
  std::string name;  // file path or environment variable
  int line = 0;      // kFile: 1-based

  std::string Describe() const {
    switch (layer) {
      case Layer::kFile:
        return "file " + name + " line " + std::to_string(line);
      case Layer::kEnv:
        return "from environment " + name;
      case Layer::kSet:
        return "from --set";
    }
    return {};
  }
};

Origin FileOrigin(const std::string& path, const YAML::Node& node) {
  return Origin{Origin::Layer::kFile, path, node.Mark().line + 1};
}

Status ConfigError(std::string_view subject, std::string_view problem, const Origin* origin,
                   std::string_view hint = {}) {
  std::string message = "config error: ";
  message += subject;
  message += ": ";
  message += problem;
  if (origin != nullptr) {
    message += " (";
    message += origin->Describe();
    message += ")";
  }
  message += hint;
  return InvalidArgumentError(std::move(message));
}

std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  out += text.substr(0, kMaxShown);
  if (text.size() > kMaxShown) out += "...";
  out += "\"";
  return out;
}

// ", got <what the node holds>" for error messages.
std::string Got(const YAML::Node& node) {
  if (node.IsNull()) return ", got nothing";
  if (node.IsSequence()) return ", got a list";
  if (node.IsMap()) return ", got a mapping";
  return ", got " + Quoted(node.Scalar());
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Whether `s` is text that YAML can hold and DescribeConfig() prints back unchanged: well-formed
// UTF-8 (no overlong forms, surrogates or code points above U+10FFFF) without the Unicode
// noncharacters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF. yaml-cpp reads other bytes as they are but
// its emitter writes U+FFFD (or the decoded code point) in their place, so such a value would
// change on its way through DescribeConfig().
bool IsUtf8Text(std::string_view s) {
  static constexpr uint32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code_point = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < kMinOfLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF) ||
        (code_point >= 0xFDD0 && code_point <= 0xFDEF) || (code_point & 0xFFFE) == 0xFFFE) {
      return false;
    }
    i += length;
  }
  return true;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  const std::string lower = Lower(Trim(text));
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

std::string FormatDouble(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  LF_CHECK(ec == std::errc(), "to_chars(double) failed");
  std::string out(buffer, end);
  // Keep it a float in YAML's eyes: "1" -> "1.0".
  if (out.find_first_of(".eE") == std::string::npos) out += ".0";
  return out;
}

// A range bound for messages: "0", "0.5", "1e+12".
std::string FormatBound(double value) {
  std::string text = FormatDouble(value);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  return text;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "; did you mean "x"?" for the closest candidate within 2 edits, else "".
std::string Suggest(std::string_view wrong, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const std::string& candidate : candidates) {
    const size_t d = EditDistance(Lower(wrong), candidate);
    if (d < best_distance) {
      best_distance = d;
      best = &candidate;
    }
  }
  return best == nullptr ? std::string() : "; did you mean \"" + *best + "\"?";
}

// ---- Key registry -------------------------------------------------------------------------------

// Reaches config.*section.*field for both const and non-const configs.
template <auto kSection, auto kField, typename C>
auto& Field(C& config) {
  return (config.*kSection).*kField;
}

enum class KeyKind { kScalar, kList, kMap };

// One configuration key: how to parse it into a Config and how to print it back.
struct KeySpec {
  std::string section;
  std::string key;
  KeyKind kind = KeyKind::kScalar;
  // kScalar, kList: applies `node` to `config`; returns "" or the problem ("expected ...").
  std::function<std::string(const YAML::Node& node, Config& config)> apply;
  // kMap: sets entry `name` to the scalar `node` (maps merge entry by entry).
  std::function<std::string(const std::string& name, const YAML::Node& node, Config& config)>
      apply_entry;
  std::function<void(const Config& config, YAML::Emitter& out)> emit;

  std::string path() const { return section + "." + key; }
  std::string env_name() const {
    return std::string(kEnvPrefix) + Upper(section) + "_" + Upper(key);
  }
};

using StringCheck = std::string (*)(const std::string& value);

template <auto kSection, auto kField>
KeySpec StringKey(std::string section, std::string key, bool non_empty,
                  StringCheck check = nullptr) {
  KeySpec spec{std::move(section), std::move(key)};
  spec.apply = [non_empty, check](const YAML::Node& node, Config& config) -> std::string {
    if (!node.IsNull() && !node.IsScalar()) return "expected a string" + Got(node);
    std::string value = node.IsNull() ? std::string() : node.Scalar();
    if (non_empty && value.empty()) return "expected a non-empty string";
    if (!IsUtf8Text(value)) return "expected UTF-8 text";
    if (check != nullptr) {
      std::string problem = check(value);
      if (!problem.empty()) return problem + Got(node);
    }
    Field<kSection, kField>(config) = std::move(value);
    return {};
  };
  spec.emit = [](const Config& config, YAML::Emitter& out) {
    out << Field<kSection, kField>(config);
  };
  return spec;
}

template <auto kSection, auto kField>
KeySpec BoolKey(std::string section, std::string key) {
  KeySpec spec{std::move(section), std::move(key)};
  spec.apply = [](const YAML::Node& node, Config& config) -> std::string {
    const std::optional<bool> value = node.IsScalar() ? ParseBool(node.Scalar()) : std::nullopt;
    if (!value) return "expected true or false" + Got(node);
    Field<kSection, kField>(config) = *value;
    return {};
  };
  spec.emit = [](const Config& config, YAML::Emitter& out) {
    out << (Field<kSection, kField>(config) ? "true" : "false");
  };
  return spec;
}

// An integer in [min, max]. `max_is_cap`: max is only an overflow guard, so the usual message
// says ">= min" and names max only when it is exceeded.
template <auto kSection, auto kField>
KeySpec IntKey(std::string section, std::string key, int64_t min, int64_t max,
               bool max_is_cap = false) {
  KeySpec spec{std::move(section), std::move(key)};
  spec.apply = [min, max, max_is_cap](const YAML::Node& node, Config& config) -> std::string {
    const std::optional<int64_t> value = node.IsScalar() ? ParseInt(node.Scalar()) : std::nullopt;
    const bool too_big = value && *value > max;
    if (!value || *value < min || too_big) {
      std::string expected = "expected an integer ";
      if (max_is_cap && !too_big) {
        expected += ">= " + std::to_string(min);
      } else {
        expected += "between " + std::to_string(min) + " and " + std::to_string(max);
      }
      return expected + Got(node);
    }
    using T = std::remove_reference_t<decltype(Field<kSection, kField>(config))>;
    Field<kSection, kField>(config) = static_cast<T>(*value);
    return {};
  };
  spec.emit = [](const Config& config, YAML::Emitter& out) {
    out << static_cast<int64_t>(Field<kSection, kField>(config));
  };
  return spec;
}

// A number in [min, max], or (min, max) / [min, max) when the bound is exclusive.
template <auto kSection, auto kField>
KeySpec DoubleKey(std::string section, std::string key, double min, bool min_exclusive, double max,
                  bool max_exclusive) {
  KeySpec spec{std::move(section), std::move(key)};
  spec.apply = [=](const YAML::Node& node, Config& config) -> std::string {
    const std::optional<double> value = node.IsScalar() ? ParseDouble(node.Scalar()) : std::nullopt;
    const bool in_range = value && (min_exclusive ? *value > min : *value >= min) &&
                          (max_exclusive ? *value < max : *value <= max);
    if (!in_range) {
      std::string expected;
      if (!min_exclusive && !max_exclusive) {
        expected = "expected a number between " + FormatBound(min) + " and " + FormatBound(max);
      } else {
        expected = std::string("expected a number ") + (min_exclusive ? "> " : ">= ") +
                   FormatBound(min) + (max_exclusive ? " and < " : " and <= ") + FormatBound(max);
      }
      return expected + Got(node);
    }
    Field<kSection, kField>(config) = *value;
    return {};
  };
  spec.emit = [](const Config& config, YAML::Emitter& out) {
    out << FormatDouble(Field<kSection, kField>(config));
  };
  return spec;
}

template <auto kSection, auto kField, typename E>
KeySpec EnumKey(std::string section, std::string key, std::vector<E> values,
                std::string_view (*name)(E)) {
  KeySpec spec{std::move(section), std::move(key)};
  spec.apply = [values, name](const YAML::Node& node, Config& config) -> std::string {
    if (node.IsScalar()) {
      const std::string text = Lower(Trim(node.Scalar()));
      for (E value : values) {
        if (name(value) == text) {
          Field<kSection, kField>(config) = value;
          return {};
        }
      }
    }
    std::string expected = "expected one of ";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) expected += ", ";
      expected += name(values[i]);
    }
    return expected + Got(node);
  };
  spec.emit = [name](const Config& config, YAML::Emitter& out) {
    out << std::string(name(Field<kSection, kField>(config)));
  };
  return spec;
}

// A list of non-empty strings; a new value replaces the old list. Null means empty.
template <auto kSection, auto kField>
KeySpec ListKey(std::string section, std::string key) {
  KeySpec spec{std::move(section), std::move(key), KeyKind::kList};
  spec.apply = [](const YAML::Node& node, Config& config) -> std::string {
    std::vector<std::string> values;
    if (!node.IsNull()) {
      if (!node.IsSequence()) return "expected a list of strings" + Got(node);
      for (const YAML::Node& item : node) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          return "expected a list of non-empty strings" + Got(item) + " at item " +
                 std::to_string(values.size());
        }
        if (!IsUtf8Text(item.Scalar())) {
          return "expected UTF-8 text at item " + std::to_string(values.size());
        }
        values.push_back(item.Scalar());
      }
    }
    Field<kSection, kField>(config) = std::move(values);
    return {};
  };
  spec.emit = [](const Config& config, YAML::Emitter& out) {
    const auto& values = Field<kSection, kField>(config);
    out << (values.empty() ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const std::string& value : values) out << value;
    out << YAML::EndSeq;
  };
  return spec;
}

// A map name -> string; values merge entry by entry across layers. `mask` hides secret values.
template <auto kSection, auto kField>
KeySpec MapKey(std::string section, std::string key, bool (*mask)(std::string_view) = nullptr) {
  KeySpec spec{std::move(section), std::move(key), KeyKind::kMap};
  spec.apply_entry = [](const std::string& name, const YAML::Node& node,
                        Config& config) -> std::string {
    if (!node.IsScalar()) return "expected a scalar value" + Got(node);
    if (!IsUtf8Text(name) || !IsUtf8Text(node.Scalar())) return "expected UTF-8 text";
    Field<kSection, kField>(config)[name] = node.Scalar();
    return {};
  };
  spec.emit = [mask](const Config& config, YAML::Emitter& out) {
    const auto& values = Field<kSection, kField>(config);
    out << (values.empty() ? YAML::Flow : YAML::Block) << YAML::BeginMap;
    for (const auto& [name, value] : values) {
      out << YAML::Key << name << YAML::Value;
      if (mask != nullptr && mask(name)) {
        out << std::string(kMask);
      } else {
        out << value;
      }
    }
    out << YAML::EndMap;
  };
  return spec;
}

std::string CheckListen(const std::string& value) {
  constexpr std::string_view kProblem = "expected host:port with a port between 0 and 65535";
  std::string_view host;
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return std::string(kProblem);
    }
    host = std::string_view(value).substr(1, close - 1);
    port = std::string_view(value).substr(close + 2);
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.%") != std::string::npos) {
      return std::string(kProblem);
    }
  } else {
    const size_t colon = value.rfind(':');
    if (colon == std::string::npos) return std::string(kProblem);
    host = std::string_view(value).substr(0, colon);
    port = std::string_view(value).substr(colon + 1);
    if (host.empty()) return std::string(kProblem);
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return std::string(kProblem);
      }
    }
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::string(kProblem);
  }
  const std::optional<int64_t> number = ParseInt(port);
  if (!number || *number > 65535) return std::string(kProblem);
  return {};
}

std::string CheckEnvName(const std::string& value) {
  if (value.empty()) return {};
  const bool valid = !std::isdigit(static_cast<unsigned char>(value.front())) &&
                     std::all_of(value.begin(), value.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                     });
  return valid ? std::string()
               : "expected an environment variable name (letters, digits, _) or \"\"";
}

std::string CheckNoSpace(const std::string& value) {
  const bool has_space = std::any_of(value.begin(), value.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  });
  return has_space ? "expected a name without spaces" : std::string();
}

const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = [] {
    constexpr int64_t kMax = kMaxDurationMs;
    using C = Config;
    std::vector<KeySpec> s;
    // kafka
    s.push_back(StringKey<&C::kafka, &KafkaConfig::bootstrap_servers>("kafka", "bootstrap_servers",
                                                                      false, &CheckNoSpace));
    s.push_back(
        StringKey<&C::kafka, &KafkaConfig::group_id>("kafka", "group_id", true, &CheckNoSpace));
    s.push_back(
        MapKey<&C::kafka, &KafkaConfig::properties>("kafka", "properties", &IsSecretPropertyName));
    // topics
    s.push_back(
        StringKey<&C::topics, &TopicsConfig::input>("topics", "input", true, &CheckNoSpace));
    s.push_back(StringKey<&C::topics, &TopicsConfig::learner_signals>("topics", "learner_signals",
                                                                      true, &CheckNoSpace));
    s.push_back(StringKey<&C::topics, &TopicsConfig::cohort_signals>("topics", "cohort_signals",
                                                                     true, &CheckNoSpace));
    s.push_back(
        StringKey<&C::topics, &TopicsConfig::alerts>("topics", "alerts", true, &CheckNoSpace));
    s.push_back(StringKey<&C::topics, &TopicsConfig::dead_letter>("topics", "dead_letter", true,
                                                                  &CheckNoSpace));
    s.push_back(BoolKey<&C::topics, &TopicsConfig::input_keyed_by_learner>(
        "topics", "input_keyed_by_learner"));
    // processing
    s.push_back(EnumKey<&C::processing, &ProcessingConfig::guarantee, Guarantee>(
        "processing", "guarantee", {Guarantee::kAtLeastOnce, Guarantee::kExactlyOnce},
        &GuaranteeName));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::threads>("processing", "threads", 1, 64));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::commit_interval_ms>(
        "processing", "commit_interval_ms", 10, kMax, true));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::max_out_of_orderness_ms>(
        "processing", "max_out_of_orderness_ms", 0, kMax, true));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::idle_timeout_ms>(
        "processing", "idle_timeout_ms", 0, kMax, true));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::shutdown_timeout_ms>(
        "processing", "shutdown_timeout_ms", 1, kMax, true));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::max_message_bytes>(
        "processing", "max_message_bytes", 1, int64_t{1} << 31, true));
    s.push_back(IntKey<&C::processing, &ProcessingConfig::max_poll_records>(
        "processing", "max_poll_records", 1, 100000));
    // windows
    s.push_back(IntKey<&C::windows, &WindowsConfig::size_ms>("windows", "size_ms", 1, kMax, true));
    s.push_back(
        IntKey<&C::windows, &WindowsConfig::grace_ms>("windows", "grace_ms", 0, kMax, true));
    s.push_back(IntKey<&C::windows, &WindowsConfig::session_gap_ms>("windows", "session_gap_ms", 1,
                                                                    kMax, true));
    // signals
    s.push_back(
        DoubleKey<&C::signals, &SignalsConfig::p_init>("signals", "p_init", 0, false, 1, false));
    s.push_back(
        DoubleKey<&C::signals, &SignalsConfig::p_learn>("signals", "p_learn", 0, false, 1, false));
    s.push_back(
        DoubleKey<&C::signals, &SignalsConfig::p_guess>("signals", "p_guess", 0, true, 0.5, true));
    s.push_back(
        DoubleKey<&C::signals, &SignalsConfig::p_slip>("signals", "p_slip", 0, true, 0.5, true));
    s.push_back(
        IntKey<&C::signals, &SignalsConfig::min_attempts>("signals", "min_attempts", 1, 1000000));
    s.push_back(DoubleKey<&C::signals, &SignalsConfig::accuracy_threshold>(
        "signals", "accuracy_threshold", 0, false, 1, false));
    s.push_back(DoubleKey<&C::signals, &SignalsConfig::mastery_threshold>(
        "signals", "mastery_threshold", 0, false, 1, false));
    s.push_back(IntKey<&C::signals, &SignalsConfig::inactivity_ms>("signals", "inactivity_ms", 1,
                                                                   kMax, true));
    s.push_back(IntKey<&C::signals, &SignalsConfig::min_cohort_size>("signals", "min_cohort_size",
                                                                     1, 1000000000));
    s.push_back(DoubleKey<&C::signals, &SignalsConfig::cohort_struggling_share>(
        "signals", "cohort_struggling_share", 0, false, 1, false));
    // decoding
    s.push_back(ListKey<&C::decoding, &DecodingConfig::xapi_attempt_verbs>("decoding",
                                                                           "xapi_attempt_verbs"));
    s.push_back(
        ListKey<&C::decoding, &DecodingConfig::xapi_view_verbs>("decoding", "xapi_view_verbs"));
    s.push_back(
        ListKey<&C::decoding, &DecodingConfig::xapi_help_verbs>("decoding", "xapi_help_verbs"));
    s.push_back(ListKey<&C::decoding, &DecodingConfig::xapi_completion_verbs>(
        "decoding", "xapi_completion_verbs"));
    s.push_back(ListKey<&C::decoding, &DecodingConfig::xapi_session_end_verbs>(
        "decoding", "xapi_session_end_verbs"));
    s.push_back(
        ListKey<&C::decoding, &DecodingConfig::xapi_system_verbs>("decoding", "xapi_system_verbs"));
    s.push_back(ListKey<&C::decoding, &DecodingConfig::xapi_retraction_verbs>(
        "decoding", "xapi_retraction_verbs"));
    s.push_back(
        ListKey<&C::decoding, &DecodingConfig::xapi_passed_verbs>("decoding", "xapi_passed_verbs"));
    s.push_back(
        ListKey<&C::decoding, &DecodingConfig::xapi_failed_verbs>("decoding", "xapi_failed_verbs"));
    s.push_back(ListKey<&C::decoding, &DecodingConfig::caliper_help_tools>("decoding",
                                                                           "caliper_help_tools"));
    s.push_back(StringKey<&C::decoding, &DecodingConfig::moodle_site_id>("decoding",
                                                                         "moodle_site_id", true));
    s.push_back(MapKey<&C::decoding, &DecodingConfig::moodle_cohort_by_course>(
        "decoding", "moodle_cohort_by_course"));
    s.push_back(MapKey<&C::decoding, &DecodingConfig::moodle_skill_by_item>(
        "decoding", "moodle_skill_by_item"));
    s.push_back(IntKey<&C::decoding, &DecodingConfig::moodle_guest_user_id>(
        "decoding", "moodle_guest_user_id", 0, std::numeric_limits<int64_t>::max(), true));
    s.push_back(DoubleKey<&C::decoding, &DecodingConfig::moodle_default_grade_max>(
        "decoding", "moodle_default_grade_max", 0, true, 1e12, false));
    // state
    s.push_back(StringKey<&C::state, &StateConfig::dir>("state", "dir", true));
    s.push_back(IntKey<&C::state, &StateConfig::memory_mb>("state", "memory_mb", 16,
                                                           int64_t{1} << 30, true));
    s.push_back(IntKey<&C::state, &StateConfig::checkpoint_interval_ms>(
        "state", "checkpoint_interval_ms", 0, kMax, true));
    // http
    s.push_back(StringKey<&C::http, &HttpConfig::listen>("http", "listen", true, &CheckListen));
    // metrics
    s.push_back(IntKey<&C::metrics, &MetricsConfig::max_cohorts>("metrics", "max_cohorts", 0,
                                                                 100000000, true));
    // privacy
    s.push_back(BoolKey<&C::privacy, &PrivacyConfig::pseudonymize_learner_ids>(
        "privacy", "pseudonymize_learner_ids"));
    s.push_back(StringKey<&C::privacy, &PrivacyConfig::key_file>("privacy", "key_file", false));
    s.push_back(StringKey<&C::privacy, &PrivacyConfig::key_env>("privacy", "key_env", false,
                                                                &CheckEnvName));
    // log
    s.push_back(EnumKey<&C::log, &LogConfig::format, LogFormat>(
        "log", "format", {LogFormat::kText, LogFormat::kJson}, &LogFormatName));
    s.push_back(EnumKey<&C::log, &LogConfig::level, LogLevel>(
        "log", "level",
        {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError},
        &LogLevelName));
    return s;
  }();
  return specs;
}

const std::vector<std::string>& SectionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const KeySpec& spec : Specs()) {
      if (std::find(out.begin(), out.end(), spec.section) == out.end()) out.push_back(spec.section);
    }
    return out;
  }();
  return names;
}

bool IsSection(std::string_view name) {
  const auto& names = SectionNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::string> KeysOf(std::string_view section) {
  std::vector<std::string> keys;
  for (const KeySpec& spec : Specs()) {
    if (spec.section == section) keys.push_back(spec.key);
  }
  return keys;
}

const KeySpec* FindSpec(std::string_view section, std::string_view key) {
  for (const KeySpec& spec : Specs()) {
    if (spec.section == section && spec.key == key) return &spec;
  }
  return nullptr;
}

// `key` is "<map key>.<entry>" for a map key of `section`: returns the spec, sets `entry`.
const KeySpec* FindMapEntry(std::string_view section, std::string_view key, std::string& entry) {
  for (const KeySpec& spec : Specs()) {
    if (spec.section != section || spec.kind != KeyKind::kMap) continue;
    if (key.size() > spec.key.size() + 1 && key.substr(0, spec.key.size()) == spec.key &&
        key[spec.key.size()] == '.') {
      entry = std::string(key.substr(spec.key.size() + 1));
      return &spec;
    }
  }
  return nullptr;
}

Status UnknownSection(std::string_view section, const Origin* origin) {
  std::string hint = Suggest(section, SectionNames());
  if (hint.empty()) {
    hint = "; sections are";
    for (const std::string& name : SectionNames()) hint += " " + name;
  }
  return ConfigError("unknown section " + Quoted(section), "not a configuration section", origin,
                     hint);
}

Status UnknownKey(std::string_view section, std::string_view key, const Origin* origin) {
  std::string hint = Suggest(key, KeysOf(section));
  if (!hint.empty()) hint.insert(hint.find('"') + 1, std::string(section) + ".");
  return ConfigError(std::string(section) + "." + std::string(key), "unknown key", origin, hint);
}

// Reads the file at `path` into `out`; returns "" or why it could not.
std::string ReadWholeFile(const std::string& path, std::string& out) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return "is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::strerror(errno);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return "read failed";
  out = buffer.str();
  return {};
}

// ---- Applying values ----------------------------------------------------------------------------

class Loader {
 public:
  Loader(const ConfigSources& sources, std::map<std::string, std::string> env)
      : sources_(sources), env_(std::move(env)) {}

  StatusOr<Config> Load() {
    if (!sources_.file_path.empty()) LF_RETURN_IF_ERROR(ApplyFile());
    LF_RETURN_IF_ERROR(ApplyEnvironment());
    for (const std::string& set : sources_.sets) LF_RETURN_IF_ERROR(ApplySet(set));
    // privacy.key_env may name a LEARNFLOW_* variable; it is known only now.
    for (const auto& [name, error] : unknown_env_) {
      if (name != config_.privacy.key_env) return error;
    }
    LF_RETURN_IF_ERROR(CheckVerbLists());
    LF_RETURN_IF_ERROR(ResolvePseudonymKey());
    return std::move(config_);
  }

 private:
  // Applies a whole value (scalar, list, or a map to merge) of `spec`.
  Status Apply(const KeySpec& spec, const YAML::Node& node, const Origin& origin,
               const std::string& file_path = {}) {
    const std::string path = spec.path();
    if (spec.kind == KeyKind::kMap) {
      if (node.IsNull()) return Status::Ok();
      if (!node.IsMap()) {
        return ConfigError(path, "expected a mapping of names to values" + Got(node), &origin);
      }
      for (const auto& entry : node) {
        const Origin entry_origin =
            origin.layer == Origin::Layer::kFile ? FileOrigin(file_path, entry.first) : origin;
        if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
          return ConfigError(path, "expected a mapping of names to values", &entry_origin);
        }
        LF_RETURN_IF_ERROR(ApplyEntry(spec, entry.first.Scalar(), entry.second, entry_origin));
      }
      origins_[path] = origin;
      return Status::Ok();
    }
    const std::string problem = spec.apply(node, config_);
    if (!problem.empty()) return ConfigError(path, problem, &origin);
    origins_[path] = origin;
    return Status::Ok();
  }

  Status ApplyEntry(const KeySpec& spec, const std::string& name, const YAML::Node& node,
                    const Origin& origin) {
    const std::string path = spec.path() + "." + name;
    const std::string problem = spec.apply_entry(name, node, config_);
    if (!problem.empty()) return ConfigError(path, problem, &origin);
    origins_[path] = origin;
    return Status::Ok();
  }

  // The text of an environment variable or --set value as a node: literal for scalar keys,
  // YAML flow syntax for lists and maps.
  static StatusOr<YAML::Node> ValueNode(const KeySpec& spec, const std::string& text,
                                        const std::string& path, const Origin& origin) {
    if (spec.kind == KeyKind::kScalar) return YAML::Node(text);
    try {
      return YAML::Load(text);
    } catch (const YAML::Exception& e) {
      const char* expected = spec.kind == KeyKind::kList
                                 ? "expected a YAML flow list such as [a, b]"
                                 : "expected a YAML flow mapping such as {name: value}";
      return ConfigError(path, std::string(expected) + ", got " + Quoted(text) + ": " + e.msg,
                         &origin);
    }
  }

  Status ApplyFile() {
    const std::string& path = sources_.file_path;
    std::string text;
    if (std::string error = ReadWholeFile(path, text); !error.empty()) {
      return InvalidArgumentError("config error: cannot read config file " + Quoted(path) + ": " +
                                  error);
    }
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      return InvalidArgumentError("config error: file " + path + " line " +
                                  std::to_string(e.mark.line + 1) +
                                  ": YAML syntax error: " + e.msg);
    }
    if (root.IsNull()) return Status::Ok();  // an empty file: defaults
    if (!root.IsMap()) {
      const Origin origin = FileOrigin(path, root);
      return ConfigError("file " + path, "expected a mapping of sections at the top level",
                         &origin);
    }
    std::set<std::string> seen_sections;
    for (const auto& section_entry : root) {
      const Origin origin = FileOrigin(path, section_entry.first);
      if (!section_entry.first.IsScalar()) {
        return ConfigError("file " + path, "expected section names at the top level", &origin);
      }
      const std::string& section = section_entry.first.Scalar();
      if (!IsSection(section)) return UnknownSection(section, &origin);
      if (!seen_sections.insert(section).second) {
        return ConfigError(section, "section appears twice", &origin);
      }
      const YAML::Node& body = section_entry.second;
      if (body.IsNull()) continue;
      if (!body.IsMap())
        return ConfigError(section, "expected a mapping of keys" + Got(body), &origin);
      std::set<std::string> seen_keys;
      for (const auto& key_entry : body) {
        const Origin key_origin = FileOrigin(path, key_entry.first);
        if (!key_entry.first.IsScalar()) {
          return ConfigError(section, "expected key names", &key_origin);
        }
        const std::string& key = key_entry.first.Scalar();
        const KeySpec* spec = FindSpec(section, key);
        if (spec == nullptr) return UnknownKey(section, key, &key_origin);
        if (!seen_keys.insert(key).second) {
          return ConfigError(spec->path(), "key appears twice", &key_origin);
        }
        LF_RETURN_IF_ERROR(Apply(*spec, key_entry.second, key_origin, path));
      }
    }
    return Status::Ok();
  }

  Status ApplyEnvironment() {
    for (const auto& [name, value] : env_) {
      if (name.size() <= kEnvPrefix.size() || name.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) {
        continue;
      }
      const Origin origin{Origin::Layer::kEnv, name};
      bool matched = false;
      for (const KeySpec& spec : Specs()) {
        const std::string spec_env = spec.env_name();
        if (name == spec_env) {
          LF_ASSIGN_OR_RETURN(YAML::Node node, ValueNode(spec, value, spec.path(), origin));
          LF_RETURN_IF_ERROR(Apply(spec, node, origin));
          matched = true;
          break;
        }
        // LEARNFLOW_KAFKA_PROPERTIES__SASL_PASSWORD -> kafka.properties["sasl.password"]
        if (spec.kind == KeyKind::kMap && name.size() > spec_env.size() + 2 &&
            name.compare(0, spec_env.size() + 2, spec_env + "__") == 0) {
          std::string entry = Lower(std::string_view(name).substr(spec_env.size() + 2));
          std::replace(entry.begin(), entry.end(), '_', '.');
          LF_RETURN_IF_ERROR(ApplyEntry(spec, entry, YAML::Node(value), origin));
          matched = true;
          break;
        }
      }
      if (matched) continue;
      // Looks like a configuration key (LEARNFLOW_<SECTION>_...) but is none: an error, unless
      // it turns out to be the variable named by privacy.key_env (checked at the end).
      const std::string rest = Lower(std::string_view(name).substr(kEnvPrefix.size()));
      const size_t underscore = rest.find('_');
      const std::string section = rest.substr(0, underscore);
      if (underscore == std::string::npos || !IsSection(section)) continue;
      const std::string key = rest.substr(underscore + 1);
      std::string hint = Suggest(key, KeysOf(section));
      if (!hint.empty()) {
        const size_t open = hint.find('"') + 1;
        const size_t close = hint.find('"', open);
        hint = "; did you mean " + std::string(kEnvPrefix) + Upper(section) + "_" +
               Upper(hint.substr(open, close - open)) + "?";
      } else if (section == "kafka" && key.rfind("properties", 0) == 0) {
        hint = "; librdkafka properties are set with LEARNFLOW_KAFKA_PROPERTIES__<NAME>";
      }
      unknown_env_.emplace_back(name,
                                ConfigError(section + "." + key, "unknown key", &origin, hint));
    }
    return Status::Ok();
  }

  Status ApplySet(const std::string& set) {
    const Origin origin{Origin::Layer::kSet};
    const size_t equals = set.find('=');
    const std::string path = set.substr(0, equals);
    const size_t dot = path.find('.');
    if (equals == std::string::npos || dot == std::string::npos || dot == 0 ||
        dot + 1 == path.size()) {
      return InvalidArgumentError("config error: --set " + Quoted(set) +
                                  ": expected section.key=value");
    }
    const std::string section = path.substr(0, dot);
    const std::string key = path.substr(dot + 1);
    const std::string value = set.substr(equals + 1);
    if (!IsSection(section)) return UnknownSection(section, &origin);
    if (const KeySpec* spec = FindSpec(section, key); spec != nullptr) {
      LF_ASSIGN_OR_RETURN(YAML::Node node, ValueNode(*spec, value, spec->path(), origin));
      return Apply(*spec, node, origin);
    }
    std::string entry;
    if (const KeySpec* spec = FindMapEntry(section, key, entry); spec != nullptr) {
      return ApplyEntry(*spec, entry, YAML::Node(value), origin);
    }
    return UnknownKey(section, key, &origin);
  }

  // A verb may map to one kind only.
  Status CheckVerbLists() {
    const DecodingConfig& d = config_.decoding;
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"xapi_attempt_verbs", &d.xapi_attempt_verbs},
        {"xapi_view_verbs", &d.xapi_view_verbs},
        {"xapi_help_verbs", &d.xapi_help_verbs},
        {"xapi_completion_verbs", &d.xapi_completion_verbs},
        {"xapi_session_end_verbs", &d.xapi_session_end_verbs},
        {"xapi_system_verbs", &d.xapi_system_verbs},
        {"xapi_retraction_verbs", &d.xapi_retraction_verbs},
    };
    std::map<std::string, const char*> owner;
    for (const auto& [key, verbs] : lists) {
      for (const std::string& verb : *verbs) {
        const auto [it, inserted] = owner.emplace(verb, key);
        if (inserted || it->second == key) continue;
        const std::string path = std::string("decoding.") + key;
        const auto origin = origins_.find(path);
        return ConfigError(path,
                           Quoted(verb) + " is also listed in decoding." + it->second +
                               "; a verb maps to one kind",
                           origin == origins_.end() ? nullptr : &origin->second);
      }
    }
    return Status::Ok();
  }

  Status ResolvePseudonymKey() {
    PrivacyConfig& privacy = config_.privacy;
    privacy.key.clear();
    if (!privacy.pseudonymize_learner_ids) return Status::Ok();
    for (const KeySpec& spec : Specs()) {
      if (!privacy.key_env.empty() && spec.env_name() == privacy.key_env) {
        return ConfigError(
            "privacy.key_env",
            privacy.key_env + " is the variable of " + spec.path() + "; choose another name",
            Find("privacy.key_env"));
      }
    }
    std::string from_file;
    if (!privacy.key_file.empty()) {
      if (std::string error = ReadWholeFile(privacy.key_file, from_file); !error.empty()) {
        return ConfigError("privacy.key_file",
                           "cannot read key file " + Quoted(privacy.key_file) + ": " + error,
                           Find("privacy.key_file"));
      }
      // Files written by editors and `echo` end with a newline; it is not part of the key.
      while (!from_file.empty() && (from_file.back() == '\n' || from_file.back() == '\r')) {
        from_file.pop_back();
      }
      if (from_file.empty()) {
        return ConfigError("privacy.key_file", "key file " + Quoted(privacy.key_file) + " is empty",
                           Find("privacy.key_file"));
      }
    }
    std::string from_env;
    if (!privacy.key_env.empty()) {
      if (const auto it = env_.find(privacy.key_env); it != env_.end()) from_env = it->second;
    }
    if (!from_file.empty() && !from_env.empty()) {
      return ConfigError("privacy",
                         "both privacy.key_file and the environment variable " + privacy.key_env +
                             " provide a pseudonymisation key; configure exactly one "
                             "(privacy.key_env: \"\" disables the variable)",
                         nullptr);
    }
    if (from_file.empty() && from_env.empty()) {
      return ConfigError(
          "privacy.pseudonymize_learner_ids",
          "true, but no pseudonymisation key: set privacy.key_file, or the environment variable " +
              (privacy.key_env.empty() ? std::string("named by privacy.key_env") : privacy.key_env),
          Find("privacy.pseudonymize_learner_ids"));
    }
    const bool in_file = !from_file.empty();
    std::string key = in_file ? std::move(from_file) : std::move(from_env);
    if (key.size() < kMinPseudonymKeyBytes) {
      return ConfigError(in_file ? "privacy.key_file" : "privacy.key_env",
                         "the pseudonymisation key from " +
                             (in_file ? Quoted(privacy.key_file) : privacy.key_env) + " has " +
                             std::to_string(key.size()) + " bytes; at least " +
                             std::to_string(kMinPseudonymKeyBytes) + " are required",
                         nullptr);
    }
    privacy.key = std::move(key);
    return Status::Ok();
  }

  const Origin* Find(const std::string& path) const {
    const auto it = origins_.find(path);
    return it == origins_.end() ? nullptr : &it->second;
  }

  const ConfigSources& sources_;
  const std::map<std::string, std::string> env_;
  Config config_;
  std::map<std::string, Origin> origins_;  // full path -> where its value came from
  std::vector<std::pair<std::string, Status>> unknown_env_;
};

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = ::environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

}  // namespace

std::string_view GuaranteeName(Guarantee guarantee) {
  switch (guarantee) {
    case Guarantee::kAtLeastOnce:
      return "at_least_once";
    case Guarantee::kExactlyOnce:
      return "exactly_once";
  }
  return "?";
}

std::string_view LogFormatName(LogFormat format) {
  switch (format) {
    case LogFormat::kText:
      return "text";
    case LogFormat::kJson:
      return "json";
  }
  return "?";
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

DecodingConfig::DecodingConfig() {
  const DecoderOptions defaults = DecoderOptions::Defaults();
  xapi_attempt_verbs = defaults.xapi_attempt_verbs;
  xapi_view_verbs = defaults.xapi_view_verbs;
  xapi_help_verbs = defaults.xapi_help_verbs;
  xapi_completion_verbs = defaults.xapi_completion_verbs;
  xapi_session_end_verbs = defaults.xapi_session_end_verbs;
  xapi_system_verbs = defaults.xapi_system_verbs;
  xapi_retraction_verbs = defaults.xapi_retraction_verbs;
  xapi_passed_verbs = defaults.xapi_passed_verbs;
  xapi_failed_verbs = defaults.xapi_failed_verbs;
  caliper_help_tools = defaults.caliper_help_tools;
  moodle_site_id = defaults.moodle_site_id;
  moodle_cohort_by_course.insert(defaults.moodle_cohort_by_course.begin(),
                                 defaults.moodle_cohort_by_course.end());
  moodle_skill_by_item.insert(defaults.moodle_skill_by_item.begin(),
                              defaults.moodle_skill_by_item.end());
  moodle_guest_user_id = defaults.moodle_guest_user_id;
  moodle_default_grade_max = defaults.moodle_default_grade_max;
}

DecoderOptions Config::decoder_options() const {
  DecoderOptions options = DecoderOptions::Defaults();
  options.xapi_attempt_verbs = decoding.xapi_attempt_verbs;
  options.xapi_view_verbs = decoding.xapi_view_verbs;
  options.xapi_help_verbs = decoding.xapi_help_verbs;
  options.xapi_completion_verbs = decoding.xapi_completion_verbs;
  options.xapi_session_end_verbs = decoding.xapi_session_end_verbs;
  options.xapi_system_verbs = decoding.xapi_system_verbs;
  options.xapi_retraction_verbs = decoding.xapi_retraction_verbs;
  options.xapi_passed_verbs = decoding.xapi_passed_verbs;
  options.xapi_failed_verbs = decoding.xapi_failed_verbs;
  options.caliper_help_tools = decoding.caliper_help_tools;
  options.moodle_site_id = decoding.moodle_site_id;
  options.moodle_cohort_by_course = {decoding.moodle_cohort_by_course.begin(),
                                     decoding.moodle_cohort_by_course.end()};
  options.moodle_skill_by_item = {decoding.moodle_skill_by_item.begin(),
                                  decoding.moodle_skill_by_item.end()};
  options.moodle_guest_user_id = decoding.moodle_guest_user_id;
  options.moodle_default_grade_max = decoding.moodle_default_grade_max;
  return options;
}

StatusOr<Config> LoadConfig(const ConfigSources& sources) {
  try {
    Loader loader(sources, sources.env ? *sources.env : ProcessEnvironment());
    return loader.Load();
  } catch (const YAML::Exception& e) {
    // Every yaml-cpp call above is guarded; this is the backstop that keeps a library surprise
    // from escaping as an exception.
    return InvalidArgumentError(std::string("config error: ") + e.what());
  }
}

Status ValidateForRun(const Config& config) {
  if (config.kafka.bootstrap_servers.empty()) {
    return InvalidArgumentError(
        "config error: kafka.bootstrap_servers: required by `learnflow run`; set it in the file, "
        "with LEARNFLOW_KAFKA_BOOTSTRAP_SERVERS or with --set kafka.bootstrap_servers=HOST:PORT");
  }
  return Status::Ok();
}

bool IsSecretPropertyName(std::string_view name) {
  const std::string lower = Lower(name);
  for (const char* marker : {"password", "secret", "sasl.oauthbearer", "token", "credential",
                             "jaas", "key.pem", "private"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string DescribeConfig(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const std::string& section : SectionNames()) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const KeySpec& spec : Specs()) {
      if (spec.section != section) continue;
      out << YAML::Key << spec.key << YAML::Value;
      spec.emit(config, out);
    }
    if (section == "privacy" && !config.privacy.key.empty()) {
      out << YAML::Comment("the pseudonymisation key is loaded; it is never printed");
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  std::string text = out.c_str();
  text += '\n';
  return text;
}

}  // namespace learnflow
