// Where the cgroup controllers of this process live (CgroupLayout), read from
// /proc/self/mountinfo and /proc/self/cgroup; and what `check` says about
// where a plan's limits would go.
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "mcpjail/cgroup_internal.hpp"
#include "mcpjail/limits.hpp"

namespace mcpjail::limits {

using namespace detail;

namespace {

std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::all_of(s.begin() + static_cast<long>(i) + 1, s.begin() + static_cast<long>(i) + 4,
                                                         [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string CgroupLayout::version_of(const std::string& controller) const {
  if (!v2_mount.empty() && contains(v2_controllers, controller)) return "v2";
  for (const auto& h : v1)
    if (contains(h.controllers, controller)) return "v1";
  return "";
}

CgroupLayout parse_cgroup_layout(const std::string& mountinfo, const std::string& proc_self_cgroup) {
  CgroupLayout l;
  std::string v2_root;
  std::vector<std::string> v1_roots;
  for (const auto& line : words(mountinfo, '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto pre = words(line.substr(0, sep));
    auto post = words(line.substr(sep + 3));
    if (pre.size() < 5 || post.size() < 3) continue;
    const std::string root = unescape_mountinfo(pre[3]);
    const std::string mnt = unescape_mountinfo(pre[4]);
    if (post[0] == "cgroup2") {
      // Prefer a mount of the hierarchy's root over bind mounts of subtrees.
      if (l.v2_mount.empty() || (root == "/" && v2_root != "/")) {
        l.v2_mount = mnt;
        v2_root = root;
      }
    } else if (post[0] == "cgroup") {
      std::vector<std::string> ctrls;
      for (const auto& o : words(post[2], ','))
        if (contains(std::vector<std::string>(std::begin(kControllers), std::end(kControllers)), o) || o == "cpuacct" ||
            o == "cpuset" || o == "blkio" || o == "devices" || o == "freezer" || o == "net_cls" ||
            o == "net_prio" || o == "perf_event" || o == "hugetlb" || o == "rdma" || o == "misc")
          ctrls.push_back(o);
      if (ctrls.empty()) continue;  // named hierarchy (name=systemd)
      bool replaced = false;
      for (std::size_t i = 0; i < l.v1.size(); ++i) {
        if (l.v1[i].controllers == ctrls) {
          if (root == "/" && v1_roots[i] != "/") {
            l.v1[i].mount = mnt;
            v1_roots[i] = root;
          }
          replaced = true;
        }
      }
      if (!replaced) {
        l.v1.push_back({mnt, ctrls});
        v1_roots.push_back(root);
      }
    }
  }
  if (!l.v2_mount.empty()) {
    for (const auto& line : words(proc_self_cgroup, '\n')) {
      if (line.rfind("0::", 0) != 0) continue;
      std::string path = line.substr(3);
      std::string rel;
      if (v2_root == "/")
        rel = path;
      else if (path == v2_root || path.rfind(v2_root + "/", 0) == 0)
        rel = path.substr(v2_root.size());
      else
        break;  // outside the mounted subtree
      if (rel.find("/..") != std::string::npos) break;  // outside our cgroup namespace
      l.v2_own = l.v2_mount + (rel == "/" ? "" : rel);
    }
  }
  return l;
}

CgroupLayout detect_cgroup_layout() {
  CgroupLayout l = parse_cgroup_layout(read_file("/proc/self/mountinfo", std::size_t{64} << 20).value_or(""),
                                       read_file("/proc/self/cgroup").value_or(""));
  if (!l.v2_mount.empty())
    if (auto c = read_file(l.v2_mount + "/cgroup.controllers")) l.v2_controllers = words(*c);
  return l;
}

std::string describe_cgroups(const LimitsPlan& plan) {
  std::vector<std::string> parts;
  const CgroupLayout l = detect_cgroup_layout();
  for (const char* c : kControllers) {
    if ((c == std::string("memory") && !plan.memory) || (c == std::string("pids") && !plan.pids) ||
        (c == std::string("cpu") && !plan.cpu))
      continue;
    const std::string v = l.version_of(c);
    if (v == "v2") {
      parts.push_back(std::string(c) + ": cgroup v2, below " + (l.v2_own.empty() ? l.v2_mount : l.v2_own) +
                      " or the nearest ancestor with it enabled");
    } else if (v == "v1") {
      for (const auto& h : l.v1)
        if (contains(h.controllers, c))
          parts.push_back(std::string(c) + ": cgroup v1, " + h.mount + "/" + kParentName + "/<launch>" +
                          (::geteuid() != 0 ? " (needs root: v1 is not delegated)" : ""));
    } else {
      parts.push_back(std::string(c) + ": no controller on this host");
    }
  }
  return join(parts, "; ");
}

}  // namespace mcpjail::limits
