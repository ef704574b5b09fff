#include "core/skill_ids.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "core/check.h"
#include "core/string_key_map.h"

namespace learnflow {
namespace {

constexpr int kChunkBits = 12;
constexpr size_t kChunkSize = size_t{1} << kChunkBits;
constexpr size_t kMaxChunks = size_t{1} << 16;

// Names by id in chunks that never move, so Name() reads without a lock: an id reaches another
// thread only through something that orders the write of its name before (the registry's lock
// or the caller's own hand-over).
class Registry {
 public:
  SkillId Intern(std::string_view name) {
    {
      std::shared_lock lock(mutex_);
      auto it = ids_.find(name);
      if (it != ids_.end()) return it->second;
    }
    std::unique_lock lock(mutex_);
    auto [it, inserted] = ids_.try_emplace(name);
    if (!inserted) return it->second;
    const size_t id = size_.load(std::memory_order_relaxed);
    LF_CHECK(id < kChunkSize * kMaxChunks, "too many distinct skill names");
    std::string_view* chunk = chunks_[id >> kChunkBits].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      chunk = new std::string_view[kChunkSize];
      chunks_[id >> kChunkBits].store(chunk, std::memory_order_release);
    }
    chunk[id & (kChunkSize - 1)] = it->first;  // the map's own copy: it stays put
    it->second = static_cast<SkillId>(id);
    size_.store(id + 1, std::memory_order_release);
    return it->second;
  }

  std::string_view Name(SkillId id) const {
    return chunks_[id >> kChunkBits].load(std::memory_order_acquire)[id & (kChunkSize - 1)];
  }

  size_t size() const { return size_.load(std::memory_order_acquire); }

 private:
  mutable std::shared_mutex mutex_;
  StringKeyMap<SkillId> ids_;
  std::atomic<size_t> size_{0};
  std::unique_ptr<std::atomic<std::string_view*>[]> chunks_{
      new std::atomic<std::string_view*>[kMaxChunks]()};
};

// Never destroyed: ids may be used by other static objects' destructors and detached threads.
Registry& Instance() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace

SkillId SkillIds::Intern(std::string_view name) { return Instance().Intern(name); }
std::string_view SkillIds::Name(SkillId id) { return Instance().Name(id); }
size_t SkillIds::size() { return Instance().size(); }

}  // namespace learnflow
