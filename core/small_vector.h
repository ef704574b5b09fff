// SmallVector<T, N>: a vector of trivially copyable T that keeps up to N items inside itself and
// moves to the heap beyond, for the small sets of keyed state (a window's event ids, minutes and
// mastery) that every event touches.
//
// A std::vector reaches its items through a heap block: one more cache line missed per set per
// event, and an allocation at each doubling (1, 2, 4, 8 items: four). Here N items cost no
// allocation and share the owner's cache lines; the first heap block holds at least
// kFirstHeapCapacity items. N is chosen so that the inline items fill the 16 bytes that would
// otherwise hold the heap pointer: the object is as large as a std::vector (24 bytes) when
// N * sizeof(T) <= 16.
//
//   SmallVector<uint32_t, 4> minutes;
//   auto it = std::lower_bound(minutes.begin(), minutes.end(), m);
//   if (it == minutes.end() || *it != m) minutes.insert(it, m);
//
// Iterators are pointers; any insert, resize or push_back may invalidate them (as std::vector's).
// Allocation failure terminates (as new).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <new>
#include <type_traits>

#include "core/block_pool.h"
#include "core/check.h"

namespace learnflow {

template <typename T, uint32_t N>
class SmallVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "SmallVector copies its items as bytes");
  static_assert(N >= 1);
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

 public:
  using value_type = T;
  using size_type = size_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reference = T&;
  using const_reference = const T&;

  static constexpr uint32_t kFirstHeapCapacity = std::max<uint32_t>(2 * N, 8);

  SmallVector() = default;
  SmallVector(std::initializer_list<T> items) { assign(items.begin(), items.end()); }
  SmallVector(const SmallVector& other) { assign(other.begin(), other.end()); }
  SmallVector(SmallVector&& other) noexcept { Steal(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      FreeHeap();
      Steal(other);
    }
    return *this;
  }
  SmallVector& operator=(std::initializer_list<T> items) {
    assign(items.begin(), items.end());
    return *this;
  }
  ~SmallVector() { FreeHeap(); }

  T* data() { return on_heap() ? heap_ : InlineItems(); }
  const T* data() const { return on_heap() ? heap_ : InlineItems(); }
  iterator begin() { return data(); }
  iterator end() { return data() + size_; }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  bool on_heap() const { return capacity_ > N; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }

  void clear() { size_ = 0; }
  void reserve(size_t n) {
    if (n > capacity_) Grow(n);
  }
  // New items are value-initialised (T()).
  void resize(size_t n) {
    reserve(n);
    T* items = data();
    for (size_t i = size_; i < n; ++i) new (&items[i]) T();
    size_ = static_cast<uint32_t>(n);
  }
  void push_back(const T& value) {
    const T copy = value;  // `value` may live in this vector
    if (size_ == capacity_) Grow(size_ + 1);
    data()[size_++] = copy;
  }
  // Inserts `value` before `pos`; returns the inserted item.
  iterator insert(const_iterator pos, const T& value) {
    const auto index = static_cast<size_t>(pos - begin());
    const T copy = value;
    if (size_ == capacity_) Grow(size_ + 1);
    T* items = data();
    std::memmove(static_cast<void*>(items + index + 1), items + index,
                 (size_ - index) * sizeof(T));
    items[index] = copy;
    ++size_;
    return items + index;
  }
  iterator erase(const_iterator pos) {
    const auto index = static_cast<size_t>(pos - begin());
    T* items = data();
    std::memmove(static_cast<void*>(items + index), items + index + 1,
                 (size_ - index - 1) * sizeof(T));
    --size_;
    return items + index;
  }
  template <typename It>
  void assign(It first, It last) {
    clear();
    reserve(static_cast<size_t>(std::distance(first, last)));
    T* items = data();
    for (; first != last; ++first) items[size_++] = *first;
  }

  friend bool operator==(const SmallVector& a, const SmallVector& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  T* InlineItems() { return reinterpret_cast<T*>(inline_); }
  const T* InlineItems() const { return reinterpret_cast<const T*>(inline_); }

  void Grow(size_t at_least) {
    LF_CHECK(at_least <= UINT32_MAX / 2, "SmallVector: too many items");
    const auto capacity = static_cast<uint32_t>(
        std::max<size_t>({at_least, size_t{2} * capacity_, size_t{kFirstHeapCapacity}}));
    T* items = static_cast<T*>(AllocateBlock(capacity * sizeof(T)));
    std::memcpy(static_cast<void*>(items), data(), size_ * sizeof(T));
    FreeHeap();
    heap_ = items;
    capacity_ = capacity;
  }
  void FreeHeap() {
    if (on_heap()) FreeBlock(heap_, capacity_ * sizeof(T));
    capacity_ = N;
  }
  void Steal(SmallVector& other) {
    size_ = other.size_;
    capacity_ = other.capacity_;
    if (other.on_heap()) {
      heap_ = other.heap_;
    } else {
      std::memcpy(inline_, other.inline_, sizeof(inline_));
    }
    other.size_ = 0;
    other.capacity_ = N;
  }

  uint32_t size_ = 0;
  uint32_t capacity_ = N;  // > N: the items are on the heap
  union {
    T* heap_;
    alignas(T) unsigned char inline_[N * sizeof(T)];
  };
};

}  // namespace learnflow
