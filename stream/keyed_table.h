// KeyedTable<V>: one partition's keyed state of one kind, cached in memory and written back.
//
// The generic keyed-aggregate state under every stream task: a map (ordered, or a hash table
// for state only looked up by key) from a partition-local key to a value object V, with the
// bookkeeping that makes it durable and movable:
//   - checkpoint: changed entries are Put into the commit's StateBatch (store key = prefix +
//     local key in one column family), erased ones Deleted (or left to a range delete the task
//     issues itself, e.g. windows dropped by time);
//   - a changelog write visits only the entries changed since the last one, a checkpoint those
//     changed since the last checkpoint (several commits may come between two checkpoints);
//     an entry is encoded once per changelog write, and a checkpoint in the same commit reuses
//     those bytes;
//   - changelog: changed entries are sent as (tag + local key, encoded V), erased ones that were
//     logged as tombstones; the task closes each commit with its own position record;
//   - restore: records of the changelog are staged per commit and applied when the task reads
//     the commit's position record, so an incomplete trailing commit is never applied.
//
//   struct Counter { int64_t n = 0;
//     void Encode(std::string& out) const; Status Decode(std::string_view in); };
//   KeyedTable<Counter> table('C', Family::kKeyed, prefix);
//   auto& entry = table.FindOrCreate("learner-1"); ++entry.value.n; table.MarkChanged(entry);
//
// V must be default-constructible and provide `void Encode(std::string&) const` and
// `Status Decode(std::string_view)` (Internal on corrupt bytes).
// Lifecycle: owned by its task; Load() once, then updated and written back at each commit.
// Threading: the task's thread only. Errors: Load and restore report corrupt values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/key_sort.h"
#include "core/prefetch.h"
#include "core/string_key_map.h"
#include "core/status.h"
#include "state/state_store.h"

namespace learnflow {

// Changelog output: key and value, or a null value for a tombstone.
using ChangelogFn = std::function<Status(std::string_view key, const std::string_view* value)>;

// What a task does with all its tables alike (one virtual call per table per commit).
class TableBase {
 public:
  virtual ~TableBase() = default;
  virtual char tag() const = 0;
  virtual void DisableChangelog() = 0;
  virtual Status Load(const StateStore& store) = 0;
  virtual StatusOr<bool> WriteChangelog(const ChangelogFn& send) = 0;
  virtual void Checkpoint(StateBatch& batch, bool rewrite) = 0;
  virtual void Stage(std::string_view local_key, const std::string_view* value) = 0;
  virtual bool HasStaged() const = 0;
  virtual Status ApplyStaged() = 0;
  virtual void FinishRestore() = 0;
};

// Entries are kept in key order unless `kOrdered` is false (a hash table: constant-time lookup,
// for state that is only ever looked up by key or visited as a whole; see core/string_key_map.h).
// Either way an entry stays put until it is erased; its key is `Map::value_type::first`.
template <typename V, bool kOrdered = true>
class KeyedTable final : public TableBase {
 public:
  static constexpr uint32_t kNotListed = UINT32_MAX;
  // The type of the map's key member (`Map::value_type::first`), which stays put with its entry.
  using MapKey = std::conditional_t<kOrdered, std::string, std::string_view>;
  struct Entry {
    V value;
    bool dirty = false;            // changed since the last local checkpoint
    bool logged = false;           // present in the changelog (needs a tombstone when erased)
    bool unlogged_change = false;  // changed since the last changelog write
    uint32_t changed_slot = kNotListed;  // index in the list of entries changed since the
                                         // last checkpoint
    const MapKey* key = nullptr;         // the map's own key of this entry (for the changed list)
  };
  using Map = std::conditional_t<kOrdered, std::map<std::string, Entry, std::less<>>,
                                 StringKeyMap<Entry>>;
  // `tag` prefixes this table's changelog keys; `prefix` + local key is the store key in `family`.
  KeyedTable(char tag, Family family, std::string prefix)
      : tag_(tag), family_(family), prefix_(std::move(prefix)) {}

  // Without a changelog (a single instance) nothing is logged and no tombstones are kept.
  void DisableChangelog() override { logging_ = false; }

