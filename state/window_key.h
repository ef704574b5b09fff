// Key layout of window state, shared by the in-memory window cache and the state store.
//
//   store key = BE32(partition) | BE64(window end, order-preserving) | BE32(len(key1)) | key1 | key2
//
// Laid out by partition, then time: the windows of one partition that a watermark has made final
// form one contiguous key range, dropped with a single DeleteRange. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.h"
#include "state/state_store.h"

namespace learnflow {

struct WindowKeyParts {
  TimestampMs window_end = 0;
  std::string_view key1;
  std::string_view key2;
};

// Appends the partition-local part: BE64(end) | BE32(len key1) | key1 | key2.
inline void AppendLocalWindowKey(std::string& out, TimestampMs window_end, std::string_view key1,
                                 std::string_view key2) {
  AppendBigEndian64(out, OrderedFromSigned(window_end));
  AppendBigEndian32(out, static_cast<uint32_t>(key1.size()));
  out.append(key1);
  out.append(key2);
}

// Parses a partition-local key. Returns false for a malformed key.
inline bool ParseLocalWindowKey(std::string_view key, WindowKeyParts& parts) {
  if (key.size() < 12) return false;
  parts.window_end = SignedFromOrdered(ReadBigEndian64(key));
  const uint32_t len1 = ReadBigEndian32(key.substr(8));
  if (key.size() - 12 < len1) return false;
  parts.key1 = key.substr(12, len1);
  parts.key2 = key.substr(12 + len1);
  return true;
}

// Store key prefix of one partition's windows, and the bound of those ending before `end`.
inline void AppendPartitionPrefix(std::string& out, int32_t partition) {
  AppendBigEndian32(out, static_cast<uint32_t>(partition));
}
inline std::string PartitionPrefix(int32_t partition) {
  std::string prefix;
  AppendPartitionPrefix(prefix, partition);
  return prefix;
}
inline void AppendPartitionTimeBound(std::string& out, int32_t partition, TimestampMs end) {
  AppendBigEndian32(out, static_cast<uint32_t>(partition));
  AppendBigEndian64(out, OrderedFromSigned(end));
}

}  // namespace learnflow
