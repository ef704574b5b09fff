#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace learnflow {
namespace {

// The escaping of RFC 8259 section 7, one byte at a time.
std::string Reference(std::string_view value) {
  std::string out = "\"";
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string Escaped(std::string_view value) {
  std::string out = "x";
  AppendJsonString(out, value);
  return out.substr(1);
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlsAnywhereInLongStrings) {
  EXPECT_EQ(Escaped(""), R"("")");
  EXPECT_EQ(Escaped("mailto:l0012345@example.org"), R"("mailto:l0012345@example.org")");
  EXPECT_EQ(Escaped("mailto:l0012345@example.org\""), R"("mailto:l0012345@example.org\"")");
  EXPECT_EQ(Escaped("01234567\\89"), R"("01234567\\89")");
  EXPECT_EQ(Escaped(std::string("0123456789abcde\0", 16)), R"("0123456789abcde\u0000")");
  EXPECT_EQ(Escaped("caf\xc3\xa9 \x7f\xff"), "\"caf\xc3\xa9 \x7f\xff\"");  // UTF-8, DEL as is
  EXPECT_EQ(Escaped("\x1f\x20"), R"("\u001f ")");
}

TEST(JsonWriterTest, EveryByteAtEveryPositionEscapesLikeTheReference) {
  std::mt19937 rng(5);
  for (int round = 0; round < 20000; ++round) {
    std::string value(rng() % 40, 'a');
    for (char& c : value) {
      // Mostly plain letters, so that escapes fall at every offset of an 8-byte block.
      c = rng() % 8 == 0 ? static_cast<char>(rng() % 256) : static_cast<char>('a' + rng() % 26);
    }
    ASSERT_EQ(Escaped(value), Reference(value)) << "round " << round;
  }
}

std::string Written(double value) {
  std::string out = "x";
  AppendJsonDouble(out, value);
  return out.substr(1);
}

std::string ToChars(double value) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof(buf), value).ptr);
}

TEST(JsonWriterTest, DoublesAreTheShortestRoundTripTextWhateverWasWrittenBefore) {
  EXPECT_EQ(Written(0.0), "0");
  EXPECT_EQ(Written(-0.0), "-0");
  EXPECT_EQ(Written(0.1), "0.1");
  EXPECT_EQ(Written(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(Written(-2.2250738585072014e-308), "-2.2250738585072014e-308");  // the longest
  EXPECT_EQ(Written(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(Written(-std::numeric_limits<double>::infinity()), "null");
  // Recently written values are remembered by their bits: values written again, values that
  // share a remembered slot and replace each other, and values next to each other in bits must
  // each come out as to_chars writes them.
  std::mt19937_64 rng(11);
  std::vector<double> values;
  for (int i = 0; i < 4000; ++i) {
    const uint64_t bits = rng();
    values.push_back(std::bit_cast<double>(bits));
    values.push_back(std::bit_cast<double>(bits + 1));
    values.push_back(static_cast<double>(rng() % 100) / static_cast<double>(1 + rng() % 100));
  }
  for (int round = 0; round < 3; ++round) {
    for (const double v : values) ASSERT_EQ(Written(v), std::isfinite(v) ? ToChars(v) : "null");
    std::shuffle(values.begin(), values.end(), rng);
  }
}

}  // namespace
}  // namespace learnflow
