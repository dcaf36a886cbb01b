// Resource limits: rlimits (applied in the jail) and cgroups (created by the
// supervisor per launch, removed after).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/errors.hpp"
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
  // SIGKILLs every process in the cgroup and waits (bounded) until it is
  // empty: cgroup.kill on v2, else SIGKILL to each pid of cgroup.procs until
  // none is left. The destructor does this too, then removes the directories.
  virtual void kill() = 0;
  // The per-launch directories (one on v2, one per v1 hierarchy).
  virtual std::vector<std::string> paths() const = 0;
};

// nullptr when the plan sets no cgroup limit. Throws LaunchError("limits", ...)
// when the limits cannot be applied, unless best_effort: then nullptr when
// nothing could be applied, or a Cgroup with the limits that could be
// applied; in both cases `skipped` says what was left out and why. Call it in
// the supervisor (outside the jail), before the jail's first process exists;
// then add(pid) that process before it runs anything.
std::unique_ptr<Cgroup> create_cgroup(const LimitsPlan& plan, const std::string& launch_id, bool best_effort,
                                      std::string* skipped);

// The per-launch directory is named "<launch id>.<pid ns>.<pid>.<start time>":
// the launcher that owns it, so that a later launch can remove it when that
// launcher was killed before it could (see launcher/cgroup/stale.cc).
struct LeafOwner {
  std::uint64_t pid_ns = 0;      // inode of the launcher's pid namespace
  pid_t pid = 0;                 // its pid there
  std::uint64_t start_time = 0;  // field 22 of /proc/PID/stat
  bool operator==(const LeafOwner&) const = default;
};
// The owner a directory name records; nullopt for names of any other form.
std::optional<LeafOwner> parse_leaf_name(const std::string& name);
// This process as an owner; nullopt when /proc does not show its pid namespace.
std::optional<LeafOwner> this_launcher();
// The directory name for `launch_id` (the bare id when this_launcher() cannot tell).
std::string leaf_name(const std::string& launch_id);
// Removes the directories below `parent` (an `mcp-jail` directory) that are
// named for a launcher of this pid namespace that no longer exists, are owned
// by this user, and are empty. Called by create_cgroup; returns how many went.
std::size_t remove_stale_leaves(const std::string& parent);

// For `check`: where each cgroup limit of `plan` would go on this host
// ("memory: cgroup v1, /sys/fs/cgroup/memory/mcp-jail/<launch>; ..."), "" when none.
std::string describe_cgroups(const LimitsPlan& plan);

// Where the cgroup controllers of this process live. Read from
// /proc/self/mountinfo and /proc/self/cgroup; exposed for tests and `check`.
struct CgroupLayout {
  struct V1 {
    std::string mount;                     // e.g. /sys/fs/cgroup/memory
    std::vector<std::string> controllers;  // e.g. {"cpu", "cpuacct"}
  };
  std::vector<V1> v1;                      // v1 hierarchies with controllers (named ones are left out)
  std::string v2_mount;                    // "" when cgroup2 is not mounted
  std::string v2_own;                      // this process's v2 cgroup directory ("" when not below v2_mount)
  std::vector<std::string> v2_controllers; // controllers available at the top of v2_mount

  // "v2", "v1" or "" (unavailable) for "memory", "pids", "cpu".
  std::string version_of(const std::string& controller) const;
};

// Pure: parses mountinfo and /proc/self/cgroup text. v2_controllers is left
// empty (detect_cgroup_layout() reads it from the v2 mount).
CgroupLayout parse_cgroup_layout(const std::string& mountinfo, const std::string& proc_self_cgroup);
CgroupLayout detect_cgroup_layout();

}  // namespace mcpjail::limits
