#include "operators/learner_window.h"

#include <algorithm>

#include "core/json_writer.h"

namespace learnflow {
namespace {

constexpr uint8_t kStateVersion = 1;

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool GetU64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  in.remove_prefix(8);
  return true;
}

}  // namespace

uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

bool LearnerWindowOperator::Add(const CanonicalEvent& event, LearnerWindowState& state) const {
  if (event.kind == EventKind::kSystem) return false;
  const uint64_t id = StableHash64(event.event_id);
  auto it = std::lower_bound(state.seen_event_ids.begin(), state.seen_event_ids.end(), id);
  if (it != state.seen_event_ids.end() && *it == id) return false;
  state.seen_event_ids.insert(it, id);
  if (state.course_id.empty() && !event.course_id.empty()) state.course_id.assign(event.course_id);
  ++state.events;
  return true;
}

void LearnerWindowOperator::AppendRecord(std::string_view learner_id, std::string_view cohort_id,
                                         TimeWindow window, const LearnerWindowState& state,
                                         std::string& out) const {
  out += R"({"kind":"learner_window","schema_version":1,"learner_id":)";
  AppendJsonString(out, learner_id);
  out += R"(,"course_id":)";
  if (state.course_id.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, state.course_id);
  }
  out += R"(,"cohort_id":)";
  AppendJsonString(out, cohort_id);
  out += R"(,"window_start":")";
  AppendIso8601Millis(window.start, out);
  out += R"(","window_end":")";
  AppendIso8601Millis(window.end, out);
  out += R"(","events":)";
  AppendJsonInt(out, static_cast<int64_t>(state.events));
  out += '}';
}

void LearnerWindowOperator::EncodeState(const LearnerWindowState& state, std::string& out) const {
  out.push_back(static_cast<char>(kStateVersion));
  PutU64(out, state.course_id.size());
  out += state.course_id;
  PutU64(out, state.events);
  PutU64(out, state.seen_event_ids.size());
  for (const uint64_t id : state.seen_event_ids) PutU64(out, id);
}

Status LearnerWindowOperator::DecodeState(std::string_view in, LearnerWindowState& state) const {
  const auto corrupt = [] { return InternalError("corrupt learner window state"); };
  if (in.empty() || static_cast<uint8_t>(in[0]) != kStateVersion) return corrupt();
  in.remove_prefix(1);
  uint64_t course_len = 0;
  if (!GetU64(in, course_len) || in.size() < course_len) return corrupt();
  state.course_id.assign(in.substr(0, course_len));
  in.remove_prefix(course_len);
  uint64_t count = 0;
  if (!GetU64(in, state.events) || !GetU64(in, count) || count > in.size() / 8 ||
      in.size() != count * 8) {
    return corrupt();
  }
  state.seen_event_ids.resize(count);
  for (uint64_t& id : state.seen_event_ids) GetU64(in, id);
  return Status::Ok();
}

}  // namespace learnflow
