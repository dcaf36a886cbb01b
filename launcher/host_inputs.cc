// Host checks, the readers: what each check needs, captured from this host,
// with real probes (a user namespace, the tun device, a seccomp listener, an
// nft table...) run in a forked child with a time limit. The verdicts are in
// host_checks.cc.
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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "host_checks_internal.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/landlock.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/unique_fd.hpp"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif

namespace mcpjail::host {

using detail::trim;
using detail::words;

namespace {

using namespace std::chrono_literals;

// Reads `fd` until EOF or the deadline, keeping at most `cap` bytes; true
// when EOF came. Then kills and reaps `pid`, whose exit status goes to *status.
bool read_then_reap(int fd, pid_t pid, std::chrono::milliseconds timeout, std::size_t cap, std::string* out,
                    int* status) {
  bool eof = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pf{fd, POLLIN, 0};
    const int n = ::poll(&pf, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    char buf[4096];
    const ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) eof = true;
    else if (out->size() < cap) out->append(buf, static_cast<std::size_t>(k));
  }
  ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *status = st;
  return eof;
}

std::optional<long> read_sysctl(const std::string& path) {
  auto t = read_file(path);
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
  int st = 0;
  read_then_reap(r.get(), pid, timeout, 65536, &out, &st);
  return out;
}


// A probe (run_probe) in the namespaces a launch of this user would have
// (enter): `body` runs only once they are entered.
ProbeResult probe_in_namespaces(bool root, int flags, const std::function<ProbeResult()>& body) {
  return run_probe(
      [&] {
        ProbeResult r = enter(root, flags);
        return r.ok() ? body() : r;
      },
      5s);
}

// In a probe's own mount namespace: mounts made private, a small tmpfs on /tmp.
ProbeResult private_tmp() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return ProbeResult{true, errno, "mount --make-rprivate / in the new namespace"};
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0)
    return ProbeResult{true, errno, "mount a tmpfs in the new namespace"};
  return ProbeResult{true, 0, ""};
}
}  // namespace

// ---- probes ------------------------------------------------------------------

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
  int st = 0;
  const bool eof = read_then_reap(r.get(), pid, timeout, SIZE_MAX, &got, &st);
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

// ---- user namespaces -----------------------------------------------------------

UsernsInputs read_userns_inputs(bool probe) {
  UsernsInputs in;
  in.root = ::geteuid() == 0;
  in.max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
  in.unprivileged_userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
  in.apparmor_restrict = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  auto label = read_file("/proc/self/attr/apparmor/current");
  if (!label) label = read_file("/proc/self/attr/current");
  in.apparmor_label = label ? trim(*label) : "";
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  in.exe = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "";
  in.uid_map = read_file("/proc/self/uid_map").value_or("");
  if (probe && !in.root) {
    in.probe = probe_in_namespaces(false, CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID,
                                   private_tmp);
  }
  return in;
}

// ---- Landlock --------------------------------------------------------------------

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

SeccompInputs read_seccomp_inputs(bool probe) {
  SeccompInputs in;
  struct stat st {};
  in.sysctl_present = ::stat("/proc/sys/kernel/seccomp", &st) == 0;
  in.actions_avail = read_file("/proc/sys/kernel/seccomp/actions_avail").value_or("");
  if (auto status = read_file("/proc/self/status")) {
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
      dir.subtree = words(read_file(d + "/cgroup.subtree_control").value_or(""));
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
    if (auto status = read_file("/var/lib/dpkg/status")) {
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
    in.probe = probe_in_namespaces(root, CLONE_NEWNET, [] {
      UniqueFd fd(::open(kTunPath, O_RDWR | O_CLOEXEC));
      if (!fd) return ProbeResult{true, errno, std::string("open ") + kTunPath};
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "mjprobe0", IFNAMSIZ - 1);
      ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
      if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return ProbeResult{true, errno, "ioctl(TUNSETIFF) of a tap device"};
      return ProbeResult{true, 0, ""};
    });
  }
  return in;
}

// ---- nftables ---------------------------------------------------------------------------

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
    in.probe = probe_in_namespaces(root, CLONE_NEWNET, [] {
      auto lib = netfilter::NftLibrary::load();
      netfilter::install_ruleset(
          "table inet mcpjail_probe {\n\tchain output {\n\t\ttype filter hook output priority filter; policy "
          "drop;\n\t\toif \"lo\" accept\n\t\tct state established,related accept\n\t\tlog group 17 drop\n\t}\n}\n");
      return ProbeResult{true, 0, ""};
    });
  }
  return in;
}

// ---- idmapped mounts -------------------------------------------------------------------------

IdmapInputs read_idmap_inputs(const std::vector<std::string>& paths, bool probe) {
  IdmapInputs in;
  in.root = ::geteuid() == 0;
  in.kernel = kernel_release();
  if (!in.root) return in;
  for (const auto& path : paths) {
    IdmapPath p;
    p.path = path;
    {
      auto types = read_file("/proc/self/mountinfo", std::size_t{64} << 20).value_or("");
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

OverlayInputs read_overlay_inputs(bool probe) {
  OverlayInputs in;
  in.kernel = kernel_release();
  const auto fs = read_file("/proc/filesystems").value_or("");
  in.listed = contains(words(fs), "overlay");
  if (probe) {
    in.probe = probe_in_namespaces(false, CLONE_NEWNS, [] {
      if (ProbeResult r = private_tmp(); !r.ok()) return r;
      for (const char* d : {"/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m"})
        if (::mkdir(d, 0755) != 0) return ProbeResult{true, errno, std::string("mkdir ") + d};
      if (::mount("overlay", "/tmp/m", "overlay", 0, "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w") != 0)
        return ProbeResult{true, errno, "mount overlay"};
      return ProbeResult{true, 0, ""};
    });
  }
  return in;
}

}  // namespace mcpjail::host
