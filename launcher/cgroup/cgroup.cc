// Per-launch cgroups for the memory, pids and cpu limits.
//
// Each needed controller is taken from cgroup v2 when the v2 hierarchy has it,
// else from its cgroup v1 hierarchy (hybrid hosts), else it is missing. So a
// launch gets one directory on a pure v2 host and one per v1 hierarchy on a
// hybrid one (where they go: directories.cc); add() moves the jail's first
// process into all of them and its children inherit them. The per-launch
// directory is removed when the Cgroup is destroyed, after killing whatever
// is left in it; one that a killed launcher left behind is removed by a later
// launch (stale.cc).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>  // std::isfinite (a builtin: no libm)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "mcpjail/cgroup_internal.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/unique_fd.hpp"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

namespace mcpjail::limits {

using namespace detail;

namespace {

constexpr auto kKillTimeout = std::chrono::seconds(10);
constexpr auto kRmdirTimeout = std::chrono::seconds(3);

std::string human_bytes(std::uint64_t b) {
  if (b % (1ULL << 30) == 0) return std::to_string(b >> 30) + "GiB";
  if (b % (1ULL << 20) == 0) return std::to_string(b >> 20) + "MiB";
  if (b % (1ULL << 10) == 0) return std::to_string(b >> 10) + "KiB";
  return std::to_string(b) + "B";
}

// Sends SIGKILL to `pid` if it is (still) in a cgroup whose path ends with
// `suffix`. A pidfd makes sure the signal never reaches a recycled pid.
void kill_if_member(pid_t pid, const std::string& suffix) {
  int pfd = static_cast<int>(::syscall(__NR_pidfd_open, pid, 0));
  if (pfd < 0 && errno == ESRCH) return;
  UniqueFd guard(pfd);
  auto cg = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  if (!cg) return;  // gone
  bool member = false;
  for (const auto& line : words(*cg, '\n'))
    if (line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0)
      member = true;
  if (!member) return;
  if (pfd >= 0)
    ::syscall(__NR_pidfd_send_signal, pfd, SIGKILL, nullptr, 0U);
  else
    ::kill(pid, SIGKILL);  // kernel without pidfd_open (< 5.3)
}

class CgroupImpl final : public Cgroup {
 public:
  CgroupImpl(std::string leaf, std::string limits_text) : leaf_(std::move(leaf)), limits_text_(std::move(limits_text)) {}

  ~CgroupImpl() override {
    kill();
    for (const auto& d : dirs_) {
      std::string err = remove_dir(d.path);
      if (!err.empty()) std::fprintf(stderr, "mcp-jail: limits: %s\n", err.c_str());
    }
  }

  void adopt(Dir d) { dirs_.push_back(std::move(d)); }
  bool empty() const { return dirs_.empty(); }

  void add(pid_t pid) override {
    for (const auto& d : dirs_) {
      if (int e = write_text(d.path + "/cgroup.procs", std::to_string(pid)))
        throw LaunchError("limits", errno_text("cannot move process " + std::to_string(pid) + " into the cgroup " +
                                                   d.path,
                                               e));
    }
  }

  bool memory_limit_hit() const override {
    const Dir* d = with("memory");
    if (!d) return false;
    if (d->version == 2) {
      auto ev = read_file(d->path + "/memory.events");
      if (!ev) return false;
      return key_value(*ev, "oom_kill").value_or(0) > 0 || key_value(*ev, "oom_group_kill").value_or(0) > 0;
    }
    if (auto oc = read_file(d->path + "/memory.oom_control")) {
      if (auto k = key_value(*oc, "oom_kill")) return *k > 0;  // Linux 4.13+
      if (key_value(*oc, "under_oom").value_or(0) > 0) return true;
    }
    auto fc = read_file(d->path + "/memory.failcnt");  // hits of the limit (older kernels)
    return fc && std::strtoull(fc->c_str(), nullptr, 10) > 0;
  }

  bool pids_limit_hit() const override {
    const Dir* d = with("pids");
    if (!d) return false;
    auto ev = read_file(d->path + "/pids.events");
    return ev && key_value(*ev, "max").value_or(0) > 0;
  }

  std::string describe() const override {
    std::vector<std::string> parts;
    for (const auto& d : dirs_)
      parts.push_back("cgroup v" + std::to_string(d.version) + " " + d.path + " (" + join(d.controllers, ",") + ")");
    return limits_text_ + ": " + join(parts, "; ");
  }

  std::vector<std::string> paths() const override {
    std::vector<std::string> p;
    for (const auto& d : dirs_) p.push_back(d.path);
    return p;
  }

  void kill() override {
    const std::string suffix = std::string("/") + kParentName + "/" + leaf_;
    for (const auto& d : dirs_) {
      if (d.version == 2 && write_text(d.path + "/cgroup.kill", "1") == 0) {
        wait_unpopulated(d.path);
        continue;
      }
      // v1, or v2 before Linux 5.14: signal every member until none is left.
      const auto deadline = Clock::now() + kKillTimeout;
      auto pause = std::chrono::milliseconds(1);
      for (;;) {
        auto procs = read_file(d.path + "/cgroup.procs");
        if (!procs || words(*procs, '\n').empty()) break;
        for (const auto& p : words(*procs, '\n'))
          kill_if_member(static_cast<pid_t>(std::strtol(p.c_str(), nullptr, 10)), suffix);
        if (Clock::now() > deadline) break;
        sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
      }
    }
  }

