// `run`, `check` and `profiles`, and the Invocation every jail-building
// command makes from its arguments.
#include <cstdio>

#include "handlers.hpp"
#include "mcpjail/launch.hpp"
#include "mcpjail/phase.hpp"
#include "mcpjail/pin.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail::cli {

Invocation invocation(const Arguments& args) {
  Invocation inv = current_invocation();
  inv.profile = args.operand;
  for (const auto& v : args.values("var")) {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--var wants NAME=VALUE, got '" + v + "'");
    if (v.substr(0, eq) == "PROFILE_STATE")
      throw UsageError("--var cannot set PROFILE_STATE: it is the profile's own directory under $XDG_STATE_HOME "
                       "(default ~/.local/state)/mcp-jail; set XDG_STATE_HOME to move it");
    inv.load.vars[v.substr(0, eq)] = v.substr(eq + 1);
  }
  auto absolute = [&](const std::string& p, const char* opt) {
    if (p.empty()) throw UsageError(std::string(opt) + " needs a path");
    std::string full = p.starts_with("/") ? p : inv.load.pwd + "/" + p;
    std::string why;
    auto norm = normalize_absolute(full, &why);
    if (!norm) throw UsageError(std::string(opt) + " " + p + ": " + why);
    return *norm;
  };
  for (const auto& r : args.values("read")) inv.extra_read.push_back(absolute(r, "--read"));
  for (const auto& w : args.values("write")) inv.extra_write.push_back(absolute(w, "--write"));
  for (const auto& e : args.values("env")) {
    std::string why;
    auto a = parse_env_arg(e, &why);
    if (!a) throw UsageError("--env " + why);
    inv.env_args.push_back(std::move(*a));
  }
  if (args.has("audit-log")) {
    const std::string target = args.value("audit-log");
    if (target == "stderr" || target == "none") inv.audit_log = target;
    else inv.audit_log = absolute(target, "--audit-log");
  }
  inv.command = args.server;
  return inv;
}

namespace {

// The profile is not needed once planned: it goes before the jail starts
// (the supervisor stays resident for the server's lifetime).
Plan plan_for(const Invocation& inv) {
  const Profile profile = load_profile(inv.profile, inv.load);
  phase("profile");
  Plan plan = make_plan(profile, inv);
  phase("plan");
  return plan;
}

}  // namespace

int run_command(const Arguments& args) {
  Invocation inv = invocation(args);
  inv.require_command = true;
  return launch(plan_for(inv), {.invocation = inv});
}

int check_command(const Arguments& args) {
  Invocation inv = invocation(args);
  inv.require_command = false;
  const Plan plan = plan_for(inv);
  std::fputs(render_plan(plan).c_str(), stdout);
  return pin::verify_before_launch(plan.pins, inv, nullptr) ? 0 : kExitLauncherError;
}

int profiles_command(const Arguments&) {
  for (const auto& b : builtin_profiles()) std::printf("%-14s %s\n", b.name, profile_description(b.text).c_str());
  return 0;
}

}  // namespace mcpjail::cli
