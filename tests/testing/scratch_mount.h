// ScratchMount: a small file system mounted by a test, to make a state directory fail the way
// disks fail in production — full (a size-limited tmpfs: ENOSPC), read-only from the start (a
// read-only tmpfs: EROFS, which even root cannot write), or turning read-only mid-run (an ext4
// image on a loop device mounted with errors=remount-ro, whose error the test triggers through
// /sys/fs/ext4/<device>/trigger_fs_error: the kernel then refuses every write, also on files
// already open, exactly as after a real I/O error).
//
//   StatusOr<std::unique_ptr<ScratchMount>> fs = ScratchMount::Tmpfs(dir.path() + "/fs", 256);
//   if (!fs.ok()) GTEST_SKIP() << fs.status().message();   // not root, or no CAP_SYS_ADMIN
//   ... run until the disk is full ...
//   ASSERT_OK((*fs)->ResizeTmpfs(64 * 1024));               // space given back
//
// Mounting needs root (CAP_SYS_ADMIN); every factory fails with Unavailable, saying why, when it
// is not permitted, so a test can skip with a clear reason. The destructor unmounts (lazily if
// something still has files open there). Test-only; one thread.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace learnflow::testing {

class ScratchMount {
 public:
  // A tmpfs of `size_kb` KiB at `path` (created if missing).
  static StatusOr<std::unique_ptr<ScratchMount>> Tmpfs(const std::string& path, int size_kb);
  // An empty read-only tmpfs at `path`.
  static StatusOr<std::unique_ptr<ScratchMount>> ReadOnlyTmpfs(const std::string& path);
  // A fresh ext4 file system of `size_mb` MiB in the image file `image`, on a loop device, at
  // `path`, mounted with errors=remount-ro (needs mkfs.ext4 and mount from e2fsprogs and
  // util-linux, and loop devices).
  static StatusOr<std::unique_ptr<ScratchMount>> Ext4(const std::string& image, const std::string& path,
                                                      int size_mb);
  ~ScratchMount();
  ScratchMount(const ScratchMount&) = delete;
  ScratchMount& operator=(const ScratchMount&) = delete;

  const std::string& path() const { return path_; }

  // tmpfs: changes the size limit, keeping the files.
  Status ResizeTmpfs(int size_kb);
  // Writes back what the file system holds in memory (syncfs), as the kernel does every few
  // seconds: what was written before is then on the disk whatever happens next.
  Status Sync();
  // ext4: reports a file-system error to the kernel, which remounts it read-only at once (data
  // not yet written back is lost, as when a disk fails).
  Status TriggerErrorRemountReadOnly();
  // ext4: unmounts, repairs the image with e2fsck and mounts it again read-write.
  Status RepairAndRemount();

 private:
  ScratchMount(std::string path, std::string image) : path_(std::move(path)), image_(std::move(image)) {}
  Status MountExt4();

  std::string path_;
  std::string image_;  // ext4 only
  bool mounted_ = false;
};

}  // namespace learnflow::testing
