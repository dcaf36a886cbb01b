// Host checks: the verdicts (pure) and the readers that capture their inputs
// from this host. See host_checks.hpp.
#include "mcpjail/host_checks.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "mcpjail/errors.hpp"
#include "mcpjail/landlock.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/unique_fd.hpp"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif

namespace mcpjail::host {

namespace {

using namespace std::chrono_literals;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\0')) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
  return s.substr(b);
}

std::optional<std::string> read_text(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1 << 20)) break;
  }
  return out;
}

std::optional<long> read_sysctl(const std::string& path) {
  auto t = read_text(path);
  if (!t) return std::nullopt;
  const std::string v = trim(*t);
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str()) return std::nullopt;
  return n;
}

std::string kernel_release() {
  struct utsname u {};
  return ::uname(&u) == 0 ? u.release : "";
}

bool write_file(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size());
}

// In a probe child that just entered a new user namespace: map its own ids
// (the launcher maps the invoking uid to itself too).
ProbeResult map_self(uid_t uid, gid_t gid) {
  if (!write_file("/proc/self/setgroups", "deny\n")) return {true, errno, "write /proc/self/setgroups"};
  if (!write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n"))
    return {true, errno, "write /proc/self/uid_map"};
  if (!write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n"))
    return {true, errno, "write /proc/self/gid_map"};
  return {true, 0, ""};
}

// Enters the namespaces a launch of this user would have: rootless, a user
// namespace (ids mapped) plus `flags`; as root, `flags` only.
ProbeResult enter(bool root, int flags) {
  if (root) {
    if (flags && ::unshare(flags) != 0) return {true, errno, "unshare"};
    return {true, 0, ""};
  }
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER | flags) != 0) return {true, errno, "unshare(CLONE_NEWUSER)"};
  return map_self(uid, gid);
}

// Runs argv with stdout and stderr captured (at most 64 KiB), killed after `timeout`.
std::optional<std::string> capture(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::nullopt;
  UniqueFd r(p[0]), w(p[1]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char env0[] = "PATH=/usr/bin:/bin";
  char* envp[] = {env0, nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(w.get(), 1) < 0 || ::dup2(w.get(), 2) < 0) ::_exit(127);
    ::execve(argv[0], argv.data(), envp);
    ::_exit(127);
  }
  w.reset();
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pf{r.get(), POLLIN, 0};
    const int n = ::poll(&pf, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[4096];
    const ssize_t k = ::read(r.get(), buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    if (out.size() < 65536) out.append(buf, static_cast<std::size_t>(k));
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return out;
}

std::string user_text(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return "uid " + std::to_string(uid) + " (" + pw->pw_name + ")";
  return "uid " + std::to_string(uid);
}

}  // namespace

// ---- probes ------------------------------------------------------------------

std::string ProbeResult::text() const {
  if (!ran) return "not probed";
  if (err == 0) return "ok";
  if (err < 0) return step;
  return errno_text(step, err);
}

ProbeResult run_probe(const std::function<ProbeResult()>& fn, std::chrono::milliseconds timeout) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {true, errno, "pipe for the probe"};
  UniqueFd r(p[0]), w(p[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return {true, errno, "fork the probe"};
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::getppid() != parent) ::_exit(1);
    r.reset();
    // What the probed libraries print is not the report.
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ProbeResult res;
    try {
      res = fn();
    } catch (const std::exception& e) {
      res = {true, -1, e.what()};
    }
    const std::string msg = std::to_string(res.err) + " " + res.step;
    const ssize_t n = ::write(w.get(), msg.data(), std::min<std::size_t>(msg.size(), 4000));
    ::_exit(n > 0 ? 0 : 1);
  }
  w.reset();
  std::string got;
  bool eof = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pf{r.get(), POLLIN, 0};
    const int n = ::poll(&pf, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[1024];
    const ssize_t k = ::read(r.get(), buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) eof = true;
    else got.append(buf, static_cast<std::size_t>(k));
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!eof) return {true, ETIMEDOUT, "the probe did not finish within " + std::to_string(timeout.count()) + " ms"};
  if (got.empty()) {
    const std::string how = WIFSIGNALED(st) ? "killed by signal " + std::to_string(WTERMSIG(st))
                                            : "exit status " + std::to_string(WEXITSTATUS(st));
    return {true, -1, "the probe ended without a report (" + how + ")"};
  }
  const auto sp = got.find(' ');
  ProbeResult res{true, std::atoi(got.substr(0, sp).c_str()), sp == std::string::npos ? "" : got.substr(sp + 1)};
  return res;
}

