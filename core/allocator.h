// The process's memory allocator: which one it is, and handing its free memory back.
//
// Release builds of the executables (learnflow, the benchmarks, the soak) link tcmalloc
// (gperftools' tcmalloc_minimal; CMake option LEARNFLOW_ALLOCATOR), which replaces malloc for
// the whole process; libraries and tests run on whatever the executable links. Both functions
// find tcmalloc at run time (weak symbols), so this code never requires it.
//
//   spdlog::info("allocator: {}", AllocatorName());   // "tcmalloc" or "glibc"
//   ReleaseFreeMemory();                              // after a commit, at most every few s
//
// Thread-safety: both may be called from any thread. ReleaseFreeMemory() costs a walk of the
// allocator's free lists (milliseconds for a GiB heap): call it on a cold path only.
#pragma once

#include <cstddef>
#include <new>

namespace learnflow {

// Frees a block of `size` bytes from ::operator new: sized (cheaper for tcmalloc, which then
// needs no lookup of the block's size class) when the compiler has sized deallocation, which
// clang enables only with -fsized-deallocation.
inline void DeleteSized(void* block, [[maybe_unused]] size_t size) {
#if defined(__cpp_sized_deallocation)
  ::operator delete(block, size);
#else
  ::operator delete(block);
#endif
}

// "tcmalloc", "glibc" or "system" (another libc's malloc).
const char* AllocatorName();

// Returns the allocator's free pages to the system (tcmalloc: ReleaseFreeMemory; glibc:
// malloc_trim), so RSS follows the live heap rather than its highest peak. Never fails.
void ReleaseFreeMemory();

}  // namespace learnflow
