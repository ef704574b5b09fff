// The invariants of EventDecoder, checked on every input by the decoder fuzz targets
// (xapi_fuzz.cc, caliper_fuzz.cc, moodle_fuzz.cc).
//
//   static fuzz::DecoderHarness harness(options);
//   harness.DecodeAndCheck(payload);
//
// Whatever the bytes, a decoded message must keep the promises of core/decoded.h and
// connectors/decoders/README.md: every record is accounted for exactly once (an event, a reject
// or a skip), only decoder reject reasons appear, each event has the fields its kind and format
// require, an anonymous row's redacted payload is JSON without userid, relateduserid and ip, and
// decoding the same payload again after another message gives the same result (buffers reused
// across messages leak nothing). Every byte of every view is read so that AddressSanitizer sees
// a view into freed or foreign memory. A broken invariant aborts (LF_CHECK), in every build.
// Thread-safety: as EventDecoder (one thread per harness).
#pragma once

#include <string_view>

#include "connectors/decoders/event_decoder.h"
#include "core/decoded.h"

namespace learnflow::fuzz {

class DecoderHarness {
 public:
  explicit DecoderHarness(DecoderOptions options);

  // Decodes `payload` and checks the invariants above.
  void DecodeAndCheck(std::string_view payload);

 private:
  void CheckMessage(std::string_view payload, const DecodedMessage& out) const;
  void CheckEvent(InputFormat format, const CanonicalEvent& event) const;

  const DecoderOptions options_;
  EventDecoder decoder_;
  DecodedMessage out_;
};

}  // namespace learnflow::fuzz
