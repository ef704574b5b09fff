// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), and the learner-id pseudonymizer built on
// them (privacy.pseudonymize_learner_ids, DESIGN §4).
//
// Self-contained so that the per-record path allocates nothing: HmacSha256 hashes the key's inner
// and outer pads once, and each Mac() starts from copies of those two states on the stack.
// Verified against the FIPS 180-4 and RFC 4231 test vectors (tests/core/hmac_sha256_test.cc).
//
//   Pseudonymizer pseudonymizer(key);          // key: the bytes of privacy.key
//   Pseudonymizer::Hex hex;
//   std::string_view id = pseudonymizer.Apply("mailto:ada@example.org", hex);  // 64 hex digits
//
// Value types; every const method may be called from any thread at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace learnflow {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  Sha256Digest Finish();  // REQUIRES: called once; the object is spent afterwards

  static Sha256Digest Hash(std::string_view data);

 private:
  void Block(const uint8_t* block);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed so far
};

class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  Sha256Digest Mac(std::string_view message) const;

 private:
  Sha256 inner_;  // after the key XOR ipad block
  Sha256 outer_;  // after the key XOR opad block
};

// Lower-case hex of a digest.
using Sha256Hex = std::array<char, 64>;
void ToHex(const Sha256Digest& digest, Sha256Hex& out);

// Replaces learner ids with the lower-case hex HMAC-SHA256 of the id under a secret key: stable
// (the same id always maps to the same pseudonym), not reversible without the key.
class Pseudonymizer {
 public:
  using Hex = Sha256Hex;
  explicit Pseudonymizer(std::string_view key) : mac_(key) {}
  // Writes the pseudonym of `id` into `out` and returns a view of it (valid while `out` is).
  std::string_view Apply(std::string_view id, Hex& out) const;

 private:
  HmacSha256 mac_;
};

}  // namespace learnflow