// ---- small parsers --------------------------------------------------------------

std::pair<int, int> kernel_version(const std::string& release) {
  int a = 0, b = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &a, &b) != 2) return {0, 0};
  return {a, b};
}

std::string octal_mode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

bool initial_uid_map(const std::string& uid_map) {
  const auto w = words(uid_map);
  return w.size() == 3 && w[0] == "0" && w[1] == "0" && w[2] == "4294967295";
}

// ---- user namespaces -----------------------------------------------------------

Check check_userns(const UsernsInputs& in) {
  Check c{"user namespaces", false, "", ""};
  if (in.root) {
    c.ok = true;
    c.found = "not needed: as root, mcp-jail builds the jail without a user namespace and runs the server as an "
              "unprivileged uid";
    return c;
  }
  const bool confined_by_ours = in.apparmor_label.rfind("mcp-jail", 0) == 0;
  if (in.probe.ok()) {
    c.ok = true;
    c.found = "unprivileged user namespaces work: a probe created one, mapped its uid and mounted a tmpfs in it";
    if (in.apparmor_restrict.value_or(0) != 0 && confined_by_ours)
      c.found += " (AppArmor restricts them on this host; the mcp-jail profile allows them)";
    return c;
  }
  std::vector<std::string> found, fix;
  const std::string probe = in.probe.ran ? "; the probe failed: " + in.probe.text() : "";
  if (in.max_user_namespaces && *in.max_user_namespaces == 0) {
    found.push_back("user.max_user_namespaces = 0: the kernel allows no user namespaces");
    fix.push_back("sysctl -w user.max_user_namespaces=15000 (and the same line in /etc/sysctl.d/ to keep it)");
  }
  if (in.unprivileged_userns_clone && *in.unprivileged_userns_clone == 0) {
    found.push_back("kernel.unprivileged_userns_clone = 0 (Debian's switch): only root may create user namespaces");
    fix.push_back("sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)");
  }
  if (in.apparmor_restrict.value_or(0) != 0 && !confined_by_ours) {
    found.push_back("kernel.apparmor_restrict_unprivileged_userns = " + std::to_string(*in.apparmor_restrict) +
                    " (Ubuntu 23.10 and later): a program without an AppArmor profile that allows `userns` loses every "
                    "capability in the namespaces it creates; this process runs as AppArmor label '" +
                    (in.apparmor_label.empty() ? std::string("unconfined") : in.apparmor_label) + "' (" + in.exe + ")");
    fix.push_back("install the AppArmor profile that comes with mcp-jail (the .deb puts it in /etc/apparmor.d/mcp-jail; "
                  "from source: packaging/apparmor/mcp-jail.in, with the path of your mcp-jail binary) and load it: "
                  "apparmor_parser -r /etc/apparmor.d/mcp-jail");
    fix.push_back("or allow it for every program: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
  } else if (in.apparmor_restrict.value_or(0) != 0 && confined_by_ours && in.probe.ran) {
    found.push_back("AppArmor restricts user namespaces and this process runs under the mcp-jail profile ('" +
                    in.apparmor_label + "'), yet creating one failed");
    fix.push_back("check that the loaded profile has the `userns,` rule (apparmor_parser -r /etc/apparmor.d/mcp-jail)");
  }
  if (found.empty() && !in.uid_map.empty() && !initial_uid_map(in.uid_map) && in.probe.ran) {
    found.push_back("this process already runs inside a user namespace (uid_map: " + trim(in.uid_map) +
                    "), as in an unprivileged container, and that container does not let it nest another");
    fix.push_back("allow nested user namespaces in the container (for Docker or Podman: a seccomp profile that allows "
                  "unshare/clone with CLONE_NEWUSER, and no AppArmor profile that denies it), or run mcp-jail on the "
                  "host");
  }
  if (found.empty() && !in.probe.ran) {
    c.ok = true;
    c.found = "no setting forbids unprivileged user namespaces (not probed)";
    return c;
  }
  if (found.empty()) {
    found.push_back("creating an unprivileged user namespace failed");
    fix.push_back("find what refuses it (a seccomp filter of a container, an LSM, a kernel without CONFIG_USER_NS)");
  }
  fix.push_back("or run mcp-jail as root (it then uses no user namespace)");
  c.found = join(found, "; ") + probe;
  c.fix = join(fix, "; ");
  return c;
}

UsernsInputs read_userns_inputs(bool probe) {
  UsernsInputs in;
  in.root = ::geteuid() == 0;
  in.max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
  in.unprivileged_userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  in.apparmor_restrict = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  auto label = read_text("/proc/self/attr/apparmor/current");
  if (!label) label = read_text("/proc/self/attr/current");
  in.apparmor_label = label ? trim(*label) : "";
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  in.exe = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "";
  in.uid_map = read_text("/proc/self/uid_map").value_or("");
  if (probe && !in.root) {
    in.probe = run_probe(
        [] {
          ProbeResult r = enter(false, CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID);
          if (!r.ok()) return r;
          if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return ProbeResult{true, errno, "mount --make-rprivate / in the new namespace"};
          if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
            return ProbeResult{true, errno, "mount a tmpfs in the new namespace"};
          return ProbeResult{true, 0, ""};
        },
        5s);
  }
  return in;
}

// ---- Landlock --------------------------------------------------------------------

Check check_landlock(const LandlockInputs& in) {
  Check c{"landlock", false, "", ""};
  const std::string kernel = "Linux " + (in.kernel.empty() ? std::string("?") : in.kernel);
  if (in.abi <= 0) {
    std::string why = in.err == ENOSYS       ? "the kernel is built without Landlock (CONFIG_SECURITY_LANDLOCK)"
                      : in.err == EOPNOTSUPP ? "Landlock is built in but not enabled at boot"
                                             : errno_text("landlock_create_ruleset", in.err);
    c.found = kernel + " has no Landlock: " + why;
    c.fix = in.err == EOPNOTSUPP
                ? "add landlock to the lsm= kernel parameter (e.g. lsm=landlock,lockdown,yama,integrity,apparmor) and "
                  "reboot"
                : "run on a kernel with Landlock (CONFIG_SECURITY_LANDLOCK=y; Linux 6.12 or later has everything "
                  "mcp-jail uses)";
  } else if (!in.missing.empty()) {
    c.found = kernel + " has Landlock ABI " + std::to_string(in.abi) + ", without " + join(in.missing, ", ");
    c.fix = "run on Linux 6.12 or later (Landlock ABI 6)";
  } else {
    c.ok = true;
    c.found = kernel + ", Landlock ABI " + std::to_string(in.abi);
    return c;
  }
  c.fix += in.best_effort ? " (the profile runs without it: \"landlock\" is in best_effort)"
                          : "; or add \"landlock\" to the profile's best_effort to run without what is missing";
  return c;
}

LandlockInputs read_landlock_inputs(bool restrict_tcp, bool best_effort) {
  LandlockInputs in;
  errno = 0;
  const long v = ::syscall(__NR_landlock_create_ruleset, nullptr, 0, 1U /* LANDLOCK_CREATE_RULESET_VERSION */);
  in.err = v < 0 ? errno : 0;
  in.abi = v < 0 ? 0 : static_cast<int>(v);
  in.kernel = kernel_release();
  LandlockPlan plan;
  plan.restrict_tcp = restrict_tcp;
  in.missing = landlock::missing_features(plan, in.abi);
  in.best_effort = best_effort;
  return in;
}

// ---- seccomp --------------------------------------------------------------------

Check check_seccomp(const SeccompInputs& in) {
  Check c{"seccomp", false, "", ""};
  const auto kv = kernel_version(in.kernel);
  if (!in.sysctl_present) {
    c.found = "the kernel has no seccomp filters (no /proc/sys/kernel/seccomp)";
    c.fix = "run on a kernel built with CONFIG_SECCOMP_FILTER";
    return c;
  }
  if (!has(words(in.actions_avail), "user_notif")) {
    c.found = "seccomp has no user notification (actions: " + trim(in.actions_avail) +
              "); mcp-jail's supervisor answers the jail's denied and watched calls through it";
    c.fix = "run on Linux 5.5 or later";
    return c;
  }
  if (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 5))) {
    c.found = "Linux " + in.kernel + " lacks SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)";
    c.fix = "run on Linux 5.5 or later";
    return c;
  }
  if (in.probe.ran && !in.probe.ok()) {
    if (in.probe.err == EBUSY) {
      c.found = "this process already runs under a seccomp filter with a notification listener (Seccomp: " +
                in.status_seccomp + "), as inside another sandbox that supervises system calls; a second listener is "
                                    "refused (EBUSY)";
      c.fix = "run mcp-jail outside that sandbox, or have the outer sandbox filter without a listener";
    } else {
      c.found = "loading a filter with a notification listener failed: " + in.probe.text();
      c.fix = "find what refuses seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) here (an outer "
              "sandbox's filter?)";
    }
    return c;
  }
  c.ok = true;
  c.found = std::string("filters with user notification") + (in.probe.ran ? " (a probe loaded one)" : "") +
            (in.status_seccomp == "2" ? "; this process is already filtered (Seccomp: 2), the jail's filter stacks on it"
                                      : "");
  return c;
}

