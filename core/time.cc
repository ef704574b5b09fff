#include "core/time.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace learnflow {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2), m, d};
}

constexpr bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned DaysInMonth(int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`; advances `pos`.
bool ReadDigits(std::string_view s, size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

class RealClock final : public Clock {
 public:
  TimestampMs NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// The time of day `days` days after the epoch, or nullopt when a field is out of range.
std::optional<TimestampMs> FromDays(int64_t days, int hour, int minute, int second, int millis,
                                    int offset_minutes) {
  if (hour > 23 || minute > 59 || second > 60) {  // 60: a leap second, folded into the next minute
    return std::nullopt;
  }
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * kMsPerSecond + millis;
}

// The calendar fields as a time, or nullopt when one is out of range.
std::optional<TimestampMs> FromFields(int year, int month, int day, int hour, int minute,
                                      int second, int millis, int offset_minutes) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return FromDays(days, hour, minute, second, millis, offset_minutes);
}

// "YYYY-MM-DDTHH:MM:SS.mmmZ", the form most producers write (and the engine itself): fixed
// positions, so the digits are read without the general parser's branches. False when `s` is
// not exactly that form; then the general parser decides.
bool ParseCanonical(std::string_view s, std::optional<TimestampMs>& out) {
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
    return false;
  }
  unsigned bad = 0;
  const auto digit = [&](size_t i) {
    const unsigned d = static_cast<unsigned char>(s[i]) - unsigned{'0'};
    bad |= d > 9 ? 1u : 0u;
    return static_cast<int>(d);
  };
  const auto two = [&](size_t i) { return digit(i) * 10 + digit(i + 1); };
  const int hour = two(11);
  const int minute = two(14);
  const int second = two(17);
  const int millis = two(20) * 10 + digit(22);
  // The times of a stream fall on few days: the day of the last valid date is remembered (per
  // thread) by its 10 bytes, and its digits, range checks and day number are then skipped.
  struct LastDate {
    uint64_t head = 0;  // bytes 0-7, "YYYY-MM-"
    uint16_t tail = 0;  // bytes 8-9, "DD"
    int64_t days = -1;  // -1: none yet
  };
  constinit thread_local LastDate last;
  uint64_t head = 0;
  uint16_t tail = 0;
  std::memcpy(&head, s.data(), sizeof(head));
  std::memcpy(&tail, s.data() + 8, sizeof(tail));
  if (last.days >= 0 && head == last.head && tail == last.tail) {
    if (bad != 0) return false;
    out = FromDays(last.days, hour, minute, second, millis, 0);
    return true;
  }
  const int year = two(0) * 100 + two(2);
  const int month = two(5);
  const int day = two(8);
  if (bad != 0) return false;
  out = FromFields(year, month, day, hour, minute, second, millis, 0);
  if (out.has_value()) {
    last = LastDate{head, tail,
                    DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day))};
  }
  return true;
}

}  // namespace

std::optional<TimestampMs> ParseIso8601Millis(std::string_view s) {
  if (std::optional<TimestampMs> t; ParseCanonical(s, t)) return t;
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!ReadDigits(s, pos, 2, day)) return std::nullopt;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!ReadDigits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':') return std::nullopt;
  if (!ReadDigits(s, pos, 2, minute)) return std::nullopt;
  int millis = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!ReadDigits(s, pos, 2, second)) return std::nullopt;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      int digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) millis = millis * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (int i = digits; i < 3; ++i) millis *= 10;
    }
  }
  int offset_minutes = 0;
  if (pos < s.size()) {
    const char c = s[pos];
    if (c == 'Z' || c == 'z') {
      ++pos;
    } else if (c == '+' || c == '-') {
      ++pos;
      int oh = 0, om = 0;
      if (!ReadDigits(s, pos, 2, oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') {
        ++pos;  // "+01:" without minutes is malformed
        if (!ReadDigits(s, pos, 2, om)) return std::nullopt;
      } else if (pos < s.size() && !ReadDigits(s, pos, 2, om)) {
        return std::nullopt;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_minutes = (oh * 60 + om) * (c == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return FromFields(year, month, day, hour, minute, second, millis, offset_minutes);
}

void AppendIso8601Millis(TimestampMs ms, std::string& out) {
  const int64_t days = FloorDiv(ms, kMsPerDay);
  // Not `ms - days * kMsPerDay`: that product overflows near the int64 limits.
  int64_t rem = ms % kMsPerDay;
  if (rem < 0) rem += kMsPerDay;
  const Civil c = CivilFromDays(days);
  const int64_t y = c.year;
  // Written into a buffer and appended once: emitted records carry two or more of these.
  char text[24];
  char* p = text;
  const auto put2 = [&p](unsigned v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  if (y >= 0 && y <= 9999) {
    put2(static_cast<unsigned>(y / 100));
    put2(static_cast<unsigned>(y % 100));
  } else {
    // Outside what the parser accepts; ISO 8601 expanded year (sign, then digits).
    out.push_back(y < 0 ? '-' : '+');
    out += std::to_string(y < 0 ? -y : y);
  }
  *p++ = '-';
  put2(c.month);
  *p++ = '-';
  put2(c.day);
  *p++ = 'T';
  put2(static_cast<unsigned>(rem / kMsPerHour));
  rem %= kMsPerHour;
  *p++ = ':';
  put2(static_cast<unsigned>(rem / kMsPerMinute));
  rem %= kMsPerMinute;
  *p++ = ':';
  put2(static_cast<unsigned>(rem / kMsPerSecond));
  rem %= kMsPerSecond;
  *p++ = '.';
  *p++ = static_cast<char>('0' + rem / 100);
  put2(static_cast<unsigned>(rem % 100));
  *p++ = 'Z';
  out.append(text, p);
}

std::string FormatIso8601Millis(TimestampMs ms) {
  std::string out;
  out.reserve(24);
  AppendIso8601Millis(ms, out);
  return out;
}

const Clock& SystemClock() {
  static const RealClock* const clock = new RealClock();
  return *clock;
}

}  // namespace learnflow
