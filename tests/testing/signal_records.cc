// Strict parsing of the engine's signal records (simdjson DOM) and the model-vs-engine diffs.
#include "tests/testing/signal_records.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "core/time.h"

namespace learnflow::testing {
namespace {

namespace dom = simdjson::dom;

// ---------------------------------------------------------------------------------------------
// Parsing.

// Walks the fields of one record object in order, checking each key against the documented
// sequence and converting its value. Every error names `<kind>.<field>`.
class FieldReader {
 public:
  FieldReader(std::string_view kind, dom::object object) : kind_(kind) {
    for (dom::key_value_pair field : object) fields_.push_back(field);
  }

  Status String(std::string_view key, std::string& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return Error(key, "expected a string");
    out.assign(text);
    return Status::Ok();
  }

  Status OptionalString(std::string_view key, std::optional<std::string>& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    if (value.is_null()) {
      out.reset();
      return Status::Ok();
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return Error(key, "expected a string or null");
    }
    out = std::string(text);
    return Status::Ok();
  }

  Status Int(std::string_view key, int64_t& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    if (value.get_int64().get(out) != simdjson::SUCCESS) return Error(key, "expected an integer");
    return Status::Ok();
  }

  Status Double(std::string_view key, double& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    if (value.get_double().get(out) != simdjson::SUCCESS) return Error(key, "expected a number");
    return Status::Ok();
  }

  Status OptionalDouble(std::string_view key, std::optional<double>& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    if (value.is_null()) {
      out.reset();
      return Status::Ok();
    }
    double number = 0.0;
    if (value.get_double().get(number) != simdjson::SUCCESS) {
      return Error(key, "expected a number or null");
    }
    out = number;
    return Status::Ok();
  }

  Status Bool(std::string_view key, bool& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    if (value.get_bool().get(out) != simdjson::SUCCESS) return Error(key, "expected true or false");
    return Status::Ok();
  }

  // An ISO 8601 UTC time exactly as the engine writes it: 2026-11-22T10:00:00.000Z.
  Status Time(std::string_view key, TimestampMs& out) {
    std::string text;
    LF_RETURN_IF_ERROR(String(key, text));
    const std::optional<TimestampMs> parsed = ParseIso8601Millis(text);
    if (!parsed.has_value() || FormatIso8601Millis(*parsed) != text) {
      return Error(key, "expected a time like 2026-11-22T10:00:00.000Z, got \"" + text + "\"");
    }
    out = *parsed;
    return Status::Ok();
  }

  // skill_id -> number, keys in byte order.
  Status Mastery(std::string_view key, std::map<std::string, double>& out) {
    dom::element value;
    LF_RETURN_IF_ERROR(Next(key, value));
    dom::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS)
      return Error(key, "expected an object");
    out.clear();
    std::optional<std::string_view> previous;
    for (dom::key_value_pair skill : object) {
      if (previous.has_value() && !(*previous < skill.key)) {
        return Error(key, "keys not in strictly increasing byte order at \"" +
                              std::string(skill.key) + "\"");
      }
      previous = skill.key;
      double p = 0.0;
      if (skill.value.get_double().get(p) != simdjson::SUCCESS) {
        return Error(key, "value of \"" + std::string(skill.key) + "\" is not a number");
      }
      out.emplace(std::string(skill.key), p);
    }
    return Status::Ok();
  }

  // Checks a string field has one fixed value (kind, alert type).
  Status Literal(std::string_view key, std::string_view expected) {
    std::string text;
    LF_RETURN_IF_ERROR(String(key, text));
    if (text != expected) {
      return Error(key, "expected \"" + std::string(expected) + "\", got \"" + text + "\"");
    }
    return Status::Ok();
  }

  Status SchemaVersion() {
    int64_t version = 0;
    LF_RETURN_IF_ERROR(Int("schema_version", version));
    if (version != 1) return Error("schema_version", "expected 1, got " + std::to_string(version));
    return Status::Ok();
  }

  // After the last documented key: nothing may follow.
  Status End() {
    if (next_ < fields_.size()) {
      return Error(fields_[next_].key, "unexpected key after the last documented one");
    }
    return Status::Ok();
  }

