#include "stream/task_base.h"

#include <string>

namespace learnflow {

TaskBase::TaskBase(int32_t partition, std::string position_key)
    : partition_(partition), position_key_(std::move(position_key)) {}

void TaskBase::DisableChangelog() {
  for (TableBase* table : tables_) table->DisableChangelog();
}

Status TaskBase::Load(const StateStore& store) {
  std::string value;
  bool found = false;
  LF_RETURN_IF_ERROR(store.Get(Family::kMeta, position_key_, value, found));
  if (found) {
    const auto corrupt = [&] {
      return InternalError("corrupt position of partition " + std::to_string(partition_));
    };
    if (value.size() < 16) return corrupt();
    next_offset_ = static_cast<int64_t>(ReadBigEndian64(value));
    changelog_next_ = static_cast<int64_t>(ReadBigEndian64(std::string_view(value).substr(8)));
    logged_offset_ = next_offset_;
    if (!DecodePosition(std::string_view(value).substr(16)).ok()) return corrupt();
  }
  for (TableBase* table : tables_) LF_RETURN_IF_ERROR(table->Load(store));
  AfterLoad();
  return Status::Ok();
}

StatusOr<bool> TaskBase::WriteChangelog(const ChangelogFn& send, bool with_position) {
  bool changed = next_offset_ != logged_offset_;
  for (TableBase* table : tables_) {
    LF_ASSIGN_OR_RETURN(const bool sent, table->WriteChangelog(send));
    changed = changed || sent;
  }
  if (!changed) return false;
  position_due_ = true;
  if (with_position) LF_RETURN_IF_ERROR(WritePosition(send));
  return true;
}

Status TaskBase::WritePosition(const ChangelogFn& send) {
  if (!position_due_) return Status::Ok();
  scratch_.clear();
  AppendBigEndian64(scratch_, static_cast<uint64_t>(next_offset_));
  EncodePosition(scratch_);
  const std::string_view position(scratch_);
  LF_RETURN_IF_ERROR(send("P", &position));
  logged_offset_ = next_offset_;
  position_due_ = false;
  return Status::Ok();
}

Status TaskBase::ApplyChangelog(int64_t offset, std::string_view key, const std::string_view* value) {
  const auto corrupt = [&] {
    return InternalError("corrupt changelog record at offset " + std::to_string(offset) +
                         " of partition " + std::to_string(partition_));
  };
  if (key == "P") {
    if (value == nullptr || value->size() < 8) return corrupt();
    // A "P" alone is the one that closes the local checkpoint's own commit (see Checkpoint):
    // the tables already hold it, and only a changed table needs the local state rewritten.
    bool staged = false;
    for (TableBase* table : tables_) {
      staged = staged || table->HasStaged();
      LF_RETURN_IF_ERROR(table->ApplyStaged());
    }
    next_offset_ = static_cast<int64_t>(ReadBigEndian64(*value));
    if (!DecodePosition(value->substr(8)).ok()) return corrupt();
    logged_offset_ = next_offset_;
    changelog_next_ = offset + 1;
    if (staged) full_rewrite_ = true;
    return Status::Ok();
  }
  if (key.empty()) return corrupt();
  for (TableBase* table : tables_) {
    if (table->tag() == key[0]) {
      table->Stage(key.substr(1), value);
      return Status::Ok();
    }
  }
  return corrupt();
}

void TaskBase::FinishRestore() {
  for (TableBase* table : tables_) table->FinishRestore();
  AfterRestore();
  AfterLoad();
}

void TaskBase::Checkpoint(StateBatch& batch, int64_t changelog_next) {
  if (changelog_next >= 0) changelog_next_ = changelog_next;
  const bool rewrite = full_rewrite_;
  full_rewrite_ = false;
  BeforeCheckpoint(batch, rewrite);
  for (TableBase* table : tables_) table->Checkpoint(batch, rewrite);
  if (next_offset_ == kOffsetFromGroup) return;
  scratch_.clear();
  AppendBigEndian64(scratch_, static_cast<uint64_t>(next_offset_));
  AppendBigEndian64(scratch_, static_cast<uint64_t>(changelog_next_));
  EncodePosition(scratch_);
  batch.Put(Family::kMeta, position_key_, scratch_);
}

}  // namespace learnflow
