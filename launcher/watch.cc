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
      case MountKind::Bind: return best->writable ? Verdict::Writable : Verdict::NotWritable;
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

ExecSet::ExecSet(const Plan& plan) : exec_allow_(plan.landlock.exec_allow), path_env_(plan.landlock.path_env) {}

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

std::optional<bool> ExecSet::allowed(const std::string& path, int root) {
  load();
  if (root >= 0 && !path.empty()) {
    // As the jail sees it: below its root, ".." and absolute symlinks kept
    // inside, no /proc magic links. O_PATH opens nothing for real.
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how)));
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0) return ids_.count({st.st_dev, st.st_ino}) > 0;
    if (!fd && (errno == ENOENT || errno == ENOTDIR)) return std::nullopt;
  }
  return paths_.count(path) > 0;
}

}  // namespace mcpjail::watch
