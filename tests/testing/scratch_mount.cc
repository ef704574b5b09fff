#include "tests/testing/scratch_mount.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace learnflow::testing {
namespace {

Status MountError(const std::string& what, const std::string& path, int error) {
  std::string message = what + " at " + path + ": " + std::strerror(error);
  if (error == EPERM || error == EACCES) {
    return UnavailableError(message + " (mounting needs root with CAP_SYS_ADMIN)");
  }
  return IoError(std::move(message));
}

Status MakeDir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return IoError("cannot create " + path + ": " + ec.message());
  return Status::Ok();
}

// Runs a shell command; its exit code, or -1 when it did not exit normally.
int Run(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Status MountTmpfs(const std::string& path, unsigned long flags, const std::string& data) {
  if (::mount("tmpfs", path.c_str(), "tmpfs", flags | MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return MountError((flags & MS_REMOUNT) != 0 ? "cannot remount the tmpfs" : "cannot mount a tmpfs",
                      path, errno);
  }
  return Status::Ok();
}

// The device mounted at `path` ("/dev/loop3"), from /proc/self/mountinfo; empty if none.
std::string MountSource(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return "";
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::string source;
  while (std::getline(in, line)) {
    // "<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> <source> ..."
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point != resolved) continue;
    std::string field;
    while (fields >> field && field != "-") {
    }
    std::string type;
    fields >> type >> source;  // the last mount at this point wins
  }
  return source;
}

}  // namespace

StatusOr<std::unique_ptr<ScratchMount>> ScratchMount::Tmpfs(const std::string& path, int size_kb) {
  LF_RETURN_IF_ERROR(MakeDir(path));
  LF_RETURN_IF_ERROR(MountTmpfs(path, 0, "size=" + std::to_string(size_kb) + "k,mode=0755"));
  auto mount = std::unique_ptr<ScratchMount>(new ScratchMount(path, ""));
  mount->mounted_ = true;
  return mount;
}

StatusOr<std::unique_ptr<ScratchMount>> ScratchMount::ReadOnlyTmpfs(const std::string& path) {
  LF_RETURN_IF_ERROR(MakeDir(path));
  LF_RETURN_IF_ERROR(MountTmpfs(path, MS_RDONLY, "size=64k,mode=0755"));
  auto mount = std::unique_ptr<ScratchMount>(new ScratchMount(path, ""));
  mount->mounted_ = true;
  return mount;
}

StatusOr<std::unique_ptr<ScratchMount>> ScratchMount::Ext4(const std::string& image, const std::string& path,
                                                           int size_mb) {
  if (Run("command -v mkfs.ext4 >/dev/null 2>&1 && command -v e2fsck >/dev/null 2>&1") != 0) {
    return UnavailableError("mkfs.ext4 and e2fsck (Debian package e2fsprogs) are not installed");
  }
  LF_RETURN_IF_ERROR(MakeDir(path));
  {
    std::ofstream create(image, std::ios::binary);
    if (!create) return IoError("cannot create " + image);
  }
  std::error_code ec;
  std::filesystem::resize_file(image, static_cast<std::uintmax_t>(size_mb) << 20, ec);
  if (ec) return IoError("cannot size " + image + ": " + ec.message());
  if (Run("mkfs.ext4 -q -F '" + image + "' >/dev/null 2>&1") != 0) {
    return IoError("mkfs.ext4 failed on " + image);
  }
  auto mount = std::unique_ptr<ScratchMount>(new ScratchMount(path, image));
  LF_RETURN_IF_ERROR(mount->MountExt4());
  return mount;
}

Status ScratchMount::MountExt4() {
  // mount(8) sets the loop device up (and frees it at unmount).
  if (Run("mount -o loop,errors=remount-ro '" + image_ + "' '" + path_ + "' 2>/dev/null") != 0) {
    return UnavailableError("cannot mount the ext4 image " + image_ + " on a loop device at " + path_ +
                            " (needs root with CAP_SYS_ADMIN and free loop devices)");
  }
  mounted_ = true;
  return Status::Ok();
}

ScratchMount::~ScratchMount() {
  if (!mounted_) return;
  // Detach lazily when a process still has files open there (a failed test's child).
  if (::umount2(path_.c_str(), 0) != 0) ::umount2(path_.c_str(), MNT_DETACH);
}

Status ScratchMount::ResizeTmpfs(int size_kb) {
  if (!image_.empty()) return InvalidArgumentError(path_ + " is not a tmpfs");
  return MountTmpfs(path_, MS_REMOUNT, "size=" + std::to_string(size_kb) + "k");
}

Status ScratchMount::Sync() {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError("cannot open " + path_ + ": " + std::strerror(errno));
  const int rc = ::syncfs(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return IoError("syncfs " + path_ + ": " + std::strerror(error));
  return Status::Ok();
}

Status ScratchMount::TriggerErrorRemountReadOnly() {
  if (image_.empty()) return InvalidArgumentError(path_ + " is not an ext4 mount");
  const std::string source = MountSource(path_);
  if (source.rfind("/dev/", 0) != 0) return InternalError("no block device mounted at " + path_);
  const std::string trigger = "/sys/fs/ext4/" + source.substr(5) + "/trigger_fs_error";
  std::ofstream out(trigger);
  if (!out) return UnavailableError("cannot open " + trigger + " (kernel without it, or /sys read-only)");
  out << "learnflow test: the state disk fails";
  out.flush();
  if (!out) return IoError("cannot write " + trigger);
  return Status::Ok();
}

Status ScratchMount::RepairAndRemount() {
  if (image_.empty()) return InvalidArgumentError(path_ + " is not an ext4 mount");
  if (::umount2(path_.c_str(), 0) != 0) return MountError("cannot unmount", path_, errno);
  mounted_ = false;
  // e2fsck: 0 clean, 1 errors corrected, 2 corrected and a reboot advised (not for an image).
  const int fsck = Run("e2fsck -fy '" + image_ + "' >/dev/null 2>&1");
  if (fsck < 0 || fsck > 2) return IoError("e2fsck could not repair " + image_);
  return MountExt4();
}

}  // namespace learnflow::testing