SeccompInputs read_seccomp_inputs(bool probe) {
  SeccompInputs in;
  struct stat st {};
  in.sysctl_present = ::stat("/proc/sys/kernel/seccomp", &st) == 0;
  in.actions_avail = read_text("/proc/sys/kernel/seccomp/actions_avail").value_or("");
  if (auto status = read_text("/proc/self/status")) {
    std::istringstream s(*status);
    for (std::string line; std::getline(s, line);)
      if (line.rfind("Seccomp:", 0) == 0) in.status_seccomp = trim(line.substr(8));
  }
  in.kernel = kernel_release();
  if (probe && in.sysctl_present) {
    in.probe = run_probe(
        [] {
          // Notify on a call nothing makes (afs_syscall is not implemented); allow the rest.
          sock_filter code[] = {
              BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<unsigned>(offsetof(seccomp_data, nr))),
              BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_afs_syscall, 0, 1),
              BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
              BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
          };
          sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
          if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ProbeResult{true, errno, "prctl(PR_SET_NO_NEW_PRIVS)"};
          const long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
          if (fd < 0) return ProbeResult{true, errno, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)"};
          return ProbeResult{true, 0, ""};
        },
        5s);
  }
  return in;
}

// ---- cgroups ----------------------------------------------------------------------

Check check_cgroups(const CgroupInputs& in) {
  Check c{"cgroups", false, "", ""};
  if (in.needed.empty()) {
    c.ok = true;
    c.found = "no memory, pids or cpu limit to apply";
    return c;
  }
  std::vector<std::string> found, bad, v2need;
  bool v1_denied = false, v2_denied = false, missing = false;
  for (const auto& ctl : in.needed) {
    if (!in.v2_mount.empty() && has(in.v2_controllers, ctl)) {
      v2need.push_back(ctl);
      continue;
    }
    const CgroupV1Hierarchy* h = nullptr;
    for (const auto& x : in.v1)
      if (has(x.controllers, ctl)) h = &x;
    if (!h) {
      missing = true;
      bad.push_back(ctl);
      found.push_back(ctl + ": no such controller, neither in cgroup v2" +
                      (in.v2_mount.empty() ? std::string() : " (" + in.v2_mount + ")") + " nor as a v1 hierarchy");
      continue;
    }
    if (in.root || h->writable) {
      found.push_back(ctl + ": cgroup v1 at " + h->mount);
    } else {
      v1_denied = true;
      bad.push_back(ctl);
      found.push_back(ctl + ": cgroup v1 at " + h->mount + ", owned by root and not delegated to " + user_text(in.uid));
    }
  }
  if (!v2need.empty()) {
    bool usable = in.root;
    std::string where;
    for (const auto& d : in.v2_dirs) {
      if (usable) break;
      bool all = true;
      for (const auto& ctl : v2need) all &= has(d.subtree, ctl);
      if (d.writable && all) {
        usable = true;
        where = d.path;
      }
    }
    if (in.root) where = in.v2_dirs.empty() ? in.v2_mount : in.v2_dirs.front().path;
    if (usable) {
      found.push_back(join(v2need, ", ") + ": cgroup v2, below " + where);
    } else {
      v2_denied = true;
      for (const auto& x : v2need) bad.push_back(x);
      found.push_back(join(v2need, ", ") + ": cgroup v2 at " + in.v2_mount + ", but no cgroup from " +
                      (in.v2_dirs.empty() ? std::string("this process's") : in.v2_dirs.front().path) +
                      " up that this user may write has them enabled for its children (not delegated)");
    }
  }
  if (!in.v2_mount.empty() && !v2need.empty() && v2need.size() < in.needed.size())
    found.push_back("hybrid hierarchy: cgroup v2 at " + in.v2_mount + " has only " +
                    (in.v2_controllers.empty() ? std::string("no controllers") : join(in.v2_controllers, ",")));
  else if (!in.v2_mount.empty() && v2need.empty() && !in.v1.empty())
    found.push_back("hybrid hierarchy: cgroup v2 at " + in.v2_mount + " holds " +
                    (in.v2_controllers.empty() ? std::string("no controllers") : join(in.v2_controllers, ",")));
  c.found = join(found, "; ");
  if (bad.empty()) {
    c.ok = true;
    return c;
  }
  std::vector<std::string> fix;
  if (missing) fix.push_back("enable the missing controller in the kernel (e.g. cgroup_enable=memory on the boot command line)");
  if (v1_denied)
    fix.push_back("run mcp-jail as root (cgroup v1 cannot be delegated safely); or boot with the unified hierarchy "
                  "(systemd.unified_cgroup_hierarchy=1) and start mcp-jail from a delegated scope");
  if (v2_denied)
    fix.push_back("start mcp-jail from a delegated cgroup: systemd-run --user --scope -p Delegate=yes mcp-jail run ...; "
                  "or run it as root");
  fix.push_back(std::string("or remove ") + join(bad, "/") + " from [limits]" +
                (in.best_effort ? " (the profile runs without them: \"limits\" is in best_effort)"
                                : ", or add \"limits\" to best_effort to run without them"));
  c.fix = join(fix, "; ");
  return c;
}

