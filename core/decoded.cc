#include "core/decoded.h"

namespace learnflow {

std::string_view InputFormatName(InputFormat format) {
  switch (format) {
    case InputFormat::kUnknown: return "unknown";
    case InputFormat::kXapi: return "xapi";
    case InputFormat::kCaliper: return "caliper";
    case InputFormat::kMoodle: return "moodle";
  }
  return "unknown";
}

std::string_view RejectReasonCode(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalidJson: return "invalid_json";
    case RejectReason::kUnknownFormat: return "unknown_format";
    case RejectReason::kNoLearner: return "no_learner";
    case RejectReason::kBadTime: return "bad_time";
    case RejectReason::kMissingField: return "missing_field";
    case RejectReason::kAnonymous: return "anonymous";
    case RejectReason::kLoginAs: return "login_as";
    case RejectReason::kBadVoid: return "bad_void";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kFutureTime: return "future_time";
    case RejectReason::kLate: return "late";
    case RejectReason::kVoidAfterFinal: return "void_after_final";
  }
  return "invalid_json";
}

}  // namespace learnflow
