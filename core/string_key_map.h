// StringKeyMap<V>: a hash map from byte-string keys to V, for keyed state looked up once per
// record.
//
// std::unordered_map<std::string, V> costs a lookup four dependent memory reads on a cold table:
// the bucket, the node *before* the bucket's first node (where the bucket points), the node,
// and the key's own heap block (keys over 15 bytes, such as "mailto:l0012345@example.org").
// Here a lookup reads one 8-byte slot (linear probing, at most 3/4 full) and then the item,
// whose key bytes sit right before it in the same allocation. A slot holds the item's address
// in its low 48 bits (user-space addresses on x86-64 and AArch64; checked at insertion) and 16
// bits of the key's hash in the high ones, so a probe past another key almost never touches
// that key's item.
//
//   StringKeyMap<Counter> map;
//   auto [it, inserted] = map.try_emplace("learner-1");  // one allocation when new
//   ++it->second.n;
//   for (auto& [key, counter] : map) ...                 // unspecified order
//   map.erase(map.find("learner-1"));
//
// Guarantees, as std::unordered_map's: references to items (and to their `first`) stay valid
// until the item is erased; iterators stay valid until the next try_emplace (which may rehash,
// even for a key already present); erasing invalidates only iterators to the erased item. An
// erased slot is marked deleted (never shifted), so a loop may erase at its iterator and go on
// with the next one.
// V must be default-constructible. Thread-compatible. Allocation failure terminates (as new).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/block_pool.h"
#include "core/check.h"
#include "core/codec.h"
#include "core/prefetch.h"

namespace learnflow {

template <typename V>
class StringKeyMap {
  using Slot = uintptr_t;

 public:
  // One entry. `first` views the key bytes stored with the item; do not assign it.
  struct Item {
    std::string_view first;
    V second;
  };
  using value_type = Item;

  template <bool kConst>
  class Iterator {
   public:
    using reference = std::conditional_t<kConst, const Item&, Item&>;
    using pointer = std::conditional_t<kConst, const Item*, Item*>;

    Iterator() = default;
    reference operator*() const { return *ItemOf(*slot_); }
    pointer operator->() const { return ItemOf(*slot_); }
    Iterator& operator++() {
      ++slot_;
      SkipFree();
      return *this;
    }
    bool operator==(const Iterator& other) const { return slot_ == other.slot_; }
    operator Iterator<true>() const { return Iterator<true>(slot_, end_); }  // NOLINT

   private:
    friend class StringKeyMap;
    template <bool>
    friend class Iterator;
    using SlotT = std::conditional_t<kConst, const Slot, Slot>;
    Iterator(SlotT* slot, SlotT* end) : slot_(slot), end_(end) {}
    void SkipFree() {
      while (slot_ != end_ && !Holds(*slot_)) ++slot_;
    }
    SlotT* slot_ = nullptr;
    SlotT* end_ = nullptr;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  StringKeyMap() = default;
  StringKeyMap(const StringKeyMap&) = delete;
  StringKeyMap& operator=(const StringKeyMap&) = delete;
  ~StringKeyMap() { DestroyAll(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  iterator begin() { return MakeIterator(slots_.data()); }
  iterator end() { return iterator(End(), End()); }
  const_iterator begin() const { return const_cast<StringKeyMap*>(this)->begin(); }
  const_iterator end() const { return const_cast<StringKeyMap*>(this)->end(); }

  iterator find(std::string_view key) {
    Slot* slot = Probe(Hash(key), [key](const Item& item) { return item.first == key; });
    return slot == nullptr ? end() : iterator(slot, End());
  }
  const_iterator find(std::string_view key) const {
    return const_cast<StringKeyMap*>(this)->find(key);
  }

  // The item of `key`, default-constructed and inserted when missing (then `second` is true).
  std::pair<iterator, bool> try_emplace(std::string_view key) {
    if ((size_ + deleted_ + 1) * 4 > slots_.size() * 3) Rehash(size_ + 1);
    const uint64_t hash = Hash(key);
    const Slot tag = TagOf(hash);
    Slot* target = nullptr;  // the first deleted slot on the probe path, else the empty one
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot == kEmpty) {
        if (target == nullptr) target = &slot;
        break;
      }
      if (slot == kDeleted) {
        if (target == nullptr) target = &slot;
      } else if ((slot & ~kAddressMask) == tag && ItemOf(slot)->first == key) {
        return {iterator(&slot, End()), false};
      }
    }
    if (*target == kDeleted) --deleted_;
    const auto address = reinterpret_cast<uintptr_t>(NewItem(key));
    LF_CHECK((address & ~kAddressMask) == 0, "a heap address fits in 48 bits");
    *target = tag | address;
    ++size_;
    return {iterator(target, End()), true};
  }

  // Lookahead for a loop that knows which keys it will look up a few iterations on: hash the
  // key early (HashOf), prefetch its slot (PrefetchSlot), and once that line has arrived, the
  // item its slot points at (Candidate: the first item on the key's probe path whose slot
  // carries the hash's tag; its key is not compared, so it may be another key's, or null).
  static uint64_t HashOf(std::string_view key) { return Hash(key); }
  void PrefetchSlot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }
  const Item* Candidate(uint64_t hash) const {
    const Slot* slot =
        const_cast<StringKeyMap*>(this)->Probe(hash, [](const Item&) { return true; });
    return slot == nullptr ? nullptr : ItemOf(*slot);
  }

