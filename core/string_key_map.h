// StringKeyMap<V>: a hash map from byte-string keys to V, for keyed state looked up once per
// record.
//
// std::unordered_map<std::string, V> costs a lookup four dependent memory reads on a cold table:
// the bucket, the node *before* the bucket's first node (where the bucket points), the node,
// and the key's own heap block (keys over 15 bytes, such as "mailto:l0012345@example.org").
// Here a lookup reads one slot (the key's full hash beside the item's address: 4 slots per
// cache line, linear probing) and then the item, whose key bytes sit right before it in the
// same allocation. A mismatch on the hash never touches an item.
//
//   StringKeyMap<Counter> map;
//   auto [it, inserted] = map.try_emplace("learner-1");  // one allocation when new
//   ++it->second.n;
//   for (auto& [key, counter] : map) ...                 // unspecified order
//   map.erase(map.find("learner-1"));
//
// Guarantees, as std::unordered_map's: references to items (and to their `first`) stay valid
// until the item is erased; iterators stay valid until the next insertion (which may rehash);
// erasing invalidates only iterators to the erased item. An erased slot is marked deleted
// (never shifted), so a loop may erase at its iterator and go on with the next one.
// V must be default-constructible. Thread-compatible. Allocation failure terminates (as new).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace learnflow {

template <typename V>
class StringKeyMap {
  struct Slot;

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
    using SlotPtr = std::conditional_t<kConst, const void*, void*>;
    using reference = std::conditional_t<kConst, const Item&, Item&>;
    using pointer = std::conditional_t<kConst, const Item*, Item*>;

    Iterator() = default;
    reference operator*() const { return *slot_->item; }
    pointer operator->() const { return slot_->item; }
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
    if (size_ == 0) return end();
    const uint64_t hash = Hash(key);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.item == nullptr) return end();
      if (slot.hash == hash && Holds(slot) && slot.item->first == key) {
        return iterator(&slot, End());
      }
    }
  }
  const_iterator find(std::string_view key) const {
    return const_cast<StringKeyMap*>(this)->find(key);
  }

  // The item of `key`, default-constructed and inserted when missing (then `second` is true).
  std::pair<iterator, bool> try_emplace(std::string_view key) {
    if ((size_ + deleted_ + 1) * 4 > slots_.size() * 3) Rehash(size_ + 1);
    const uint64_t hash = Hash(key);
    Slot* reuse = nullptr;  // the first deleted slot on the probe path
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.item == nullptr) break;
      if (!Holds(slot)) {
        if (reuse == nullptr) reuse = &slot;
      } else if (slot.hash == hash && slot.item->first == key) {
        return {iterator(&slot, End()), false};
      }
    }
    Slot* target = reuse;
    if (target == nullptr) {
      size_t i = hash & mask_;
      while (slots_[i].item != nullptr) i = (i + 1) & mask_;
      target = &slots_[i];
    } else {
      --deleted_;
    }
    target->hash = hash;
    target->item = NewItem(key);
    ++size_;
    return {iterator(target, End()), true};
  }

  // Removes the item at `it` (a valid, dereferenceable iterator of this map).
  void erase(iterator it) {
    Slot& slot = *it.slot_;
    DeleteItem(slot.item);
    slot.item = Deleted();
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
  struct Slot {  // 16 bytes: four per cache line
    uint64_t hash = 0;
    Item* item = nullptr;  // nullptr: never used since the last rehash; Deleted(): erased
  };
  static Item* Deleted() { return reinterpret_cast<Item*>(alignof(Item)); }
  static bool Holds(const Slot& slot) { return slot.item != nullptr && slot.item != Deleted(); }
  static uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

  // The key's bytes come first, padded to the item's alignment, then the item.
  static size_t KeyBytes(size_t key_size) {
    return (key_size + alignof(Item) - 1) / alignof(Item) * alignof(Item);
  }
  // Plain new: tcmalloc serves it from its size classes (aligned new takes a slower path).
  static_assert(alignof(Item) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  static Item* NewItem(std::string_view key) {
    const size_t key_bytes = KeyBytes(key.size());
    char* block = static_cast<char*>(::operator new(key_bytes + sizeof(Item)));
    if (!key.empty()) std::memcpy(block, key.data(), key.size());
    return new (block + key_bytes) Item{std::string_view(block, key.size()), V{}};
  }
  static void DeleteItem(Item* item) {
    const size_t key_bytes = KeyBytes(item->first.size());
    char* block = reinterpret_cast<char*>(item) - key_bytes;
    item->~Item();
    ::operator delete(block, key_bytes + sizeof(Item));
  }

  Slot* End() { return slots_.data() + slots_.size(); }
  iterator MakeIterator(Slot* slot) {
    iterator it(slot, End());
    it.SkipFree();
    return it;
  }

  // Re-inserts every item into a table sized for `wanted` items at most half full (deleted
  // slots are dropped; items do not move).
  void Rehash(size_t wanted) {
    size_t capacity = 16;
    while (capacity < wanted * 2) capacity *= 2;
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    deleted_ = 0;
    for (const Slot& slot : old) {
      if (!Holds(slot)) continue;
      size_t i = slot.hash & mask_;
      while (slots_[i].item != nullptr) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  void DestroyAll() {
    for (Slot& slot : slots_) {
      if (Holds(slot)) DeleteItem(slot.item);
      slot.item = nullptr;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  size_t deleted_ = 0;
};

}  // namespace learnflow
