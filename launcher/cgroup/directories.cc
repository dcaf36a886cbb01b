// Where the per-launch cgroup directories go, and the limits written into
// them.
//
// Each needed controller is taken from cgroup v2 when the v2 hierarchy has it,
// else from its cgroup v1 hierarchy (hybrid hosts), else it is missing
// (cgroup.cc decides). The directories:
//   v1: <hierarchy mount>/mcp-jail/<launch id>. v1 hierarchies are owned by
//       root and cannot be delegated safely, so rootless use fails closed.
//   v2: <D>/mcp-jail/<launch id>, where D is the first of (this process's own
//       cgroup, then its ancestors up to the mount) that has the controllers
//       enabled for its children (or, for the own cgroup, where enabling them
//       works, which the kernel allows only in the root cgroup or in one
//       without processes), and that this user may write. Ancestors'
//       cgroup.subtree_control is never changed. Rootless, that is the
//       parent of the launcher's own scope inside a systemd delegated
//       subtree (user@UID.service).
// The `mcp-jail` directories stay. Before a launch makes its own directory
// below one, it removes what launchers that are gone left there (stale.cc).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "mcpjail/cgroup_internal.hpp"
#include "mcpjail/limits.hpp"

namespace mcpjail::limits::detail {

namespace {

constexpr std::uint64_t kCpuPeriodUs = 100000;

// std::llround for the (non-negative) quota, without libm: llround is the
// only libm function the launcher used, and libm's pages are 300 KiB of
// every supervisor's resident memory. Exact: q - t is exact for t <= q.
std::uint64_t round_quota(double q) {
  if (!(q > 0)) return 0;
  auto t = static_cast<std::uint64_t>(q);
  if (q - static_cast<double>(t) >= 0.5) ++t;
  return t;
}
constexpr std::uint64_t kCpuMinQuotaUs = 1000;  // the kernel's minimum

void write_limit(const std::string& dir, const char* file, const std::string& value) {
  if (int e = write_text(dir + "/" + file, value))
    throw LaunchError("limits", errno_text("cannot write " + value + " to " + dir + "/" + file, e));
}

// Writes the limits of `controllers` into a fresh directory.
void write_limits(const std::string& dir, int version, const std::vector<std::string>& controllers,
                  const LimitsPlan& plan) {
  for (const auto& c : controllers) {
    if (c == "memory") {
      const std::string bytes = std::to_string(*plan.memory);
      if (version == 2) {
        write_limit(dir, "memory.max", bytes);
        if (exists(dir + "/memory.swap.max")) write_limit(dir, "memory.swap.max", "0");
        // One OOM kill takes the whole jail down rather than a random member.
        if (exists(dir + "/memory.oom.group")) write_limit(dir, "memory.oom.group", "1");
      } else {
        write_text(dir + "/memory.oom_control", "0");  // OOM killer on, whatever the parent says
        write_limit(dir, "memory.limit_in_bytes", bytes);
        if (exists(dir + "/memory.memsw.limit_in_bytes"))
          write_limit(dir, "memory.memsw.limit_in_bytes", bytes);  // memory + swap = memory: no swap
        else
          write_text(dir + "/memory.swappiness", "0");  // swap accounting off: the closest there is
      }
    } else if (c == "pids") {
      write_limit(dir, "pids.max", std::to_string(*plan.pids));
    } else if (c == "cpu") {
      auto quota = round_quota(*plan.cpu * static_cast<double>(kCpuPeriodUs));
      quota = std::max(quota, kCpuMinQuotaUs);
      if (version == 2) {
        write_limit(dir, "cpu.max", std::to_string(quota) + " " + std::to_string(kCpuPeriodUs));
      } else {
        write_limit(dir, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
        write_limit(dir, "cpu.cfs_quota_us", std::to_string(quota));
      }
    }
  }
}

// mkdir; EEXIST is fine for the shared parent, an error for a launch's own directory.
int make_dir(const std::string& path, bool may_exist) {
  if (::mkdir(path.c_str(), 0755) == 0) return 0;
  if (errno == EEXIST && may_exist) return 0;
  return errno;
}

// Creates the leaf below `parent` and writes the limits; removes it again on failure.
Dir make_leaf(const std::string& parent, const std::string& leaf, int version, const std::vector<std::string>& ctrls,
              const LimitsPlan& plan) {
  Dir d{parent + "/" + leaf, version, ctrls};
  if (int e = make_dir(d.path, false)) {
    if (e == EEXIST)
      throw LeafExists("limits", d.path + " exists already (a launch with the same id, or a stale cgroup of a "
                                          "crashed one)");
    throw LaunchError("limits", errno_text("cannot create " + d.path, e));
  }
  try {
    write_limits(d.path, version, ctrls, plan);
  } catch (...) {
    ::rmdir(d.path.c_str());
    throw;
  }
  return d;
}

}  // namespace

Dir setup_v1(const CgroupLayout::V1& h, const std::vector<std::string>& ctrls, const std::string& leaf,
             const LimitsPlan& plan, bool* denied) {
  const std::string parent = h.mount + "/" + kParentName;
  const std::string what = join(ctrls, ",") + " (cgroup v1, " + h.mount + ")";
  int e = make_dir(parent, true);
  if (e == 0 && ::geteuid() != 0 && ::access(parent.c_str(), W_OK) != 0) e = errno;
  if (e) {
    if (e == EACCES || e == EPERM || e == EROFS) *denied = true;
    throw LaunchError("limits", what + ": " + errno_text("cannot create " + parent + "/" + leaf, e));
  }
  remove_stale_leaves(parent);
  try {
    return make_leaf(parent, leaf, 1, ctrls, plan);
  } catch (const LaunchError& err) {
    throw LaunchError("limits", what + ": " + err.what());
  }
}

Dir setup_v2(const CgroupLayout& l, const std::vector<std::string>& ctrls, const std::string& leaf,
             const LimitsPlan& plan) {
  if (l.v2_own.empty())
    throw LaunchError("limits", "cgroup v2 (" + l.v2_mount + "): this process's cgroup is not visible below the mount");
  std::vector<std::string> reasons;
  const std::string enable = [&] {
    std::string s;
    for (const auto& c : ctrls) s += (s.empty() ? "+" : " +") + c;
    return s;
  }();
  for (std::string d = l.v2_own;; d = parent_of(d)) {
    const bool own = d == l.v2_own;
    const auto sc = read_file(d + "/cgroup.subtree_control");
    std::vector<std::string> missing;
    for (const auto& c : ctrls)
      if (!sc || !contains(words(*sc), c)) missing.push_back(c);
    bool ok = true;
    if (!missing.empty()) {
      if (!own) {
        reasons.push_back(d + ": " + join(missing, ",") + " not enabled for its children");
        ok = false;
      } else if (int e = write_text(d + "/cgroup.subtree_control", enable)) {
        reasons.push_back(errno_text("own cgroup " + d + ": enabling " + join(missing, ","), e) +
                          (e == EBUSY ? " (it holds processes, this one among them)" : ""));
        ok = false;
      }
    }
    const std::string parent = d + "/" + kParentName;
    if (ok) {
      if (int e = make_dir(parent, true)) {
        reasons.push_back(errno_text("mkdir " + parent, e));
        ok = false;
      }
    }
    if (ok) {
      const auto psc = read_file(parent + "/cgroup.subtree_control");
      bool need = false;
      for (const auto& c : ctrls) need |= !psc || !contains(words(*psc), c);
      if (need) {
        if (int e = write_text(parent + "/cgroup.subtree_control", enable)) {
          reasons.push_back(errno_text(parent + ": enabling " + join(ctrls, ","), e));
          ok = false;
        }
      }
    }
    // Moving a process needs write access to cgroup.procs of the common
    // ancestor of where it is and where it goes: d.
    if (ok && ::geteuid() != 0 && ::access((d + "/cgroup.procs").c_str(), W_OK) != 0) {
      reasons.push_back(errno_text(d + "/cgroup.procs is not writable (processes cannot be moved below it)", errno));
      ok = false;
    }
    if (ok) {
      remove_stale_leaves(parent);
      try {
        return make_leaf(parent, leaf, 2, ctrls, plan);
      } catch (const LeafExists&) {
        throw;
      } catch (const LaunchError& e) {
        reasons.push_back(e.what());
      }
    }
    if (d.size() <= l.v2_mount.size()) break;
  }
  throw LaunchError("limits", "no usable cgroup v2 directory for " + join(ctrls, ",") + ": " + join(reasons, "; "));
}

}  // namespace mcpjail::limits::detail
