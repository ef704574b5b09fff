// A small, safe reader for PHP serialize() text, as found in Moodle's logstore `other` column
// (`a:3:{s:6:"itemid";i:12;s:10:"overridden";b:0;s:10:"finalgrade";d:85.5;}`).
//
//   PhpValue grade;
//   if (PhpFindMember(other_text, "finalgrade", grade) && PhpToDouble(grade, value)) ...
//
// It only reads: it never instantiates objects, follows references or calls anything, never
// allocates, bounds nesting (kPhpMaxDepth) and checks every length against the input, so any
// byte string is safe to pass. Supported: N b i d s a O C r R E. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace learnflow::decoder_internal {

inline constexpr int kPhpMaxDepth = 64;

struct PhpValue {
  enum class Type : uint8_t { kNull, kBool, kInt, kDouble, kString, kArray, kObject, kOther };
  Type type = Type::kNull;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0;
  std::string_view string;  // kString: the bytes (a view into the input)
};

// Reads the whole of `text` as one serialized value (trailing bytes are an error). Arrays and
// objects are validated and skipped; only their type is reported.
bool PhpParse(std::string_view text, PhpValue& out);

// Looks `key` up among the top-level members of a serialized array or object (string keys, or
// integer keys compared as decimal text). False when `text` is malformed or has no such member.
bool PhpFindMember(std::string_view text, std::string_view key, PhpValue& out);

// kInt, finite kDouble, or a kString holding a number ("85.00000").
bool PhpToDouble(const PhpValue& value, double& out);

}  // namespace learnflow::decoder_internal
