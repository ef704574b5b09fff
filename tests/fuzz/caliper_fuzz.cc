// Fuzz target: IMS Caliper 1.2 events and envelopes through EventDecoder (format detection
// included), with the invariants of decoder_check.h. Seeds: corpus/caliper.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "connectors/decoders/event_decoder.h"
#include "tests/fuzz/decoder_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One decoder for the whole run (buffers reused across messages, as in the engine); help tools
  // configured so that ToolUseEvent takes both of its branches.
  static learnflow::fuzz::DecoderHarness harness([] {
    learnflow::DecoderOptions options = learnflow::DecoderOptions::Defaults();
    options.caliper_help_tools = {"https://example.edu/tools/hint",
                                  "https://example.edu/tutor"};
    return options;
  }());
  harness.DecodeAndCheck(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
