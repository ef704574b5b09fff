// Tests of the one-pass member reader (KeySet, Members) of connectors/decoders: each answer must
// be the one Member() gives for the same object and name; and of the arena's ASCII lowering.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "connectors/decoders/decoder_internal.h"

namespace learnflow::decoder_internal {
namespace {

// "stored" and "sacred" share a length and their first and last bytes, and so a hash: the second
// is found by probing past the first.
constexpr std::array<std::string_view, 4> kNames = {"stored", "sacred", "id", "score"};
constexpr KeySet<4> kKeys(kNames);

dom::object Parse(dom::parser& parser, const std::string& json) {
  dom::object obj;
  EXPECT_EQ(parser.parse(json).get_object().get(obj), simdjson::SUCCESS) << json;
  return obj;
}

TEST(MembersTest, FindsEachNameAndOnlyNamesOfTheSet) {
  EXPECT_EQ(kKeys.Find("stored"), 0u);
  EXPECT_EQ(kKeys.Find("sacred"), 1u);
  EXPECT_EQ(kKeys.Find("id"), 2u);
  EXPECT_EQ(kKeys.Find("score"), 3u);
  for (const std::string_view other : {"", "i", "ids", "Id", "sxxxxd", "stores", "scorex", "d"}) {
    EXPECT_EQ(kKeys.Find(other), 4u) << other;
  }
}

TEST(MembersTest, AnswersAsMemberDoes) {
  const std::string json =
      R"({"sacred":null,"id":"a","stored":{"x":1},"id":"b","sacred":"late","other":3,)"
      R"("score":[1]})";
  dom::parser parser;
  const dom::object obj = Parse(parser, json);
  const Members<4> members(obj, kKeys);
  for (size_t i = 0; i < 4; ++i) {
    dom::element expected;
    dom::element got;
    const bool present = Member(obj, kNames[i], expected);
    ASSERT_EQ(members.Get(i, got), present) << kNames[i];
    EXPECT_EQ(members.Has(i), present) << kNames[i];
    if (present) {
      EXPECT_EQ(simdjson::to_string(got), simdjson::to_string(expected)) << kNames[i];
    }
  }
  // The first "sacred" is null: absent, as Member() says, although a later one is a string.
  EXPECT_FALSE(members.Has(1));
  // The first "id" wins.
  Arena arena;
  EXPECT_EQ(MemberText(members, 2, arena), "a");
  dom::object stored;
  EXPECT_TRUE(members.Object(0, stored));
  EXPECT_FALSE(members.Object(3, stored));  // an array
  EXPECT_FALSE(members.Object(1, stored));  // absent
}

TEST(MembersTest, EmptyObjectsAndDefaultFindNothing) {
  dom::parser parser;
  const Members<4> members(Parse(parser, "{}"), kKeys);
  const Members<4> none;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_FALSE(members.Has(i));
    EXPECT_FALSE(none.Has(i));
  }
}

TEST(ArenaTest, LowerAsciiLowersEachUpperCaseLetterAndNothingElseAtEveryPosition) {
  Arena arena;
  const std::string plain = "mailto:learner-0042@example.org";
  // Text without upper-case letters is returned itself, not copied.
  EXPECT_EQ(arena.LowerAscii(plain).data(), plain.data());
  EXPECT_EQ(arena.LowerAscii("").size(), 0u);
  // Every byte value at every position of texts around the 8-byte steps, against a byte-by-byte
  // lowering.
  for (size_t length = 1; length <= 19; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, 'q');
        text[at] = static_cast<char>(byte);
        std::string expected = text;
        if (byte >= 'A' && byte <= 'Z') expected[at] = static_cast<char>(byte - 'A' + 'a');
        ASSERT_EQ(arena.LowerAscii(text), expected) << length << " " << at << " " << byte;
      }
    }
    arena.Reset();
  }
  EXPECT_EQ(arena.LowerAscii("MAILTO:Ada.Lovelace@EXAMPLE.ORG[Z]@"),
            "mailto:ada.lovelace@example.org[z]@");
}

}  // namespace
}  // namespace learnflow::decoder_internal
