// EventDecoder: format detection and dispatch; the per-format mappings live in xapi.cc,
// caliper.cc and moodle.cc. See event_decoder.h and README.md.
#include "connectors/decoders/event_decoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "connectors/decoders/decoder_internal.h"

namespace learnflow {

using decoder_internal::RecordResult;
using decoder_internal::VerbInfo;
namespace dom = simdjson::dom;

DecoderOptions DecoderOptions::Defaults() {
  static constexpr std::string_view kAdl = "http://adlnet.gov/expapi/verbs/";
  static constexpr std::string_view kAdlW3id = "https://w3id.org/xapi/adl/verbs/";
  const auto verbs = [](std::string_view prefix, std::initializer_list<std::string_view> names) {
    std::vector<std::string> out;
    for (const std::string_view name : names) out.push_back(std::string(prefix) + std::string(name));
    return out;
  };
  DecoderOptions options;
  options.xapi_attempt_verbs = verbs(kAdl, {"answered", "passed", "failed", "scored"});
  options.xapi_view_verbs = verbs(kAdl, {"attempted", "experienced", "progressed", "initialized"});
  options.xapi_help_verbs = verbs(kAdl, {"asked"});
  options.xapi_completion_verbs = verbs(kAdl, {"completed"});
  options.xapi_session_end_verbs =
      verbs(kAdl, {"terminated", "exited", "suspended", "abandoned"});
  for (std::string& verb : verbs(kAdlW3id, {"abandoned", "logged-out"})) {
    options.xapi_session_end_verbs.push_back(std::move(verb));
  }
  options.xapi_system_verbs = verbs(kAdl, {"launched"});
  options.xapi_retraction_verbs = verbs(kAdl, {"voided"});
  options.xapi_passed_verbs = verbs(kAdl, {"passed"});
  options.xapi_failed_verbs = verbs(kAdl, {"failed"});
  return options;
}

EventDecoder::Impl::Impl(DecoderOptions options) : options_(std::move(options)) {
  // Kind lists in field order: the first list naming a verb decides its kind.
  const std::pair<const std::vector<std::string>*, EventKind> kinds[] = {
      {&options_.xapi_attempt_verbs, EventKind::kAttempt},
      {&options_.xapi_view_verbs, EventKind::kView},
      {&options_.xapi_help_verbs, EventKind::kHelp},
      {&options_.xapi_completion_verbs, EventKind::kCompletion},
      {&options_.xapi_session_end_verbs, EventKind::kSessionEnd},
      {&options_.xapi_system_verbs, EventKind::kSystem},
      {&options_.xapi_retraction_verbs, EventKind::kRetraction},
  };
  const auto find = [this](std::string_view iri) -> VerbInfo* {
    for (VerbInfo& info : verbs_) {
      if (info.iri == iri) return &info;
    }
    return nullptr;
  };
  for (const auto& [list, kind] : kinds) {
    for (const std::string& iri : *list) {
      if (!iri.empty() && find(iri) == nullptr) verbs_.push_back(VerbInfo{iri, kind});
    }
  }
  const std::pair<const std::vector<std::string>*, Success> implied[] = {
      {&options_.xapi_passed_verbs, Success::kTrue},
      {&options_.xapi_failed_verbs, Success::kFalse},
  };
  for (const auto& [list, success] : implied) {
    for (const std::string& iri : *list) {
      if (iri.empty()) continue;
      VerbInfo* info = find(iri);
      if (info == nullptr) {
        verbs_.push_back(VerbInfo{iri, EventKind::kOther, success});
      } else if (info->implied == Success::kUnknown) {
        info->implied = success;
      }
    }
  }
  // Open addressing at most a quarter full: a verb is looked up once per statement.
  size_t slots = 16;
  while (slots < verbs_.size() * 4) slots *= 2;
  verb_slots_.assign(slots, 0);
  verb_mask_ = slots - 1;
  for (size_t i = 0; i < verbs_.size(); ++i) {
    size_t slot = VerbHash(verbs_[i].iri) & verb_mask_;
    while (verb_slots_[slot] != 0) slot = (slot + 1) & verb_mask_;
    verb_slots_[slot] = static_cast<uint32_t>(i + 1);
  }

  for (const std::string& tool : options_.caliper_help_tools) help_tools_.push_back(tool);
  std::sort(help_tools_.begin(), help_tools_.end());

  for (const auto& [course, cohort] : options_.moodle_cohort_by_course) {
    cohort_by_course_.emplace(course, cohort);
  }
  for (const auto& [item, skill] : options_.moodle_skill_by_item) {
    skill_by_item_.emplace(item, skill);
  }
}

uint64_t EventDecoder::Impl::VerbHash(std::string_view iri) {
  // Verb IRIs share long prefixes ("http://adlnet.gov/expapi/verbs/"): their lengths and last
  // bytes tell them apart.
  uint64_t tail = 0;
  const size_t n = std::min<size_t>(iri.size(), sizeof(tail));
  if (n > 0) std::memcpy(&tail, iri.data() + iri.size() - n, n);
  const uint64_t h = (tail ^ (iri.size() * 0x9E3779B97F4A7C15ULL)) * 0xFF51AFD7ED558CCDULL;
  return h ^ (h >> 32);
}

const VerbInfo* EventDecoder::Impl::FindVerb(std::string_view iri) const {
  for (size_t slot = VerbHash(iri) & verb_mask_; verb_slots_[slot] != 0;
       slot = (slot + 1) & verb_mask_) {
    const VerbInfo& info = verbs_[verb_slots_[slot] - 1];
    if (info.iri == iri) return &info;
  }
  return nullptr;
}

bool EventDecoder::Impl::IsHelpTool(std::string_view id) const {
  return std::binary_search(help_tools_.begin(), help_tools_.end(), id);
}

void EventDecoder::Impl::Decode(std::string_view payload, DecodedMessage& out) {
  out.Clear();
  arena_.Reset();
  const auto reject = [&out](RejectReason reason) { out.rejects.push_back(Reject{0, reason}); };

  if (payload.empty()) return reject(RejectReason::kInvalidJson);
  const char* padded = input_.Assign(payload);
  dom::element root;
  if (parser_.parse(padded, payload.size(), /*realloc_if_needed=*/false).get(root) !=
      simdjson::SUCCESS) {
    return reject(RejectReason::kInvalidJson);
  }
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return reject(RejectReason::kInvalidJson);

  const decoder_internal::TopMembers members(obj, decoder_internal::top::kKeys);
  const auto has = [&members](size_t key) { return members.Has(key); };
  namespace top = decoder_internal::top;
  CanonicalEvent event;

  // Detection order matters: Moodle rows have an `action` column, Caliper envelopes carry
  // events that look like Caliper events.
  dom::element data_value;
  dom::array data;
  if (has(top::kSensor) && members.Get(top::kData, data_value) &&
      data_value.get_array().get(data) == simdjson::SUCCESS) {
    out.format = InputFormat::kCaliper;
    return DecodeCaliperEnvelope(data, out);
  }
  if (has(top::kEventname) && (has(top::kTimecreated) || has(top::kEdulevel))) {
    out.format = InputFormat::kMoodle;
    const RecordResult result = DecodeMoodle(obj, event, out);
    return Emit(result, event, 0, out);
  }
  // `actor` is not required for detection so that a statement without one is reported as
  // no_learner rather than unknown_format.
  if (has(top::kVerb) && has(top::kObject)) {
    out.format = InputFormat::kXapi;
    const RecordResult result = DecodeXapi(members, payload, event);
    return Emit(result, event, 0, out);
  }
  if (has(top::kAction) && has(top::kType) && (has(top::kEventTime) || has(top::kAtContext))) {
    out.format = InputFormat::kCaliper;
    const RecordResult result = DecodeCaliperEvent(obj, event);
    return Emit(result, event, 0, out);
  }
  reject(RejectReason::kUnknownFormat);
}

void EventDecoder::Impl::Emit(RecordResult result, CanonicalEvent& event, uint32_t index,
                              DecodedMessage& out) {
  switch (result.kind) {
    case RecordResult::Kind::kEvent:
      if (event.cohort_id.empty()) event.cohort_id = event.course_id;
      if (event.skill_id.empty()) event.skill_id = event.item_id;
      event.closes_session =
          event.kind == EventKind::kSessionEnd || event.kind == EventKind::kSystem;
      out.events.push_back(event);
      out.event_indexes.push_back(index);
      return;
    case RecordResult::Kind::kSkip:
      ++out.skipped;
      return;
    case RecordResult::Kind::kReject:
      out.rejects.push_back(Reject{index, result.reason});
      return;
  }
}

EventDecoder::EventDecoder(DecoderOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

EventDecoder::~EventDecoder() = default;

void EventDecoder::Decode(std::string_view payload, DecodedMessage& out) {
  impl_->Decode(payload, out);
}

}  // namespace learnflow
