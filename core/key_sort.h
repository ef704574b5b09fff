// SortByKey: sorts items by a byte-string key, as std::sort comparing the keys would, but with
// most comparisons on 8-byte integers.
//
// State keys share long prefixes (a learner key "mailto:l0012345@example.org", a window key
// that begins with its window end), so a string comparison spends its time in memcmp over the
// shared bytes and in following each item's pointers to its key. SortByKey finds the prefix all
// keys share, keeps the next 8 bytes of each key (big-endian, zero-padded) beside the item, and
// compares the whole rest only when those bytes tie. The scratch takes 16 bytes per item while
// sorting; past kKeySortKeptSlots items it is released afterwards.
//
//   std::vector<KeySortSlot<Entry*>> scratch;  // kept between calls: no allocation once grown
//   SortByKey(entries, [](const Entry* e) { return std::string_view(*e->key); }, scratch);
//
// Items with equal keys end in an unspecified order (as with std::sort). T is cheap to copy
// (a pointer, an iterator). Thread-compatible.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace learnflow {

template <typename T>
struct KeySortSlot {
  uint64_t head;  // bytes [shared, shared + 8) of the key, big-endian, zero-padded
  T item;
};

// Scratch slots kept between calls; a larger scratch is released after its sort.
inline constexpr size_t kKeySortKeptSlots = 65536;

namespace key_sort_internal {

inline uint64_t Head(std::string_view rest) {
  uint64_t head = 0;
  const size_t n = std::min<size_t>(rest.size(), 8);
  for (size_t i = 0; i < n; ++i) head |= uint64_t{static_cast<unsigned char>(rest[i])} << (56 - 8 * i);
  return head;
}

}  // namespace key_sort_internal

template <typename T, typename KeyFn>
void SortByKey(std::vector<T>& items, KeyFn&& key_of, std::vector<KeySortSlot<T>>& scratch) {
  if (items.size() < 2) return;
  // The prefix every key shares.
  const std::string_view first = key_of(items.front());
  size_t shared = first.size();
  for (size_t i = 1; i < items.size() && shared > 0; ++i) {
    const std::string_view key = key_of(items[i]);
    const size_t n = std::min(shared, key.size());
    size_t same = 0;
    while (same < n && key[same] == first[same]) ++same;
    shared = same;
  }
  scratch.clear();
  scratch.reserve(items.size());
  for (const T& item : items) {
    scratch.push_back({key_sort_internal::Head(key_of(item).substr(shared)), item});
  }
  // Equal heads with a key of 8 bytes or fewer past the prefix can still differ in length (the
  // padding is zeros, as a key's own zero bytes are), so ties compare the whole rest.
  std::sort(scratch.begin(), scratch.end(),
            [&key_of, shared](const KeySortSlot<T>& a, const KeySortSlot<T>& b) {
              if (a.head != b.head) return a.head < b.head;
              return key_of(a.item).substr(shared) < key_of(b.item).substr(shared);
            });
  for (size_t i = 0; i < items.size(); ++i) items[i] = scratch[i].item;
  // A commit after a restore or a burst sorts every entry of a table: do not keep 16 bytes per
  // entry of a million-learner table for the rest of the run.
  if (scratch.capacity() > kKeySortKeptSlots) std::vector<KeySortSlot<T>>().swap(scratch);
}

}  // namespace learnflow
