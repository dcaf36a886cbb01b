// The supervisor's side of the watch: see watch.hpp. The seccomp side
// (reading the paths, letting the call continue) is in seccomp.cc.
#include "mcpjail/watch.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::watch {

namespace {

// Names an open descriptor rather than a file: /dev/stdout, /dev/fd/N,
// /proc/self/fd/N, /proc/PID/task/TID/fd/N.
bool names_descriptor(const std::string& p) {
  if (p == "/dev/stdin" || p == "/dev/stdout" || p == "/dev/stderr" || path_is_under(p, "/dev/fd")) return true;
  return path_is_under(p, "/proc") && p.find("/fd/") != std::string::npos;
}

}  // namespace

WriteMap::WriteMap(const Plan& plan) : mounts_(plan.mounts) {}

Verdict WriteMap::judge(const std::string& path) const {
  std::string p = path;
  for (int hops = 0; hops < 8; ++hops) {
    if (names_descriptor(p)) return Verdict::Unjudged;
    // The step that decides is the deepest one above the path; at equal
    // depth the later one (it is mounted over the earlier).
    const MountStep* best = nullptr;
    for (const auto& s : mounts_)
      if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
    if (!best) return Verdict::NotWritable;  // the jail's own root: read-only
    switch (best->kind) {
      // A throw-away layer (learning plans) takes writes; the host never sees them.
      case MountKind::Bind: return best->writable || best->layer ? Verdict::Writable : Verdict::NotWritable;
      case MountKind::Tmpfs: return Verdict::Writable;
      case MountKind::Symlink: {
        if (p == best->target) return Verdict::NotWritable;  // the link itself, on the read-only root
        const std::string parent = best->target.substr(0, best->target.rfind('/'));
        p = lexical_path(lexical_path(parent, best->source), "." + p.substr(best->target.size()));
        continue;
      }
      case MountKind::Dev:
        // Landlock leaves exactly these writable in /dev.
        for (const auto& w : mnt::kDevWritable)
          if (path_is_under(p, w.path)) return Verdict::Writable;
        return Verdict::NotWritable;
      case MountKind::Mask:
      case MountKind::File:
      case MountKind::Proc: return Verdict::NotWritable;
    }
    return Verdict::Unjudged;
  }
  return Verdict::Unjudged;  // a loop of mount symlinks: cannot happen in a valid plan
}

ExecSet::ExecSet(const Plan& plan) : exec_allow_(plan.landlock.exec_allow), path_env_(plan.landlock.path_env) {
  for (const auto& r : plan.landlock.rules)
    if (r.exec) exec_dirs_.push_back(r.path);
}

void ExecSet::load() {
  if (loaded_) return;
  loaded_ = true;
  std::vector<std::string> files = exec_allow_;
  try {
    for (const auto& f : exec::closure(exec_allow_, path_env_)) files.push_back(f.path);
  } catch (const std::exception&) {
    // Landlock refused the plan at launch already, or a file went away since;
    // the listed paths remain.
  }
  for (const auto& f : files) {
    paths_.insert(f);
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0) ids_.insert({st.st_dev, st.st_ino});
  }
}

namespace {

// `path` opened (O_PATH) as the jail sees it, below `root`: ".." and
// absolute symlinks kept inside, no /proc magic links. `follow`: the last
// component too. O_PATH opens nothing for real.
UniqueFd open_in_root(int root, const std::string& path, bool follow) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how)));
}

}  // namespace

// The directories of execute rules, identified inside the jail (a rule on a
// tmpfs of the jail has no host path to compare with), and the allowed files. Landlock opened them
// when the server started; the jail cannot mount, so they are the same
// directories unless the server renamed one since (then a program in it is
// refused here although Landlock would run it: stricter, never looser).
void ExecSet::load_dirs(int root) {
  if (dirs_loaded_) return;
  dirs_loaded_ = true;
  // The allowed files as the jail has them too (the same files for binds;
  // a file of the jail's own tmpfs differs from the host's of that name).
  for (const auto& f : paths_) {
    UniqueFd fd = open_in_root(root, f, true);
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0) ids_.insert({st.st_dev, st.st_ino});
  }
  for (const auto& d : exec_dirs_) {
    UniqueFd fd = open_in_root(root, d, true);
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) dir_ids_.insert({st.st_dev, st.st_ino});
  }
}

ExecSet::Verdict ExecSet::judge(const std::string& path, int root) {
  load();
  if (root < 0 || path.empty() || path[0] != '/') return Verdict::Unknown;
  load_dirs(root);
  // The file the kernel would open.
  struct stat file {};
  {
    UniqueFd fd = open_in_root(root, path, true);
    if (!fd) return errno == ENOENT || errno == ENOTDIR ? Verdict::Missing : Verdict::Unknown;
    if (::fstat(fd.get(), &file) != 0) return Verdict::Unknown;
  }
  if (!S_ISREG(file.st_mode)) return Verdict::Unknown;  // a directory, a device: the kernel answers
  if (ids_.count({file.st_dev, file.st_ino})) return Verdict::Allowed;
  if (exec_dirs_.empty()) return Verdict::NotAllowed;
  // Its directory: Landlock looks at the directories above the file itself,
  // not above a link to it. Links in the last component are followed one at
  // a time (lexically: checked below to lead to the same file).
  std::string p = path;
  for (int links = 0;; ++links) {
    UniqueFd fd = open_in_root(root, p, false);
    struct stat st {};
    if (links > 40 || !fd || ::fstat(fd.get(), &st) != 0) return Verdict::Unknown;
    if (!S_ISLNK(st.st_mode)) {
      if (st.st_dev != file.st_dev || st.st_ino != file.st_ino) return Verdict::Unknown;
      break;
    }
    char buf[PATH_MAX];
    const ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf);
    if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return Verdict::Unknown;
    p = lexical_path(p.substr(0, p.rfind('/') + 1), std::string_view(buf, static_cast<std::size_t>(n)));
  }
  // Up from the file's directory to the jail's root, through mount points
  // as the kernel walks "..".
  struct stat top {};
  if (::fstat(root, &top) != 0) return Verdict::Unknown;
  UniqueFd dir = open_in_root(root, p.substr(0, p.rfind('/') + 1), true);
  for (int depth = 0; dir && depth < 4096; ++depth) {
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return Verdict::Unknown;
    if (dir_ids_.count({st.st_dev, st.st_ino})) return Verdict::Allowed;
    if (st.st_dev == top.st_dev && st.st_ino == top.st_ino) return Verdict::NotAllowed;
    dir.reset(::openat(dir.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  return Verdict::Unknown;
}

std::optional<bool> ExecSet::allowed(const std::string& path, int root) {
  switch (judge(path, root)) {
    case Verdict::Allowed: return true;
    case Verdict::NotAllowed: return false;
    case Verdict::Missing: return std::nullopt;
    case Verdict::Unknown: break;
  }
  return paths_.count(path) > 0;
}

}  // namespace mcpjail::watch
