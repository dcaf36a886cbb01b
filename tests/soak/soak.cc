// The soak driver. See soak.hpp for what it does; here is how.
//
// Where it runs. run() forks a process that unshares a pid, a mount and a
// network namespace; that process's child is pid 1 of the new pid namespace
// and drives the soak. So:
//   - every process a launch leaves behind is in that pid namespace, and
//     orphans (a killed launcher's jail, its pasta keeper) are re-parented to
//     the driver: /proc shows exactly the soak's processes, none of the jails
//     that other tests on the machine may be running;
//   - the mount namespace is private to the host but shared inside (MS_SHARED
//     in a peer group of its own), so a mount that a jail failed to keep to
//     itself would propagate into the driver's /proc/self/mountinfo; /tmp,
//     /dev/shm and /run are fresh tmpfs, so anything a launch writes there is
//     the soak's;
//   - the network namespace has loopback and a veth pair whose far end leads
//     nowhere, with a default route through it: pasta (network = allowlist)
//     finds a routable interface, and nothing a launch might send can leave
//     the machine. The soak's servers send nothing.
// The cgroup hierarchies are the host's. The launcher names each per-launch
// directory for its owner: <launch id>.<pid ns>.<pid>.<start time>
// (launcher/cgroup.cc), so the directories of this pid namespace are the
// soak's, whatever else runs on the machine.
//
// A launch: mode (root, or rootless as mcpjail-test through setpriv), network
// (none, allowlist), server (exit, hang, fork-exit, fork-hang) and kill (none,
// SIGKILL to the launcher, SIGKILL or SIGTERM to the server) drawn at random,
// the kill 0..max_delay ms after the start. Hanging servers that nobody kills
// are ended by the profile's wall_time. Then the exit status is checked
// against the possible outcomes of what was done, and the leak checks run,
// polled for up to `settle` (a killed launcher's jail and pasta take a moment
// to go). What is still there then counts as a leak and is cleaned up so it
// counts once.
//
// Cgroups and a killed launcher: a launcher killed with SIGKILL cannot remove
// its per-launch cgroup directory; the next launch that creates a cgroup
// removes it (cgroup.cc). So such a directory is allowed, empty, until the
// next root launch that ran to its end, and a closing launch after the last
// one sweeps the rest before the final check.
#include "soak.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "../support/files.hpp"
#include "../support/process.hpp"
#include "../support/test_user.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/unique_fd.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using mcpjail::UniqueFd;

