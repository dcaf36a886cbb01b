// Per-launch cgroups for the memory, pids and cpu limits.
//
// Each needed controller is taken from cgroup v2 when the v2 hierarchy has it,
// else from its cgroup v1 hierarchy (hybrid hosts), else it is missing. So a
// launch gets one directory on a pure v2 host and one per v1 hierarchy on a
// hybrid one; add() moves the jail's first process into all of them and its
// children inherit them.
//
// Where the directories go:
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
// The `mcp-jail` directories stay; the per-launch directory is removed when
// the Cgroup is destroyed, after killing whatever is left in it.
//
// A launcher that is itself killed with SIGKILL cannot remove its directory:
// its jail dies with it (PR_SET_PDEATHSIG, and the pid namespace ends with
// its init), but the empty directory would stay for good (each one pins
// kernel memory, v1 memory cgroups especially). So the per-launch directory's
// name says whose it is,
//     <launch id>.<pid namespace inode>.<launcher pid>.<launcher start time>
// and every launch, before it creates its own, removes the directories below
// the same `mcp-jail` parent that (1) have that form, (2) belong to a launcher
// of this pid namespace that no longer exists (no such pid, or one with
// another start time: a reused pid), (3) are owned by this user, and (4) are
// empty: rmdir(2) of a cgroup fails while it holds processes or child
// cgroups, so nothing that runs is ever touched. A live launcher's directory
// is never removed, not even in the moment between its mkdir and moving the
// jail in. Directories of other pid namespaces (containers sharing the
// hierarchy) and of other names are left alone: their owners cannot be told.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>  // std::isfinite (a builtin: no libm)
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <sstream>

#include "mcpjail/limits.hpp"
#include "mcpjail/unique_fd.hpp"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