CgroupInputs read_cgroup_inputs(const std::vector<std::string>& needed, bool best_effort) {
  CgroupInputs in;
  in.root = ::geteuid() == 0;
  in.uid = ::geteuid();
  in.needed = needed;
  in.best_effort = best_effort;
  const limits::CgroupLayout l = limits::detect_cgroup_layout();
  in.v2_mount = l.v2_mount;
  in.v2_controllers = l.v2_controllers;
  if (!l.v2_own.empty()) {
    for (std::string d = l.v2_own;;) {
      CgroupV2Dir dir;
      dir.path = d;
      dir.own = d == l.v2_own;
      dir.subtree = words(read_text(d + "/cgroup.subtree_control").value_or(""));
      dir.writable = ::access(d.c_str(), W_OK) == 0 && ::access((d + "/cgroup.procs").c_str(), W_OK) == 0;
      in.v2_dirs.push_back(dir);
      if (d.size() <= l.v2_mount.size()) break;
      const auto slash = d.rfind('/');
      if (slash == std::string::npos || slash == 0) break;
      d = d.substr(0, slash);
    }
  }
  for (const auto& h : l.v1) {
    CgroupV1Hierarchy x{h.mount, h.controllers, false};
    const std::string parent = h.mount + "/mcp-jail";
    struct stat st {};
    x.writable = ::stat(parent.c_str(), &st) == 0 ? ::access(parent.c_str(), W_OK) == 0
                                                  : ::access(h.mount.c_str(), W_OK) == 0;
    in.v1.push_back(x);
  }
  return in;
}

