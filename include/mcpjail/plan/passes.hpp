// The planner's passes (launcher/plan/), in the order make_plan() runs them
// (plan.cc). Each pass reads the Context and what earlier passes returned,
// passed to it by name, and returns its own part of the plan; notes and
// profile errors go to the Context, in pass order.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/plan/mount_order.hpp"
#include "mcpjail/plan/runtime.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::planning {

// What every pass may read, and where each reports.
class Context {
 public:
  // Opens "/" for the symlink-safe walks; LaunchError("filesystem") when it cannot.
  Context(const Profile& profile, const Invocation& inv, std::vector<std::string>& notes);
  const Profile& profile;
  const Invocation& inv;
  int root() const { return root_.get(); }  // "/" (O_PATH), for safe_walk
  void note(std::string text) { notes_.push_back(std::move(text)); }  // shown by `check`
  void error(const SourceLoc& loc, std::string message) { errors_.push_back({loc, std::move(message)}); }
  // Throws the profile errors reported so far, all together (ProfileError).
  void checkpoint();

 private:
  UniqueFd root_;
  std::vector<std::string>& notes_;
  std::vector<Diagnostic> errors_;
};

// ---- identity.cc ----
// Who the server runs as: the invoking user (rootless) or exec.user (root).
Identity plan_identity(Context& c);

// ---- runtime.cc (adapters: runtime_*.cc) ----
std::vector<RuntimeBinds> detect_runtimes(Context& c, const Identity& id);
// Their notes, for `check`.
void note_runtimes(Context& c, const std::vector<RuntimeBinds>& runtimes);

// ---- state_dir.cc: the profile's state directory, ${PROFILE_STATE} ----
// Where it is (the state home's trusted symlinks resolved), when the profile
// or a runtime uses it; LaunchError("state") when it is needed but cannot be
// formed. `missing` holds the directory itself when it does not exist yet.
StatePlan locate_state(Context& c, const std::vector<RuntimeBinds>& runtimes);
// A path below the state directory the launch needs.
struct StateUse {
  std::string path;
  bool missing = false;  // `run` creates it
};
StateUse state_use(Context& c, const TrustPolicy& trust, const std::string& path);
// Records what the passes need below the state directory, in order: the
// relative paths `run` prepares, and what is missing.
void finish_state(StatePlan& state, const std::vector<StateUse>& uses);

// ---- filesystem.cc ----
// Which symlinks the walks may follow: none inside what the jail can write.
TrustPolicy trust_policy(Context& c, const StatePlan& state);
struct FilesystemBinds {
  std::vector<MountCandidate> candidates;  // filesystem.read, --read, write, --write, runtime binds, tmpfs
  std::vector<StateUse> state_uses;        // below ${PROFILE_STATE}: binds, then runtime state_dirs
};
FilesystemBinds plan_filesystem(Context& c, const TrustPolicy& trust, const StatePlan& state,
                                const std::vector<RuntimeBinds>& runtimes);

// ---- env.cc ----
// The server's HOME inside the jail: by default a tmpfs of its own, private
// to the launch; with [env] home = "state", ${PROFILE_STATE}/home, kept
// between launches. plan_filesystem() mounts it, plan_env() sets it.
inline constexpr const char* kPrivateHome = "/mcp-jail/home";
std::string server_home(const Profile& profile);
// The server's PATH unless [env] set or --env gives one (and, rootless,
// unless [env] pass passes the user's): never root's PATH.
inline constexpr const char* kServerPath = "/usr/local/bin:/usr/bin:/bin";
struct EnvPlan {
  std::vector<std::string> env;  // Plan::env
  std::map<std::string, bool> cli;
  std::vector<std::string> cli_unset;
  std::vector<std::string> dropped;
};
EnvPlan plan_env(Context& c, const std::vector<RuntimeBinds>& runtimes);

// ---- command.cc ----
// A file or directory of the command's own, bound read-only at its own path.
struct AutoBind {
  std::string path;  // canonical
  bool is_dir = false;
  std::string why;
  // When set: `path` is the way the command names it, through a trusted
  // symlink, and this its canonical source (a symlink in the jail when the
  // source is visible there).
  std::string source = {};
};
struct CommandPlan {
  std::string exe;  // Plan::exe, argv, script, project
  std::vector<std::string> argv;
  std::string script, project;
  std::vector<AutoBind> binds;            // the executable, its interpreters, the script's project
  std::vector<std::string> exec_files;    // what Landlock lets run when exec.allow is empty
  // Files the jail runs through symlinks that only the jail follows (a
  // venv's bin/python): checked against the mounts (runtime_python.hpp).
  std::vector<std::string> followed_in_jail = {};
};
// Resolves the command: the executable (the launcher's PATH, as documented
// for COMMAND), the interpreter of a `#!` script and the program its
// `#!/usr/bin/env` line names (on `jail_path`, the server's PATH), and the
// script an interpreter runs. LaunchError("command", 125/126/127).
CommandPlan resolve_command(Context& c, const TrustPolicy& trust, const std::string& jail_path);
// Adds the command's binds that no bind shows already (those are noted).
void add_auto_binds(Context& c, std::vector<MountCandidate>& candidates, const std::vector<AutoBind>& binds);

// ---- mounts.cc ----
// /proc, /dev and the generated files of /etc, after the ordered binds.
std::vector<MountStep> generated_mounts(Context& c, const Identity& id);

// Root launches: marks each writable bind whose owner is not the jail's user
// to be idmapped, that owner's files appearing as the jail's (idmap.hpp).
void plan_idmaps(Plan& plan);
// Appends a Mask for each filesystem.hide path with something to hide;
// returns the others, and why (Plan::hide_skipped).
std::vector<std::string> plan_hides(Context& c, std::vector<MountStep>& mounts);
std::string plan_cwd(Context& c, const std::vector<MountStep>& mounts);

// ---- protect.cc ----
// The protected names of every write path: read-only binds appended to
// `plan.mounts` for those that exist, Plan::protect for all of them (with
// what the supervisor refuses to create). Runs after the binds and exec
// trees, before the hides and the pinning of narrowed ancestors.
void plan_protect(Context& c, Plan& plan);
// After the Landlock pass: drops the rules of those binds (and of the
// directories pinned above them) that a write rule above already covers.
void prune_protect_rules(Plan& plan);

// ---- network.cc ----
NetworkPlan plan_network(Context& c);

// ---- settings.cc ----
struct Settings {
  std::string hostname;
  LimitsPlan limits;
  SeccompPlan seccomp;
  std::string audit_log;
  std::vector<std::string> best_effort;
};
Settings plan_settings(Context& c);
// [pin], with a note when it does not cover the command's entry point.
Pins plan_pins(Context& c, const CommandPlan& command);

// ---- landlock_rules.cc ----
struct LandlockInputs {
  const std::vector<MountStep>& mounts;
  const std::string& jail_path;
  const CommandPlan& command;
  const TrustPolicy& trust;
  const StatePlan& state;
  const std::vector<RuntimeBinds>& runtimes;
  const std::vector<std::string>& best_effort;
};
struct LandlockRules {
  LandlockPlan plan;
  std::vector<StateUse> state_uses;  // exec.allow directories below ${PROFILE_STATE}
};
LandlockRules plan_landlock(Context& c, const LandlockInputs& in);

}  // namespace mcpjail::planning