namespace mcpjail::limits {
namespace {

using Clock = std::chrono::steady_clock;

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
constexpr auto kKillTimeout = std::chrono::seconds(10);
constexpr auto kRmdirTimeout = std::chrono::seconds(3);
const char* const kParentName = "mcp-jail";
const char* const kControllers[] = {"memory", "pids", "cpu"};

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<std::string> words(const std::string& s, char sep = ' ') {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep || c == '\n' || (sep == ' ' && c == '\t')) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::optional<std::string> read_text(const std::string& path, int* err = nullptr) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (err) *err = errno;
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (err) *err = errno;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// 0 or errno. One write(2): cgroup files take a value per write.
int write_text(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  while ((n = ::write(fd.get(), value.data(), value.size())) < 0 && errno == EINTR) {
  }
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(value.size()) ? 0 : EIO;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// "key value" lines (memory.events, pids.events, memory.oom_control, cgroup.events).
std::optional<std::uint64_t> key_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  std::uint64_t v;
  while (in >> k) {
    if (!(in >> v)) return std::nullopt;
    if (k == key) return v;
  }
  return std::nullopt;
}

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

void sleep_for(std::chrono::milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>((d.count() % 1000) * 1000000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string parent_of(const std::string& dir) {
  auto p = dir.rfind('/');
  return p == 0 ? "/" : dir.substr(0, p);
}

std::string human_bytes(std::uint64_t b) {
  if (b % (1ULL << 30) == 0) return std::to_string(b >> 30) + "GiB";
  if (b % (1ULL << 20) == 0) return std::to_string(b >> 20) + "MiB";
  if (b % (1ULL << 10) == 0) return std::to_string(b >> 10) + "KiB";
  return std::to_string(b) + "B";
}

// A per-launch directory: v2 (all controllers) or one v1 hierarchy.
struct Dir {
  std::string path;
  int version = 2;
  std::vector<std::string> controllers;
};

// Sends SIGKILL to `pid` if it is (still) in a cgroup whose path ends with
// `suffix`. A pidfd makes sure the signal never reaches a recycled pid.
void kill_if_member(pid_t pid, const std::string& suffix) {
  int pfd = static_cast<int>(::syscall(__NR_pidfd_open, pid, 0));
  if (pfd < 0 && errno == ESRCH) return;
  UniqueFd guard(pfd);
  auto cg = read_text("/proc/" + std::to_string(pid) + "/cgroup");
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

// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
// With the pid it names one process for good (pids are reused, this pair is not).
std::optional<std::uint64_t> start_time_of(const std::string& pid) {
  auto st = read_text("/proc/" + pid + "/stat");
  if (!st) return std::nullopt;
  const auto close = st->rfind(')');  // the command name may hold spaces and ')'
  if (close == std::string::npos) return std::nullopt;
  const auto f = words(st->substr(close + 1));
  // f[0] is field 3 (state): field 22 is f[19].
  if (f.size() < 20 || f[19].empty() || !std::all_of(f[19].begin(), f[19].end(), ::isdigit)) return std::nullopt;
  return std::strtoull(f[19].c_str(), nullptr, 10);
}

enum class Liveness { Alive, Gone, Unknown };

// Whether the process `pid` that started at `start` still exists.
Liveness liveness(pid_t pid, std::uint64_t start) {
  int err = 0;
  if (!read_text("/proc/" + std::to_string(pid) + "/stat", &err)) return err == ENOENT || err == ESRCH ? Liveness::Gone : Liveness::Unknown;
  const auto now = start_time_of(std::to_string(pid));
  if (!now) return Liveness::Unknown;
  return *now == start ? Liveness::Alive : Liveness::Gone;  // another start time: the pid was reused
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
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
      auto ev = read_text(d->path + "/memory.events");
      if (!ev) return false;
      return key_value(*ev, "oom_kill").value_or(0) > 0 || key_value(*ev, "oom_group_kill").value_or(0) > 0;
    }
    if (auto oc = read_text(d->path + "/memory.oom_control")) {
      if (auto k = key_value(*oc, "oom_kill")) return *k > 0;  // Linux 4.13+
      if (key_value(*oc, "under_oom").value_or(0) > 0) return true;
    }
    auto fc = read_text(d->path + "/memory.failcnt");  // hits of the limit (older kernels)
    return fc && std::strtoull(fc->c_str(), nullptr, 10) > 0;
  }

  bool pids_limit_hit() const override {
    const Dir* d = with("pids");
    if (!d) return false;
    auto ev = read_text(d->path + "/pids.events");
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
        auto procs = read_text(d.path + "/cgroup.procs");
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
      if (has(d.controllers, controller)) return &d;
    return nullptr;
  }

  static void wait_unpopulated(const std::string& dir) {
    const auto deadline = Clock::now() + kKillTimeout;
    while (Clock::now() < deadline) {
      auto ev = read_text(dir + "/cgroup.events");
      if (!ev || key_value(*ev, "populated").value_or(0) == 0) return;
      sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::string leaf_;
  std::string limits_text_;
  std::vector<Dir> dirs_;
};

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

// The per-launch directory exists already: never reuse it.
struct LeafExists : LaunchError {
  using LaunchError::LaunchError;
};

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

// Sets *denied when the hierarchy refuses this user (v1 is never delegated).
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
    const auto sc = read_text(d + "/cgroup.subtree_control");
    std::vector<std::string> missing;
    for (const auto& c : ctrls)
      if (!sc || !has(words(*sc), c)) missing.push_back(c);
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
      const auto psc = read_text(parent + "/cgroup.subtree_control");
      bool need = false;
      for (const auto& c : ctrls) need |= !psc || !has(words(*psc), c);
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

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

std::optional<LeafOwner> parse_leaf_name(const std::string& name) {
  // <launch id>.<pid ns>.<pid>.<start time>, read from the end (the id may hold dots).
  std::vector<std::string> tail;
  std::size_t end = name.size();
  for (int i = 0; i < 3; ++i) {
    if (end == 0) return std::nullopt;
    const auto dot = name.rfind('.', end - 1);
    if (dot == std::string::npos) return std::nullopt;
    tail.push_back(name.substr(dot + 1, end - dot - 1));
    end = dot;
  }
  if (!valid_id(name.substr(0, end))) return std::nullopt;
  for (const auto& t : tail)
    if (!all_digits(t)) return std::nullopt;
  LeafOwner o;
  o.start_time = std::strtoull(tail[0].c_str(), nullptr, 10);
  const auto pid = std::strtoull(tail[1].c_str(), nullptr, 10);
  o.pid_ns = std::strtoull(tail[2].c_str(), nullptr, 10);
  if (pid == 0 || pid > 0x3fffffff) return std::nullopt;  // PID_MAX_LIMIT is 2^22
  o.pid = static_cast<pid_t>(pid);
  return o;
}

std::optional<LeafOwner> this_launcher() {
  struct stat ns {};
  if (::stat("/proc/self/ns/pid", &ns) != 0) return std::nullopt;
  // The /proc mounted here must be this pid namespace's, or pids read from
  // it would name other processes.
  char self[32];
  const ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
  if (n <= 0) return std::nullopt;
  self[n] = '\0';
  if (std::to_string(::getpid()) != self) return std::nullopt;
  const auto start = start_time_of("self");
  if (!start) return std::nullopt;
  return LeafOwner{static_cast<std::uint64_t>(ns.st_ino), ::getpid(), *start};
}

std::string leaf_name(const std::string& launch_id) {
  const auto me = this_launcher();
  if (!me) return launch_id;  // an owner that cannot be told: never removed by another launch
  return launch_id + "." + std::to_string(me->pid_ns) + "." + std::to_string(me->pid) + "." +
         std::to_string(me->start_time);
}

std::size_t remove_stale_leaves(const std::string& parent) {
  const auto me = this_launcher();
  if (!me) return 0;
  std::vector<std::string> names;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(parent.c_str()), ::closedir);
    if (!dir) return 0;
    while (const dirent* e = ::readdir(dir.get()))
      if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) names.emplace_back(e->d_name);
  }
  std::size_t removed = 0;
  for (const auto& name : names) {
    const auto owner = parse_leaf_name(name);
    if (!owner || owner->pid_ns != me->pid_ns) continue;  // not ours to judge
    if (liveness(owner->pid, owner->start_time) != Liveness::Gone) continue;
    const std::string path = parent + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    // The kernel refuses (EBUSY, ENOTEMPTY) while the cgroup holds processes
    // or child cgroups: only empty ones go.
    if (::rmdir(path.c_str()) == 0) ++removed;
  }
  return removed;
}

std::string CgroupLayout::version_of(const std::string& controller) const {
  if (!v2_mount.empty() && has(v2_controllers, controller)) return "v2";
  for (const auto& h : v1)
    if (has(h.controllers, controller)) return "v1";
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
        if (has(std::vector<std::string>(std::begin(kControllers), std::end(kControllers)), o) || o == "cpuacct" ||
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
  CgroupLayout l = parse_cgroup_layout(read_text("/proc/self/mountinfo").value_or(""),
                                       read_text("/proc/self/cgroup").value_or(""));
  if (!l.v2_mount.empty())
    if (auto c = read_text(l.v2_mount + "/cgroup.controllers")) l.v2_controllers = words(*c);
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
        if (has(h.controllers, c))
          parts.push_back(std::string(c) + ": cgroup v1, " + h.mount + "/" + kParentName + "/<launch>" +
                          (::geteuid() != 0 ? " (needs root: v1 is not delegated)" : ""));
    } else {
      parts.push_back(std::string(c) + ": no controller on this host");
    }
  }
  return join(parts, "; ");
}

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
        if (!has(h.controllers, c)) continue;
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
