// Shared helpers of the event decoders: arena, padded input buffer, lenient DOM accessors and a
// minimal JSON writer. See decoder_internal.h.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

#include "connectors/decoders/decoder_internal.h"
#include "core/json_writer.h"

namespace learnflow::decoder_internal {

// ---- Arena ----

void Arena::Reset() {
  for (Block& block : blocks_) block.used = 0;
  current_ = 0;
}

char* Arena::Allocate(size_t n) {
  for (; current_ < blocks_.size(); ++current_) {
    Block& block = blocks_[current_];
    if (block.size - block.used >= n) {
      char* p = block.data.get() + block.used;
      block.used += n;
      return p;
    }
  }
  const size_t size = std::max(n, kBlockSize);
  blocks_.push_back(Block{std::unique_ptr<char[]>(new char[size]), size, n});
  current_ = blocks_.size() - 1;
  return blocks_.back().data.get();
}

std::string_view Arena::Copy(std::string_view text) {
  if (text.empty()) return {};
  char* p = Allocate(text.size());
  std::memcpy(p, text.data(), text.size());
  return {p, text.size()};
}

std::string_view Arena::Concat(std::string_view a, std::string_view b, std::string_view c) {
  const size_t n = a.size() + b.size() + c.size();
  if (n == 0) return {};
  char* p = Allocate(n);
  std::memcpy(p, a.data(), a.size());
  std::memcpy(p + a.size(), b.data(), b.size());
  std::memcpy(p + a.size() + b.size(), c.data(), c.size());
  return {p, n};
}

namespace {
constexpr uint64_t kEachByte = 0x0101010101010101ULL;

// The high bit of each byte of `w` that is an upper-case ASCII letter. Per byte, without
// carries: its low 7 bits plus 0x3f reach 0x80 from 'A' on, plus 0x25 from past 'Z' on; bytes
// with the high bit set are not ASCII.
uint64_t UpperCaseBits(uint64_t w) {
  const uint64_t low7 = w & (0x7f * kEachByte);
  const uint64_t from_a = low7 + (0x80 - 'A') * kEachByte;
  const uint64_t past_z = low7 + (0x7f - 'Z') * kEachByte;
  return (from_a ^ past_z) & ~w & (0x80 * kEachByte);
}

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
char LowerChar(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

uint64_t LoadWord(const char* p) {
  uint64_t w = 0;
  std::memcpy(&w, p, 8);
  return w;
}
}  // namespace

// Eight bytes a step (the last step overlapping the one before): most ids are lower-case
// already, and each byte tested alone costs a compare and a branch (a mailbox of 30 bytes on
// every xAPI event).
std::string_view Arena::LowerAscii(std::string_view text) {
  const size_t n = text.size();
  const char* in = text.data();
  if (n < 8) {
    if (std::none_of(text.begin(), text.end(), IsUpper)) return text;
    char* p = Allocate(n);
    for (size_t i = 0; i < n; ++i) p[i] = LowerChar(in[i]);
    return {p, n};
  }
  uint64_t upper = UpperCaseBits(LoadWord(in + n - 8));
  for (size_t i = 0; i + 8 < n; i += 8) upper |= UpperCaseBits(LoadWord(in + i));
  if (upper == 0) return text;
  char* p = Allocate(n);
  const auto lower = [](uint64_t w) { return w | UpperCaseBits(w) >> 2; };  // 'a' - 'A' = 0x20
  for (size_t i = 0; i + 8 < n; i += 8) {
    const uint64_t w = lower(LoadWord(in + i));
    std::memcpy(p + i, &w, 8);
  }
  const uint64_t last = lower(LoadWord(in + n - 8));
  std::memcpy(p + n - 8, &last, 8);
  return {p, n};
}

// ---- PaddedBuffer ----

const char* PaddedBuffer::Assign(std::string_view bytes) {
  const size_t needed = bytes.size() + simdjson::SIMDJSON_PADDING;
  if (needed > capacity_) {
    const size_t capacity = std::max(needed, capacity_ * 2);
    data_.reset(new char[capacity]);
    capacity_ = capacity;
  }
  if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
  std::memset(data_.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  return data_.get();
}

// ---- DOM accessors ----

bool Member(dom::object obj, std::string_view key, dom::element& out) {
  // As obj.at_key(key) (the first field of that name), without a memcmp call per field.
  for (const dom::key_value_pair field : obj) {
    if (SameBytes(field.key, key)) {
      out = field.value;
      return !out.is_null();
    }
  }
  return false;
}

bool MemberObject(dom::object obj, std::string_view key, dom::object& out) {
  dom::element value;
  return Member(obj, key, value) && value.get_object().get(out) == simdjson::SUCCESS;
}

namespace {

template <typename Number>
std::string_view NumberText(Number value, Arena& arena) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return {};
  return arena.Copy(std::string_view(buffer, static_cast<size_t>(end - buffer)));
}

}  // namespace

std::string_view Text(dom::element value, Arena& arena) {
  switch (value.type()) {
    case dom::element_type::STRING: {
      std::string_view s;
      return value.get_string().get(s) == simdjson::SUCCESS ? s : std::string_view();
    }
    case dom::element_type::INT64: {
      int64_t v = 0;
      return value.get_int64().get(v) == simdjson::SUCCESS ? NumberText(v, arena)
                                                          : std::string_view();
    }
    case dom::element_type::UINT64: {
      uint64_t v = 0;
      return value.get_uint64().get(v) == simdjson::SUCCESS ? NumberText(v, arena)
                                                           : std::string_view();
    }
    case dom::element_type::DOUBLE: {
      double v = 0;
      return value.get_double().get(v) == simdjson::SUCCESS ? NumberText(v, arena)
                                                           : std::string_view();
    }
    default:
      return {};
  }
}

std::string_view MemberText(dom::object obj, std::string_view key, Arena& arena) {
  dom::element value;
  return Member(obj, key, value) ? Text(value, arena) : std::string_view();
}

bool ToDouble(dom::element value, double& out) {
  switch (value.type()) {
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      // get_double() converts integers too.
      return value.get_double().get(out) == simdjson::SUCCESS && std::isfinite(out);
    case dom::element_type::STRING: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS || s.empty()) return false;
      double v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return false;
      out = v;
      return true;
    }
    default:
      return false;
  }
}

