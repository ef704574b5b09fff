#include "core/event.h"

namespace learnflow {

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kAttempt: return "attempt";
    case EventKind::kOutcome: return "outcome";
    case EventKind::kView: return "view";
    case EventKind::kHelp: return "help";
    case EventKind::kCompletion: return "completion";
    case EventKind::kSessionEnd: return "session_end";
    case EventKind::kSystem: return "system";
    case EventKind::kRetraction: return "retraction";
    case EventKind::kOther: return "other";
  }
  return "other";
}

}  // namespace learnflow
