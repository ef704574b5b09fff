// Fuzz target: Moodle logstore_standard_log rows (JSON, with `other` as JSON or PHP-serialised
// text) through EventDecoder (format detection included), with the invariants of
// decoder_check.h. Seeds: corpus/moodle.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "connectors/decoders/event_decoder.h"
#include "tests/fuzz/decoder_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One decoder for the whole run (buffers reused across messages, as in the engine), with the
  // course -> cohort and item -> skill mappings of a configured site.
  static learnflow::fuzz::DecoderHarness harness([] {
    learnflow::DecoderOptions options = learnflow::DecoderOptions::Defaults();
    options.moodle_site_id = "campus";
    options.moodle_cohort_by_course = {{"42", "math-101-fall"}, {"7", "bio-2"}};
    options.moodle_skill_by_item = {{"845", "fractions"}, {"901", "reading"}};
    options.moodle_default_grade_max = 20.0;
    return options;
  }());
  harness.DecodeAndCheck(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
