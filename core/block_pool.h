// AllocateBlock / FreeBlock: small heap blocks recycled by the thread that frees them.
//
// Keyed state frees its blocks in waves and allocates them one at a time: when the watermark
// passes a window's end, every learner's window of that period is emitted and freed (its entry
// and its spilled sets), while the next period's windows open one event at a time. tcmalloc
// keeps at most 4 MiB per thread, so a wave goes back to its central lists and the allocations
// after it fetch the blocks from there again. This pool keeps up to kMaxPooledBytes of freed
// blocks per thread, in one list per size (multiples of 16 bytes up to 512) and hands them out
// again, the last freed first.
//
//   void* block = AllocateBlock(n);
//   ...
//   FreeBlock(block, n);   // with the same n
//
// Blocks come from ::operator new: a block may be freed by another thread than the one that
// allocated it (it then joins that thread's pool). A thread's pooled blocks go back to the
// allocator when the thread exits; blocks freed after that (by other thread_local objects'
// destructors) go straight back. Under AddressSanitizer a pooled block is poisoned, so a use
// after FreeBlock is still reported.
#pragma once

#include <sanitizer/asan_interface.h>

#include <cstddef>

#include "core/allocator.h"

namespace learnflow {

namespace block_pool_internal {

inline constexpr size_t kGranule = 16;
inline constexpr size_t kMaxBlockBytes = 512;
inline constexpr size_t kClasses = kMaxBlockBytes / kGranule;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it stays usable while the thread's other thread_local objects are
// destroyed: it is emptied by a separate object, registered with the thread's first pooled block
// (Drainer in block_pool.cc), which then closes it.
struct Pool {
  FreeBlock* heads[kClasses];
  size_t pooled_bytes;
  bool drain_registered;  // the pool will be emptied when the thread exits
  bool closed;            // emptied at the thread's exit: blocks go straight back
};

inline constinit thread_local Pool pool{};

// Registers the calling thread's pool to be emptied and closed when the thread exits.
void RegisterDrain();

// The size class of 1..kMaxBlockBytes bytes, and the bytes every block of it has.
inline size_t ClassOf(size_t bytes) { return (bytes - 1) / kGranule; }
inline size_t ClassBytes(size_t size_class) { return (size_class + 1) * kGranule; }

}  // namespace block_pool_internal

// Freed blocks a thread keeps for reuse, at most (beyond, they go back to the allocator).
inline constexpr size_t kMaxPooledBytes = size_t{32} << 20;

inline void* AllocateBlock(size_t bytes) {
  namespace internal = block_pool_internal;
  if (bytes - 1 >= internal::kMaxBlockBytes) return ::operator new(bytes);  // 0 or large
  internal::Pool& pool = internal::pool;
  const size_t size_class = internal::ClassOf(bytes);
  internal::FreeBlock* block = pool.heads[size_class];
  if (block == nullptr) return ::operator new(internal::ClassBytes(size_class));
  ASAN_UNPOISON_MEMORY_REGION(block, internal::ClassBytes(size_class));
  pool.heads[size_class] = block->next;
  pool.pooled_bytes -= internal::ClassBytes(size_class);
  // A pooled block was freed a window ago and has left the caches: start loading the next one
  // of the class now (its link is read, and its bytes written, at the class's next allocation).
  __builtin_prefetch(block->next, 1);
  return block;
}

inline void FreeBlock(void* block, size_t bytes) {
  namespace internal = block_pool_internal;
  if (bytes - 1 >= internal::kMaxBlockBytes) return DeleteSized(block, bytes);
  internal::Pool& pool = internal::pool;
  const size_t size_class = internal::ClassOf(bytes);
  const size_t class_bytes = internal::ClassBytes(size_class);
  if (pool.pooled_bytes + class_bytes > kMaxPooledBytes) return DeleteSized(block, class_bytes);
  if (!pool.drain_registered) {
    if (pool.closed) return DeleteSized(block, class_bytes);
    internal::RegisterDrain();
  }
  pool.heads[size_class] = new (block) internal::FreeBlock{pool.heads[size_class]};
  pool.pooled_bytes += class_bytes;
  ASAN_POISON_MEMORY_REGION(block, class_bytes);
}

// The bytes of freed blocks this thread's pool holds.
inline size_t PooledBytes() { return block_pool_internal::pool.pooled_bytes; }

}  // namespace learnflow
