// Settings pass: what the profile states and the plan takes as it is
// (hostname, limits, seccomp, audit, best_effort), and [pin].
#include <algorithm>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

Settings plan_settings(Context& c) {
  const Profile& pr = c.profile;
  Settings s;
  s.hostname = pr.exec.hostname.value_or("mcp-jail");
  auto& l = s.limits;
  l.memory = pr.limits.memory;
  l.pids = pr.limits.pids;
  l.cpu = pr.limits.cpu;
  l.nofile = pr.limits.nofile.value_or(0);
  l.file_size = pr.limits.file_size.value_or(0);
  l.tmpfs_size = pr.limits.tmpfs_size.value_or(kDefaultTmpfsSize);
  l.wall_time = pr.limits.wall_time;
  s.seccomp.base = pr.seccomp.base;
  s.seccomp.deny = pr.seccomp.deny;
  s.seccomp.allow = pr.seccomp.allow;
  s.seccomp.action = pr.seccomp.action;
  s.audit_log = c.inv.audit_log.value_or(pr.audit.log);
  s.best_effort = pr.best_effort;
  return s;
}

// The pins travel with the plan; `run` checks them before anything starts.
Pins plan_pins(Context& c, const CommandPlan& command) {
  Pins pins = c.profile.pin;
  if (pins.empty() || command.exe.empty()) return pins;
  const std::string entry = command.script.empty() ? command.exe : command.script;
  const bool covered =
      std::any_of(pins.files.begin(), pins.files.end(), [&](const PinFile& f) { return f.path == entry; }) ||
      std::any_of(pins.trees.begin(), pins.trees.end(), [&](const PinTree& t) { return path_is_under(entry, t.path); });
  if (!covered)
    c.note("[pin] does not cover the command's entry point " + entry +
           " (neither a pinned file nor inside a pinned tree); `mcp-jail pin` records it");
  return pins;
}

}  // namespace mcpjail::planning
