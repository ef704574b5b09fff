#include "state/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace learnflow {
namespace {

constexpr const char* kFamilyNames[kFamilyCount] = {"meta", "windows", "keyed", "cohort_windows",
                                                     "cohort_keyed"};

Status FromRocks(const rocksdb::Status& s, std::string_view what, const std::string& dir) {
  if (s.ok()) return Status::Ok();
  std::string message = std::string(what) + " (state dir " + dir + "): " + s.ToString();
  if (s.IsIOError() || s.IsCorruption() || s.IsNoSpace()) return IoError(std::move(message));
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return UnavailableError(std::move(message));
  return InternalError(std::move(message));
}

rocksdb::Slice ToSlice(std::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

// RocksDB keeps per-thread perf counters (PerfLevel::kEnableCount by default) that nothing here
// reads. In Debian's shared library each count is a thread-local lookup, and a write counts every
// key comparison of its memtable insertions: 5 % of the in-process benchmark's instructions.
// Perf levels are per thread, so every thread that uses the store turns them off once.
void DisablePerfCounters() {
  thread_local const bool disabled = [] {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return true;
  }();
  (void)disabled;
}

// Memtable insertion hints, per partition. A commit writes each family's changed keys in key
// order, but the memtable already holds other keys between two written ones (the versions of
// earlier commits, entries not changed in this one). A plain insert then searches the skip list
// from the top (its remembered position only helps for adjacent keys): about 5,000 instructions
// per key, the largest single cost of a commit. With a hint per prefix, RocksDB resumes from the
// previous insert of the same prefix and climbs only as far as the distance between the two.
//
// RocksDB 7.8 keys the hints by prefix alone and uses the same hints for the memtable's
// range-delete list as for its point entries (later releases give hints to the point entries
// only); a hint made on one list and used on the other corrupts the skip list (Debian's build
// asserts). So range delete begin keys must be outside
// the domain: they are at most kMaxRangeDeleteBegin bytes (a partition prefix, or a prefix and
// a time bound: StateBatch::DeleteRange checks it) and only longer keys take hints. Keys of
// Put and Delete that short lose only the hint.
class PartitionHintPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "learnflow.PartitionHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), kPartitionPrefixBytes);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > kMaxRangeDeleteBegin;
  }
};

// RocksDB's own warnings and errors go to the engine's log instead of a LOG file in the state
// directory. On a full disk that file fails like the rest, and RocksDB's file writer, used again
// after a failed write, aborts the process in builds with assertions (Debian's librocksdb): the
// store must report the error, not die of its logger.
class EngineLogLogger final : public rocksdb::Logger {
 public:
  explicit EngineLogLogger(std::string dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), dir_(std::move(dir)) {}

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char text[1024];
    const int n = std::vsnprintf(text, sizeof(text), format, ap);
    std::string_view line(text, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(text) - 1));
    while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    // The engine reports a failed write itself (one error naming the directory); RocksDB's
    // account of it is detail.
    spdlog::warn("rocksdb (state dir {}): {}", dir_, line);
  }

 private:
  const std::string dir_;
};

// The layout of keys and values; bumped when a new version cannot read an older store.
constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormatVersion = "2";

}  // namespace

std::string_view FamilyName(Family family) { return kFamilyNames[static_cast<int>(family)]; }

class StateStore::Impl {
 public:
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;  // indexed by Family

  ~Impl() {
    for (rocksdb::ColumnFamilyHandle* handle : families) {
      // Destroying a handle cannot fail in a way we could act on while shutting down.
      if (handle != nullptr) db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    if (db != nullptr) db->Close().PermitUncheckedError();  // WAL already holds every write
  }

  rocksdb::ColumnFamilyHandle* Handle(Family family) const {
    return families[static_cast<size_t>(family)];
  }
};

class StateBatch::Rep {
 public:
  explicit Rep(const StateStore::Impl& store) : store(store) {}
  const StateStore::Impl& store;
  rocksdb::WriteBatch batch;
};

StateBatch::StateBatch(const StateStore& store) : rep_(std::make_unique<Rep>(*store.impl_)) {}
StateBatch::~StateBatch() = default;

void StateBatch::Put(Family family, std::string_view key, std::string_view value) {
  const rocksdb::Status s = rep_->batch.Put(rep_->store.Handle(family), ToSlice(key), ToSlice(value));
  LF_CHECK(s.ok(), "WriteBatch::Put: " + s.ToString());  // only fails on >4 GiB batches
}

void StateBatch::Delete(Family family, std::string_view key) {
  const rocksdb::Status s = rep_->batch.Delete(rep_->store.Handle(family), ToSlice(key));
  LF_CHECK(s.ok(), "WriteBatch::Delete: " + s.ToString());
}

void StateBatch::DeleteRange(Family family, std::string_view begin, std::string_view end) {
  LF_CHECK(family == Family::kMeta || begin.size() <= kMaxRangeDeleteBegin,
           "DeleteRange in " + std::string(FamilyName(family)) + ": a begin key of " +
               std::to_string(begin.size()) + " bytes would take a memtable insertion hint");
  const rocksdb::Status s =
      rep_->batch.DeleteRange(rep_->store.Handle(family), ToSlice(begin), ToSlice(end));
  LF_CHECK(s.ok(), "WriteBatch::DeleteRange: " + s.ToString());
}

void StateBatch::Clear() { rep_->batch.Clear(); }
size_t StateBatch::Count() const { return static_cast<size_t>(rep_->batch.Count()); }
size_t StateBatch::ByteSize() const { return rep_->batch.GetDataSize(); }

StateStore::StateStore(std::unique_ptr<Impl> impl, std::string dir)
    : impl_(std::move(impl)), dir_(std::move(dir)) {}
StateStore::~StateStore() = default;

StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const StateStoreOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("state.dir: must not be empty");
  if (options.memory_mb < 16) return InvalidArgumentError("state.memory_mb: must be >= 16");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IoError("cannot create state dir " + options.dir + ": " + ec.message());

