// The jail's root filesystem. See mounts.hpp for the order; every mount is
// explained where it is made.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "mcpjail/idmap.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/paths.hpp"

namespace mcpjail::mnt {

const char* const kProcReadOnly[] = {"sys", "sysrq-trigger", "irq", "bus", "fs", nullptr};
const char* const kProcMasked[] = {"kcore",       "kallsyms",   "keys",         "key-users",  "timer_list",
                                   "sched_debug", "latency_stats", "kmsg",      "kpagecount", "kpageflags",
                                   "kpagecgroup", "vmallocinfo", "config.gz",   "acpi",       "scsi",
                                   "asound",      "sysvipc",    "pagetypeinfo", "slabinfo",   nullptr};

namespace {

// The staging area: a tmpfs mounted over /tmp in the jail's private mount
// namespace (bubblewrap does the same). After the first pivot_root the host
// root is reachable at /oldroot, so any host path can be a bind source.
constexpr const char* kStage = "/tmp";
constexpr const char* kNewRoot = "/newroot";
constexpr const char* kOldRoot = "/oldroot";
constexpr const char* kEmptyFile = "/gen/empty";
constexpr const char* kEmptyDir = "/gen/emptydir";
constexpr const char* kLayerDir = "/layer";  // the throw-away layer's tmpfs (learning plans)

[[noreturn]] void fail(const std::string& what, int err) { throw LaunchError("mounts", errno_text(what, err)); }
[[noreturn]] void fail(const std::string& what) { throw LaunchError("mounts", what); }

void set_attr(int fd, const char* path, unsigned flags, std::uint64_t set, std::uint64_t clr, const std::string& what) {
  mount_attr attr{};
  attr.attr_set = set;
  attr.attr_clr = clr;
  attr.propagation = MS_PRIVATE;
  if (::mount_setattr(fd, path, flags, &attr, sizeof attr) != 0) fail("mount_setattr " + what, errno);
}

// The name of a file system type, for messages.
std::string fs_type_name(int fd) {
  struct statfs sf {};
  if (::fstatfs(fd, &sf) != 0) return "unknown";
  switch (static_cast<unsigned long>(sf.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794C7630: return "overlayfs";
    case 0x6969: return "nfs";
    case 0xFF534D42: return "cifs";
    case 0x65735546: return "fuse";
    case 0x2FC12FC1: return "zfs";
    case 0x9FA0: return "proc";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(sf.f_type));
      return std::string("type ") + hex;
    }
  }
}

class RootBuilder {
 public:
  explicit RootBuilder(const Plan& plan) : plan_(plan) {}

