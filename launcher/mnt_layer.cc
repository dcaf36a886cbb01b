// The learning jail's throw-away layer (MountStep::layer, `mcp-jail learn`):
// an overlay per layered tree, mounted by mnt.cc's RootBuilder.
//
//   lower  the host's directory, named as /proc/self/fd/N of the descriptor
//          the bind checks (safe_walk), so the overlay stacks on exactly the
//          directory that was checked; an overlay never writes its lower.
//   upper  a directory of one tmpfs mounted in the staging area (never in
//          the jail's view); it is detached with the staging area when the
//          jail pivots into its root, and freed when the last overlay goes,
//          with the jail's mount namespace. Nothing of it is on the host.
//
// Rootless launches mount the overlay in the jail's user namespace (Linux
// 5.11+) with `userxattr` (the trusted.* namespace needs the host's root);
// a file or directory owned by an id the namespace does not map cannot be
// copied up, so a write below one (in /var/tmp, say) fails (EOVERFLOW) - it
// is recorded like any other. The upper directory starts with the lower's
// owner and mode, so the layer's root looks like the host's; where the
// owner cannot be kept (rootless, another owner) the owner's permissions
// become those of everyone else, so the layer grants no write the host
// would refuse.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mcpjail/errors.hpp"
#include "mcpjail/mounts.hpp"

namespace mcpjail::mnt {

namespace {

[[noreturn]] void layer_fail(const std::string& what) { throw LaunchError("mounts", what); }

// What the kernel said while configuring `fs` (the fs context's log: lines
// "e overlay: ..."), one line, or "".
std::string context_log(int fs) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 8; ++i) {
    const ssize_t n = ::read(fs, buf, sizeof buf - 1);
    if (n <= 0) break;
    std::string line(buf, static_cast<std::size_t>(n));
    while (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.size() > 2 && line[1] == ' ') line = line.substr(2);
    out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

const char* kLayerFix =
    "Fixes: make the kernel's overlay file system available (modprobe overlay); for a rootless launch, use Linux "
    "5.11 or later or learn as root; for a directory whose file system cannot be an overlay's lower layer (two "
    "overlays stacked on it already, some network or FUSE file systems), name it with --write (its writes then "
    "reach the host)";

}  // namespace

UniqueFd layer_tmpfs(std::uint64_t size) {
  UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fs) layer_fail(errno_text("the throw-away layer: fsopen tmpfs", errno));
  const std::string sz = std::to_string(size);
  if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "size", sz.c_str(), 0) != 0 ||
      ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", "0700", 0) != 0 ||
      ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    layer_fail(errno_text("the throw-away layer: configure its tmpfs", errno));
  UniqueFd m(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!m) layer_fail(errno_text("the throw-away layer: fsmount its tmpfs", errno));
  return m;
}

UniqueFd layer_tree(const MountStep& s, int lower, const std::string& proc_self_fd, const std::string& dir, int n,
                    bool userns) {
  struct stat st {};
  if (::fstat(lower, &st) != 0) layer_fail(errno_text("the throw-away layer over " + s.target + ": stat " + s.source, errno));
  const std::string upper = dir + "/u" + std::to_string(n), work = dir + "/w" + std::to_string(n);
  if (::mkdir(upper.c_str(), 0700) != 0 || ::mkdir(work.c_str(), 0700) != 0)
    layer_fail(errno_text("the throw-away layer over " + s.target + ": mkdir in its tmpfs", errno));
  mode_t mode = st.st_mode & 07777;
  if (::chown(upper.c_str(), st.st_uid, st.st_gid) != 0) {
    const mode_t other = mode & 07;
    mode = (mode & 07000) | (other << 6) | (other << 3) | other;
  }
  if (::chmod(upper.c_str(), mode) != 0)
    layer_fail(errno_text("the throw-away layer over " + s.target + ": chmod its upper directory", errno));

  const std::string what = "the throw-away layer over " + s.target + " (an overlay: lower " + s.source +
                           " read-only, upper in the jail's memory)";
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs)
    layer_fail(what + " cannot be mounted: fsopen overlay: " + std::strerror(errno) + ". " + kLayerFix);
  const std::string lowerdir = proc_self_fd + std::to_string(lower);
  auto set = [&](const char* key, const std::string& value) {
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0) {
      const int err = errno;
      const std::string log = context_log(fs.get());
      layer_fail(what + " cannot be mounted: " + key + "=" + value + ": " + std::strerror(err) +
                 (log.empty() ? "" : " (" + log + ")") + ". " + kLayerFix);
    }
  };
  set("lowerdir", lowerdir);
  set("upperdir", upper);
  set("workdir", work);
  if (userns && ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "userxattr", nullptr, 0) != 0)
    layer_fail(what + " cannot be mounted: userxattr: " + std::strerror(errno) + ". " + kLayerFix);
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    const int err = errno;
    const std::string log = context_log(fs.get());
    layer_fail(what + " cannot be mounted: " + std::strerror(err) + (log.empty() ? "" : " (" + log + ")") + ". " +
               kLayerFix);
  }
  // As the read-only bind it stands for: not noexec (Landlock decides what
  // may run; the learning jail lets the host's programs run).
  UniqueFd m(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!m) layer_fail(what + " cannot be mounted: fsmount: " + std::strerror(errno) + ". " + kLayerFix);
  return m;
}

}  // namespace mcpjail::mnt
