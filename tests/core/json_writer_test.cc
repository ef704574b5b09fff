#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

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

}  // namespace
}  // namespace learnflow