  // Removes the item at `it` (a valid, dereferenceable iterator of this map).
  void erase(iterator it) {
    Slot& slot = *it.slot_;
    DeleteItem(ItemOf(slot));
    slot = kDeleted;
    --size_;
    ++deleted_;
  }

  void clear() {
    DestroyAll();
    slots_.clear();
    mask_ = 0;
    size_ = 0;
    deleted_ = 0;
  }

 private:
  // kEmpty: never used since the last rehash; kDeleted: erased since; else hash tag | address.
  static_assert(sizeof(Slot) == 8, "addresses of 64 bits");
  static constexpr Slot kEmpty = 0;
  static constexpr Slot kDeleted = 1;
  static constexpr Slot kAddressMask = (Slot{1} << 48) - 1;
  static bool Holds(Slot slot) { return slot > kDeleted; }
  static Item* ItemOf(Slot slot) { return reinterpret_cast<Item*>(slot & kAddressMask); }
  // Eight key bytes a step, one folded multiply each (std::hash, MurmurHash64A, takes three
  // multiplies and shifts a step, and a switch for the tail). In memory only: free to change.
  static uint64_t Hash(std::string_view key) { return EventIdHash64(key); }
  // The hash's top 16 bits (the slot index takes its low bits).
  static Slot TagOf(uint64_t hash) { return hash & ~kAddressMask; }

  // The key's bytes come first, padded to the item's alignment, then the item.
  static size_t KeyBytes(size_t key_size) {
    return (key_size + alignof(Item) - 1) / alignof(Item) * alignof(Item);
  }
  static Item* NewItem(std::string_view key) {
    // Plain new (through the thread's block pool): tcmalloc serves it from its size classes
    // (aligned new takes a slower path).
    // (Asserted here, not in the class: V may be incomplete where the map's type is named.)
    static_assert(alignof(Item) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    const size_t key_bytes = KeyBytes(key.size());
    char* block = static_cast<char*>(AllocateBlock(key_bytes + sizeof(Item)));
    if (!key.empty()) std::memcpy(block, key.data(), key.size());
    return new (block + key_bytes) Item{std::string_view(block, key.size()), V{}};
  }
  static void DeleteItem(Item* item) {
    const size_t key_bytes = KeyBytes(item->first.size());
    char* block = reinterpret_cast<char*>(item) - key_bytes;
    item->~Item();
    FreeBlock(block, key_bytes + sizeof(Item));
  }

  // The first slot on `hash`'s probe path holding an item with the hash's tag for which
  // `match(item)` is true; null at the first empty slot (or in an empty map).
  template <typename Match>
  Slot* Probe(uint64_t hash, Match match) {
    if (size_ == 0) return nullptr;
    const Slot tag = TagOf(hash);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot == kEmpty) return nullptr;
      if ((slot & ~kAddressMask) == tag && Holds(slot) && match(*ItemOf(slot))) return &slot;
    }
  }

  Slot* End() { return slots_.data() + slots_.size(); }
  iterator MakeIterator(Slot* slot) {
    iterator it(slot, End());
    it.SkipFree();
    return it;
  }

  // Re-inserts every item into a table sized for `wanted` items at most half full (deleted
  // slots are dropped; items do not move). Erased windows leave deleted slots, so a table of
  // windows is rehashed at its size every few hundred thousand windows opened: each item's key
  // is read (to hash it) and each lands on a random slot, two cache misses per item in a large
  // table. The items' keys are requested kAhead slots before they are hashed, and the hashes are
  // kept, so that each target slot is requested kAhead items before it is filled.
  void Rehash(size_t wanted) {
    constexpr size_t kAhead = 16;
    size_t capacity = 16;
    while (capacity < wanted * 2) capacity *= 2;
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    deleted_ = 0;
    std::vector<std::pair<uint64_t, Slot>> held;
    held.reserve(size_);
    for (size_t j = 0; j < old.size(); ++j) {
      if (j + kAhead < old.size() && Holds(old[j + kAhead])) {
        // The key's bytes lie right before the item: the item's line and the two before.
        PrefetchRange(ItemOf(old[j + kAhead]), sizeof(std::string_view), 2 * kCacheLineBytes);
      }
      if (Holds(old[j])) held.emplace_back(Hash(ItemOf(old[j])->first), old[j]);
    }
    for (size_t j = 0; j < held.size(); ++j) {
      if (j + kAhead < held.size()) __builtin_prefetch(&slots_[held[j + kAhead].first & mask_], 1);
      size_t i = held[j].first & mask_;
      while (slots_[i] != kEmpty) i = (i + 1) & mask_;
      slots_[i] = held[j].second;
    }
  }

  void DestroyAll() {
    for (Slot& slot : slots_) {
      if (Holds(slot)) DeleteItem(ItemOf(slot));
      slot = kEmpty;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t deleted_ = 0;
};

}  // namespace learnflow