  auto impl = std::make_unique<Impl>();
  const size_t budget = static_cast<size_t>(options.memory_mb) << 20;
  // One budget: memtables are charged to the block cache, so together they stay within it.
  impl->cache = rocksdb::NewLRUCache(budget);
  impl->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(budget / 2, impl->cache);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager = impl->write_buffers;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  // After a crash, the WAL's writes go back into memtables and are flushed later, in the
  // background, instead of into new files before Open returns (a restart's time to ready).
  db_options.avoid_flush_during_recovery = true;
  // The meta family takes a few small writes per commit and never fills a memtable; without a
  // bound it would pin every WAL file since its last flush, and a restart after a crash would
  // read them all. Past this size RocksDB flushes the families holding the oldest WAL.
  db_options.max_total_wal_size = budget / 4;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.info_log = std::make_shared<EngineLogLogger>(options.dir);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = impl->cache;
  table.cache_index_and_filter_blocks = true;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.write_buffer_size = std::min<size_t>(budget / 8, 64u << 20);

  rocksdb::ColumnFamilyOptions partitioned_options = cf_options;
  partitioned_options.memtable_insert_with_hint_prefix_extractor =
      std::make_shared<PartitionHintPrefix>();

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (int i = 0; i < kFamilyCount; ++i) {
    const bool meta = static_cast<Family>(i) == Family::kMeta;
    descriptors.emplace_back(kFamilyNames[i], meta ? cf_options : partitioned_options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open state store", options.dir);
  impl->db.reset(raw);
  // handles[0] is the default family, unused; keep ours in Family order.
  raw->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();  // default CF handle
  impl->families.assign(handles.begin() + 1, handles.end());
  auto store = std::unique_ptr<StateStore>(new StateStore(std::move(impl), options.dir));
  LF_RETURN_IF_ERROR(store->CheckFormat());
  return store;
}

Status StateStore::CheckFormat() {
  std::string value;
  bool found = false;
  LF_RETURN_IF_ERROR(Get(Family::kMeta, kFormatKey, value, found));
  if (found && value != kFormatVersion) {
    return InvalidArgumentError("state directory " + dir_ + " holds state format " + value +
                                   ", this version reads format " + std::string(kFormatVersion) +
                                   "; remove the directory (the state is rebuilt from the changelog)");
  }
  if (found) return Status::Ok();
  StateBatch batch(*this);
  batch.Put(Family::kMeta, kFormatKey, kFormatVersion);
  return Write(batch);
}

Status StateStore::Write(StateBatch& batch) {
  DisablePerfCounters();
  rocksdb::WriteOptions write_options;  // WAL on, no fsync: survives process crashes
  return FromRocks(impl_->db->Write(write_options, &batch.rep_->batch), "state write failed", dir_);
}

Status StateStore::Get(Family family, std::string_view key, std::string& value, bool& found) const {
  DisablePerfCounters();
  const rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->Handle(family), ToSlice(key), &value);
  found = s.ok();
  if (s.IsNotFound()) return Status::Ok();
  return FromRocks(s, "state read failed", dir_);
}

Status StateStore::Scan(Family family, std::string_view begin, std::string_view end,
                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  DisablePerfCounters();
  rocksdb::ReadOptions read_options;
  const rocksdb::Slice upper = ToSlice(end);
  read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->Handle(family)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), "state scan failed", dir_);
}

uint64_t StateStore::ApproximateBytes() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* handle : impl_->families) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) total += v;
  }
  return total;
}

// Through a local buffer and one append, as PutU64 (core/codec.h): keys are built per event.
void AppendBigEndian32(std::string& out, uint32_t v) {
  char bytes[4];
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  out.append(bytes, sizeof(bytes));
}
void AppendBigEndian64(std::string& out, uint64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  out.append(bytes, sizeof(bytes));
}
uint32_t ReadBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
uint64_t ReadBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace learnflow
