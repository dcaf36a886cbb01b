// mcp-jail doctor [PROFILE] [--json] [--var NAME=VALUE]... [--write PATH]...
// (parsed from the command table, cli/commands.cc)
//
// What this host offers against what PROFILE needs, for the invoking user
// (as root: a root launch; otherwise rootless). Without PROFILE: `base`, and
// every other layer a profile may use is checked too, marked as not needed
// by base. One line per check, each failing one with its fix; exit 0 when
// the profile can run here, 1 when not.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/frontends/doctor.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/host_checks.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail {

namespace {

struct Line {
  host::Check check;
  bool needed = false;
  std::string why;  // what needs it, or why it is not needed
  std::string note = "";
};

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "";
}

}  // namespace

int doctor_command(const cli::Arguments& args) {
  // --var and --write as run takes them; PROFILE as given (default: base).
  Invocation inv = cli::invocation(args);
  std::string profile_spec = args.operand;
  const bool json = args.has("json");
  const bool all_layers = profile_spec.empty();
  if (all_layers) profile_spec = "base";
  inv.profile = profile_spec;
  inv.require_command = false;

  std::optional<Profile> profile;
  try {
    profile = load_profile(profile_spec, inv.load);
  } catch (const ProfileError& e) {
    const bool unset = std::string(e.what()).find("is not set") != std::string::npos;
    std::fprintf(stderr, "%s\nmcp-jail doctor: profile rejected%s\n", e.what(),
                 unset ? " (set the variables it uses with --var, as for run)" : "");
    return kExitLauncherError;
  }
  // A profile that loads but cannot be planned on this host (a path that is
  // missing here, a link the launcher will not follow, ...) cannot run here:
  // the host checks are still made, from what the profile asks for, and the
  // planning error is reported after them.
  Plan plan;
  std::string plan_error;
  try {
    plan = make_plan(*profile, inv);
  } catch (const ProfileError& e) {
    plan_error = e.what();
  } catch (const LaunchError& e) {
    plan_error = e.layer() + ": " + e.what();
  }
  if (!plan_error.empty()) {
    plan.profile_name = profile->name;
    plan.id.root_mode = ::geteuid() == 0;
    plan.best_effort = profile->best_effort;
    plan.limits.memory = profile->limits.memory;
    plan.limits.pids = profile->limits.pids;
    plan.limits.cpu = profile->limits.cpu;
    plan.network.mode = profile->network.mode;
    for (const auto& w : profile->filesystem.write) plan.mounts.push_back({MountKind::Bind, w.path, w.path, true});
  }

  const bool root = plan.id.root_mode;
  const std::string& name = plan.profile_name.empty() ? profile_spec : plan.profile_name;
  const bool landlock_be = contains(plan.best_effort, "landlock");
  const bool limits_be = contains(plan.best_effort, "limits");
  std::vector<std::string> controllers;
  if (plan.limits.memory) controllers.push_back("memory");
  if (plan.limits.pids) controllers.push_back("pids");
  if (plan.limits.cpu) controllers.push_back("cpu");
  const bool allowlist = plan.network.mode == NetMode::Allowlist;
  std::vector<std::string> write_paths;
  for (const auto& m : plan.mounts)
    if (m.kind == MountKind::Bind && m.writable && !contains(write_paths, m.source)) write_paths.push_back(m.source);

  const std::string not_needed = "not needed by " + name;
  std::vector<Line> lines;
  lines.push_back({host::check_userns(host::read_userns_inputs(true)), !root,
                   root ? "root launches use none" : "every rootless launch"});
  // Rootless, the probes below work inside a user namespace: without one
  // they would only fail again for the same reason, so they are not run.
  const bool probe_in_userns = root || lines.back().check.ok;
  const std::string unprobed = probe_in_userns ? "" : "not probed: no user namespace here (see above)";
  lines.push_back({host::check_landlock(host::read_landlock_inputs(plan.landlock.restrict_tcp, landlock_be)), !landlock_be,
                   landlock_be ? name + " lists landlock in best_effort" : "every launch"});
  lines.push_back({host::check_seccomp(host::read_seccomp_inputs(true)), true, "every launch"});
  {
    const bool any = !controllers.empty();
    auto in = host::read_cgroup_inputs(any ? controllers : std::vector<std::string>{"memory", "pids", "cpu"},
                                       limits_be);
    lines.push_back({host::check_cgroups(in), any && !limits_be,
                     any ? (limits_be ? name + " lists limits in best_effort" : "[limits] of " + name)
                         : not_needed + " (it sets no memory, pids or cpu limit)"});
  }
  const std::string net_why = allowlist ? "network = \"allowlist\"" : not_needed + " (network = \"allowlist\" only)";
  if (allowlist || all_layers) {
    lines.push_back({host::check_pasta(host::read_pasta_inputs()), allowlist, net_why});
    lines.push_back({host::check_tun(host::read_tun_inputs(probe_in_userns)), allowlist, net_why, unprobed});
    lines.push_back({host::check_nft(host::read_nft_inputs(probe_in_userns)), allowlist, net_why, unprobed});
  }
  lines.push_back({host::check_idmap(host::read_idmap_inputs(write_paths, true)), false,
                   "informational: this version of mcp-jail makes no idmapped mounts"});
  lines.push_back({host::check_overlay(host::read_overlay_inputs(probe_in_userns)), false,
                   "informational: this version of mcp-jail mounts no overlayfs", unprobed});

  std::vector<std::string> failed;
  for (const auto& l : lines)
    if (l.needed && !l.check.ok) failed.push_back(l.check.name);
  const bool can_run = failed.empty() && plan_error.empty();
  const uid_t uid = ::geteuid();

  if (json) {
    nlohmann::json j;
    j["profile"] = name;
    j["all_layers"] = all_layers;
    j["uid"] = uid;
    j["user"] = user_name(uid);
    j["mode"] = root ? "root" : "rootless";
    j["can_run"] = can_run;
    if (!plan_error.empty()) j["plan_error"] = plan_error;
    j["checks"] = nlohmann::json::array();
    for (const auto& l : lines)
      j["checks"].push_back({{"name", l.check.name},
                             {"ok", l.check.ok},
                             {"needed", l.needed},
                             {"why", l.why},
                             {"note", l.note},
                             {"found", l.check.found},
                             {"fix", l.check.fix}});
    std::printf("%s\n", j.dump(2).c_str());
    return can_run ? 0 : 1;
  }

  const std::string who = "uid " + std::to_string(uid) + (user_name(uid).empty() ? "" : " (" + user_name(uid) + ")");
  std::printf("mcp-jail doctor: profile %s%s, %s, %s\n", name.c_str(),
              all_layers ? " and every other layer" : "", who.c_str(), root ? "root launch" : "rootless launch");
  for (const auto& l : lines) {
    const char* tag = l.check.ok ? "ok  " : l.needed ? "FAIL" : "--  ";
    std::string text = "[" + std::string(tag) + "] " + l.check.name + ": " + l.check.found;
    if (!l.needed) text += " [" + l.why + "]";
    if (!l.note.empty()) text += " (" + l.note + ")";
    if (!l.check.ok && !l.check.fix.empty()) text += ". Fix: " + l.check.fix;
    std::printf("%s\n", text.c_str());
  }
  if (can_run) {
    std::printf("%s can run here.\n", name.c_str());
  } else if (!failed.empty()) {
    std::printf("%s can NOT run here: %s.\n", name.c_str(), join(failed, ", ").c_str());
  }
  if (!plan_error.empty())
    std::printf("%s can NOT be planned here:\n%s\n", name.c_str(), plan_error.c_str());
  return can_run ? 0 : 1;
}

}  // namespace mcpjail
