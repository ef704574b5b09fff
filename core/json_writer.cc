#include "core/json_writer.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace learnflow {

namespace {

// Whether any of the 8 bytes in `w` needs escaping in a JSON string: a control character
// (< 0x20), '"' or '\\'. Each test is exact for "any byte" (bytes >= 0x80, UTF-8, never match).
bool AnyNeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  return (((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash)) &
         kHigh;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Ids are long runs that need no escaping: skip them 8 bytes at a time.
  size_t i = 0;
  while (i + 8 <= value.size()) {
    uint64_t w;
    std::memcpy(&w, value.data() + i, 8);
    if (AnyNeedsEscape(w)) break;
    i += 8;
  }
  size_t run_start = 0;
  for (; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(value.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(value.data() + run_start, value.size() - run_start);
  out.push_back('"');
}

void AppendJsonInt(std::string& out, int64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

namespace {
// The text of a recently written double. Records repeat their values: a BKT probability depends
// only on the sequence of outcomes (few distinct values after a few attempts), and an accuracy
// is a ratio of small counts. std::to_chars costs about 480 instructions a value; a hit in this
// direct-mapped table a few dozen. An entry with size 0 is empty (to_chars writes 1 byte or
// more).
struct DoubleText {
  uint64_t bits;
  uint8_t size;
  char text[27];  // the longest shortest form, "-2.2250738585072014e-308", is 24
};
constexpr int kDoubleTextBits = 9;
// Per thread, plain data: zero-initialised, no constructor or destructor to run.
constinit thread_local DoubleText double_texts[size_t{1} << kDoubleTextBits] = {};
}  // namespace

void AppendJsonDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  DoubleText& entry = double_texts[(bits * 0x9E3779B97F4A7C15ULL) >> (64 - kDoubleTextBits)];
  if (entry.size == 0 || entry.bits != bits) {
    const auto result = std::to_chars(entry.text, entry.text + sizeof(entry.text), value);
    entry.bits = bits;
    entry.size = static_cast<uint8_t>(result.ptr - entry.text);
  }
  out.append(entry.text, entry.size);
}

void AppendJsonOptional(std::string& out, const std::optional<double>& value) {
  if (value) {
    AppendJsonDouble(out, *value);
  } else {
    out += "null";
  }
}

}  // namespace learnflow
