// PrefetchRange: asks the CPU to start loading a range of memory into the caches, for a loop
// that knows which objects it touches a few iterations from now (a polled batch's payloads,
// the windows a watermark made final). A hint only: no effect on results, no fault on any
// address.
//
//   for (size_t i = 0; i < items.size(); ++i) {
//     if (i + 8 < items.size()) PrefetchRange(items[i + 8], sizeof(Item));
//     Use(*items[i]);
//   }
//
// Thread-safe (it reads nothing).
#pragma once

#include <cstddef>
#include <cstdint>

namespace learnflow {

inline constexpr size_t kCacheLineBytes = 64;

// Every cache line holding a byte of [p - before, p + bytes) (addresses as integers: `before`
// may reach outside p's object, into memory its allocator put before it).
inline void PrefetchRange(const void* p, size_t bytes, size_t before = 0) {
  if (bytes + before == 0) return;
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (at - before) & ~uintptr_t{kCacheLineBytes - 1};
  for (uintptr_t line = begin; line < at + bytes; line += kCacheLineBytes) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}

}  // namespace learnflow
