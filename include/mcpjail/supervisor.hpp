// The supervisor: the launcher process that stays outside the jail. Creates
// the namespaces, maps ids, joins the cgroup, then forwards signals, answers
// seccomp notifications, enforces wall_time, writes the audit log, and returns
// the server's exit status.
#pragma once
#include "mcpjail/audit.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail {

// Exit status when [limits] wall_time ends the jail (as timeout(1) uses).
inline constexpr int kExitWallTime = 124;

// Runs the plan; returns the exit status for `mcp-jail run`. Launcher errors
// are printed to stderr and returned as 125 (126/127 for exec failures).
int supervise(const Plan& plan, Audit& audit);

}  // namespace mcpjail