// ---- pasta -------------------------------------------------------------------------

Check check_pasta(const PastaInputs& in) {
  Check c{"pasta", false, "", ""};
  if (in.binary.empty()) {
    c.found = "pasta (from passt) is not installed; network = \"allowlist\" uses it as the jail's uplink";
    c.fix = "apt-get install passt (Debian, Ubuntu); dnf install passt (Fedora)";
    return c;
  }
  const std::string what = in.binary + (in.version.empty() ? std::string() : ", version " + in.version);
  if (!in.runs) {
    c.found = in.binary + " is installed but could not be run (`pasta --help` printed nothing)";
    c.fix = "check that this user may execute it (and that no sandbox around this process forbids it)";
    return c;
  }
  std::vector<std::string> lacks;
  if (!in.has_no_map_gw) lacks.push_back("--no-map-gw (without it the jail could reach the host's loopback)");
  if (!in.has_config_net) lacks.push_back("--config-net");
  if (!lacks.empty()) {
    c.found = what + " lacks " + join(lacks, " and ");
    c.fix = "install passt 2023-03 or later";
    return c;
  }
  c.ok = true;
  c.found = what;
  return c;
}

PastaInputs read_pasta_inputs() {
  PastaInputs in;
  in.binary = netfilter::Uplink::binary();
  if (in.binary.empty()) return in;
  if (auto v = capture({in.binary, "--version"}, 3s)) {
    std::string first = v->substr(0, v->find('\n'));
    if (first.rfind("pasta ", 0) == 0) first = first.substr(6);
    in.version = trim(first);
  }
  if (in.version.empty() || in.version.find("unknown") != std::string::npos) {
    // Debian's build reports "unknown version": the package knows it.
    if (auto status = read_text("/var/lib/dpkg/status")) {
      std::istringstream s(*status);
      bool ours = false;
      for (std::string line; std::getline(s, line);) {
        if (line.rfind("Package: ", 0) == 0) ours = line == "Package: passt";
        if (ours && line.rfind("Version: ", 0) == 0) {
          in.version = line.substr(9) + " (package passt)";
          break;
        }
      }
    }
  }
  if (auto help = capture({in.binary, "--help"}, 3s)) {
    in.runs = !help->empty();
    in.has_no_map_gw = help->find("--no-map-gw") != std::string::npos;
    in.has_config_net = help->find("--config-net") != std::string::npos;
  }
  return in;
}

