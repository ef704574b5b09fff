#include "core/codec.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace learnflow
