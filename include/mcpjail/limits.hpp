// Resource limits: rlimits (applied in the jail) and cgroups (created by the
// supervisor per launch, removed after).
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>

#include "mcpjail/plan.hpp"

namespace mcpjail::limits {

// RLIMIT_NOFILE, RLIMIT_FSIZE, RLIMIT_CORE=0. Throws LaunchError("limits", ...).
void apply_rlimits(const LimitsPlan& plan);

// A per-launch cgroup (v2, or the v1 memory/pids/cpu controllers on hybrid
// hosts). Removed, after killing anything left in it, when destroyed.
class Cgroup {
 public:
  virtual ~Cgroup() = default;
  virtual void add(pid_t pid) = 0;              // move a process in (before it runs the server)
  virtual bool memory_limit_hit() const = 0;    // an OOM kill happened
  virtual bool pids_limit_hit() const = 0;
  virtual std::string describe() const = 0;
};

// nullptr when the plan sets no cgroup limit. Throws LaunchError("limits", ...)
// when the limits cannot be applied, unless best_effort (then nullptr, and
// `skipped` says why).
std::unique_ptr<Cgroup> create_cgroup(const LimitsPlan& plan, const std::string& launch_id, bool best_effort,
                                      std::string* skipped);

}  // namespace mcpjail::limits