// ---- /dev/net/tun ----------------------------------------------------------------------

Check check_tun(const TunInputs& in) {
  Check c{kTunPath, false, "", ""};
  if (!in.exists) {
    c.found = std::string(kTunPath) + " does not exist; pasta needs it for the jail's uplink";
    c.fix = "modprobe tun (as root); in a container, pass the device in (docker run --device /dev/net/tun ...)";
    return c;
  }
  if (!in.is_char) {
    c.found = std::string(kTunPath) + " is not a character device";
    c.fix = "recreate it: mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun";
    return c;
  }
  const std::string owner = (in.owner_name.empty() ? std::to_string(in.owner) : in.owner_name) + ":" +
                            (in.group_name.empty() ? std::to_string(in.group) : in.group_name);
  const std::string desc = std::string(kTunPath) + " is mode " + octal_mode(in.mode) + ", owner " + owner;
  const bool root = in.uid == 0;
  // A rootless pasta opens it inside the jail's user namespace, where its
  // owner is unmapped: only the permission bits for this user count.
  const bool by_mode = root || (in.owner == in.uid && (in.mode & 0600) == 0600) ||
                       (in.in_group && (in.mode & 0060) == 0060) || (in.mode & 0006) == 0006;
  const bool ok = in.probe.ran ? in.probe.ok() : by_mode;
  if (ok) {
    c.ok = true;
    c.found = desc + (root ? ": root opens it" : ": " + user_text(in.uid) + " may open it") +
              (in.probe.ran ? std::string(" (a probe opened it and made a tap device") + (root ? "" : " in a user namespace") + ")"
                            : "");
    return c;
  }
  if (!by_mode || (in.probe.ran && in.probe.err == EACCES)) {
    c.found = desc + ": " + user_text(in.uid) +
              " cannot open it, so pasta run by this user cannot make the jail's uplink (it reports \"Failed to open "
              "tun socket in namespace\") and every rootless network = \"allowlist\" launch stops";
    c.fix = "chmod 0666 " + std::string(kTunPath) +
            " (until the next boot; Debian's default mode), and to keep it a udev rule: echo 'KERNEL==\"tun\", "
            "MODE=\"0666\"' > /etc/udev/rules.d/60-mcp-jail-tun.rules; or run mcp-jail as root";
    return c;
  }
  c.found = desc + ", but opening it failed: " + in.probe.text() +
            (in.probe.err == EPERM ? " (a device cgroup or security module refuses it, as in a container)" : "");
  c.fix = in.probe.err == EPERM ? "allow the tun device (container: --device /dev/net/tun; or run mcp-jail on the host)"
                                : "find what refuses it; or run mcp-jail as root";
  return c;
}

TunInputs read_tun_inputs(bool probe) {
  TunInputs in;
  in.uid = ::geteuid();
  struct stat st {};
  if (::stat(kTunPath, &st) != 0) return in;
  in.exists = true;
  in.is_char = S_ISCHR(st.st_mode);
  in.mode = st.st_mode & 07777;
  in.owner = st.st_uid;
  in.group = st.st_gid;
  if (const passwd* pw = ::getpwuid(st.st_uid)) in.owner_name = pw->pw_name;
  if (const group* gr = ::getgrgid(st.st_gid)) in.group_name = gr->gr_name;
  in.in_group = ::getegid() == st.st_gid;
  if (!in.in_group) {
    const int n = ::getgroups(0, nullptr);
    if (n > 0) {
      std::vector<gid_t> g(static_cast<std::size_t>(n));
      if (::getgroups(n, g.data()) == n) in.in_group = std::find(g.begin(), g.end(), st.st_gid) != g.end();
    }
  }
  if (probe && in.is_char) {
    const bool root = in.uid == 0;
    in.probe = run_probe(
        [root] {
          ProbeResult r = enter(root, CLONE_NEWNET);
          if (!r.ok()) return r;
          UniqueFd fd(::open(kTunPath, O_RDWR | O_CLOEXEC));
          if (!fd) return ProbeResult{true, errno, std::string("open ") + kTunPath};
          ifreq ifr{};
          std::strncpy(ifr.ifr_name, "mjprobe0", IFNAMSIZ - 1);
          ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
          if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return ProbeResult{true, errno, "ioctl(TUNSETIFF) of a tap device"};
          return ProbeResult{true, 0, ""};
        },
        5s);
  }
  return in;
}

