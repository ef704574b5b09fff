#include "core/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// gperftools' C entry points; null unless tcmalloc is linked or preloaded.
extern "C" {
void MallocExtension_ReleaseFreeMemory(void) __attribute__((weak));
}

namespace learnflow {

const char* AllocatorName() {
  if (MallocExtension_ReleaseFreeMemory != nullptr) return "tcmalloc";
#if defined(__GLIBC__)
  return "glibc";
#else
  return "system";
#endif
}

void ReleaseFreeMemory() {
  if (MallocExtension_ReleaseFreeMemory != nullptr) {
    MallocExtension_ReleaseFreeMemory();
    return;
  }
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace learnflow
