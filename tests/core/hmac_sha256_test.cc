#include "core/hmac_sha256.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace learnflow {
namespace {

std::string Hex(const Sha256Digest& digest) {
  Sha256Hex hex;
  ToHex(digest, hex);
  return std::string(hex.data(), hex.size());
}

TEST(Sha256Test, Fips180Vectors) {
  EXPECT_EQ(Hex(Sha256::Hash("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256::Hash("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256::Hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256::Hash(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesEqualOneShotAtEveryBlockBoundary) {
  std::mt19937 rng(7);
  for (size_t length : {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000}) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    Sha256 sha;
    size_t at = 0;
    while (at < data.size()) {
      const size_t take = std::min<size_t>(data.size() - at, rng() % 70);
      sha.Update(std::string_view(data).substr(at, take));
      at += take;
    }
    EXPECT_EQ(Hex(sha.Finish()), Hex(Sha256::Hash(data))) << "length " << length;
  }
}

TEST(HmacSha256Test, Rfc4231Vectors) {
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0b')).Mac("Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hex(HmacSha256("Jefe").Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\xaa')).Mac(std::string(50, '\xdd'))),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
  EXPECT_EQ(Hex(HmacSha256(key4).Mac(std::string(50, '\xcd'))),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Keys longer than a block are hashed first.
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'))
                    .Mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Hex(HmacSha256(std::string(131, '\xaa'))
                    .Mac("This is a test using a larger than block-size key and a larger than "
                         "block-size data. The key needs to be hashed before being used by the "
                         "HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(PseudonymizerTest, StablePerKeyAndDifferentAcrossKeys) {
  Pseudonymizer a("k3y");
  Pseudonymizer b("another key");
  Pseudonymizer::Hex h1, h2, h3;
  // Python: hmac.new(b"k3y", b"mailto:ada@example.org", hashlib.sha256).hexdigest()
  EXPECT_EQ(a.Apply("mailto:ada@example.org", h1),
            "ce15166a427f450aac3085296e0dc9d96dccd8d49f20f30086f2205d092c428c");
  EXPECT_EQ(a.Apply("mailto:ada@example.org", h2), a.Apply("mailto:ada@example.org", h1));
  EXPECT_NE(b.Apply("mailto:ada@example.org", h3), a.Apply("mailto:ada@example.org", h1));
  EXPECT_NE(a.Apply("mailto:bob@example.org", h2), a.Apply("mailto:ada@example.org", h1));
}

}  // namespace
}  // namespace learnflow