namespace soak {

namespace {

constexpr const char* kWork = "/tmp/mcpjail-soak";
constexpr const char* kToken = "mcpjail-soak-server";
const char* const kServers[] = {"exit", "hang", "fork-exit", "fork-hang"};
const char* const kKills[] = {"none", "launcher SIGKILL", "server SIGKILL", "server SIGTERM"};
const int kCodes[] = {0, 1, 3, 42};

// ---- small helpers ----------------------------------------------------------

using support::decode_status;
using support::find_program;
using support::lines;
using support::run_checked;
using support::slurp;
using support::spit;

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_signal(int pidfd, int sig) { return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

// fork + execve with stdin/stdout on /dev/null, stderr on `err` (-1: /dev/null)
// and no other descriptor of the driver's.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int err) {
  support::SpawnOptions o;
  o.in = o.out = support::Io::null();
  o.err = err >= 0 ? support::Io::to(err) : support::Io::null();
  o.close_other_fds = true;
  return support::spawn(argv, env, o);
}

// ---- processes --------------------------------------------------------------

struct Proc {
  pid_t pid = 0, ppid = 0;
  char state = '?';
  std::vector<long> nspid;
  std::string name, cmdline;
  std::string describe() const {
    std::string s = std::to_string(pid) + " (" + name + ")";
    if (!cmdline.empty()) s += " " + cmdline;
    return s;
  }
};

// Every process of the soak's pid namespace but the driver (pid 1).
std::vector<Proc> processes(bool with_cmdline) {
  std::vector<Proc> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
  while (const dirent* e = d ? ::readdir(d.get()) : nullptr) {
    if (std::strspn(e->d_name, "0123456789") != std::strlen(e->d_name)) continue;
    const pid_t pid = std::atoi(e->d_name);
    if (pid == 1) continue;
    const std::string status = slurp(std::string("/proc/") + e->d_name + "/status");
    if (status.empty()) continue;  // gone meanwhile
    Proc p;
    p.pid = pid;
    for (const auto& l : lines(status)) {
      if (l.rfind("Name:", 0) == 0) p.name = l.substr(l.find_first_not_of(" \t", 5));
      else if (l.rfind("State:", 0) == 0 && l.size() > 7) p.state = l[l.find_first_not_of(" \t", 6)];
      else if (l.rfind("PPid:", 0) == 0) p.ppid = std::atoi(l.c_str() + 5);
      else if (l.rfind("NSpid:", 0) == 0) {
        std::istringstream in(l.substr(6));
        for (long v; in >> v;) p.nspid.push_back(v);
      }
    }
    if (with_cmdline) {
      p.cmdline = slurp(std::string("/proc/") + e->d_name + "/cmdline");
      std::replace(p.cmdline.begin(), p.cmdline.end(), '\0', ' ');
      while (!p.cmdline.empty() && p.cmdline.back() == ' ') p.cmdline.pop_back();
    }
    out.push_back(std::move(p));
  }
  return out;
}

// The orphans re-parented to the driver, once they have ended.
void reap_orphans() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// The server of the launch whose launcher is `launcher`: pid 2 of the jail's
// pid namespace, child of the jail's init (pid 1 there, child of the launcher).
pid_t find_server(pid_t launcher) {
  const auto ps = processes(false);
  pid_t init = 0;
  for (const auto& p : ps)
    if (p.ppid == launcher && p.state != 'Z' && p.nspid.size() >= 2 && p.nspid.back() == 1) init = p.pid;
  if (!init) return 0;
  for (const auto& p : ps)
    if (p.ppid == init && p.state != 'Z' && p.nspid.size() >= 2 && p.nspid.back() == 2) return p.pid;
  return 0;
}

// ---- what a launch may leave behind ------------------------------------------

struct CgLeaf {
  std::string path;
  pid_t owner = 0;
  bool populated = false;
};

struct Snapshot {
  std::vector<Proc> procs;
  std::set<std::string> mounts, netns, temp;
  std::vector<CgLeaf> cgroups;
};

std::uint64_t own_pid_ns() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) throw std::runtime_error("stat /proc/self/ns/pid");
  return st.st_ino;
}

// The cgroup hierarchies' mount points, from mountinfo.
std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> out;
  for (const auto& l : lines(slurp("/proc/self/mountinfo"))) {
    const auto sep = l.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream pre(l.substr(0, sep)), post(l.substr(sep + 3));
    std::string f[5], type;
    for (auto& x : f) pre >> x;
    post >> type;
    if (type == "cgroup" || type == "cgroup2") out.push_back(f[4]);
  }
  return out;
}

// `mcp-jail` directories up to three levels below each hierarchy's mount
// (v1: <mount>/mcp-jail; v2: below the launcher's own cgroup or an ancestor).
std::vector<std::string> cgroup_parents() {
  std::vector<std::string> out;
  for (const auto& m : cgroup_mounts()) {
    std::error_code ec;
    fs::recursive_directory_iterator it(m, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      if (it->path().filename() == "mcp-jail") {
        out.push_back(it->path().string());
        it.disable_recursion_pending();
      } else if (it.depth() >= 2) {
        it.disable_recursion_pending();
      }
    }
  }
  return out;
}

std::vector<CgLeaf> soak_cgroups(std::uint64_t pidns) {
  std::vector<CgLeaf> out;
  for (const auto& parent : cgroup_parents()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(parent, ec)) {
      if (!e.is_directory(ec)) continue;
      const auto owner = mcpjail::limits::parse_leaf_name(e.path().filename().string());
      if (!owner || owner->pid_ns != pidns) continue;
      CgLeaf leaf{e.path().string(), owner->pid, !lines(slurp(e.path().string() + "/cgroup.procs")).empty()};
      out.push_back(std::move(leaf));
    }
  }
  return out;
}

