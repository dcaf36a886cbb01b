// Planning: Profile + command line -> Plan. Reads the host filesystem to
// resolve paths (symlink-safe) but changes nothing. The passes are in
// launcher/plan/ (passes.hpp); this is their order.
#include "mcpjail/plan.hpp"

#include <fcntl.h>

#include <cerrno>
#include <utility>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/plan/passes.hpp"
#include "mcpjail/plan/runtime_python.hpp"
#include "mcpjail/plan_exec.hpp"
#include "mcpjail/trust.hpp"

namespace mcpjail {

namespace planning {

Context::Context(const Profile& profile, const Invocation& inv, std::vector<std::string>& notes)
    : profile(profile), inv(inv), root_(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)), notes_(notes) {
  if (!root_) throw LaunchError("filesystem", errno_text("open /", errno));
}

void Context::checkpoint() {
  if (!errors_.empty()) throw ProfileError(std::exchange(errors_, {}));
}

}  // namespace planning

Plan make_plan(const Profile& profile, const Invocation& inv) {
  using namespace planning;
  Plan plan;
  plan.profile_name = profile.name;
  plan.profile_sources = profile.sources;
  Context c(profile, inv, plan.notes);

  // Who runs, which runtime the command is, where its state lives, and what
  // the profile binds.
  plan.id = plan_identity(c);
  const std::vector<RuntimeBinds> runtimes = detect_runtimes(c, plan.id);
  plan.state = locate_state(c, runtimes);
  const TrustPolicy trust = trust_policy(c, plan.state);
  FilesystemBinds fs = plan_filesystem(c, trust, plan.state, runtimes);
  c.checkpoint();

  // The server's environment, then its command, looked up as it will be run.
  EnvPlan env = plan_env(c, runtimes);
  plan.env = std::move(env.env);
  plan.env_cli = std::move(env.cli);
  plan.env_cli_unset = std::move(env.cli_unset);
  plan.env_dropped = std::move(env.dropped);
  const std::string jail_path = exec::jail_search_path(plan.env);
  const CommandPlan cmd = resolve_command(c, trust, jail_path);
  plan.exe = cmd.exe;
  plan.argv = cmd.argv;
  plan.script = cmd.script;
  plan.project = cmd.project;

  // The mounts, in the order they are applied, then what is hidden in them.
  add_auto_binds(c, fs.candidates, cmd.binds);
  Ordered ordered = order_mounts(std::move(fs.candidates));
  for (auto& d : ordered.conflicts) c.error(d.loc, std::move(d.message));
  plan.mounts_merged = std::move(ordered.merged);
  plan.mounts = std::move(ordered.mounts);
  for (auto& m : generated_mounts(c, plan.id)) plan.mounts.push_back(std::move(m));
  {
    // Trees of [filesystem] exec (and npx's package directory) may run
    // although they lie in a writable, noexec mount (plan_exec.hpp).
    std::string npx_packages;
    for (const auto& r : runtimes)
      if (r.runtime == "npx" && !plan.state.dir.empty()) npx_packages = plan.state.dir + "/npm/_npx";
    // What run will create below the state directory counts as present
    // (npx's package directory on a first launch): gathered here from the
    // binds known so far, and again in full once Landlock is planned.
    StatePlan provisional = plan.state;
    finish_state(provisional, fs.state_uses);
    const std::vector<std::string> missing = std::exchange(plan.state.missing, provisional.missing);
    std::vector<Diagnostic> diags;
    plan_exec_trees(plan, exec_trees(profile, npx_packages), c.root(), trust, diags);
    plan.state.missing = missing;
    for (auto& d : diags) c.error(d.loc, std::move(d.message));
  }
  // Names a host tool runs later (git hooks, .envrc, editor settings): read-only
  // where they exist, refused where they do not (mcpjail/protect.hpp).
  plan_protect(c, plan);
  plan.hide_skipped = plan_hides(c, plan.mounts);
  // A venv's interpreter is a symlink the jail follows: it must lead to a
  // file the jail sees.
  python::check_followed_in_jail(plan.mounts, cmd.followed_in_jail);
  // Directories between a write root and a path narrowed inside it become
  // mount points, so the jail cannot rename them away (trust.hpp).
  pin_narrowed_ancestors(plan);
  // After every bind is known: the ones pinned or protected inside an
  // idmapped write path are idmapped alike.
  plan_idmaps(plan);
  plan.cwd = plan_cwd(c, plan.mounts);

  plan.network = plan_network(c);
  Settings settings = plan_settings(c);
  plan.hostname = std::move(settings.hostname);
  plan.limits = settings.limits;
  plan.seccomp = std::move(settings.seccomp);
  // vm.memfd_noexec cannot be set rootless: the supervisor seals memfds instead.
  plan.seccomp.seal_memfd = !plan.id.root_mode;
  plan.audit_log = std::move(settings.audit_log);
  plan.best_effort = std::move(settings.best_effort);
  plan.pins = plan_pins(c, cmd);

  // Landlock mirrors the mounts; then what the state directory must hold.
  LandlockRules ll = plan_landlock(c, {plan.mounts, jail_path, cmd, trust, plan.state, runtimes, plan.best_effort});
  // Execute rules plan_exec_trees() added for trees inside read-only binds.
  std::vector<LandlockRule> exec_rules = std::move(plan.landlock.rules);
  plan.landlock = std::move(ll.plan);
  plan.landlock.rules.insert(plan.landlock.rules.end(), exec_rules.begin(), exec_rules.end());
  prune_protect_rules(plan);
  fs.state_uses.insert(fs.state_uses.end(), ll.state_uses.begin(), ll.state_uses.end());
  finish_state(plan.state, fs.state_uses);
  note_runtimes(c, runtimes);
  c.checkpoint();
  return plan;
}

}  // namespace mcpjail
