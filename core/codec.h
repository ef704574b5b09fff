// Little-endian binary encoding of state values (window aggregates, per-key state, internal
// topic records): fixed-width integers and doubles, length-prefixed strings, and varints
// (LEB128: 7 bits a byte, low first) for counts and lengths, which are mostly small.
//
//   std::string out;
//   PutU64(out, 42); PutString(out, "skill-1"); PutDouble(out, 0.25);
//   ByteReader in(out);
//   uint64_t n; std::string_view s; double d;
//   if (!in.U64(n) || !in.String(s) || !in.Double(d) || !in.done()) return corrupt();
//
// The encoding is stable across machines (it is persisted and sent between instances).
// StableHash64 (FNV-1a, 64 bit) and EventIdHash64 are hashes persisted in state: the same on
// every platform.
// Pure functions and value types; thread-compatible.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace learnflow {

// The bytes go through a local buffer and one append (a push_back per byte costs a capacity
// check and a terminator each; state encoding writes millions of these per second).
inline void PutU64(std::string& out, uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(bytes, sizeof(bytes));
}
inline void PutU32(std::string& out, uint32_t v) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(bytes, sizeof(bytes));
}
inline void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
inline void PutDouble(std::string& out, double v) { PutU64(out, std::bit_cast<uint64_t>(v)); }
inline void PutString(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

inline void PutVarint(std::string& out, uint64_t v) {
  char bytes[10];
  size_t n = 0;
  while (v >= 0x80) {
    bytes[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  bytes[n++] = static_cast<char>(v);
  out.append(bytes, n);
}
// A string with a varint length.
inline void PutVarString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

namespace codec_internal {
// The first n <= 8 bytes at p as a little-endian integer (the same on every platform). Whole
// words are one load: GCC does not always merge the byte loop below into one.
inline uint64_t LoadLittleEndian(const char* p, size_t n) {
  constexpr bool kBig = std::endian::native == std::endian::big;
  if (n == 8) {
    uint64_t v = 0;
    std::memcpy(&v, p, 8);
    return kBig ? __builtin_bswap64(v) : v;
  }
  if (n == 4) {
    uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return kBig ? __builtin_bswap32(v) : v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
}  // namespace codec_internal

// Reads what the Put functions wrote. Every read returns false (and consumes nothing) when the
// input is too short; the views returned point into the input.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool U64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = codec_internal::LoadLittleEndian(in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  bool U32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = static_cast<uint32_t>(codec_internal::LoadLittleEndian(in_.data(), 4));
    in_.remove_prefix(4);
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u = 0;
    if (!U64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool Double(double& v) {
    uint64_t u = 0;
    if (!U64(u)) return false;
    v = std::bit_cast<double>(u);
    return true;
  }
  bool Byte(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool String(std::string_view& s) {
    ByteReader rest = *this;  // consume nothing unless the whole string is there
    uint32_t n = 0;
    if (!rest.U32(n) || rest.in_.size() < n) return false;
    s = rest.in_.substr(0, n);
    in_ = rest.in_.substr(n);
    return true;
  }
  // A varint in its shortest form (no trailing zero byte) of at most 10 bytes whose value fits
  // 64 bits: each value has one encoding, so decoding and encoding again gives the input back.
  bool Varint(uint64_t& v) {
    uint64_t value = 0;
    for (size_t i = 0; i < in_.size() && i < 10; ++i) {
      const auto byte = static_cast<uint8_t>(in_[i]);
      if ((i == 9 && byte > 1) || (i > 0 && byte == 0)) return false;
      value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        v = value;
        in_.remove_prefix(i + 1);
        return true;
      }
    }
    return false;
  }
  bool VarString(std::string_view& s) {
    ByteReader rest = *this;
    uint64_t n = 0;
    if (!rest.Varint(n) || rest.in_.size() < n) return false;
    s = rest.in_.substr(0, n);
    in_ = rest.in_.substr(n);
    return true;
  }
  // A count of items of at least `min_item_bytes` each that the rest of the input can hold.
  bool Count(uint64_t& n, size_t min_item_bytes) {
    if (!U64(n)) return false;
    return Fits(n, min_item_bytes);
  }
  // The same, written as a varint.
  bool VarCount(uint64_t& n, size_t min_item_bytes) {
    if (!Varint(n)) return false;
    return Fits(n, min_item_bytes);
  }
  bool done() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

 private:
  bool Fits(uint64_t n, size_t min_item_bytes) const {
    return n <= in_.size() / (min_item_bytes == 0 ? 1 : min_item_bytes);
  }

  std::string_view in_;
};

// 64-bit FNV-1a: stable across runs and machines (it is persisted in state).
inline uint64_t StableHash64(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

namespace codec_internal {
__extension__ using U128 = unsigned __int128;
// The two halves of a * b folded together: every bit of each factor reaches most of the result.
inline uint64_t MulFold(uint64_t a, uint64_t b) {
  const U128 product = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}
}  // namespace codec_internal

// The hash of event ids in a learner window's distinct-id set (window state version 4 on).
// FNV-1a multiplies once per byte, in series: 36 multiplies for a UUID. This one takes 8 bytes a
// step (read as little-endian, so the same on every platform), 5 steps for a UUID.
inline uint64_t EventIdHash64(std::string_view bytes) {
  constexpr uint64_t kStep = 0x9E3779B97F4A7C15ULL;
  constexpr uint64_t kFinal = 0xC2B2AE3D27D4EB4FULL;
  using codec_internal::LoadLittleEndian;
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t h = codec_internal::MulFold(n ^ 0x243F6A8885A308D3ULL, kStep);
  for (; n >= 8; p += 8, n -= 8) h = codec_internal::MulFold(h ^ LoadLittleEndian(p, 8), kStep);
  if (n > 0) h = codec_internal::MulFold(h ^ LoadLittleEndian(p, n), kStep);
  return codec_internal::MulFold(h, kFinal);
}

// The number of leading bytes `a` and `b` have in common (front coding of sorted names). Eight
// bytes a step: the first differing byte of two little-endian words is the lowest set bit of
// their xor.
inline size_t SharedPrefixLength(std::string_view a, std::string_view b) {
  using codec_internal::LoadLittleEndian;
  const size_t limit = a.size() < b.size() ? a.size() : b.size();
  size_t n = 0;
  for (; n + 8 <= limit; n += 8) {
    const uint64_t diff = LoadLittleEndian(a.data() + n, 8) ^ LoadLittleEndian(b.data() + n, 8);
    if (diff != 0) return n + static_cast<size_t>(std::countr_zero(diff)) / 8;
  }
  while (n < limit && a[n] == b[n]) ++n;
  return n;
}

}  // namespace learnflow
