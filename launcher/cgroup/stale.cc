// The names of per-launch cgroup directories, and the removal of those that
// launchers which are gone left behind.
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
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "mcpjail/cgroup_internal.hpp"
#include "mcpjail/limits.hpp"

namespace mcpjail::limits {

using namespace detail;

namespace {

// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
// With the pid it names one process for good (pids are reused, this pair is not).
std::optional<std::uint64_t> start_time_of(const std::string& pid) {
  auto st = read_file("/proc/" + pid + "/stat");
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
  if (!read_file("/proc/" + std::to_string(pid) + "/stat", std::size_t{1} << 20, 0, &err)) return err == ENOENT || err == ESRCH ? Liveness::Gone : Liveness::Unknown;
  const auto now = start_time_of(std::to_string(pid));
  if (!now) return Liveness::Unknown;
  return *now == start ? Liveness::Alive : Liveness::Gone;  // another start time: the pid was reused
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool detail::valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; });
}

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

}  // namespace mcpjail::limits
