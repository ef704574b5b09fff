#include "core/block_pool.h"

namespace learnflow::block_pool_internal {
namespace {

// Empties the thread's pool when the thread exits, then closes it.
struct Drainer {
  bool armed = false;
  ~Drainer() {
    for (size_t size_class = 0; size_class < kClasses; ++size_class) {
      while (FreeBlock* block = pool.heads[size_class]) {
        ASAN_UNPOISON_MEMORY_REGION(block, ClassBytes(size_class));
        pool.heads[size_class] = block->next;
        DeleteSized(block, ClassBytes(size_class));
      }
    }
    pool.pooled_bytes = 0;
    pool.drain_registered = false;
    pool.closed = true;
  }
};

thread_local Drainer drainer;

}  // namespace

void RegisterDrain() {
  drainer.armed = true;  // constructs the thread's Drainer, so that its destructor runs
  pool.drain_registered = true;
}

}  // namespace learnflow::block_pool_internal
