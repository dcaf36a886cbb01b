// Landlock pass: rules that mirror the mounts, and what may be executed:
// exec.allow, or else the command's own files and what its runtime runs.
#include <algorithm>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

namespace {

// Read and write rules from the mounts.
std::vector<LandlockRule> mount_rules(const std::vector<MountStep>& mounts) {
  std::vector<LandlockRule> rules;
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
  const auto& allow = c.profile.exec.allow;
  if (!allow.empty()) {
    std::vector<std::string> allowed_canonical;
    for (const auto& a : allow) {
      if (!jail_visible(in.mounts, a.path)) {
        if (!a.optional) c.error(a.loc, "exec.allow " + a.path + " is not visible in the jail");
        continue;
      }
      auto w = safe_walk(c.root(), a.path, in.trust);
      const auto& st = in.state;
      const bool state_dir = !st.dir.empty() && path_is_under(a.path, st.dir) && a.path != st.dir && w.error.empty() &&
                             w.type == ObjType::Missing;
      if (w.error.empty() && (w.type == ObjType::Directory || state_dir)) {
        // A directory: whatever lies beneath it may be executed; below
        // ${PROFILE_STATE}, `run` creates it.
        if (state_dir) out.state_uses.push_back(state_use(c, in.trust, a.path));
        ll.rules.push_back({a.path, false, true, a.optional});
        allowed_canonical.push_back(w.canonical);
        continue;
      }
      ll.exec_allow.push_back(a.path);
      if (w.error.empty() && w.type != ObjType::Missing) allowed_canonical.push_back(w.canonical);
    }
    const std::string& exe = in.command.exe;
    if (!exe.empty() && std::none_of(allowed_canonical.begin(), allowed_canonical.end(),
                                     [&](const std::string& p) { return path_is_under(exe, p); }))
      c.note("the command " + exe + " is not in exec.allow; Landlock will refuse to run it");
  } else {
    ll.exec_allow = in.command.exec_files;
    // What the command's runtime runs, as the jail will find it.
    auto visible = [&](const std::string& p) { return jail_visible(in.mounts, p); };
    for (const auto& r : in.runtimes) {
      for (const auto& prog : r.exec_programs) {
        const exec::Found f = exec::search_path(prog.name, in.jail_path, {.visible = visible});
        if (f.path.empty())
          c.error(SourceLoc{r.runtime}, prog.why + ", which is not on the server's PATH (" + in.jail_path + ")");
        else
          ll.exec_allow.push_back(f.path);
      }
      for (const auto& d : r.exec_dirs) ll.rules.push_back({d, false, true});
    }
  }
  ll.best_effort = std::find(in.best_effort.begin(), in.best_effort.end(), "landlock") != in.best_effort.end();
  return out;
}

}  // namespace mcpjail::planning
