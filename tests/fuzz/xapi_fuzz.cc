// Fuzz target: xAPI statements through EventDecoder (format detection included), with the
// invariants of decoder_check.h. Seeds: corpus/xapi (statements as an LRS stores them).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "connectors/decoders/event_decoder.h"
#include "tests/fuzz/decoder_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One decoder for the whole run, as the engine keeps one per processing thread: buffers are
  // reused from one message to the next. A verb in two kind lists and a passed verb outside the
  // kind lists exercise the verb table beyond its defaults.
  static learnflow::fuzz::DecoderHarness harness([] {
    learnflow::DecoderOptions options = learnflow::DecoderOptions::Defaults();
    options.xapi_view_verbs.push_back("http://adlnet.gov/expapi/verbs/answered");
    options.xapi_passed_verbs.push_back("https://w3id.org/xapi/dod-isd/verbs/mastered");
    return options;
  }());
  harness.DecodeAndCheck(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
