// EventDecoder: turns one input message (xAPI statement, IMS Caliper 1.2 event or envelope, Moodle
// standard-log row as JSON) into canonical events (DESIGN §6). The format is detected per message.
//
//   EventDecoder decoder(options);
//   DecodedMessage decoded;
//   decoder.Decode(payload, decoded);
//   for (const CanonicalEvent& e : decoded.events) Process(e);
//   for (const Reject& r : decoded.rejects) DeadLetter(payload, RejectReasonCode(r.reason));
//
// Lifecycle and ownership: one decoder per processing thread; not thread-safe. The views in a
// DecodedMessage point into the decoder's own buffers and stay valid until the next Decode() call
// on the same decoder. Decode() never throws and never crashes on any input: every problem becomes
// a Reject with a reason code. Steady state does not allocate (buffers are reused and only grow).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/decoded.h"
#include "core/event.h"

namespace learnflow {

struct DecoderOptions {
  // xAPI verb IRIs by canonical kind. Defaults: ADL verbs (http://adlnet.gov/expapi/verbs/...)
  // answered/passed/failed/scored -> attempt; attempted/experienced/progressed/initialized ->
  // view; asked -> help; completed -> completion; terminated/exited/suspended/abandoned and the
  // cmi5/ADL https://w3id.org/xapi/adl/verbs/abandoned and .../logged-out -> session_end;
  // launched -> system; voided -> retraction. Other verbs -> other. IRIs match exactly. A verb in
  // several kind lists takes the first kind in the order of the fields below.
  std::vector<std::string> xapi_attempt_verbs;
  std::vector<std::string> xapi_view_verbs;
  std::vector<std::string> xapi_help_verbs;
  std::vector<std::string> xapi_completion_verbs;
  std::vector<std::string> xapi_session_end_verbs;
  std::vector<std::string> xapi_system_verbs;
  // Verbs that void a statement (object must be a StatementRef). Default: ADL voided.
  std::vector<std::string> xapi_retraction_verbs;
  // Verbs implying success true / false when result.success is absent. Defaults: ADL passed /
  // ADL failed. A verb here still needs to be in a kind list to count as an attempt.
  std::vector<std::string> xapi_passed_verbs;
  std::vector<std::string> xapi_failed_verbs;
  // Caliper ToolUseEvent Used whose object.id is listed here -> help, else view.
  std::vector<std::string> caliper_help_tools;
  // Moodle: site id prefixed to the row id to form event_id ("<site>:<id>").
  std::string moodle_site_id = "moodle";
  // Moodle: courseid (as text) -> cohort id. Missing -> course id.
  std::unordered_map<std::string, std::string> moodle_cohort_by_course;
  // Moodle: contextinstanceid (as text) -> skill id. Missing -> item id.
  std::unordered_map<std::string, std::string> moodle_skill_by_item;
  // Moodle: the guest account's user id ($CFG->siteguest); rows by it have no learner.
  int64_t moodle_guest_user_id = 1;
  // Moodle: grade maximum assumed for `\core\event\user_graded` other.finalgrade when `other`
  // carries no `grademax` (100 is Moodle's default grade item maximum).
  double moodle_default_grade_max = 100.0;

  // Options with every default above filled in.
  static DecoderOptions Defaults();
};

class EventDecoder final : public MessageDecoder {
 public:
  explicit EventDecoder(DecoderOptions options = DecoderOptions::Defaults());
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // Decodes `payload` into `out` (cleared first). Never throws.
  void Decode(std::string_view payload, DecodedMessage& out) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace learnflow
