// Fuzz target: the PHP serialize() reader behind Moodle's `other` column
// (connectors/decoders/php_unserialize.h). Seeds: corpus/php_unserialize.
//
// Checked on every input: views stay inside the input, a member is found only in a value that
// parses as a whole and is an array or an object, numbers read are finite, and no proper prefix
// of a valid value is itself valid (every value ends with its own terminator).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "connectors/decoders/php_unserialize.h"
#include "core/check.h"

namespace {

using learnflow::decoder_internal::PhpFindMember;
using learnflow::decoder_internal::PhpParse;
using learnflow::decoder_internal::PhpToDouble;
using learnflow::decoder_internal::PhpValue;

// `inner` lies within `outer` (compared as addresses, which std::less orders totally).
bool Within(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  const std::less_equal<const char*> le;
  return le(outer.data(), inner.data()) &&
         le(inner.data() + inner.size(), outer.data() + outer.size());
}

void CheckNumber(const PhpValue& value) {
  double number = 0;
  if (PhpToDouble(value, number)) LF_CHECK(std::isfinite(number), "numbers read are finite");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  PhpValue top;
  const bool parsed = PhpParse(text, top);
  if (parsed) {
    LF_CHECK(Within(top.string, text), "a string value views into the input");
    CheckNumber(top);
    PhpValue prefix;
    LF_CHECK(text.empty() || !PhpParse(text.substr(0, text.size() - 1), prefix),
             "no proper prefix of a valid value is valid");
  }
  // The keys Moodle's decoder asks for, and an integer key.
  for (const std::string_view key : {"finalgrade", "grademax", "itemid", "0"}) {
    PhpValue member;
    if (!PhpFindMember(text, key, member)) continue;
    LF_CHECK(parsed, "a member is found only in a valid value");
    PhpValue whole;
    LF_CHECK(PhpParse(text, whole) && (whole.type == PhpValue::Type::kArray ||
                                       whole.type == PhpValue::Type::kObject),
             "members belong to arrays and objects");
    LF_CHECK(Within(member.string, text), "a member's string views into the input");
    CheckNumber(member);
  }
  return 0;
}