  Status Error(std::string_view field, std::string_view problem) const {
    return InvalidArgumentError(std::string(kind_) + "." + std::string(field) + ": " +
                                std::string(problem));
  }

 private:
  Status Next(std::string_view key, dom::element& value) {
    if (next_ >= fields_.size()) return Error(key, "missing");
    if (fields_[next_].key != key) {
      return Error(key, "missing at key position " + std::to_string(next_) + " (found \"" +
                            std::string(fields_[next_].key) + "\")");
    }
    value = fields_[next_].value;
    ++next_;
    return Status::Ok();
  }

  std::string_view kind_;
  std::vector<dom::key_value_pair> fields_;
  size_t next_ = 0;
};

StatusOr<SignalRecord> ParseLearner(FieldReader& f) {
  LearnerRecord r;
  LF_RETURN_IF_ERROR(f.Literal("kind", "learner_window"));
  LF_RETURN_IF_ERROR(f.SchemaVersion());
  LF_RETURN_IF_ERROR(f.String("learner_id", r.learner_id));
  LF_RETURN_IF_ERROR(f.OptionalString("course_id", r.course_id));
  LF_RETURN_IF_ERROR(f.String("cohort_id", r.cohort_id));
  LF_RETURN_IF_ERROR(f.Time("window_start", r.window_start));
  LF_RETURN_IF_ERROR(f.Time("window_end", r.window_end));
  LF_RETURN_IF_ERROR(f.Int("events", r.events));
  LF_RETURN_IF_ERROR(f.Int("attempts", r.attempts));
  LF_RETURN_IF_ERROR(f.Int("correct", r.correct));
  LF_RETURN_IF_ERROR(f.OptionalDouble("accuracy", r.accuracy));
  LF_RETURN_IF_ERROR(f.Int("help_requests", r.help_requests));
  LF_RETURN_IF_ERROR(f.Int("active_minutes", r.active_minutes));
  LF_RETURN_IF_ERROR(f.Int("sessions", r.sessions));
  LF_RETURN_IF_ERROR(f.Mastery("mastery", r.mastery));
  LF_RETURN_IF_ERROR(f.OptionalDouble("mean_mastery", r.mean_mastery));
  LF_RETURN_IF_ERROR(f.Bool("struggling", r.struggling));
  LF_RETURN_IF_ERROR(f.End());
  return SignalRecord(std::move(r));
}

StatusOr<SignalRecord> ParseInactive(FieldReader& f) {
  InactiveRecord r;
  LF_RETURN_IF_ERROR(f.Literal("kind", "inactive"));
  LF_RETURN_IF_ERROR(f.SchemaVersion());
  LF_RETURN_IF_ERROR(f.String("learner_id", r.learner_id));
  LF_RETURN_IF_ERROR(f.String("cohort_id", r.cohort_id));
  LF_RETURN_IF_ERROR(f.Time("last_event_time", r.last_event_time));
  LF_RETURN_IF_ERROR(f.End());
  return SignalRecord(std::move(r));
}

StatusOr<SignalRecord> ParseCohort(FieldReader& f) {
  CohortRecord r;
  LF_RETURN_IF_ERROR(f.Literal("kind", "cohort_window"));
  LF_RETURN_IF_ERROR(f.SchemaVersion());
  LF_RETURN_IF_ERROR(f.String("cohort_id", r.cohort_id));
  LF_RETURN_IF_ERROR(f.Time("window_start", r.window_start));
  LF_RETURN_IF_ERROR(f.Time("window_end", r.window_end));
  LF_RETURN_IF_ERROR(f.Int("active_learners", r.active_learners));
  LF_RETURN_IF_ERROR(f.Int("struggling_learners", r.struggling_learners));
  LF_RETURN_IF_ERROR(f.Double("struggling_share", r.struggling_share));
  LF_RETURN_IF_ERROR(f.OptionalDouble("accuracy", r.accuracy));
  LF_RETURN_IF_ERROR(f.OptionalDouble("mean_mastery", r.mean_mastery));
  LF_RETURN_IF_ERROR(f.Int("active_minutes", r.active_minutes));
  LF_RETURN_IF_ERROR(f.Int("help_requests", r.help_requests));
  LF_RETURN_IF_ERROR(f.End());
  return SignalRecord(std::move(r));
}

StatusOr<SignalRecord> ParseAlert(FieldReader& f) {
  AlertRecord r;
  LF_RETURN_IF_ERROR(f.Literal("kind", "alert"));
  LF_RETURN_IF_ERROR(f.SchemaVersion());
  LF_RETURN_IF_ERROR(f.String("type", r.type));
  if (r.type != "struggling_cohort") {
    return f.Error("type", "expected \"struggling_cohort\", got \"" + r.type + "\"");
  }
  LF_RETURN_IF_ERROR(f.String("state", r.state));
  if (r.state != "firing" && r.state != "resolved") {
    return f.Error("state", "expected \"firing\" or \"resolved\", got \"" + r.state + "\"");
  }
  LF_RETURN_IF_ERROR(f.String("cohort_id", r.cohort_id));
  LF_RETURN_IF_ERROR(f.Time("window_start", r.window_start));
  LF_RETURN_IF_ERROR(f.Time("window_end", r.window_end));
  LF_RETURN_IF_ERROR(f.Int("active_learners", r.active_learners));
  LF_RETURN_IF_ERROR(f.Double("struggling_share", r.struggling_share));
  LF_RETURN_IF_ERROR(f.Double("threshold", r.threshold));
  LF_RETURN_IF_ERROR(f.End());
  return SignalRecord(std::move(r));
}

// ---------------------------------------------------------------------------------------------
// Formatting.

std::string FormatDouble(double value) {
  if (!std::isfinite(value)) return std::to_string(value);
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string FormatOptionalDouble(const std::optional<double>& value) {
  return value.has_value() ? FormatDouble(*value) : "null";
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string FormatOptionalString(const std::optional<std::string>& value) {
  return value.has_value() ? Quote(*value) : "null";
}

std::string FormatTime(TimestampMs t) { return Quote(FormatIso8601Millis(t)); }

std::string FormatMastery(const std::map<std::string, double>& mastery) {
  std::string out = "{";
  for (const auto& [skill, p] : mastery) {
    if (out.size() > 1) out += ",";
    out += Quote(skill) + ":" + FormatDouble(p);
  }
  return out + "}";
}

// ---------------------------------------------------------------------------------------------
// Diffs.

constexpr size_t kMaxDiffLines = 20;

// Collects difference lines, keeping the first kMaxDiffLines.
class DiffLines {
 public:
  void Add(std::string line) {
    ++total_;
    if (lines_.size() < kMaxDiffLines) lines_.push_back(std::move(line));
  }

  std::string Finish(std::string_view kind, size_t expected, size_t actual) const {
    if (total_ == 0) return "";
    std::string out = std::string(kind) + " records differ (expected " + std::to_string(expected) +
                      ", actual " + std::to_string(actual) + "):\n";
    for (const std::string& line : lines_) out += "  " + line + "\n";
    if (total_ > lines_.size()) {
      out += "  ... and " + std::to_string(total_ - lines_.size()) + " more differences\n";
    }
    return out;
  }

 private:
  std::vector<std::string> lines_;
  size_t total_ = 0;
};

bool Near(double expected, double actual) {
  return std::fabs(expected - actual) <= kSignalTolerance;
}

// Compares the fields of two records with the same key, adding one line per mismatching field.
class FieldComparer {
 public:
  FieldComparer(std::string record, DiffLines& lines) : record_(std::move(record)), lines_(lines) {}

  void Str(std::string_view field, const std::string& e, const std::string& a) {
    if (e != a) Mismatch(field, Quote(e), Quote(a));
  }
  void OptStr(std::string_view field, const std::optional<std::string>& e,
              const std::optional<std::string>& a) {
    if (e != a) Mismatch(field, FormatOptionalString(e), FormatOptionalString(a));
  }
  void Int(std::string_view field, int64_t e, int64_t a) {
    if (e != a) Mismatch(field, std::to_string(e), std::to_string(a));
  }
  void Bool(std::string_view field, bool e, bool a) {
    if (e != a) Mismatch(field, e ? "true" : "false", a ? "true" : "false");
  }
  void Time(std::string_view field, TimestampMs e, TimestampMs a) {
    if (e != a) Mismatch(field, FormatTime(e), FormatTime(a));
  }
  void Dbl(std::string_view field, double e, double a) {
    if (!Near(e, a)) Mismatch(field, FormatDouble(e), FormatDouble(a));
  }
  void OptDbl(std::string_view field, const std::optional<double>& e,
              const std::optional<double>& a) {
    const bool equal = e.has_value() == a.has_value() && (!e.has_value() || Near(*e, *a));
    if (!equal) Mismatch(field, FormatOptionalDouble(e), FormatOptionalDouble(a));
  }
  void Mastery(std::string_view field, const std::map<std::string, double>& e,
               const std::map<std::string, double>& a) {
    bool equal = e.size() == a.size();
    for (auto ei = e.begin(), ai = a.begin(); equal && ei != e.end(); ++ei, ++ai) {
      equal = ei->first == ai->first && Near(ei->second, ai->second);
    }
    if (!equal) Mismatch(field, FormatMastery(e), FormatMastery(a));
  }

 private:
  void Mismatch(std::string_view field, const std::string& e, const std::string& a) {
    lines_.Add(record_ + ": " + std::string(field) + " expected " + e + ", actual " + a);
  }

  std::string record_;
  DiffLines& lines_;
};

// The identity of each kind of record: what the diff matches expected and actual records on.
auto Key(const LearnerRecord& r) { return std::tie(r.window_start, r.learner_id, r.cohort_id); }
auto Key(const InactiveRecord& r) { return std::tie(r.learner_id, r.last_event_time, r.cohort_id); }
auto Key(const CohortRecord& r) { return std::tie(r.window_start, r.cohort_id); }
auto Key(const AlertRecord& r) { return std::tie(r.cohort_id, r.window_start); }

std::string Describe(const LearnerRecord& r) {
  return "learner_window{learner_id=" + Quote(r.learner_id) + ", cohort_id=" + Quote(r.cohort_id) +
         ", window_start=" + FormatTime(r.window_start) + "}";
}
std::string Describe(const InactiveRecord& r) {
  return "inactive{learner_id=" + Quote(r.learner_id) +
         ", last_event_time=" + FormatTime(r.last_event_time) +
         ", cohort_id=" + Quote(r.cohort_id) + "}";
}
std::string Describe(const CohortRecord& r) {
  return "cohort_window{cohort_id=" + Quote(r.cohort_id) +
         ", window_start=" + FormatTime(r.window_start) + "}";
}
std::string Describe(const AlertRecord& r) {
  return "alert{cohort_id=" + Quote(r.cohort_id) + ", window_start=" + FormatTime(r.window_start) +
         "}";
}

void CompareFields(const LearnerRecord& e, const LearnerRecord& a, FieldComparer& c) {
  c.OptStr("course_id", e.course_id, a.course_id);
  c.Time("window_end", e.window_end, a.window_end);
  c.Int("events", e.events, a.events);
  c.Int("attempts", e.attempts, a.attempts);
  c.Int("correct", e.correct, a.correct);
  c.OptDbl("accuracy", e.accuracy, a.accuracy);
  c.Int("help_requests", e.help_requests, a.help_requests);
  c.Int("active_minutes", e.active_minutes, a.active_minutes);
  c.Int("sessions", e.sessions, a.sessions);
  c.Mastery("mastery", e.mastery, a.mastery);
  c.OptDbl("mean_mastery", e.mean_mastery, a.mean_mastery);
  c.Bool("struggling", e.struggling, a.struggling);
}

void CompareFields(const InactiveRecord&, const InactiveRecord&, FieldComparer&) {
  // Every field is part of the key.
}

void CompareFields(const CohortRecord& e, const CohortRecord& a, FieldComparer& c) {
  c.Time("window_end", e.window_end, a.window_end);
  c.Int("active_learners", e.active_learners, a.active_learners);
  c.Int("struggling_learners", e.struggling_learners, a.struggling_learners);
  c.Dbl("struggling_share", e.struggling_share, a.struggling_share);
  c.OptDbl("accuracy", e.accuracy, a.accuracy);
  c.OptDbl("mean_mastery", e.mean_mastery, a.mean_mastery);
  c.Int("active_minutes", e.active_minutes, a.active_minutes);
  c.Int("help_requests", e.help_requests, a.help_requests);
}

void CompareFields(const AlertRecord& e, const AlertRecord& a, FieldComparer& c) {
  c.Str("type", e.type, a.type);
  c.Str("state", e.state, a.state);
  c.Time("window_end", e.window_end, a.window_end);
  c.Int("active_learners", e.active_learners, a.active_learners);
  c.Dbl("struggling_share", e.struggling_share, a.struggling_share);
  c.Dbl("threshold", e.threshold, a.threshold);
}

// Sorts both lists by Key() and walks them together: keys only in `expected` are missing, keys
// only in `actual` unexpected, equal keys are compared field by field.
template <typename Record>
std::string Diff(std::string_view kind, std::vector<Record> expected, std::vector<Record> actual) {
  const auto by_key = [](const Record& a, const Record& b) { return Key(a) < Key(b); };
  std::stable_sort(expected.begin(), expected.end(), by_key);
  std::stable_sort(actual.begin(), actual.end(), by_key);
  DiffLines lines;
  size_t i = 0;
  size_t j = 0;
  while (i < expected.size() || j < actual.size()) {
    if (j == actual.size() || (i < expected.size() && by_key(expected[i], actual[j]))) {
      lines.Add("missing: " + FormatRecord(expected[i]));
      ++i;
    } else if (i == expected.size() || by_key(actual[j], expected[i])) {
      lines.Add("unexpected: " + FormatRecord(actual[j]));
      ++j;
    } else {
      FieldComparer comparer(Describe(expected[i]), lines);
      CompareFields(expected[i], actual[j], comparer);
      ++i;
      ++j;
    }
  }
  return lines.Finish(kind, expected.size(), actual.size());
}

}  // namespace

StatusOr<SignalRecord> ParseSignalRecord(std::string_view json) {
  thread_local dom::parser parser;
  dom::element document;
  if (const simdjson::error_code error = parser.parse(json.data(), json.size()).get(document);
      error != simdjson::SUCCESS) {
    return InvalidArgumentError(std::string("record is not valid JSON: ") +
                                simdjson::error_message(error));
  }
  dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return InvalidArgumentError("record is not a JSON object");
  }
  dom::element kind_value;
  std::string_view kind;
  if (object.at_key("kind").get(kind_value) != simdjson::SUCCESS ||
      kind_value.get_string().get(kind) != simdjson::SUCCESS) {
    return InvalidArgumentError("record.kind: missing or not a string");
  }
  FieldReader fields(kind, object);
  if (kind == "learner_window") return ParseLearner(fields);
  if (kind == "inactive") return ParseInactive(fields);
  if (kind == "cohort_window") return ParseCohort(fields);
  if (kind == "alert") return ParseAlert(fields);
  return InvalidArgumentError("record.kind: unknown kind \"" + std::string(kind) + "\"");
}

Status AppendSignalRecord(std::string_view json, ModelOutput& out) {
  LF_ASSIGN_OR_RETURN(SignalRecord record, ParseSignalRecord(json));
  if (auto* r = std::get_if<LearnerRecord>(&record)) out.learner_records.push_back(std::move(*r));
  if (auto* r = std::get_if<InactiveRecord>(&record)) out.inactive_records.push_back(std::move(*r));
  if (auto* r = std::get_if<CohortRecord>(&record)) out.cohort_records.push_back(std::move(*r));
  if (auto* r = std::get_if<AlertRecord>(&record)) out.alerts.push_back(std::move(*r));
  return Status::Ok();
}

std::string DiffLearnerRecords(const std::vector<LearnerRecord>& expected,
                               const std::vector<LearnerRecord>& actual) {
  return Diff("learner_window", expected, actual);
}

std::string DiffInactiveRecords(const std::vector<InactiveRecord>& expected,
                                const std::vector<InactiveRecord>& actual) {
  return Diff("inactive", expected, actual);
}

std::string DiffCohortRecords(const std::vector<CohortRecord>& expected,
                              const std::vector<CohortRecord>& actual) {
  return Diff("cohort_window", expected, actual);
}

std::string DiffAlerts(const std::vector<AlertRecord>& expected,
                       const std::vector<AlertRecord>& actual) {
  return Diff("alert", expected, actual);
}

std::string DiffSignalRecords(const ModelOutput& expected, const ModelOutput& actual) {
  return DiffLearnerRecords(expected.learner_records, actual.learner_records) +
         DiffInactiveRecords(expected.inactive_records, actual.inactive_records) +
         DiffCohortRecords(expected.cohort_records, actual.cohort_records) +
         DiffAlerts(expected.alerts, actual.alerts);
}

std::string FormatRecord(const LearnerRecord& r) {
  return "{\"kind\":\"learner_window\",\"learner_id\":" + Quote(r.learner_id) +
         ",\"course_id\":" + FormatOptionalString(r.course_id) +
         ",\"cohort_id\":" + Quote(r.cohort_id) +
         ",\"window_start\":" + FormatTime(r.window_start) +
         ",\"window_end\":" + FormatTime(r.window_end) + ",\"events\":" + std::to_string(r.events) +
         ",\"attempts\":" + std::to_string(r.attempts) +
         ",\"correct\":" + std::to_string(r.correct) +
         ",\"accuracy\":" + FormatOptionalDouble(r.accuracy) +
         ",\"help_requests\":" + std::to_string(r.help_requests) +
         ",\"active_minutes\":" + std::to_string(r.active_minutes) +
         ",\"sessions\":" + std::to_string(r.sessions) +
         ",\"mastery\":" + FormatMastery(r.mastery) +
         ",\"mean_mastery\":" + FormatOptionalDouble(r.mean_mastery) +
         ",\"struggling\":" + (r.struggling ? "true" : "false") + "}";
}

std::string FormatRecord(const InactiveRecord& r) {
  return "{\"kind\":\"inactive\",\"learner_id\":" + Quote(r.learner_id) +
         ",\"cohort_id\":" + Quote(r.cohort_id) +
         ",\"last_event_time\":" + FormatTime(r.last_event_time) + "}";
}

std::string FormatRecord(const CohortRecord& r) {
  return "{\"kind\":\"cohort_window\",\"cohort_id\":" + Quote(r.cohort_id) +
         ",\"window_start\":" + FormatTime(r.window_start) +
         ",\"window_end\":" + FormatTime(r.window_end) +
         ",\"active_learners\":" + std::to_string(r.active_learners) +
         ",\"struggling_learners\":" + std::to_string(r.struggling_learners) +
         ",\"struggling_share\":" + FormatDouble(r.struggling_share) +
         ",\"accuracy\":" + FormatOptionalDouble(r.accuracy) +
         ",\"mean_mastery\":" + FormatOptionalDouble(r.mean_mastery) +
         ",\"active_minutes\":" + std::to_string(r.active_minutes) +
         ",\"help_requests\":" + std::to_string(r.help_requests) + "}";
}

std::string FormatRecord(const AlertRecord& r) {
  return "{\"kind\":\"alert\",\"type\":" + Quote(r.type) + ",\"state\":" + Quote(r.state) +
         ",\"cohort_id\":" + Quote(r.cohort_id) +
         ",\"window_start\":" + FormatTime(r.window_start) +
         ",\"window_end\":" + FormatTime(r.window_end) +
         ",\"active_learners\":" + std::to_string(r.active_learners) +
         ",\"struggling_share\":" + FormatDouble(r.struggling_share) +
         ",\"threshold\":" + FormatDouble(r.threshold) + "}";
}

}  // namespace learnflow::testing