  void build() {
    // The user namespaces of idmapped write paths (root launches), made while
    // /proc still shows this process's children (idmap.cc).
    for (const auto& step : plan_.mounts)
      if (step.idmap_owner && !idmaps_.count(*step.idmap_owner))
        idmaps_.emplace(*step.idmap_owner, idmap::userns(step.idmap_owner->first, step.idmap_owner->second,
                                                         plan_.id.uid, plan_.id.gid));
    // Nothing we mount from here on propagates back to the host, while host
    // unmounts still reach us (so the jail never pins a host mount busy).
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail("make / a slave mount", errno);

    if (::mount("tmpfs", kStage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m") != 0)
      fail(std::string("mount staging tmpfs on ") + kStage, errno);
    if (::chdir(kStage) != 0) fail("chdir staging", errno);
    if (::mkdir("newroot", 0755) != 0 || ::mkdir("oldroot", 0755) != 0 || ::mkdir("gen", 0755) != 0)
      fail("mkdir in staging", errno);
    if (::syscall(SYS_pivot_root, ".", "oldroot") != 0) fail("pivot_root into staging", errno);
    if (::chdir("/") != 0) fail("chdir /", errno);

    // An empty, mode-000 file: bound read-only over hidden files.
    {
      UniqueFd f(::open(kEmptyFile, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0));
      if (!f) fail("create mask file", errno);
    }
    // The jail's root: a small tmpfs holding only mount points and symlinks,
    // made read-only once everything is mounted.
    if (::mount("tmpfs", kNewRoot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
      fail("mount the jail's root tmpfs", errno);
    newroot_.reset(::open(kNewRoot, O_PATH | O_DIRECTORY | O_CLOEXEC));
    oldroot_.reset(::open(kOldRoot, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!newroot_ || !oldroot_) fail("open new/old root", errno);
    struct stat st {};
    if (::fstat(newroot_.get(), &st) != 0) fail("stat new root", errno);
    newroot_dev_ = st.st_dev;
    own_devs_.insert(newroot_dev_);

    int n = 0;
    for (const auto& step : plan_.mounts) {
      switch (step.kind) {
        case MountKind::Bind: bind(step); break;
        case MountKind::Tmpfs: tmpfs(step); break;
        case MountKind::Mask: mask(step); break;
        case MountKind::Symlink: symlink(step); break;
        case MountKind::File: file(step, n++); break;
        case MountKind::Proc: proc(); break;
        case MountKind::Dev: dev(step); break;
      }
    }

    // Into the new root; the staging tmpfs and the whole host root below it
    // are detached and unreachable from now on.
    if (::fchdir(newroot_.get()) != 0) fail("chdir new root", errno);
    newroot_.reset();
    oldroot_.reset();
    if (::syscall(SYS_pivot_root, ".", ".") != 0) fail("pivot_root into the jail's root", errno);
    if (::umount2(".", MNT_DETACH) != 0) fail("detach the old root", errno);
    if (::chdir("/") != 0) fail("chdir /", errno);
    set_attr(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0,
             "remount / read-only");
  }

 private:
  // Opens (O_PATH) the mount point for `target` below the new root, creating
  // missing components - but only on the jail's own root tmpfs, never inside
  // a bound host tree - and never passing through a symlink.
  UniqueFd ensure_target(const std::string& target, bool is_dir, bool create = true) {
    auto comps = path_components(target);
    // Usually the parent exists (the plan is sorted): open it in one call,
    // then only the last component needs a look. Otherwise, walk.
    std::size_t first = 0;
    UniqueFd cur;
    if (comps.size() > 1) {
      std::string parent;
      for (std::size_t i = 0; i + 1 < comps.size(); ++i) parent += (i ? "/" : "") + comps[i];
      cur = open_no_symlinks(newroot_.get(), parent);
      if (cur) first = comps.size() - 1;
    }
    if (!cur) cur.reset(::fcntl(newroot_.get(), F_DUPFD_CLOEXEC, 3));
    for (std::size_t i = first; i < comps.size(); ++i) {
      const bool last = i + 1 == comps.size();
      const char* c = comps[i].c_str();
      struct stat st {};
      if (::fstatat(cur.get(), c, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT || !create) fail("mount point " + target, errno);
        struct stat here {};
        if (::fstat(cur.get(), &here) != 0) fail("stat " + target, errno);
        if (!own_devs_.count(here.st_dev))
          fail("mount point " + target + " does not exist inside an already-mounted host directory; mcp-jail "
               "creates mount points only on the jail's own root (list the parent path instead)");
        // (An O_PATH directory fd serves as the dirfd of mkdirat and openat.)
        if (!last || is_dir) {
          if (::mkdirat(cur.get(), c, 0755) != 0) fail("mkdir " + target, errno);
        } else {
          UniqueFd f(::openat(cur.get(), c, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
          if (!f) fail("create mount point " + target, errno);
        }
      } else if (S_ISLNK(st.st_mode)) {
        fail("mount point " + target + " passes through a symlink inside the jail; refusing to follow it");
      }
      UniqueFd next(::openat(cur.get(), c, O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!next) fail("open mount point " + target, errno);
      cur = std::move(next);
    }
    struct stat st {};
    if (::fstat(cur.get(), &st) != 0) fail("stat " + target, errno);
    if (S_ISDIR(st.st_mode) != is_dir)
      fail("mount point " + target + " is " + (S_ISDIR(st.st_mode) ? "a directory" : "not a directory") +
           " but the source is " + (is_dir ? "a directory" : "a file"));
    return cur;
  }

  void attach(int tree, int target_fd, const std::string& what) {
    if (::move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      fail("attach " + what, errno);
  }

  // Clones the mount tree at `src` (recursive: sub-mounts come along) and
  // attaches it at `target`, with `attrs` applied to every mount in it, so a
  // read-only bind is read-only all the way down.
  void clone_to(int src, const std::string& target, bool is_dir, std::uint64_t attrs, const std::string& what) {
    UniqueFd tree(::open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
    if (!tree) fail("clone " + what, errno);
    set_attr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, attrs, 0, what);
    auto t = ensure_target(target, is_dir);
    attach(tree.get(), t.get(), what);
  }

  void bind(const MountStep& s) {
    // Re-resolve the planned (canonical) source below the old root. It has
    // no symlinks left, so any symlink met now means the path changed after
    // planning: refuse rather than follow it.
    auto w = safe_walk(oldroot_.get(), s.source, TrustPolicy{0, {"/"}});
    if (!w.error.empty()) fail(s.source + " changed while the jail was being built: " + w.error);
    if (w.type == ObjType::Missing) fail(s.source + " disappeared while the jail was being built");
    if ((w.type == ObjType::Directory) != s.is_dir) fail(s.source + " changed type while the jail was being built");
    // Writable binds are noexec (nothing the server writes can be run or
    // mapped executable, see plan_exec.cc) unless the plan marks the tree
    // exec (filesystem.exec, npx's package tree).
    const std::uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                (s.writable ? (s.exec ? 0 : MOUNT_ATTR_NOEXEC) : MOUNT_ATTR_RDONLY);
    const std::string what = (s.writable ? "read-write bind " : "read-only bind ") + s.target;
    if (s.layer) return layer(s, w.fd.get());
    if (!s.idmap_owner) return clone_to(w.fd.get(), s.target, s.is_dir, attrs, what);

    // Idmapped (idmap.hpp): the owner's files appear as the jail's. Only the
    // bind itself; a mount below it in the host's tree comes along without
    // the mapping (its files keep their owners: no wider than without it).
    UniqueFd tree(::open_tree(w.fd.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
    if (!tree) fail("clone " + what, errno);
    set_attr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, attrs, 0, what);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<std::uint64_t>(idmaps_.at(*s.idmap_owner).get());
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      const int err = errno;
      fail("the write path " + s.source + " (owned by uid " + std::to_string(s.idmap_owner->first) + ", not by the " +
           "jail's uid " + std::to_string(plan_.id.uid) + ") cannot be idmapped on its file system (" +
           fs_type_name(w.fd.get()) + "): " + std::strerror(err) + ". Fixes: give the path to uid " +
           std::to_string(plan_.id.uid) + " (chown -R " + std::to_string(plan_.id.uid) + " PATH), or run mcp-jail " +
           "as the path's owner without root (a rootless launch), or keep it on a file system with idmapped mounts " +
           "(ext4, xfs, btrfs; tmpfs on Linux 6.3+)");
    }
    auto t = ensure_target(s.target, s.is_dir);
    attach(tree.get(), t.get(), what);
  }

  // A learning plan's throw-away layer (mnt_layer.cc): its tmpfs in the
  // staging area, detached from the jail's view with it.
  void layer(const MountStep& s, int lower) {
    if (layers_ == 0) {
      if (::mkdir(kLayerDir, 0700) != 0) fail("mkdir the throw-away layer's directory", errno);
      auto m = layer_tmpfs(plan_.layer_size ? plan_.layer_size : kDefaultTmpfsSize);
      UniqueFd at(::open(kLayerDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!at) fail("open the throw-away layer's directory", errno);
      attach(m.get(), at.get(), "the throw-away layer's tmpfs");
    }
    auto tree = layer_tree(s, lower, std::string(kOldRoot) + "/proc/self/fd/", kLayerDir, layers_++, !plan_.id.root_mode);
    auto t = ensure_target(s.target, true);
    attach(tree.get(), t.get(), "the throw-away layer over " + s.target);
  }

  UniqueFd new_tmpfs(const std::string& mode, std::uint64_t size, std::uint64_t attrs, const std::string& what) {
    UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
    if (!fs) fail("fsopen tmpfs for " + what, errno);
    const std::string sz = std::to_string(size);
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "size", sz.c_str(), 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "mode", mode.c_str(), 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
      fail("configure tmpfs for " + what, errno);
    UniqueFd m(::fsmount(fs.get(), FSMOUNT_CLOEXEC, static_cast<unsigned>(attrs)));
    if (!m) fail("fsmount tmpfs for " + what, errno);
    return m;
  }

  void tmpfs(const MountStep& s) {
    auto m = new_tmpfs("1777", s.size, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (s.exec ? 0 : MOUNT_ATTR_NOEXEC),
                       "tmpfs " + s.target);
    auto t = ensure_target(s.target, true);
    attach(m.get(), t.get(), "tmpfs " + s.target);
    own(s.target);
  }

  // Records that the tmpfs now at `target` is the jail's own: mount points
  // may be created on it.
  void own(const std::string& target) {
    struct stat st {};
    auto now = ensure_target(target, true, false);
    if (::fstat(now.get(), &st) != 0) fail("stat " + target, errno);
    own_devs_.insert(st.st_dev);
  }

  // Hides what is at `target`: a directory gets an empty, read-only tmpfs
  // with mode 000; anything else the empty mode-000 file, read-only.
  void mask_path(const std::string& target, bool optional) {
    const auto slash = target.rfind('/');
    UniqueFd parent = ensure_target(slash == 0 ? "/" : target.substr(0, slash), true, false);
    mask_in(parent.get(), target.substr(slash + 1), target, optional);
  }

  // mask_path() for `name` in directory `dir` (`target`: its path in the jail).
  void mask_in(int dir, const std::string& name, const std::string& target, bool optional) {
    UniqueFd t(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!t) {
      if (optional && errno == ENOENT) return;
      fail("hide " + target, errno);
    }
    struct stat st {};
    if (::fstat(t.get(), &st) != 0) fail("stat " + target, errno);
    if (S_ISLNK(st.st_mode)) fail("hide " + target + ": it is a symlink inside the jail");
    UniqueFd tree(::open_tree(AT_FDCWD, mask_source(S_ISDIR(st.st_mode)), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) fail("clone the mask for " + target, errno);
    attach(tree.get(), t.get(), "mask " + target);
  }

  // What masks are cloned from, in the staging area, made once: the empty
  // file bound read-only onto itself, and an empty read-only tmpfs with
  // mode 000. A clone keeps the read-only, nosuid, nodev and noexec flags
  // of its source, so each mask is one open_tree() and one move_mount().
  const char* mask_source(bool dir) {
    const std::uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (dir) {
      if (!mask_dir_ready_) {
        if (::mkdir(kEmptyDir, 0000) != 0) fail("mkdir mask directory", errno);
        auto m = new_tmpfs("000", 4096, ro, "masks");
        UniqueFd at(::open(kEmptyDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!at) fail("open mask directory", errno);
        attach(m.get(), at.get(), "the mask directory");
        mask_dir_ready_ = true;
      }
      return kEmptyDir;
    }
    if (!mask_file_ready_) {
      UniqueFd tree(::open_tree(AT_FDCWD, kEmptyFile, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
      if (!tree) fail("clone mask file", errno);
      set_attr(tree.get(), "", AT_EMPTY_PATH, ro, 0, "mask file");
      UniqueFd at(::open(kEmptyFile, O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!at) fail("open mask file", errno);
      attach(tree.get(), at.get(), "the mask file");
      mask_file_ready_ = true;
    }
    return kEmptyFile;
  }

  void mask(const MountStep& s) { mask_path(s.target, true); }

  void symlink(const MountStep& s) {
    const auto slash = s.target.rfind('/');
    const std::string parent = slash == 0 ? "/" : s.target.substr(0, slash);
    auto p = ensure_target(parent, true);
    struct stat st {};
    if (::fstat(p.get(), &st) != 0 || st.st_dev != newroot_dev_)
      fail("symlink " + s.target + ": its directory is inside a bound host tree");
    if (::symlinkat(s.source.c_str(), p.get(), s.target.substr(slash + 1).c_str()) != 0)
      fail("symlink " + s.target + " -> " + s.source, errno);
  }

  // A generated file. When the jail path is a symlink inside a bound tree
  // (the host's /etc/resolv.conf -> /run/... with /etc bound), follow it
  // inside the jail and mount at the end of the chain.
  static void write_all(int fd, const std::string& content, const std::string& what) {
    std::size_t off = 0;
    while (off < content.size()) {
      const ssize_t w = ::write(fd, content.data() + off, content.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write " + what, w < 0 ? errno : EIO);
      off += static_cast<std::size_t>(w);
    }
  }

  void file(const MountStep& s, int n) {
    // Where the file's directory is on the jail's own root (nothing of the
    // host bound there) and the file is not there yet, it is written in
    // place: the root is remounted read-only at the end, as a bind would
    // be. One mount less each.
    const auto slash = s.target.rfind('/');
    if (slash != std::string::npos && slash + 1 < s.target.size()) {
      UniqueFd dir = ensure_target(slash == 0 ? "/" : s.target.substr(0, slash), true);
      struct stat st {};
      const std::string name = s.target.substr(slash + 1);
      if (::fstat(dir.get(), &st) == 0 && st.st_dev == newroot_dev_ &&
          ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
        UniqueFd f(::openat(dir.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!f) fail("create " + s.target, errno);
        write_all(f.get(), s.content, s.target);
        return;
      }
    }
    const std::string gen = "/gen/file" + std::to_string(n);
    {
      UniqueFd f(::open(gen.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
      if (!f) fail("create " + gen, errno);
      write_all(f.get(), s.content, gen);
    }
    std::string target = s.target;
    for (int hop = 0; hop < 8; ++hop) {
      char buf[4096];
      const std::string full = std::string(kNewRoot) + target;
      const ssize_t len = ::readlink(full.c_str(), buf, sizeof buf - 1);
      if (len < 0) break;  // not a symlink (or absent): mount here
      std::string link(buf, static_cast<std::size_t>(len));
      if (link.empty()) break;
      if (link[0] != '/') link = target.substr(0, target.rfind('/') + 1) + link;
      // ".." is resolved lexically; ensure_target() below refuses any
      // symlink left in the result, so this cannot be redirected.
      std::vector<std::string> parts;
      for (auto& c : path_components(link)) {
        if (c == "..") {
          if (!parts.empty()) parts.pop_back();
        } else if (c != ".") {
          parts.push_back(c);
        }
      }
      target.clear();
      for (auto& c : parts) target += "/" + c;
      if (target.empty()) fail(s.target + " is a symlink to /, which cannot be replaced");
    }
    UniqueFd src(::open(gen.c_str(), O_PATH | O_CLOEXEC));
    if (!src) fail("open " + gen, errno);
    clone_to(src.get(), target, false, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
             "generated " + target);
  }

  // A fresh procfs: only the jail's processes appear (it lives in the jail's
  // pid namespace). Kernel knobs are read-only; entries that leak kernel
  // memory, keys or host hardware are masked.
  void proc() {
    auto t = ensure_target("/proc", true);
    const std::string path = std::string(kNewRoot) + "/proc";
    if (::mount("proc", path.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      fail("mount proc", errno);
    memfd_noexec(path);
    for (int i = 0; kProcReadOnly[i]; ++i) {
      const std::string p = path + "/" + kProcReadOnly[i];
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0) continue;
      UniqueFd tree(::open_tree(AT_FDCWD, p.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
      if (!tree) fail(std::string("clone /proc/") + kProcReadOnly[i], errno);
      set_attr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE,
               MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, p);
      if (::move_mount(tree.get(), "", AT_FDCWD, p.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        fail(std::string("make /proc/") + kProcReadOnly[i] + " read-only", errno);
    }
    auto procfd = ensure_target("/proc", true, false);  // now the new procfs
    for (int i = 0; kProcMasked[i]; ++i)
      mask_in(procfd.get(), kProcMasked[i], std::string("/proc/") + kProcMasked[i], true);
  }

  // vm.memfd_noexec = 2 for the jail's pid namespace (Linux 6.3+; the
  // value belongs to the pid namespace of the writer, init here, and is
  // inherited by namespaces created below it; it can only be raised): a
  // memfd can never be made executable, so a program written into memory
  // cannot be run (execveat(fd, "", AT_EMPTY_PATH), execve of
  // /proc/self/fd/N). Written now, before /proc/sys is made read-only.
  // The kernel checks write permission with the host's root as owner of
  // /proc/sys, so only a launch as root can set it; rootless launches and
  // older kernels go without (`check` says so, see plan_exec.cc).
  void memfd_noexec(const std::string& proc) {
    if (!plan_.id.root_mode) return;
    UniqueFd f(::open((proc + "/sys/vm/memfd_noexec").c_str(), O_WRONLY | O_CLOEXEC));
    if (!f) {
      if (errno == ENOENT) return;  // kernel older than 6.3
      fail("open /proc/sys/vm/memfd_noexec", errno);
    }
    if (::write(f.get(), "2", 1) != 1) fail("set vm.memfd_noexec = 2 in the jail's pid namespace", errno);
  }

  // A minimal /dev: a few harmless device nodes bound from the host, a
  // private devpts and shm, the usual symlinks; read-only afterwards.
  void dev(const MountStep& s) {
    auto m = new_tmpfs("0755", s.size ? s.size : 65536, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "/dev");
    auto t = ensure_target("/dev", true);
    attach(m.get(), t.get(), "/dev tmpfs");
    own("/dev");
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
      UniqueFd src(::openat(oldroot_.get(), (std::string("dev/") + node).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!src) fail(std::string("open host /dev/") + node, errno);
      struct stat st {};
      if (::fstat(src.get(), &st) != 0 || !S_ISCHR(st.st_mode)) fail(std::string("host /dev/") + node + " is not a character device");
      clone_to(src.get(), std::string("/dev/") + node, false, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, std::string("/dev/") + node);
    }
    const std::uint64_t shm_size = plan_.limits.tmpfs_size ? plan_.limits.tmpfs_size : kDefaultTmpfsSize;
    auto shm = new_tmpfs("1777", shm_size, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "/dev/shm");
    auto shm_t = ensure_target("/dev/shm", true);
    attach(shm.get(), shm_t.get(), "/dev/shm");
    own("/dev/shm");
    ensure_target("/dev/pts", true);
    const std::string pts = std::string(kNewRoot) + "/dev/pts";
    if (::mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0)
      fail("mount devpts", errno);
    const std::pair<const char*, const char*> links[] = {{"ptmx", "pts/ptmx"},      {"fd", "/proc/self/fd"},
                                                         {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
                                                         {"stderr", "/proc/self/fd/2"}};
    const std::string dev = std::string(kNewRoot) + "/dev/";
    for (const auto& [name, to] : links)
      if (::symlink(to, (dev + name).c_str()) != 0) fail(std::string("symlink /dev/") + name, errno);
    set_attr(AT_FDCWD, (std::string(kNewRoot) + "/dev").c_str(), 0,
             MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, "/dev read-only");
  }

  const Plan& plan_;
  std::map<std::pair<uid_t, gid_t>, UniqueFd> idmaps_;
  UniqueFd newroot_, oldroot_;
  dev_t newroot_dev_ = 0;
  std::set<dev_t> own_devs_;  // the jail's root and the tmpfs mounted by the profile
  bool mask_file_ready_ = false, mask_dir_ready_ = false;  // see mask_source()
  int layers_ = 0;  // throw-away layers mounted (learning plans)
};

}  // namespace

void build_root(const Plan& plan) { RootBuilder(plan).build(); }

}  // namespace mcpjail::mnt
