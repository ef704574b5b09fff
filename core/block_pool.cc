#include "core/block_pool.h"

namespace learnflow::block_pool_internal {

Pool::~Pool() {
  for (size_t size_class = 0; size_class < kClasses; ++size_class) {
    while (FreeBlock* block = heads[size_class]) {
      ASAN_UNPOISON_MEMORY_REGION(block, ClassBytes(size_class));
      heads[size_class] = block->next;
      DeleteSized(block, ClassBytes(size_class));
    }
  }
  pooled_bytes = 0;
}

}  // namespace learnflow::block_pool_internal
