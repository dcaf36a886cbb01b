// Landlock pass: rules that mirror the mounts, and what may be executed: the
// command's own files and what its runtime runs, and what exec.allow adds.
#include <algorithm>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

namespace {

// How many files beneath an exec.allow directory are read for the ELF
// interpreters they name (a few ms for /usr/bin).
constexpr std::size_t kInterpreterScanLimit = 20000;

// Read and write rules from the mounts.
std::vector<LandlockRule> mount_rules(const std::vector<MountStep>& mounts) {
  std::vector<LandlockRule> rules;
  // Every directory of the jail's view may be listed, from its root down
  // (a program walking up from its working directory, a file manager
  // server given "/"): the view is a read-only tmpfs holding nothing but
  // what the plan mounts, so listing it shows the names of what the plan
  // put there. Reading files still needs a rule of its own.
  rules.push_back({"/", false, false, false, true});
  for (const auto& s : mounts) {
    switch (s.kind) {
      case MountKind::Bind: rules.push_back({s.target, s.writable, s.exec}); break;
      case MountKind::Tmpfs: rules.push_back({s.target, true, s.exec}); break;
      // /proc and /dev are readable; only the harmless device nodes, shm
      // and the jail's own ptys are writable (device ioctls nowhere else).
      case MountKind::Proc: rules.push_back({"/proc", false, false}); break;
      case MountKind::Dev:
        rules.push_back({"/dev", false, false});
        for (const auto& w : mnt::kDevWritable)
          if (!w.link) rules.push_back({w.path, true, false});
        break;
      case MountKind::File: rules.push_back({s.target, false, false}); break;
      default: break;
    }
  }
  return rules;
}

}  // namespace

LandlockRules plan_landlock(Context& c, const LandlockInputs& in) {
  LandlockRules out;
  auto& ll = out.plan;
  ll.rules = mount_rules(in.mounts);
  ll.path_env = in.jail_path;
  auto allow_file = [&](const std::string& path, const std::string& why) {
    if (std::find(ll.exec_allow.begin(), ll.exec_allow.end(), path) != ll.exec_allow.end()) return;
    ll.exec_allow.push_back(path);
    ll.exec_why.push_back(why);
  };
  // What the launch needs to start, always: the command and its
  // interpreters (their ELF interpreters are added by the closure at
  // launch), and what its runtime runs, as the jail will find it.
  for (std::size_t i = 0; i < in.command.exec_files.size(); ++i)
    allow_file(in.command.exec_files[i], i == 0 ? "the command" : "interpreter of the command");
  auto visible = [&](const std::string& p) { return jail_visible(in.mounts, p); };
  for (const auto& r : in.runtimes) {
    for (const auto& prog : r.exec_programs) {
      const exec::Found f = exec::search_path(prog.name, in.jail_path, {.visible = visible});
      if (f.path.empty())
        c.error(SourceLoc{r.runtime}, prog.why + ", which is not on the server's PATH (" + in.jail_path + ")");
      else
        allow_file(f.path, prog.why);
    }
    for (const auto& d : r.exec_dirs) ll.rules.push_back({d, false, true});
  }
  // exec.allow adds to that; it never takes the command away.
  for (const auto& a : c.profile.exec.allow) {
    if (!jail_visible(in.mounts, a.path)) {
      if (!a.optional) c.error(a.loc, "exec.allow " + a.path + " is not visible in the jail");
      continue;
    }
    auto w = safe_walk(c.root(), a.path, in.trust);
    const auto& st = in.state;
    const bool state_dir = !st.dir.empty() && path_is_under(a.path, st.dir) && a.path != st.dir && w.error.empty() &&
                           w.type == ObjType::Missing;
    if (a.optional && !state_dir && w.error.empty() && w.type == ObjType::Missing) {
      // Visible where it would be (below /usr, say), but not on this host.
      c.note("exec.allow " + a.path + " (optional) does not exist; skipped");
      continue;
    }
    if (w.error.empty() && (w.type == ObjType::Directory || state_dir)) {
      // A directory: whatever lies beneath it may be executed; below
      // ${PROFILE_STATE}, `run` creates it. The ELF interpreters its
      // programs name (the dynamic loader, usually elsewhere) may run too.
      if (state_dir) out.state_uses.push_back(state_use(c, in.trust, a.path));
      ll.rules.push_back({a.path, false, true, a.optional});
      if (state_dir) continue;
      bool truncated = false;
      for (const auto& interp : exec::elf_interpreters_beneath(w.canonical, kInterpreterScanLimit, &truncated)) {
        const auto iw = safe_walk(c.root(), interp, in.trust);  // /lib64/ld-linux... is usually a link into /usr
        const std::string& real = iw.error.empty() && iw.type != ObjType::Missing ? iw.canonical : interp;
        if (path_is_under(real, a.path) || path_is_under(real, w.canonical)) continue;
        if (!jail_visible(in.mounts, real)) {
          c.note("exec.allow " + a.path + ": programs beneath it name the ELF interpreter " + interp +
                 ", which is not visible in the jail; they cannot run");
          continue;
        }
        allow_file(interp, "ELF interpreter of programs in " + a.path + " (exec.allow, " + a.loc.str() + ")");
      }
      if (truncated)
        c.note("exec.allow " + a.path + ": only the first " + std::to_string(kInterpreterScanLimit) +
               " files beneath it were searched for the ELF interpreters they name");
      continue;
    }
    allow_file(a.path, "exec.allow (" + a.loc.str() + ")");
  }
  ll.best_effort = std::find(in.best_effort.begin(), in.best_effort.end(), "landlock") != in.best_effort.end();
  return out;
}

}  // namespace mcpjail::planning