bool ToInt64(dom::element value, int64_t& out) {
  switch (value.type()) {
    case dom::element_type::INT64:
      return value.get_int64().get(out) == simdjson::SUCCESS;
    case dom::element_type::UINT64:
      return false;  // > INT64_MAX
    case dom::element_type::DOUBLE: {
      double d = 0;
      if (value.get_double().get(d) != simdjson::SUCCESS || d != std::floor(d)) return false;
      if (!(d >= -9.2e18 && d <= 9.2e18)) return false;
      out = static_cast<int64_t>(d);
      return true;
    }
    case dom::element_type::STRING: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS || s.empty()) return false;
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size()) return false;
      out = v;
      return true;
    }
    default:
      return false;
  }
}

bool ToBool(dom::element value, bool& out) {
  if (value.type() == dom::element_type::BOOL) return value.get_bool().get(out) == simdjson::SUCCESS;
  std::string_view s;
  if (value.type() != dom::element_type::STRING || value.get_string().get(s) != simdjson::SUCCESS) {
    return false;
  }
  if (s == "true") {
    out = true;
    return true;
  }
  if (s == "false") {
    out = false;
    return true;
  }
  return false;
}

std::string_view EntityId(dom::element value, Arena& arena) {
  dom::object obj;
  if (value.get_object().get(obj) == simdjson::SUCCESS) return MemberText(obj, "id", arena);
  if (value.type() == dom::element_type::STRING) return Text(value, arena);
  return {};
}

std::string_view LastSegment(std::string_view iri) {
  const size_t pos = iri.find_last_of("/#");
  return pos == std::string_view::npos ? iri : iri.substr(pos + 1);
}

// ---- JSON writer ----

namespace {

template <typename Number>
void AppendNumber(Number value, std::string& out) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) {
    out += "null";
    return;
  }
  out.append(buffer, static_cast<size_t>(end - buffer));
}

// A double that stays a double in JSON. to_chars writes an integral value without a fraction or
// exponent when that is shortest (9.5555555555555557e19 as "95555555555555557376"); readers take
// that for an integer, and simdjson (this decoder included) refuses integers beyond 64 bits.
// Appending ".0" keeps value and type.
void AppendDouble(double value, std::string& out) {
  const size_t start = out.size();
  AppendNumber(value, out);
  if (std::all_of(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(),
                  [](char c) { return c == '-' || (c >= '0' && c <= '9'); })) {
    out += ".0";
  }
}

}  // namespace

void AppendJson(dom::element value, std::string& out) {
  switch (value.type()) {
    case dom::element_type::OBJECT: {
      dom::object obj;
      if (value.get_object().get(obj) != simdjson::SUCCESS) break;
      out.push_back('{');
      bool first = true;
      for (const dom::key_value_pair field : obj) {
        if (!first) out.push_back(',');
        first = false;
        learnflow::AppendJsonString(out, field.key);
        out.push_back(':');
        AppendJson(field.value, out);
      }
      out.push_back('}');
      return;
    }
    case dom::element_type::ARRAY: {
      dom::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) break;
      out.push_back('[');
      bool first = true;
      for (const dom::element item : array) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(item, out);
      }
      out.push_back(']');
      return;
    }
    case dom::element_type::STRING: {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) break;
      learnflow::AppendJsonString(out, s);
      return;
    }
    case dom::element_type::INT64: {
      int64_t v = 0;
      if (value.get_int64().get(v) != simdjson::SUCCESS) break;
      AppendNumber(v, out);
      return;
    }
    case dom::element_type::UINT64: {
      uint64_t v = 0;
      if (value.get_uint64().get(v) != simdjson::SUCCESS) break;
      AppendNumber(v, out);
      return;
    }
    case dom::element_type::DOUBLE: {
      double v = 0;
      if (value.get_double().get(v) != simdjson::SUCCESS) break;
      AppendDouble(v, out);
      return;
    }
    case dom::element_type::BOOL: {
      bool v = false;
      if (value.get_bool().get(v) != simdjson::SUCCESS) break;
      out += v ? "true" : "false";
      return;
    }
    case dom::element_type::NULL_VALUE:
      break;
  }
  out += "null";
}

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace learnflow::decoder_internal
