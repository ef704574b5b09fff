#include "core/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace learnflow {
namespace {

TEST(CodecTest, FixedWidthIntegersAreLittleEndianAndReadBack) {
  std::string out = "x";
  PutU64(out, 0x0102030405060708ULL);
  PutU32(out, 0xA1B2C3D4u);
  PutI64(out, -2);
  PutDouble(out, 0.25);
  PutString(out, "skill");
  EXPECT_EQ(out.substr(0, 13), std::string("x\x08\x07\x06\x05\x04\x03\x02\x01\xD4\xC3\xB2\xA1", 13));
  ByteReader in(std::string_view(out).substr(1));
  uint64_t u64 = 0;
  uint32_t u32 = 0;
  int64_t i64 = 0;
  double d = 0;
  std::string_view s;
  ASSERT_TRUE(in.U64(u64) && in.U32(u32) && in.I64(i64) && in.Double(d) && in.String(s));
  EXPECT_TRUE(in.done());
  EXPECT_EQ(u64, 0x0102030405060708ULL);
  EXPECT_EQ(u32, 0xA1B2C3D4u);
  EXPECT_EQ(i64, -2);
  EXPECT_EQ(d, 0.25);
  EXPECT_EQ(s, "skill");
}

TEST(CodecTest, VarintsTakeSevenBitsABytePlusLengthAndReadBackAtEveryWidth) {
  std::string out;
  PutVarint(out, 0);
  PutVarint(out, 127);
  PutVarint(out, 300);
  EXPECT_EQ(out, std::string("\x00\x7f\xac\x02", 4));
  const uint64_t values[] = {0, 1, 127, 128, 16383, 16384, uint64_t{1} << 35, UINT64_MAX};
  out.clear();
  for (const uint64_t v : values) PutVarint(out, v);
  PutVarString(out, "skill");
  PutVarString(out, "");
  EXPECT_EQ(out.size(), 1 + 1 + 1 + 2 + 2 + 3 + 6 + 10 + 6 + 1u);
  ByteReader in(out);
  for (const uint64_t v : values) {
    uint64_t read = 0;
    ASSERT_TRUE(in.Varint(read));
    EXPECT_EQ(read, v);
  }
  std::string_view a, b;
  ASSERT_TRUE(in.VarString(a) && in.VarString(b));
  EXPECT_EQ(a, "skill");
  EXPECT_EQ(b, "");
  EXPECT_TRUE(in.done());
}

TEST(CodecTest, TruncatedOverlongOrPaddedVarintsAreRejectedAndConsumeNothing) {
  uint64_t v = 0;
  std::string_view s;
  ByteReader truncated(std::string_view("\x80\x80", 2));
  EXPECT_FALSE(truncated.Varint(v));
  EXPECT_EQ(truncated.rest().size(), 2u);
  // Ten bytes whose last carries more than the 64th bit.
  ByteReader overlong(std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10));
  EXPECT_FALSE(overlong.Varint(v));
  ByteReader padded(std::string_view("\x81\x00", 2));  // 1 in two bytes: not the shortest form
  EXPECT_FALSE(padded.Varint(v));
  ByteReader short_string(std::string_view("\x05" "abc", 4));
  EXPECT_FALSE(short_string.VarString(s));
  EXPECT_EQ(short_string.rest().size(), 4u);
  // A count larger than the rest could hold at 8 bytes an item.
  ByteReader count(std::string_view("\x02" "12345678", 9));
  uint64_t n = 0;
  EXPECT_FALSE(count.VarCount(n, 8));
  ByteReader fits(std::string_view("\x01" "12345678", 9));
  EXPECT_TRUE(fits.VarCount(n, 8));
  EXPECT_EQ(n, 1u);
}

// EventIdHash64 is persisted in window state: these values (from an independent implementation of
// its definition) must never change, on any platform.
TEST(CodecTest, EventIdHashIsStableAndSpreadsIds) {
  EXPECT_EQ(EventIdHash64(""), 0x5cb822d4d761de85ULL);
  EXPECT_EQ(EventIdHash64("a"), 0xd96d3669e4f6d220ULL);
  EXPECT_EQ(EventIdHash64("12345678"), 0x517665992bd854e6ULL);
  EXPECT_EQ(EventIdHash64("3f1c7c0e-4a5b-4c1d-9e2f-0123456789ab"), 0x5158983e0d461e08ULL);
  // A zero byte at the end is not the same id as none (the length is hashed too).
  EXPECT_NE(EventIdHash64(std::string_view("a\0", 2)), EventIdHash64("a"));
  // Ids that differ in one character anywhere, in every length around the 8-byte steps.
  std::unordered_set<uint64_t> seen;
  size_t ids = 0;
  for (size_t length = 1; length <= 40; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (const char c : {'0', '1', 'f'}) {
        std::string id(length, 'e');
        id[at] = c;
        seen.insert(EventIdHash64(id));
        ++ids;
      }
    }
    seen.insert(EventIdHash64(std::string(length, 'e')));
    ++ids;
  }
  EXPECT_EQ(seen.size(), ids);
}

TEST(CodecTest, SharedPrefixLengthAgreesWithAByteByByteCountAtEveryPosition) {
  EXPECT_EQ(SharedPrefixLength("", ""), 0u);
  EXPECT_EQ(SharedPrefixLength("", "abc"), 0u);
  EXPECT_EQ(SharedPrefixLength("https://lms.example.org/s/0042", "https://lms.example.org/s/0047"),
            29u);
  // Every length on both sides of the 8-byte steps, a first difference at every position, and
  // one name a prefix of the other.
  for (size_t length = 0; length <= 40; ++length) {
    const std::string a(length, 'x');
    for (size_t at = 0; at <= length; ++at) {
      std::string b = a.substr(0, at) + 'y' + a.substr(at);
      EXPECT_EQ(SharedPrefixLength(a, b), at) << length << " " << at;
      EXPECT_EQ(SharedPrefixLength(b, a), at) << length << " " << at;
      EXPECT_EQ(SharedPrefixLength(a, a.substr(0, at)), at) << length << " " << at;
      if (at < length) {
        b = a;
        b[at] = static_cast<char>(0x80);  // a high byte: bytes compare unsigned
        EXPECT_EQ(SharedPrefixLength(a, b), at) << length << " " << at;
      }
    }
  }
}

}  // namespace
}  // namespace learnflow
