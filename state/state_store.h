// StateStore: the engine's local, authoritative, crash-consistent state on disk (RocksDB).
//
// One store per engine process, with a column family per kind of state (Family). All writes go
// through an atomic StateBatch, so state and the input positions that describe it (kept in
// Family::kMeta) are always written together: after a crash (kill -9) the store holds exactly the
// state as of the last successful Write(). One memory budget (`memory_mb`) bounds the block cache
// and the memtables of every family together (a shared LRU cache charged by a
// WriteBufferManager).
//
//   LF_ASSIGN_OR_RETURN(auto store, StateStore::Open({.dir = "/var/lib/learnflow", .memory_mb = 256}));
//   StateBatch batch(*store);
//   batch.Put(Family::kWindows, key, value);
//   batch.Put(Family::kMeta, "offset/0", encoded_offset);
//   LF_RETURN_IF_ERROR(store->Write(batch));
//
// Thread-safety: all methods may be called from any thread (RocksDB's guarantees); a StateBatch is
// not thread-safe. Errors: every RocksDB status becomes a Status naming the directory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace learnflow {

enum class Family : uint8_t {
  kMeta = 0,     // input offsets, watermarks, format version
  kWindows = 1,  // open window aggregates, keyed by partition, window end, key
  kKeyed = 2,    // per-key state that outlives windows (BKT, last activity)
  kCohortWindows = 3,  // the cohort stage's open windows, keyed like kWindows
  kCohortKeyed = 4,    // the cohort stage's per-cohort state (alert firing)
};
inline constexpr int kFamilyCount = 5;
std::string_view FamilyName(Family family);

// Keys outside kMeta begin with a 4-byte partition prefix (BE32). The store inserts each
// partition's keys into the memtable near the previous one (writes come in key order), which
// holds only while every range delete begins with a key of at most kMaxRangeDeleteBegin bytes
// and every key written with Put is longer (state_store.cc says why).
inline constexpr size_t kPartitionPrefixBytes = 4;
inline constexpr size_t kMaxRangeDeleteBegin = 12;

class StateStore;

// An atomic group of writes for one store. Cheap to reuse: Clear() keeps its buffer.
// REQUIRES: the store outlives the batch.
class StateBatch {
 public:
  explicit StateBatch(const StateStore& store);
  ~StateBatch();
  StateBatch(const StateBatch&) = delete;
  StateBatch& operator=(const StateBatch&) = delete;

  void Put(Family family, std::string_view key, std::string_view value);
  void Delete(Family family, std::string_view key);
  // Deletes every key in [begin, end) with one range tombstone.
  // REQUIRES: outside kMeta, `begin` is at most kMaxRangeDeleteBegin bytes (a partition prefix,
  // or a partition prefix and a time bound); checked.
  void DeleteRange(Family family, std::string_view begin, std::string_view end);
  void Clear();
  size_t Count() const;
  size_t ByteSize() const;

 private:
  friend class StateStore;
  class Rep;
  std::unique_ptr<Rep> rep_;
};

struct StateStoreOptions {
  std::string dir;
  int memory_mb = 256;
};

class StateStore {
 public:
  // Opens (creating if missing) the store in `options.dir`. Fails with IoError if the directory
  // cannot be created or is not writable, or is locked by another process.
  static StatusOr<std::unique_ptr<StateStore>> Open(const StateStoreOptions& options);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Applies `batch` atomically (WAL on; survives a process crash). Does not clear it.
  Status Write(StateBatch& batch);

  // Reads one key. NotFound is reported through `found`, not as an error.
  Status Get(Family family, std::string_view key, std::string& value, bool& found) const;

  // Calls `fn(key, value)` for every key in [begin, end) in key order until it returns false.
  // The views are valid only during the call.
  Status Scan(Family family, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;

  // Approximate bytes on disk plus in memtables, over all families.
  uint64_t ApproximateBytes() const;

  const std::string& dir() const { return dir_; }

 private:
  friend class StateBatch;
  class Impl;
  // Records the format of a new store; refuses a store of another format.
  Status CheckFormat();
  explicit StateStore(std::unique_ptr<Impl> impl, std::string dir);
  std::unique_ptr<Impl> impl_;
  std::string dir_;
};

// Fixed-width big-endian encodings, so that byte order equals numeric order in keys.
void AppendBigEndian32(std::string& out, uint32_t v);
void AppendBigEndian64(std::string& out, uint64_t v);
uint32_t ReadBigEndian32(std::string_view in);  // REQUIRES: in.size() >= 4
uint64_t ReadBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8
// Signed time in keys: offset by 2^63 so that negative times sort first.
inline uint64_t OrderedFromSigned(int64_t v) { return static_cast<uint64_t>(v) ^ (1ULL << 63); }
inline int64_t SignedFromOrdered(uint64_t v) { return static_cast<int64_t>(v ^ (1ULL << 63)); }

}  // namespace learnflow