// Network namespaces held by any process of the soak (its namespace, or an
// open fd), and the ones pinned under /run/netns (what `ip netns list` reads).
std::set<std::string> netns() {
  std::set<std::string> out;
  char buf[128];
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
  while (const dirent* e = d ? ::readdir(d.get()) : nullptr) {
    if (std::strspn(e->d_name, "0123456789") != std::strlen(e->d_name)) continue;
    const std::string base = std::string("/proc/") + e->d_name;
    ssize_t n = ::readlink((base + "/ns/net").c_str(), buf, sizeof buf - 1);
    if (n > 0) out.insert(std::string(buf, static_cast<std::size_t>(n)));
    std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir((base + "/fd").c_str()), ::closedir);
    while (const dirent* f = fds ? ::readdir(fds.get()) : nullptr) {
      if (f->d_name[0] == '.') continue;
      n = ::readlink((base + "/fd/" + f->d_name).c_str(), buf, sizeof buf - 1);
      if (n > 4 && std::strncmp(buf, "net:", 4) == 0) out.insert(std::string(buf, static_cast<std::size_t>(n)));
    }
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/run/netns", ec)) out.insert("ip netns " + e.path().filename().string());
  return out;
}

std::set<std::string> temp_files() {
  std::set<std::string> out;
  for (const char* root : {"/tmp", "/dev/shm", "/run"}) {
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it->path() == kWork) {
        it.disable_recursion_pending();
        continue;
      }
      out.insert(it->path().string());
      if (it.depth() >= 3) it.disable_recursion_pending();
    }
  }
  return out;
}

Snapshot snapshot(std::uint64_t pidns) {
  Snapshot s;
  reap_orphans();
  for (auto& p : processes(true))
    if (p.state != 'Z') s.procs.push_back(std::move(p));
  for (const auto& l : lines(slurp("/proc/self/mountinfo"))) s.mounts.insert(l);
  s.netns = netns();
  s.temp = temp_files();
  s.cgroups = soak_cgroups(pidns);
  return s;
}

// ---- the soak's own namespace -------------------------------------------------