// ---- nftables ---------------------------------------------------------------------------

Check check_nft(const NftInputs& in) {
  Check c{"nftables", false, "", ""};
  if (!in.library) {
    c.found = "libnftables cannot be loaded: " + in.library_error;
    c.fix = "apt-get install libnftables1";
    return c;
  }
  if (in.probe.ran && !in.probe.ok()) {
    c.found = std::string("installing a table in a new network namespace") + (in.root ? "" : " of a user namespace") +
              " failed: " + in.probe.text();
    c.fix = in.root ? "load nf_tables (modprobe nf_tables) or run on a kernel with CONFIG_NF_TABLES"
                    : "as root, load the modules once (modprobe -a nf_tables nft_ct nft_log nf_log_syslog; an "
                      "unprivileged user namespace cannot load modules), and list them in /etc/modules-load.d/; or "
                      "run mcp-jail as root";
    return c;
  }
  c.ok = true;
  c.found = std::string("libnftables loads") +
            (in.probe.ran ? std::string("; a probe installed a table in a new network namespace") +
                                (in.root ? "" : " of a user namespace")
                          : "");
  return c;
}

NftInputs read_nft_inputs(bool probe) {
  NftInputs in;
  in.root = ::geteuid() == 0;
  try {
    auto lib = netfilter::NftLibrary::load();
    in.library = true;
  } catch (const std::exception& e) {
    in.library_error = e.what();
    return in;
  }
  if (probe) {
    const bool root = in.root;
    in.probe = run_probe(
        [root] {
          ProbeResult r = enter(root, CLONE_NEWNET);
          if (!r.ok()) return r;
          auto lib = netfilter::NftLibrary::load();
          netfilter::install_ruleset(
              "table inet mcpjail_probe {\n\tchain output {\n\t\ttype filter hook output priority filter; policy "
              "drop;\n\t\toif \"lo\" accept\n\t\tct state established,related accept\n\t\tlog group 17 drop\n\t}\n}\n");
          return ProbeResult{true, 0, ""};
        },
        5s);
  }
  return in;
}

// ---- idmapped mounts -------------------------------------------------------------------------

Check check_idmap(const IdmapInputs& in) {
  Check c{"idmapped mounts", false, "", ""};
  if (!in.root) {
    c.ok = true;
    c.found = "not used rootless: the jail runs as your uid, so files it writes are yours";
    return c;
  }
  if (in.paths.empty()) {
    c.ok = true;
    c.found = "no write paths";
    return c;
  }
  std::vector<std::string> good, bad;
  for (const auto& p : in.paths) {
    const std::string what = p.path + " (" + (p.fstype.empty() ? std::string("?") : p.fstype) + ")";
    if (!p.probe.ran || p.probe.ok())
      good.push_back(what);
    else
      bad.push_back(what + ": " + p.probe.text());
  }
  if (bad.empty()) {
    c.ok = true;
    c.found = "write paths on file systems that support idmapped mounts: " + join(good, ", ");
    return c;
  }
  const auto kv = kernel_version(in.kernel);
  c.found = "no idmapped mount of " + join(bad, "; ") +
            (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 12)) ? " (Linux " + in.kernel + " < 5.12)" : "");
  c.fix = "idmapped mounts need Linux 5.12+ and a file system that supports them (ext4, xfs, btrfs, f2fs, fat; tmpfs "
          "from 6.3; overlayfs from 5.19); keep write paths on one of those";
  return c;
}

