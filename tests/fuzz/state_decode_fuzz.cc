// Fuzz target: the decoders of persisted and repartitioned state (operators/learner_signals.h,
// operators/cohort_signals.h). These bytes come back from RocksDB and from Kafka (changelog and
// repartition topics), so corrupt ones must be an error, never a crash. Seeds: corpus/state_decode.
//
// Input: one selector byte (modulo 5: LearnerWindowState, LearnerState, CohortWindowState,
// CohortState, a repartition record), then the encoded bytes.
// Checked: whatever decodes re-encodes to bytes that decode to the same value (the encoding is
// a fixed point after one round: Decode(Encode(x)) encodes to Encode(x)); a learner window
// state of version 4 or 3 (both written today), which has no flags to normalise and one encoding
// per value, re-encodes to the very input (version 2 is rewritten as version 3); a repartition
// summary's record view lies inside the input; a marker names a partition below its count.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/check.h"
#include "operators/cohort_signals.h"
#include "operators/learner_signals.h"

namespace learnflow {
namespace {

// Decodes `bytes` as a T; when that succeeds, checks the round trip and returns the encoding.
template <typename T>
void CheckRoundTrip(std::string_view bytes, bool exact) {
  T value;
  if (!value.Decode(bytes).ok()) return;
  std::string first;
  value.Encode(first);
  if (exact) LF_CHECK(first == bytes, "re-encoding gives back the input");
  T again;
  LF_CHECK(again.Decode(first).ok(), "what Encode writes, Decode reads");
  std::string second;
  again.Encode(second);
  LF_CHECK(first == second, "encoding is a fixed point after one round trip");
}

void CheckRepartitionRecord(std::string_view bytes) {
  LearnerSummary summary;
  WatermarkMarker marker;
  const RepartitionRecordType type = ParseRepartitionRecord(bytes, summary, marker);
  if (type == RepartitionRecordType::kInvalid) return;
  std::string first;
  if (type == RepartitionRecordType::kMarker) {
    LF_CHECK(marker.upstream_partition >= 0 && marker.upstream_partition < marker.upstream_count,
             "a marker's partition is below its partition count");
    AppendMarkerRecord(marker, first);
  } else {
    const std::less_equal<const char*> le;
    LF_CHECK(summary.record.empty() ||
                 (le(bytes.data(), summary.record.data()) &&
                  le(summary.record.data() + summary.record.size(), bytes.data() + bytes.size())),
             "a summary's record views into the input");
    LF_CHECK(summary.upstream_partition >= 0, "a summary's partition is not negative");
    AppendSummaryRecord(summary, first);
  }
  LearnerSummary summary_again;
  WatermarkMarker marker_again;
  LF_CHECK(ParseRepartitionRecord(first, summary_again, marker_again) == type,
           "what Append writes, Parse reads as the same kind");
  std::string second;
  if (type == RepartitionRecordType::kMarker) {
    AppendMarkerRecord(marker_again, second);
  } else {
    AppendSummaryRecord(summary_again, second);
  }
  LF_CHECK(first == second, "encoding is a fixed point after one round trip");
}

}  // namespace
}  // namespace learnflow

// LearnerWindowState's version bytes as Encode writes them (3: event ids hashed with FNV-1a).
constexpr char kCurrentWindowVersion = 4;
constexpr char kFnvIdsWindowVersion = 3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      learnflow::CheckRoundTrip<learnflow::LearnerWindowState>(
          bytes, /*exact=*/!bytes.empty() &&
                     (bytes[0] == kCurrentWindowVersion || bytes[0] == kFnvIdsWindowVersion));
      break;
    case 1:
      learnflow::CheckRoundTrip<learnflow::LearnerState>(bytes, /*exact=*/false);
      break;
    case 2:
      learnflow::CheckRoundTrip<learnflow::CohortWindowState>(bytes, /*exact=*/false);
      break;
    case 3:
      learnflow::CheckRoundTrip<learnflow::CohortState>(bytes, /*exact=*/false);
      break;
    default:
      learnflow::CheckRepartitionRecord(bytes);
      break;
  }
  return 0;
}