  char tag() const override { return tag_; }
  Map& entries() { return entries_; }
  const Map& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  Entry* Find(std::string_view key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // The map's lookahead (core/string_key_map.h), for hash tables: the entry a lookup of a key
  // with hash `hash` will probably find (null when none), its key not compared.
  const Entry* Candidate(uint64_t hash) const
    requires(!kOrdered)
  {
    const auto* item = entries_.Candidate(hash);
    return item == nullptr ? nullptr : &item->second;
  }

  // Allocates only when the key is new.
  Entry& FindOrCreate(std::string_view key) { return FindOrCreateItem(key).second; }
  // The same, with the table's own copy of the key (it stays put until the entry is erased).
  typename Map::value_type& FindOrCreateItem(std::string_view key) {
    if constexpr (kOrdered) {
      auto it = entries_.find(key);
      if (it == entries_.end()) {
        it = entries_.emplace(std::string(key), Entry{}).first;
        it->second.key = &it->first;
      }
      return *it;
    } else {
      auto [it, inserted] = entries_.try_emplace(key);
      if (inserted) it->second.key = &it->first;
      return *it;
    }
  }
  // The entry goes to the changelog and the checkpoint at the next commit.
  void MarkChanged(Entry& entry) {
    entry.dirty = true;
    List(entry);
    if (logging_) Unlogged(entry);
  }
  // Removes an entry. A logged entry gets a changelog tombstone; `delete_in_store` also deletes
  // it from the store at the next checkpoint (false when the task drops it with a range delete).
  typename Map::iterator Erase(typename Map::iterator it, bool delete_in_store) {
    if (it->second.changed_slot != kNotListed) changed_[it->second.changed_slot] = nullptr;
    if (it->second.logged) tombstones_.Add(it->first);
    if (delete_in_store) store_deletes_.Add(it->first);
    auto next = it;
    ++next;
    entries_.erase(it);
    return next;
  }

  // Reads every entry of this table from the store.
  Status Load(const StateStore& store) override {
    Status decode_status;
    LF_RETURN_IF_ERROR(store.Scan(family_, prefix_, PrefixEnd(),
                                  [&](std::string_view k, std::string_view v) {
                                    Entry entry;
                                    // Checkpoints follow changelog writes.
                                    entry.logged = logging_;
                                    decode_status = entry.value.Decode(v);
                                    if (!decode_status.ok()) return false;
                                    auto& item = FindOrCreateItem(k.substr(prefix_.size()));
                                    entry.key = &item.first;
                                    item.second = std::move(entry);
                                    return true;
                                  }));
    return decode_status;
  }

  // Sends tombstones and changed entries through `send(key, value_or_null)` (key = tag + local
  // key; a null value is a tombstone). Returns whether anything was sent.
  StatusOr<bool> WriteChangelog(const ChangelogFn& send) override {
    bool sent = false;
    for (size_t i = 0; i < tombstones_.size(); ++i) {
      key_scratch_.assign(1, tag_);
      key_scratch_ += tombstones_[i];
      LF_RETURN_IF_ERROR(send(std::string_view(key_scratch_), nullptr));
      sent = true;
    }
    tombstones_.clear();
    encoded_.clear();
    encoded_at_.assign(changed_.size(), kNotEncoded);
    // In the order the entries changed: a restore applies a commit's records together, so
    // their order does not matter (the checkpoint sorts, for RocksDB).
    for (size_t i = 0; i < unlogged_.size(); ++i) {
      PrefetchAhead(unlogged_, i, /*blocks=*/true);
      const uint32_t slot = unlogged_[i];
      Entry* entry = changed_[slot];
      if (entry == nullptr || !entry->unlogged_change) continue;  // erased, or replaced
      key_scratch_.assign(1, tag_);
      key_scratch_ += *entry->key;
      const size_t begin = encoded_.size();
      entry->value.Encode(encoded_);
      encoded_at_[slot] = {begin, encoded_.size() - begin};
      const std::string_view value = std::string_view(encoded_).substr(begin);
      LF_RETURN_IF_ERROR(send(std::string_view(key_scratch_), &value));
      entry->unlogged_change = false;
      entry->logged = true;
      sent = true;
    }
    unlogged_.clear();
    return sent;
  }

  // Adds changed entries and deletions to `batch`. With `rewrite` (after a restore) the table's
  // whole range is replaced by what memory holds.
  void Checkpoint(StateBatch& batch, bool rewrite) override {
    if (rewrite) {
      batch.DeleteRange(family_, prefix_, PrefixEnd());
      store_deletes_.clear();
      // Every entry is written, so every entry is visited, through the changed list.
      for (auto& [local_key, entry] : entries_) {
        entry.dirty = true;
        List(entry);
      }
    }
    for (size_t i = 0; i < store_deletes_.size(); ++i) {
      key_scratch_.assign(prefix_);
      key_scratch_ += store_deletes_[i];
      batch.Delete(family_, key_scratch_);
    }
    store_deletes_.clear();
    // The encodings of this commit's changelog write, when it ran (slots are only appended
    // until the checkpoint; entries listed after that write, as by a rewrite, void them).
    const bool encoded = encoded_at_.size() == changed_.size();
    // Key order: RocksDB's memtable (a skip list) inserts keys in order at a fraction of the
    // cost of keys in random order.
    order_.clear();
    for (uint32_t slot = 0; slot < changed_.size(); ++slot) {
      if (changed_[slot] != nullptr) order_.push_back(slot);
    }
    SortByKey(
        order_, [this](uint32_t slot) { return std::string_view(*changed_[slot]->key); },
        order_scratch_);
    // Entries not yet in the changelog (none when the changelog was written first) stay listed.
    still_unlogged_.clear();
    for (const uint32_t slot : unlogged_) {
      Entry* entry = changed_[slot];
      if (entry != nullptr && entry->unlogged_change) still_unlogged_.push_back(entry);
    }
    for (size_t i = 0; i < order_.size(); ++i) {
      // The encodings are this commit's (no value blocks read) unless the changelog did not run.
      PrefetchAhead(order_, i, /*blocks=*/!encoded);
      const uint32_t slot = order_[i];
      Entry* entry = changed_[slot];
      if (entry->dirty) {
        key_scratch_.assign(prefix_);
        key_scratch_ += *entry->key;
        if (encoded && encoded_at_[slot] != kNotEncoded) {
          batch.Put(family_, key_scratch_,
                    std::string_view(encoded_).substr(encoded_at_[slot].first,
                                                      encoded_at_[slot].second));
        } else {
          value_scratch_.clear();
          entry->value.Encode(value_scratch_);
          batch.Put(family_, key_scratch_, value_scratch_);
        }
        entry->dirty = false;
      }
      entry->changed_slot = kNotListed;
    }
    changed_.clear();
    encoded_at_.clear();
    encoded_.clear();
    unlogged_.clear();
    for (Entry* entry : still_unlogged_) {
      List(*entry);
      unlogged_.push_back(entry->changed_slot);
    }
  }

  // Restore: keeps one changelog record (local key, value or nullptr), decoded, until its
  // commit's position record is read. A value that does not decode is reported then (a commit
  // cut short is never applied, so neither is its error).
  void Stage(std::string_view local_key, const std::string_view* value) override {
    Staged& staged = staged_.emplace_back();
    staged.key.assign(local_key);
    staged.tombstone = value == nullptr;
    if (value != nullptr) staged.decoded = staged.value.Decode(*value);
  }
  bool HasStaged() const override { return !staged_.empty(); }
  // The commit's position record was read: its staged records take effect.
  Status ApplyStaged() override {
    for (Staged& record : staged_) {
      if (record.tombstone) {
        auto it = entries_.find(std::string_view(record.key));
        if (it != entries_.end()) {
          if (it->second.changed_slot != kNotListed) changed_[it->second.changed_slot] = nullptr;
          entries_.erase(it);
        }
        continue;
      }
      LF_RETURN_IF_ERROR(std::move(record.decoded));
      auto& item = FindOrCreateItem(record.key);
      Entry& entry = item.second;
      if (entry.changed_slot != kNotListed) changed_[entry.changed_slot] = nullptr;
      entry = Entry{};
      entry.value = std::move(record.value);
      entry.logged = true;
      entry.dirty = true;  // the checkpoint after a restore rewrites the whole table
      entry.key = &item.first;
    }
    staged_.clear();
    return Status::Ok();
  }
  // Restore reached the end of the log. Records after the last position record belong to a
  // commit cut short; the next position record this task writes would make them take effect on
  // a later restore, so the next commit overrides each of their keys with the real state.
  void FinishRestore() override {
    for (Staged& record : staged_) {
      auto it = entries_.find(std::string_view(record.key));
      if (it != entries_.end()) {
        it->second.logged = true;
        List(it->second);
        Unlogged(it->second);
      } else if (!record.tombstone) {
        tombstones_.Add(record.key);
      }
    }
    staged_.clear();
  }

 private:
  struct Staged {
    std::string key;
    V value;
    Status decoded;  // of value
    bool tombstone = false;
  };
  static constexpr std::pair<size_t, size_t> kNotEncoded{0, SIZE_MAX};
  // Keys in one buffer (no allocation per key once grown).
  class KeyList {
   public:
    void Add(std::string_view key) {
      bytes_ += key;
      ends_.push_back(bytes_.size());
    }
    size_t size() const { return ends_.size(); }
    std::string_view operator[](size_t i) const {
      const size_t begin = i == 0 ? 0 : ends_[i - 1];
      return std::string_view(bytes_).substr(begin, ends_[i] - begin);
    }
    void clear() {
      bytes_.clear();
      ends_.clear();
    }

   private:
    std::string bytes_;
    std::vector<size_t> ends_;
  };

  // Entries changed since the last commit lie scattered in memory and a commit visits each
  // once: the entry kEntryAhead slots on in `slots` is prefetched (with the line before it,
  // where its key view and a short key sit), and with `blocks` the heap blocks of the value
  // kBlocksAhead slots on (values that say where theirs are, through PrefetchBlocks()).
  void PrefetchAhead(const std::vector<uint32_t>& slots, size_t i, bool blocks) const {
    constexpr size_t kEntryAhead = 8;
    constexpr size_t kBlocksAhead = 3;
    if (i + kEntryAhead < slots.size()) {
      if (const Entry* entry = changed_[slots[i + kEntryAhead]]) {
        PrefetchRange(entry, sizeof(Entry), kCacheLineBytes);
      }
    }
    if constexpr (requires(const V& v) { v.PrefetchBlocks(); }) {
      if (blocks && i + kBlocksAhead < slots.size()) {
        if (const Entry* entry = changed_[slots[i + kBlocksAhead]]) entry->value.PrefetchBlocks();
      }
    }
  }

  void List(Entry& entry) {
    if (entry.changed_slot != kNotListed) return;
    entry.changed_slot = static_cast<uint32_t>(changed_.size());
    changed_.push_back(&entry);
  }
  // REQUIRES: `entry` is listed.
  void Unlogged(Entry& entry) {
    if (entry.unlogged_change) return;
    entry.unlogged_change = true;
    unlogged_.push_back(entry.changed_slot);
  }

  // The first key after every key starting with prefix_ (prefixes are fixed-width partition
  // numbers here, so incrementing the last byte with carry is exact).
  std::string PrefixEnd() const {
    std::string end = prefix_;
    for (size_t i = end.size(); i > 0; --i) {
      if (static_cast<uint8_t>(end[i - 1]) != 0xff) {
        end[i - 1] = static_cast<char>(static_cast<uint8_t>(end[i - 1]) + 1);
        end.resize(i);
        return end;
      }
    }
    end.assign(prefix_.size() + 1, '\xff');
    return end;
  }

  char tag_;
  Family family_;
  std::string prefix_;
  bool logging_ = true;
  Map entries_;
  KeyList tombstones_;
  KeyList store_deletes_;
  std::vector<Staged> staged_;
  // Entries changed since the last checkpoint by slot (null: erased since), the slots of those
  // changed since the last changelog write, and the bytes of this commit's changelog records
  // ((offset, size) in encoded_ per slot).
  std::vector<Entry*> changed_;
  std::vector<uint32_t> unlogged_;
  std::vector<uint32_t> order_;  // Checkpoint's scratch: listed slots in key order
  std::vector<KeySortSlot<uint32_t>> order_scratch_;
  std::vector<Entry*> still_unlogged_;  // Checkpoint's scratch
  std::vector<std::pair<size_t, size_t>> encoded_at_;
  std::string encoded_;
  std::string key_scratch_;
  std::string value_scratch_;
};

}  // namespace learnflow
