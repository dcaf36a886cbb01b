// Planning of the trees whose files may be executed (see plan_exec.hpp).
//
// Why noexec on every writable mount: Landlock's execute right is checked
// when a file is opened for execve, not when it is mapped. A file the server
// writes could otherwise be run by the dynamic loader
// (`ld-linux-x86-64.so.2 /tmp/evil`), dlopen()ed (a downloaded .node add-on,
// a ctypes .so) or mapped PROT_EXEC by hand. The kernel refuses all of these
// (mmap PROT_EXEC: EPERM; execve: EACCES) for a file on a noexec mount, so
// the jail mounts every writable bind, tmpfs and state directory noexec
// (launcher/mnt.cc). What a profile names in `[filesystem] exec` is the
// deliberate exception: bound again, writable as before, without noexec.
#include "mcpjail/plan_exec.hpp"

#include <unistd.h>

#include <algorithm>

#include "mcpjail/seccomp.hpp"

namespace mcpjail {

namespace {

bool is_tree_mount(const MountStep& s) {
  return s.kind == MountKind::Bind || s.kind == MountKind::Tmpfs || s.kind == MountKind::Symlink;
}

// The bind or tmpfs that makes `p` visible (the deepest), or nullptr.
MountStep* covering(Plan& plan, const std::string& p) {
  MountStep* best = nullptr;
  for (auto& s : plan.mounts) {
    if (s.kind != MountKind::Bind && s.kind != MountKind::Tmpfs) continue;
    if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
  }
  return best;
}

}  // namespace

std::vector<ExecTree> exec_trees(const Profile& profile, const std::string& npx_packages) {
  std::vector<ExecTree> out;
  for (const auto& r : profile.filesystem.exec) out.push_back({r, "filesystem.exec (" + r.loc.str() + ")"});
  // npx: the package tree (_npx/<hash>/node_modules) holds the bins npm runs
  // through `sh -c` and the native add-ons (.node) those load, so it keeps
  // exec. The rest of the npm cache (_cacache: tarballs, index) stays
  // noexec: nothing there is run or mapped, it is unpacked into _npx.
  if (!npx_packages.empty())
    out.push_back({PathRule{npx_packages, false, SourceLoc{"the command is npx"}},
                   "npx package tree: its bins and native add-ons run from here (the rest of the npm cache is noexec)"});
  return out;
}

void plan_exec_trees(Plan& plan, const std::vector<ExecTree>& trees, int root_fd, const TrustPolicy& policy,
                     std::vector<Diagnostic>& diags) {
  auto error = [&](const SourceLoc& loc, std::string msg) { diags.push_back({loc, std::move(msg)}); };
  if (!plan.id.root_mode && seccomp::memfd_noexec_seal_supported())
    plan.notes.push_back("memfd: a rootless launch cannot set vm.memfd_noexec in the jail (the kernel wants the host's "
                         "root); memfd_create goes to the supervisor instead, which makes every memfd with "
                         "MFD_NOEXEC_SEAL (a program written into one cannot be executed) and refuses MFD_EXEC");
  else if (!plan.id.root_mode)
    plan.notes.push_back("memfd: a rootless launch cannot set vm.memfd_noexec in the jail (the kernel wants the host's "
                         "root), and this kernel has no MFD_NOEXEC_SEAL (Linux 6.3+) to seal memfds with; a program "
                         "the server writes into a memfd may still be executed");
  else if (::access("/proc/sys/vm/memfd_noexec", F_OK) != 0)
    plan.notes.push_back("memfd: this kernel has no vm.memfd_noexec (Linux 6.3+); a program the server writes into a "
                         "memfd may still be executed");
  for (const auto& t : trees) {
    const std::string& path = t.rule.path;
    MountStep* m = covering(plan, path);
    if (!m) {
      if (!t.rule.optional) error(t.rule.loc, "filesystem.exec " + path + " is not visible in the jail; list it (or a "
                                                  "directory above it) in filesystem.read or write");
      continue;
    }
    if (!m->writable) {
      plan.landlock.rules.push_back({path, false, true, t.rule.optional});
      plan.notes.push_back("filesystem.exec " + path + ": inside a read-only bind (" + m->target +
                           "), which is not noexec; only Landlock's execute right is added");
      continue;
    }
    if (m->target == path) {
      m->exec = true;
      m->why += "; " + t.why;
      continue;
    }
    if (m->kind == MountKind::Tmpfs) {
      error(t.rule.loc, "filesystem.exec " + path + " lies inside the tmpfs " + m->target +
                            " (empty at start); list the tmpfs itself to allow execution in it");
      continue;
    }
    const std::string expected = m->source + path.substr(m->target.size());
    auto w = safe_walk(root_fd, path, policy);
    if (!w.error.empty()) {
      error(t.rule.loc, "filesystem.exec " + path + ": " + w.error);
      continue;
    }
    const bool created_by_run =
        std::find(plan.state.missing.begin(), plan.state.missing.end(), path) != plan.state.missing.end();
    if (w.type == ObjType::Missing && !created_by_run) {
      if (t.rule.optional) plan.notes.push_back("filesystem.exec " + path + " (optional) does not exist; skipped");
      else error(t.rule.loc, "filesystem.exec " + path + " does not exist; create it, or mark it optional (\"-" + path + "\")");
      continue;
    }
    if (w.type != ObjType::Missing && w.type != ObjType::Directory) {
      error(t.rule.loc, "filesystem.exec " + path + " is not a directory (list the directory holding it)");
      continue;
    }
    if (w.canonical != expected) {
      error(t.rule.loc, "filesystem.exec " + path + " resolves to " + w.canonical +
                            " through a symlink inside a writable tree; list the real path");
      continue;
    }
    MountStep s{.kind = MountKind::Bind,
                .target = path,
                .source = expected,
                .writable = true,
                .exec = true,
                .is_dir = true,
                .why = t.why + "; bound again over the noexec write mount " + m->target};
    // In mount order: after the mount it lies in, before anything below it.
    const auto key = path_components(path);
    auto at = std::find_if(plan.mounts.begin(), plan.mounts.end(), [&](const MountStep& o) {
      return !is_tree_mount(o) || path_components(o.target) > key;
    });
    plan.mounts.insert(at, std::move(s));
  }
}

}  // namespace mcpjail
