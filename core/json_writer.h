// Minimal, allocation-free JSON output helpers for records the engine emits.
//
//   std::string out;  // reused across records
//   out += "{\"learner_id\":"; AppendJsonString(out, learner_id); out += '}';
//
// Strings are escaped per RFC 8259 (quotes, backslash, control characters); UTF-8 passes through
// unchanged. Doubles are written with the shortest representation that round-trips, so the
// same value always yields the same bytes (at-least-once repeats are byte-identical).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace learnflow {

void AppendJsonString(std::string& out, std::string_view value);
void AppendJsonInt(std::string& out, int64_t value);
// NaN and infinities are written as null.
void AppendJsonDouble(std::string& out, double value);
// A number, or null when `value` is empty.
void AppendJsonOptional(std::string& out, const std::optional<double>& value);

}  // namespace learnflow