void set_up_namespace(const std::string& ip) {
  // Private to the host, shared inside: see the top of this file.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw std::runtime_error("make / private");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0) throw std::runtime_error("make / shared");
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    throw std::runtime_error(std::string("mount /proc: ") + std::strerror(errno));
  const std::pair<const char*, const char*> fresh[] = {{"/tmp", "mode=1777"}, {"/dev/shm", "mode=1777"}, {"/run", "mode=0755"}};
  for (const auto& [dir, opts] : fresh)
    if (::mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
      throw std::runtime_error(std::string("mount tmpfs on ") + dir + ": " + std::strerror(errno));
  // 198.18.0.0/15 is reserved for benchmarks: the far end of the veth pair
  // has no address and nothing listens behind it.
  run_checked({ip, "link", "set", "lo", "up"});
  run_checked({ip, "link", "add", "soak0", "type", "veth", "peer", "name", "soak1"});
  run_checked({ip, "addr", "add", "198.18.0.1/24", "dev", "soak0"});
  run_checked({ip, "link", "set", "soak0", "up"});
  run_checked({ip, "link", "set", "soak1", "up"});
  run_checked({ip, "route", "add", "default", "via", "198.18.0.254", "dev", "soak0"});
}

std::string profile_text(bool root, bool allowlist) {
  std::string t = "version = 1\nname = \"soak-" + std::string(root ? "root" : "rootless") + "-" +
                  (allowlist ? "allowlist" : "none") + "\"\nextends = \"base\"\n";
  // Rootless on a host whose cgroups are v1 (not delegated) cannot have the
  // cgroup limits: run without them rather than fail every launch.
  if (!root) t += "best_effort = [\"limits\"]\n";
  t += "[limits]\nmemory = \"64MiB\"\npids = 32\nwall_time = \"1s\"\n";
  if (allowlist)
    t += "[network]\nmode = \"allowlist\"\nallow = [\"api.soak.test:8443\"]\ndns = [\"198.18.0.53\"]\n";
  else
    t += "[network]\nmode = \"none\"\n";
  return t;
}

// ---- one launch -----------------------------------------------------------------

struct Launch {
  int index = 0;
  bool root = true, allowlist = false;
  std::string server = "exit", kill = "none";
  int delay_ms = 0, code = 0, children = 0;
  pid_t launcher = 0;
  bool missed = false;
  int status = -1;
  std::string label;  // instead of the description (the planted leaks)
  std::string mode() const { return std::string(root ? "root" : "rootless") + "/" + (allowlist ? "allowlist" : "none"); }
  std::string describe() const {
    if (!label.empty()) return label;
    std::string s = "#" + std::to_string(index) + " " + mode() + " " + server;
    if (server != "hang") s += " " + std::to_string(code);
    s += ", " + kill;
    if (kill != "none") s += " at " + std::to_string(delay_ms) + " ms" + (missed ? " (missed)" : "");
    return s;
  }
  bool launcher_killed() const { return kill == "launcher SIGKILL" && !missed; }
  // The statuses that can come out of what was done.
  std::set<int> possible() const {
    const bool hangs = server == "hang" || server == "fork-hang";
    const int own = hangs ? 124 : code;  // 124: wall_time ended it
    if (launcher_killed()) return {137};  // the launcher's own status
    if (kill == "server SIGKILL" && !missed) return {137, own};
    if (kill == "server SIGTERM" && !missed) return {143, own};
    return {own};
  }
};

class Driver {
 public:
  Driver(const Config& cfg, Figures& f) : cfg_(cfg), f_(f), rng_(cfg.seed) {}

  void run() {
    const std::string ip = find_program({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
    if (ip.empty()) throw std::runtime_error("iproute2 (ip) is not installed");
    // Read before /tmp is replaced (the binaries may live there).
    const std::string jail_image = slurp(cfg_.jail_bin), server_image = slurp(cfg_.server_bin);
    if (jail_image.empty() || server_image.empty())
      throw std::runtime_error("cannot read " + cfg_.jail_bin + " or " + cfg_.server_bin);
    set_up_namespace(ip);
    ip_ = ip;
    pidns_ = own_pid_ns();
    const support::User user = support::test_user();
    uid_ = user.uid;
    gid_ = user.gid;
    home_ = user.home;

    ::mkdir(kWork, 0755);
    ::chmod(kWork, 0755);
    jail_ = std::string(kWork) + "/mcp-jail";
    server_ = std::string(kWork) + "/soak_server";
    spit(jail_, jail_image, 0755);
    spit(server_, server_image, 0755);
    for (bool root : {true, false})
      for (bool al : {false, true}) spit(profile_path(root, al), profile_text(root, al), 0644);
    err_path_ = std::string(kWork) + "/launch.err";

    base_ = snapshot(pidns_);
    // A pid namespace's inode is reused once it is gone: directories an
    // earlier namespace with this inode left are not this run's.
    for (const auto& c : base_.cgroups) base_cgroups_.insert(c.path);
    base_ip_netns_ = ip_netns_list();
    if (!base_.procs.empty()) throw std::runtime_error("processes in a fresh pid namespace: " + base_.procs[0].describe());

    const auto t0 = Clock::now();
    if (cfg_.plant) {
      plant();
    } else {
      for (int i = 1; i <= cfg_.launches; ++i) one(draw(i));
      closing_launches();
      if (ip_netns_list() != base_ip_netns_)
        record({"netns", "`ip netns list` differs from its output at the start", "final check"});
    }
    f_.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    remove_soak_cgroups();
  }

 private:
  std::string profile_path(bool root, bool allowlist) const {
    return std::string(kWork) + "/" + (root ? "root" : "rootless") + "-" + (allowlist ? "allowlist" : "none") + ".toml";
  }

  std::string ip_netns_list() { return support::run({ip_, "netns", "list"}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}).out; }

  Launch draw(int index) {
    Launch l;
    l.index = index;
    l.root = rng_() % 2 == 0;
    l.allowlist = rng_() % 2 == 0;
    l.server = kServers[rng_() % 4];
    l.kill = kKills[rng_() % 4];
    l.delay_ms = static_cast<int>(rng_() % (static_cast<std::uint64_t>(cfg_.max_delay.count()) + 1));
    l.code = kCodes[rng_() % 4];
    l.children = l.server.rfind("fork", 0) == 0 ? 1 + static_cast<int>(rng_() % 4) : 0;
    return l;
  }

  std::vector<std::string> argv_of(const Launch& l) const {
    std::vector<std::string> a;
    if (!l.root)
      a = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid_), "--regid=" + std::to_string(gid_), "--clear-groups", "--"};
    a.insert(a.end(), {jail_, "run", profile_path(l.root, l.allowlist), "--audit-log", "none", "--", server_, kToken, l.server,
                       std::to_string(l.code), std::to_string(l.children)});
    return a;
  }

  // Starts the launch, delivers its kill, waits for its end.
  void execute(Launch& l) {
    UniqueFd err(::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + (l.root ? std::string("/root") : home_),
                                          "LANG=C.UTF-8"};
    const auto start = Clock::now();
    l.launcher = spawn(argv_of(l), env, err.get());
    if (l.launcher < 0) throw std::runtime_error("fork");
    UniqueFd pidfd(pidfd_open(l.launcher));
    if (!pidfd) throw std::runtime_error("pidfd_open of the launcher");
    auto ended = [&](int timeout_ms) {
      pollfd p{pidfd.get(), POLLIN, 0};
      return ::poll(&p, 1, timeout_ms) > 0;
    };
    if (l.kill != "none") {
      const auto due = start + std::chrono::milliseconds(l.delay_ms);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
      if (ended(static_cast<int>(std::max<long long>(left, 0)))) {
        l.missed = true;
      } else if (l.kill == "launcher SIGKILL") {
        pidfd_signal(pidfd.get(), SIGKILL);
      } else {
        const int sig = l.kill == "server SIGKILL" ? SIGKILL : SIGTERM;
        // The server may not exist yet (the jail is still being built): look
        // until it does or the launch has ended.
        for (;;) {
          if (const pid_t s = find_server(l.launcher)) {
            UniqueFd sfd(pidfd_open(s));
            if (sfd && pidfd_signal(sfd.get(), sig) == 0) break;
          }
          if (ended(1)) {
            l.missed = true;
            break;
          }
        }
      }
    }
    // wall_time (1 s) ends every hanging server; a launch still running long
    // after that is itself a failure of the launcher.
    if (!ended(60000)) {
      f_.unexpected.push_back(l.describe() + ": the launcher did not end within 60 s; killed");
      pidfd_signal(pidfd.get(), SIGKILL);
    }
    int st = 0;
    while (::waitpid(l.launcher, &st, 0) < 0 && errno == EINTR) {
    }
    l.status = decode_status(st);
    // A launcher that exits just after poll() timed out is a zombie when the
    // SIGKILL is sent: the signal is accepted and does nothing. A launcher the
    // signal did end cannot have exited on its own, so an exit means missed.
    if (l.kill == "launcher SIGKILL" && !l.missed && WIFEXITED(st)) l.missed = true;
  }

  void one(Launch l) {
    execute(l);
    ++f_.launches;
    ++f_.modes[l.mode()];
    ++f_.servers[l.server];
    ++f_.kills[l.kill];
    if (l.missed) ++f_.kills_missed;
    ++f_.statuses[l.status];
    if (!l.possible().count(l.status))
      f_.unexpected.push_back(l.describe() + ": status " + std::to_string(l.status) + "; " + err_tail());
    settle(l);
    if (cfg_.verbose) std::fprintf(stderr, "soak: %s -> %d\n", l.describe().c_str(), l.status);
  }

  // The leak checks after launch `l`. The cgroup directory of a launcher
  // killed with SIGKILL may stay until a later launch of the same user ran to
  // its end: that one swept it (or it counts as a leak).
  void settle(const Launch& l) {
    if (!l.launcher_killed())
      std::erase_if(pending_, [&](const auto& p) { return p.second == l.root; });
    std::set<pid_t> allowed;
    for (const auto& p : pending_) allowed.insert(p.first);
    if (l.launcher_killed()) {
      allowed.insert(l.launcher);
      pending_[l.launcher] = l.root;
    }
    check(l, allowed);
  }

  // A root and a rootless launch that run to their end: they sweep the
  // cgroups that killed launchers of either user left.
  void closing_launches() {
    for (bool root : {true, false}) {
      Launch c;
      c.index = cfg_.launches + (root ? 1 : 2);
      c.root = root;
      execute(c);
      if (c.status != 0)
        f_.unexpected.push_back(c.describe() + " (closing launch): status " + std::to_string(c.status) + "; " + err_tail());
      settle(c);
    }
  }

  std::string err_tail() const {
    std::string e = slurp(err_path_);
    if (e.size() > 400) e = "..." + e.substr(e.size() - 400);
    while (!e.empty() && e.back() == '\n') e.pop_back();
    return e.empty() ? "no output on stderr" : "stderr: " + e;
  }

  // What is there now that should not be.
  std::vector<Leak> leaks_now(const std::string& who, const std::set<pid_t>& allowed_cgroups) {
    std::vector<Leak> out;
    const Snapshot s = snapshot(pidns_);
    for (const auto& p : s.procs) out.push_back({"processes", p.describe(), who});
    for (const auto& m : s.mounts)
      if (!base_.mounts.count(m) && !reported_.count("m" + m)) out.push_back({"mounts", m, who});
    for (const auto& n : s.netns)
      if (!base_.netns.count(n) && !reported_.count("n" + n)) out.push_back({"netns", n, who});
    for (const auto& t : s.temp)
      if (!base_.temp.count(t) && !reported_.count("t" + t)) out.push_back({"temp files", t, who});
    for (const auto& c : s.cgroups) {
      if (reported_.count("c" + c.path) || base_cgroups_.count(c.path)) continue;
      if (c.populated) out.push_back({"cgroups", c.path + " (still holds processes)", who});
      else if (!allowed_cgroups.count(c.owner)) out.push_back({"cgroups", c.path, who});
    }
    return out;
  }

  void check(const Launch& l, const std::set<pid_t>& allowed_cgroups) {
    const auto begin = Clock::now(), deadline = begin + cfg_.settle;
    std::vector<Leak> found;
    for (;;) {
      found = leaks_now(l.describe(), allowed_cgroups);
      if (found.empty() || Clock::now() >= deadline) break;
      sleep_ms(10);
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    if (found.empty() && ms > f_.slowest_settle_ms) {
      f_.slowest_settle_ms = ms;
      f_.slowest_settle = l.describe();
    }
    for (auto& k : found) record(std::move(k));
    clean_up_processes();
  }

  void record(Leak k) {
    ++f_.leaks[k.kind];
    const char tag = k.kind == "mounts" ? 'm' : k.kind == "netns" ? 'n' : k.kind == "temp files" ? 't' : 'c';
    std::string key = std::string(1, tag) + k.what;
    if (k.kind == "cgroups") key = "c" + k.what.substr(0, k.what.find(' '));
    if (k.kind != "processes") reported_.insert(key);
    if (f_.leak_details.size() < 50) f_.leak_details.push_back(std::move(k));
    else if (cfg_.verbose) std::fprintf(stderr, "soak: leak: %s: %s\n", k.kind.c_str(), k.what.c_str());
  }

  // A leaked process is counted once: it is killed after it was recorded.
  static void clean_up_processes() {
    for (int round = 0; round < 100; ++round) {
      const auto ps = processes(false);
      bool any = false;
      for (const auto& p : ps) {
        if (p.state == 'Z') continue;
        any = true;
        UniqueFd fd(pidfd_open(p.pid));
        if (fd) pidfd_signal(fd.get(), SIGKILL);
      }
      reap_orphans();
      if (!any) return;
      sleep_ms(10);
    }
  }

  // Leaves nothing of the soak in the host's cgroup hierarchies.
  void remove_soak_cgroups() {
    clean_up_processes();
    for (const auto& c : soak_cgroups(pidns_)) ::rmdir(c.path.c_str());
  }

  // Self-test: one leak of each kind, made the way a launch could leave it.
  void plant() {
    Launch planted;
    planted.label = "planted";
    // A process in a network namespace of its own: a process and a netns.
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    const pid_t p = ::fork();
    if (p == 0) {
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
      ::close(ready[1]);
      for (;;) ::pause();
    }
    ::close(ready[1]);
    char b;
    while (::read(ready[0], &b, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    // A mount (on a temporary directory: a temp file too).
    const std::string mnt = "/tmp/soak-planted-mount";
    ::mkdir(mnt.c_str(), 0755);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0) throw std::runtime_error("plant a mount");
    // A file in /dev/shm.
    spit("/dev/shm/soak-planted", "x", 0600);
    // A pinned network namespace (ip netns add: a netns, a mount, a file in /run).
    run_checked({ip_, "netns", "add", "soak-planted"});
    // A per-launch cgroup directory of a launcher of this pid namespace that is gone.
    std::string cg_parent;
    bool made_parent = false;
    const auto parents = cgroup_parents();
    if (!parents.empty()) {
      cg_parent = parents[0];
    } else if (const auto mounts = cgroup_mounts(); !mounts.empty()) {
      cg_parent = mounts.back() + "/mcp-jail";
      made_parent = ::mkdir(cg_parent.c_str(), 0755) == 0;
    }
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    const std::string leaf =
        cg_parent + "/planted." + std::to_string(pidns_) + "." + std::to_string(dead) + ".1";
    if (cg_parent.empty() || ::mkdir(leaf.c_str(), 0755) != 0) throw std::runtime_error("plant a cgroup in " + cg_parent);

    check(planted, {});

    ::umount2(mnt.c_str(), MNT_DETACH);
    ::rmdir(mnt.c_str());
    ::unlink("/dev/shm/soak-planted");
    run_checked({ip_, "netns", "delete", "soak-planted"});
    ::rmdir(leaf.c_str());
    if (made_parent) ::rmdir(cg_parent.c_str());
  }

  const Config& cfg_;
  Figures& f_;
  std::mt19937_64 rng_;
  std::string ip_, jail_, server_, err_path_, home_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::uint64_t pidns_ = 0;
  Snapshot base_;
  std::string base_ip_netns_;
  std::map<pid_t, bool> pending_;  // killed launchers (pid -> root) whose cgroups a later launch is to sweep
  std::set<std::string> reported_;  // leaks counted already (by kind tag and name)
  std::set<std::string> base_cgroups_;
};

// ---- figures across the pipe --------------------------------------------------------

nlohmann::json to_json(const Figures& f) {
  nlohmann::json j;
  j["error"] = f.error;
  j["launches"] = f.launches;
  j["seed"] = f.seed;
  j["modes"] = f.modes;
  j["servers"] = f.servers;
  j["kills"] = f.kills;
  j["kills_missed"] = f.kills_missed;
  nlohmann::json st = nlohmann::json::object();
  for (const auto& [k, v] : f.statuses) st[std::to_string(k)] = v;
  j["statuses"] = st;
  j["leaks"] = f.leaks;
  nlohmann::json d = nlohmann::json::array();
  for (const auto& l : f.leak_details) d.push_back({{"kind", l.kind}, {"what", l.what}, {"launch", l.launch}});
  j["leak_details"] = d;
  j["unexpected"] = f.unexpected;
  j["seconds"] = f.seconds;
  j["slowest_settle_ms"] = f.slowest_settle_ms;
  j["slowest_settle"] = f.slowest_settle;
  return j;
}

Figures from_json(const nlohmann::json& j) {
  Figures f;
  f.error = j.value("error", "");
  f.launches = j.value("launches", 0);
  f.seed = j.value("seed", std::uint64_t{0});
  f.modes = j.value("modes", std::map<std::string, int>{});
  f.servers = j.value("servers", std::map<std::string, int>{});
  f.kills = j.value("kills", std::map<std::string, int>{});
  f.kills_missed = j.value("kills_missed", 0);
  if (j.contains("statuses"))
    for (const auto& [k, v] : j.at("statuses").items()) f.statuses[std::stoi(k)] = v.get<int>();
  f.leaks = j.value("leaks", std::map<std::string, int>{});
  if (j.contains("leak_details"))
    for (const auto& l : j.at("leak_details"))
      f.leak_details.push_back({l.value("kind", ""), l.value("what", ""), l.value("launch", "")});
  f.unexpected = j.value("unexpected", std::vector<std::string>{});
  f.seconds = j.value("seconds", 0.0);
  f.slowest_settle_ms = j.value("slowest_settle_ms", 0.0);
  f.slowest_settle = j.value("slowest_settle", "");
  return f;
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

const std::vector<std::string>& leak_kinds() {
  static const std::vector<std::string> k = {"processes", "mounts", "cgroups", "netns", "temp files"};
  return k;
}

int Figures::total_leaks() const {
  int n = 0;
  for (const auto& [k, v] : leaks) n += v;
  return n;
}

Figures run(const Config& cfg) {
  Figures f;
  f.seed = cfg.seed;
  for (const auto& k : leak_kinds()) f.leaks[k] = 0;
  if (::geteuid() != 0) {
    f.error = "the soak needs root (namespaces, root and rootless launches)";
    return f;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    f.error = "pipe";
    return f;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  const pid_t outer = ::fork();
  if (outer < 0) {
    f.error = "fork";
    return f;
  }
  if (outer == 0) {
    rd.reset();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) != 0) {
      f.error = std::string("unshare of the soak's namespaces: ") + std::strerror(errno);
      write_all(wr.get(), to_json(f).dump());
      ::_exit(1);
    }
    const pid_t driver = ::fork();
    if (driver == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::signal(SIGPIPE, SIG_IGN);
      try {
        Driver(cfg, f).run();
      } catch (const std::exception& e) {
        f.error = e.what();
      }
      write_all(wr.get(), to_json(f).dump());
      ::_exit(0);  // as pid 1: the kernel kills whatever is left in the namespace
    }
    wr.reset();
    int st = 0;
    ::waitpid(driver, &st, 0);
    ::_exit(0);
  }
  wr.reset();
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::waitpid(outer, nullptr, 0);
  try {
    Figures got = from_json(nlohmann::json::parse(text));
    for (const auto& k : leak_kinds()) got.leaks.try_emplace(k, 0);
    return got;
  } catch (const std::exception& e) {
    f.error = std::string("the soak's driver ended without figures (") + e.what() + ")";
    return f;
  }
}

std::string report(const Figures& f) {
  std::ostringstream o;
  auto list = [&](const auto& m) {
    std::ostringstream x;
    for (const auto& [k, v] : m) x << (x.tellp() > 0 ? ", " : "") << k << " " << v;
    return x.tellp() > 0 ? x.str() : std::string("-");
  };
  if (!f.error.empty()) o << "soak: could not run: " << f.error << "\n";
  o << "launches   " << f.launches << " (seed " << f.seed << "), wall time " << std::fixed;
  o.precision(1);
  o << f.seconds << " s\n";
  o << "modes      " << list(f.modes) << "\n";
  o << "servers    " << list(f.servers) << "\n";
  o << "kills      " << list(f.kills) << "; missed (target already gone) " << f.kills_missed << "\n";
  o << "statuses   ";
  {
    std::string s;
    for (const auto& [k, v] : f.statuses) s += (s.empty() ? "" : ", ") + std::to_string(k) + ": " + std::to_string(v);
    o << (s.empty() ? "-" : s) << "\n";
  }
  o << "leaks      ";
  {
    std::string s;
    for (const auto& k : leak_kinds()) {
      auto it = f.leaks.find(k);
      s += (s.empty() ? "" : ", ") + k + " " + std::to_string(it == f.leaks.end() ? 0 : it->second);
    }
    o << s << "\n";
  }
  for (const auto& l : f.leak_details) o << "  leak: " << l.kind << ": " << l.what << "  [" << l.launch << "]\n";
  o << "settle     slowest " << f.slowest_settle_ms << " ms until a launch had left nothing"
    << (f.slowest_settle.empty() ? "" : " (" + f.slowest_settle + ")") << "\n";
  o << "unexpected exit statuses " << f.unexpected.size() << "\n";
  for (const auto& u : f.unexpected) o << "  " << u << "\n";
  return o.str();
}

}  // namespace soak
