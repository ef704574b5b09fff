// Tests of the PHP serialize() reader used for Moodle's `other` column.
#include "connectors/decoders/php_unserialize.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace learnflow::decoder_internal {
namespace {

using Type = PhpValue::Type;

TEST(PhpUnserializeTest, Scalars) {
  PhpValue v;
  ASSERT_TRUE(PhpParse("N;", v));
  EXPECT_EQ(v.type, Type::kNull);
  ASSERT_TRUE(PhpParse("b:1;", v));
  EXPECT_EQ(v.type, Type::kBool);
  EXPECT_TRUE(v.boolean);
  ASSERT_TRUE(PhpParse("i:-42;", v));
  EXPECT_EQ(v.type, Type::kInt);
  EXPECT_EQ(v.integer, -42);
  ASSERT_TRUE(PhpParse("d:85.5;", v));
  EXPECT_EQ(v.type, Type::kDouble);
  EXPECT_DOUBLE_EQ(v.number, 85.5);
  ASSERT_TRUE(PhpParse("d:1.0E+25;", v));
  EXPECT_DOUBLE_EQ(v.number, 1e25);
  ASSERT_TRUE(PhpParse("d:INF;", v));
  ASSERT_TRUE(PhpParse("s:5:\"hello\";", v));
  EXPECT_EQ(v.type, Type::kString);
  EXPECT_EQ(v.string, "hello");
}

TEST(PhpUnserializeTest, StringLengthIsInBytesAndMayContainQuotes) {
  PhpValue v;
  // "Zoë" is 4 bytes in UTF-8; a string may contain '"' and ';'.
  ASSERT_TRUE(PhpParse("s:4:\"Zo\xC3\xAB\";", v));
  EXPECT_EQ(v.string, "Zo\xC3\xAB");
  ASSERT_TRUE(PhpParse("s:5:\"a\";b\"\";", v));
  EXPECT_EQ(v.string, "a\";b\"");
  EXPECT_FALSE(PhpParse("s:3:\"Zo\xC3\xAB\";", v));
}

TEST(PhpUnserializeTest, MoodleUserGradedOther) {
  const std::string other =
      "a:3:{s:6:\"itemid\";i:12;s:10:\"overridden\";b:0;s:10:\"finalgrade\";d:85.5;}";
  PhpValue v;
  ASSERT_TRUE(PhpFindMember(other, "finalgrade", v));
  double grade = 0;
  ASSERT_TRUE(PhpToDouble(v, grade));
  EXPECT_DOUBLE_EQ(grade, 85.5);
  ASSERT_TRUE(PhpFindMember(other, "itemid", v));
  EXPECT_EQ(v.integer, 12);
  EXPECT_FALSE(PhpFindMember(other, "missing", v));
}

TEST(PhpUnserializeTest, NumericStringsAndIntegerKeys) {
  PhpValue v;
  double d = 0;
  ASSERT_TRUE(PhpFindMember("a:1:{s:10:\"finalgrade\";s:8:\"72.00000\";}", "finalgrade", v));
  ASSERT_TRUE(PhpToDouble(v, d));
  EXPECT_DOUBLE_EQ(d, 72.0);
  ASSERT_TRUE(PhpFindMember("a:2:{i:0;s:1:\"x\";i:7;s:1:\"y\";}", "7", v));
  EXPECT_EQ(v.string, "y");
  ASSERT_TRUE(PhpFindMember("a:1:{s:1:\"g\";N;}", "g", v));
  EXPECT_FALSE(PhpToDouble(v, d));
  ASSERT_TRUE(PhpFindMember("a:1:{s:1:\"g\";d:NAN;}", "g", v));
  EXPECT_FALSE(PhpToDouble(v, d));
}

TEST(PhpUnserializeTest, ObjectsNestingAndOnlyTopLevelMatches) {
  const std::string text =
      "O:8:\"stdClass\":2:{s:6:\"nested\";a:1:{s:10:\"finalgrade\";i:1;}"
      "s:10:\"finalgrade\";i:9;}";
  PhpValue v;
  ASSERT_TRUE(PhpFindMember(text, "finalgrade", v));
  EXPECT_EQ(v.integer, 9);
  ASSERT_TRUE(PhpFindMember(text, "nested", v));
  EXPECT_EQ(v.type, Type::kArray);
  ASSERT_TRUE(PhpParse("C:11:\"ArrayObject\":5:{x;y;z}", v));
  EXPECT_EQ(v.type, Type::kObject);
  ASSERT_TRUE(PhpParse("a:2:{i:0;r:1;i:1;R:1;}", v));
  ASSERT_TRUE(PhpParse("E:11:\"Suit:Hearts\";", v));
}

TEST(PhpUnserializeTest, RejectsMalformed) {
  PhpValue v;
  for (const std::string text :
       {"", "N", "x:1;", "i:;", "i:12", "i:1x;", "b:2;", "d:;", "s:10:\"short\";", "s:-1:\"\";",
        "s:5:\"hello\"", "a:2:{i:0;N;}", "a:1:{i:0;N;", "a:-1:{}", "a:1:{d:1.5;N;}",
        "a:1:{a:0:{}N;}", "N;N;", "O:3:\"std\":1:{s:1:\"a\";}", "C:1:\"C\":99:{}",
        "a:99999999999999999999:{}", "a:9223372036854775807:{i:0;N;}"}) {
    EXPECT_FALSE(PhpParse(text, v)) << text;
    EXPECT_FALSE(PhpFindMember(text, "a", v)) << text;
  }
}

TEST(PhpUnserializeTest, DepthIsBounded) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "a:1:{i:0;";
  deep += "N;";
  for (int i = 0; i < 10000; ++i) deep += "}";
  PhpValue v;
  EXPECT_FALSE(PhpParse(deep, v));
  std::string ok;
  for (int i = 0; i < 10; ++i) ok += "a:1:{i:0;";
  ok += "N;";
  for (int i = 0; i < 10; ++i) ok += "}";
  EXPECT_TRUE(PhpParse(ok, v));
}

TEST(PhpUnserializeTest, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  const std::string alphabet = "aOsidbNCrRE:;{}\"0123456789-.";
  PhpValue v;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int j = 0; j < n; ++j) {
      text.push_back(rng() % 4 == 0 ? static_cast<char>(rng())
                                    : alphabet[rng() % alphabet.size()]);
    }
    (void)PhpParse(text, v);
    (void)PhpFindMember(text, "finalgrade", v);
  }
}

}  // namespace
}  // namespace learnflow::decoder_internal
