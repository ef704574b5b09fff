// See php_unserialize.h. Grammar (PHP's var_unserializer, the parts PHP >= 5 writes):
//   N;  b:0;  i:-12;  d:0.5;  d:INF;  s:<bytes>:"...";  a:<n>:{<key><value>...}
//   O:<len>:"Class":<n>:{<key><value>...}  C:<len>:"Class":<bytes>:{...}  r:<n>;  R:<n>;
//   E:<len>:"Enum:Case";      keys are i:..; or s:..;
#include "connectors/decoders/php_unserialize.h"

#include <charconv>
#include <cmath>

namespace learnflow::decoder_internal {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  bool AtEnd() const { return pos_ == s_.size(); }

  // Reads one value. When `key` is non-null and the value is an array/object at depth 0, the
  // member named *key is copied to *found (and *found_any set).
  bool Value(PhpValue& out, int depth, std::string_view* key, PhpValue* found, bool* found_any) {
    if (depth > kPhpMaxDepth || pos_ >= s_.size()) return false;
    const char tag = s_[pos_++];
    switch (tag) {
      case 'N':
        out.type = PhpValue::Type::kNull;
        return Expect(';');
      case 'b': {
        int64_t v = 0;
        if (!Expect(':') || !Integer(v, ';') || (v != 0 && v != 1)) return false;
        out.type = PhpValue::Type::kBool;
        out.boolean = v == 1;
        return true;
      }
      case 'i':
        out.type = PhpValue::Type::kInt;
        return Expect(':') && Integer(out.integer, ';');
      case 'd': {
        std::string_view token;
        if (!Expect(':') || !Until(';', token)) return false;
        out.type = PhpValue::Type::kDouble;
        return Double(token, out.number);
      }
      case 's':
        out.type = PhpValue::Type::kString;
        return Expect(':') && QuotedBytes(out.string) && Expect(';');
      case 'E': {
        std::string_view ignored;
        out.type = PhpValue::Type::kOther;
        return Expect(':') && QuotedBytes(ignored) && Expect(';');
      }
      case 'r':
      case 'R': {
        int64_t ignored = 0;
        out.type = PhpValue::Type::kOther;
        return Expect(':') && Integer(ignored, ';');
      }
      case 'a': {
        int64_t count = 0;
        out.type = PhpValue::Type::kArray;
        return Expect(':') && Integer(count, ':') && Members(count, depth, key, found, found_any);
      }
      case 'O': {
        std::string_view class_name;
        int64_t count = 0;
        out.type = PhpValue::Type::kObject;
        return Expect(':') && QuotedBytes(class_name) && Expect(':') && Integer(count, ':') &&
               Members(count, depth, key, found, found_any);
      }
      case 'C': {
        std::string_view class_name;
        int64_t length = 0;
        out.type = PhpValue::Type::kObject;
        if (!Expect(':') || !QuotedBytes(class_name) || !Expect(':') || !Integer(length, ':') ||
            !Expect('{')) {
          return false;
        }
        if (length < 0 || static_cast<uint64_t>(length) > s_.size() - pos_) return false;
        pos_ += static_cast<size_t>(length);
        return Expect('}');
      }
      default:
        return false;
    }
  }

 private:
  bool Expect(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // Bytes up to (not including) `terminator`, which is consumed.
  bool Until(char terminator, std::string_view& token) {
    const size_t end = s_.find(terminator, pos_);
    if (end == std::string_view::npos) return false;
    token = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }

  bool Integer(int64_t& out, char terminator) {
    std::string_view token;
    if (!Until(terminator, token) || token.empty()) return false;
    if (token.front() == '+') token.remove_prefix(1);
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    return ec == std::errc() && end == token.data() + token.size();
  }

  static bool Double(std::string_view token, double& out) {
    if (token == "INF") {
      out = HUGE_VAL;
      return true;
    }
    if (token == "-INF") {
      out = -HUGE_VAL;
      return true;
    }
    if (token == "NAN") {
      out = std::nan("");
      return true;
    }
    if (token.empty()) return false;
    if (token.front() == '+') token.remove_prefix(1);
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    return ec == std::errc() && end == token.data() + token.size();
  }

  // <len>:"<len bytes>"
  bool QuotedBytes(std::string_view& out) {
    int64_t length = 0;
    if (!Integer(length, ':') || !Expect('"')) return false;
    if (length < 0 || static_cast<uint64_t>(length) > s_.size() - pos_) return false;
    out = s_.substr(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return Expect('"');
  }

  bool Members(int64_t count, int depth, std::string_view* key, PhpValue* found,
               bool* found_any) {
    if (count < 0 || !Expect('{')) return false;
    char digits[24];
    for (int64_t i = 0; i < count; ++i) {
      // Every member takes at least 4 bytes ("i:0;N;"), so a huge count fails on input length.
      PhpValue member_key;
      if (!Value(member_key, depth + 1, nullptr, nullptr, nullptr)) return false;
      std::string_view name;
      if (member_key.type == PhpValue::Type::kString) {
        name = member_key.string;
      } else if (member_key.type == PhpValue::Type::kInt) {
        const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), member_key.integer);
        if (ec != std::errc()) return false;
        name = std::string_view(digits, static_cast<size_t>(end - digits));
      } else {
        return false;
      }
      PhpValue value;
      if (!Value(value, depth + 1, nullptr, nullptr, nullptr)) return false;
      if (key != nullptr && depth == 0 && !*found_any && name == *key) {
        *found = value;
        *found_any = true;
      }
    }
    return Expect('}');
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

bool PhpParse(std::string_view text, PhpValue& out) {
  Reader reader(text);
  return reader.Value(out, 0, nullptr, nullptr, nullptr) && reader.AtEnd();
}

bool PhpFindMember(std::string_view text, std::string_view key, PhpValue& out) {
  Reader reader(text);
  PhpValue top;
  PhpValue found;
  bool found_any = false;
  if (!reader.Value(top, 0, &key, &found, &found_any) || !reader.AtEnd()) return false;
  if (!found_any) return false;
  out = found;
  return true;
}

bool PhpToDouble(const PhpValue& value, double& out) {
  switch (value.type) {
    case PhpValue::Type::kInt:
      out = static_cast<double>(value.integer);
      return true;
    case PhpValue::Type::kDouble:
      if (!std::isfinite(value.number)) return false;
      out = value.number;
      return true;
    case PhpValue::Type::kString: {
      const std::string_view s = value.string;
      if (s.empty()) return false;
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

}  // namespace learnflow::decoder_internal