IdmapInputs read_idmap_inputs(const std::vector<std::string>& paths, bool probe) {
  IdmapInputs in;
  in.root = ::geteuid() == 0;
  in.kernel = kernel_release();
  if (!in.root) return in;
  for (const auto& path : paths) {
    IdmapPath p;
    p.path = path;
    {
      auto types = read_text("/proc/self/mountinfo").value_or("");
      // The type name of the mount holding `path`: from mountinfo, matched by device.
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) {
        const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
        std::istringstream s(types);
        for (std::string line; std::getline(s, line);) {
          const auto f = words(line);
          const auto sep = std::find(f.begin(), f.end(), "-");
          if (f.size() > 2 && f[2] == dev && sep != f.end() && sep + 1 != f.end()) p.fstype = *(sep + 1);
        }
      }
    }
    if (probe) {
      p.probe = run_probe(
          [path] {
            // A user namespace to map to: a child that unshares one and waits.
            int ready[2], hold[2];
            if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) return ProbeResult{true, errno, "pipe"};
            const pid_t ns = ::fork();
            if (ns < 0) return ProbeResult{true, errno, "fork"};
            if (ns == 0) {
              ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
              char b = ::unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
              if (::write(ready[1], &b, 1) != 1) ::_exit(1);
              [[maybe_unused]] const ssize_t r = ::read(hold[0], &b, 1);  // until the probe ends
              ::_exit(0);
            }
            ::close(hold[0]);
            char b = 0;
            if (::read(ready[0], &b, 1) != 1 || b != 'y') return ProbeResult{true, EPERM, "unshare(CLONE_NEWUSER)"};
            const std::string proc = "/proc/" + std::to_string(ns);
            if (!write_file(proc + "/uid_map", "0 100000 65536\n") || !write_file(proc + "/gid_map", "0 100000 65536\n"))
              return ProbeResult{true, errno, "write the probe namespace's id maps"};
            UniqueFd userns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
            if (!userns) return ProbeResult{true, errno, "open the probe's user namespace"};
            UniqueFd tree(static_cast<int>(::open_tree(AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
            if (!tree) return ProbeResult{true, errno, "open_tree(" + path + ")"};
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_IDMAP;
            attr.userns_fd = static_cast<std::uint64_t>(userns.get());
            if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
              return ProbeResult{true, errno, "mount_setattr(MOUNT_ATTR_IDMAP)"};
            return ProbeResult{true, 0, ""};
          },
          5s);
    }
    in.paths.push_back(p);
  }
  return in;
}

// ---- overlayfs -------------------------------------------------------------------------------

Check check_overlay(const OverlayInputs& in) {
  Check c{"overlayfs in a user namespace", false, "", ""};
  if (in.probe.ok()) {
    c.ok = true;
    c.found = "a probe mounted an overlay inside a new user namespace";
    return c;
  }
  if (!in.listed && (!in.probe.ran || in.probe.err != 0)) {
    c.found = "the kernel has no overlay file system loaded (not in /proc/filesystems)";
    c.fix = "modprobe overlay (as root)";
    return c;
  }
  if (!in.probe.ran) {
    c.ok = true;
    c.found = "overlay is in /proc/filesystems (not probed)";
    return c;
  }
  const auto kv = kernel_version(in.kernel);
  c.found = "mounting overlayfs in a user namespace failed: " + in.probe.text() +
            (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 11)) ? " (Linux " + in.kernel + " < 5.11)" : "");
  c.fix = "Linux 5.11 or later mounts overlayfs in user namespaces";
  return c;
}

OverlayInputs read_overlay_inputs(bool probe) {
  OverlayInputs in;
  in.kernel = kernel_release();
  const auto fs = read_text("/proc/filesystems").value_or("");
  in.listed = has(words(fs), "overlay");
  if (probe) {
    in.probe = run_probe(
        [] {
          const uid_t uid = ::geteuid();
          const gid_t gid = ::getegid();
          if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return ProbeResult{true, errno, "unshare(CLONE_NEWUSER)"};
          ProbeResult r = map_self(uid, gid);
          if (!r.ok()) return r;
          if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return ProbeResult{true, errno, "mount --make-rprivate /"};
          if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
            return ProbeResult{true, errno, "mount a tmpfs"};
          for (const char* d : {"/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m"})
            if (::mkdir(d, 0755) != 0) return ProbeResult{true, errno, std::string("mkdir ") + d};
          if (::mount("overlay", "/tmp/m", "overlay", 0, "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w") != 0)
            return ProbeResult{true, errno, "mount overlay"};
          return ProbeResult{true, 0, ""};
        },
        5s);
  }
  return in;
}

}  // namespace mcpjail::host