  // Removes a per-launch directory; "" or what went wrong.
  static std::string remove_dir(const std::string& path) {
    const auto deadline = Clock::now() + kRmdirTimeout;
    for (;;) {
      if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return "";
      int e = errno;
      // EBUSY while exiting members are still being torn down.
      if (e != EBUSY || Clock::now() > deadline) return errno_text("cannot remove the cgroup " + path, e);
      sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  const Dir* with(const std::string& controller) const {
    for (const auto& d : dirs_)
      if (contains(d.controllers, controller)) return &d;
    return nullptr;
  }

  static void wait_unpopulated(const std::string& dir) {
    const auto deadline = Clock::now() + kKillTimeout;
    while (Clock::now() < deadline) {
      auto ev = read_file(dir + "/cgroup.events");
      if (!ev || key_value(*ev, "populated").value_or(0) == 0) return;
      sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::string leaf_;
  std::string limits_text_;
  std::vector<Dir> dirs_;
};

}  // namespace

std::unique_ptr<Cgroup> create_cgroup(const LimitsPlan& plan, const std::string& launch_id, bool best_effort,
                                      std::string* skipped) {
  if (!plan.memory && !plan.pids && !plan.cpu) return nullptr;
  if (!valid_id(launch_id)) throw LaunchError("limits", "invalid launch id for a cgroup name: \"" + launch_id + "\"");
  if (plan.memory && *plan.memory < 4096) throw LaunchError("limits", "memory limit below one page");
  if (plan.pids && *plan.pids == 0) throw LaunchError("limits", "pids limit 0 would not even let the server start");
  if (plan.cpu && !(*plan.cpu > 0 && std::isfinite(*plan.cpu)))
    throw LaunchError("limits", "cpu limit must be a positive number of CPUs");

  std::vector<std::string> needed, limits;
  if (plan.memory) {
    needed.push_back("memory");
    limits.push_back("memory=" + human_bytes(*plan.memory) + " (no swap)");
  }
  if (plan.pids) {
    needed.push_back("pids");
    limits.push_back("pids=" + std::to_string(*plan.pids));
  }
  if (plan.cpu) {
    needed.push_back("cpu");
    std::ostringstream s;
    s << "cpu=" << *plan.cpu;
    limits.push_back(s.str());
  }

  const CgroupLayout layout = detect_cgroup_layout();
  std::vector<std::string> failures;
  std::vector<std::string> v2;
  std::vector<std::pair<const CgroupLayout::V1*, std::vector<std::string>>> v1;
  for (const auto& c : needed) {
    const std::string v = layout.version_of(c);
    if (v == "v2") {
      v2.push_back(c);
    } else if (v == "v1") {
      for (const auto& h : layout.v1) {
        if (!contains(h.controllers, c)) continue;
        auto it = std::find_if(v1.begin(), v1.end(), [&](const auto& p) { return p.first == &h; });
        if (it == v1.end())
          v1.push_back({&h, {c}});
        else
          it->second.push_back(c);
      }
    } else {
      failures.push_back("the " + c + " controller is not available (neither in cgroup v2" +
                         (layout.v2_mount.empty() ? "" : " at " + layout.v2_mount) + " nor as a cgroup v1 hierarchy)");
    }
  }

  const std::string leaf = leaf_name(launch_id);
  auto cg = std::make_unique<CgroupImpl>(leaf, join(limits, ", "));
  if (!v2.empty()) {
    try {
      cg->adopt(setup_v2(layout, v2, leaf, plan));
    } catch (const LaunchError& e) {
      failures.push_back(e.what());
    }
  }
  bool v1_denied = false;
  for (const auto& [h, ctrls] : v1) {
    try {
      cg->adopt(setup_v1(*h, ctrls, leaf, plan, &v1_denied));
    } catch (const LaunchError& e) {
      failures.push_back(e.what());
    }
  }
  if (failures.empty()) return cg;

  std::string cause = join(failures, "; ");
  if (v1_denied)
    cause += ". The cgroup v1 hierarchies belong to root and are not delegated to uid " + std::to_string(::geteuid());
  if (!best_effort)
    throw LaunchError("limits", "cannot apply " + join(limits, ", ") + ": " + cause +
                                    ". Fix: run mcp-jail as root; or, on a host with cgroup v2, from a delegated "
                                    "subtree (systemd-run --user --scope -p Delegate=yes mcp-jail run ...); or remove "
                                    "memory/pids/cpu from [limits]; or add \"limits\" to best_effort to run without them");
  if (skipped) *skipped = (cg->empty() ? "no cgroup limits applied: " : "some cgroup limits not applied: ") + cause;
  if (cg->empty()) return nullptr;
  return cg;
}

}  // namespace mcpjail::limits
