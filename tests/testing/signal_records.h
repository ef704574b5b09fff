// Reading the engine's signal records back (JSON, DESIGN §8 / signal rule 15) into the model's
// structs, and comparing them with the model's expectations.
//
//   ModelOutput actual;
//   for (const std::string& value : ReadTopic("learnflow.learner-signals")) {
//     ASSERT_OK(AppendSignalRecord(value, actual));
//   }
//   SortModelOutput(actual);
//   EXPECT_NO_SIGNAL_DIFF(DiffLearnerRecords(expected.learner_records, actual.learner_records));
//
// Parsing is strict: a record must carry exactly the keys of its kind, in the documented order,
// `schema_version` 1, times as `YYYY-MM-DDTHH:MM:SS.mmmZ` and mastery keys in byte order. A
// malformed record is an error value naming the kind and the field, e.g.
// `InvalidArgument: learner_window.accuracy: expected a number or null`.
//
// The Diff* functions are order-insensitive (both sides are sorted by the record's key first) and
// compare doubles with an absolute tolerance of 1e-9. They return "" when the lists match, else a
// readable list of the first differences: missing records, unexpected records and field
// mismatches. They do not remove repeats: de-duplicate at-least-once repeats before comparing.
//
// Thread-safety: pure functions; each thread parses with its own parser.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "tests/testing/signal_model.h"

namespace learnflow::testing {

using SignalRecord = std::variant<LearnerRecord, InactiveRecord, CohortRecord, AlertRecord>;

// Parses one record, dispatching on its "kind" (learner_window, inactive, cohort_window, alert).
StatusOr<SignalRecord> ParseSignalRecord(std::string_view json);

// Parses one record and appends it to the matching list of `out`. On error `out` is unchanged.
Status AppendSignalRecord(std::string_view json, ModelOutput& out);

// Absolute tolerance used for every double comparison below.
inline constexpr double kSignalTolerance = 1e-9;

std::string DiffLearnerRecords(const std::vector<LearnerRecord>& expected,
                               const std::vector<LearnerRecord>& actual);
std::string DiffInactiveRecords(const std::vector<InactiveRecord>& expected,
                                const std::vector<InactiveRecord>& actual);
std::string DiffCohortRecords(const std::vector<CohortRecord>& expected,
                              const std::vector<CohortRecord>& actual);
std::string DiffAlerts(const std::vector<AlertRecord>& expected,
                       const std::vector<AlertRecord>& actual);
// The four diffs above, concatenated (late_event_ids are not compared).
std::string DiffSignalRecords(const ModelOutput& expected, const ModelOutput& actual);

// One-line, JSON-like renderings for failure messages.
std::string FormatRecord(const LearnerRecord& record);
std::string FormatRecord(const InactiveRecord& record);
std::string FormatRecord(const CohortRecord& record);
std::string FormatRecord(const AlertRecord& record);

}  // namespace learnflow::testing

// Expects a Diff* result to be empty, printing the difference unescaped when it is not.
#define EXPECT_NO_SIGNAL_DIFF(diff_expr)                              \
  do {                                                                \
    const std::string lf_diff_ = (diff_expr);                         \
    EXPECT_TRUE(lf_diff_.empty()) << #diff_expr << ":\n" << lf_diff_; \
  } while (0)
