// The supervisor's refusal of creating calls at protected names that did not
// exist at launch (mcpjail/protect.hpp). Two checks, either refuses:
//   - by path: the lexical path of the call (the watch's reading) is, or is
//     below, a name the plan refuses;
//   - by directory identity: the directory the call creates in, resolved as
//     the jail sees it (below /proc/PID/root, symlinks kept inside, no magic
//     links), is the directory that held the missing name at launch, and the
//     last component is that name. A symlink or "sub/.." on the way changes
//     nothing.
// The call then continues and the kernel reads the path again: see
// docs/ARCHITECTURE.md for what that leaves open.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>

#include "mcpjail/paths.hpp"
#include "mcpjail/protect.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::protect {

namespace {

std::string proc_link(pid_t pid, const std::string& what) {
  char buf[PATH_MAX];
  const std::string link = "/proc/" + std::to_string(pid) + "/" + what;
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf) || buf[0] != '/') return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

Guard::Guard(const Plan& plan) {
  for (const auto& p : plan.protect) {
    if (p.state != ProtectedPath::State::Absent && p.state != ProtectedPath::State::Link) continue;
    const auto slash = p.refuse.rfind('/');
    refuse_.push_back({p.refuse, p.parent_dev, p.parent_ino, p.refuse.substr(slash + 1)});
  }
}

std::string Guard::refuses(const CreateCall& call) const {
  if (refuse_.empty()) return {};
  for (const auto& r : refuse_)
    if (!call.lexical.empty() && path_is_under(call.lexical, r.path)) return r.path;

  // The directory the call creates in, and the name it creates.
  std::string path = call.raw;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty()) return {};
  const auto slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  bool named = false;
  for (const auto& r : refuse_) named = named || r.name == name;
  if (!named) return {};
  if (dir[0] != '/') {
    const std::string base = call.dirfd == AT_FDCWD ? proc_link(call.pid, "cwd")
                             : call.dirfd >= 0     ? proc_link(call.pid, "fd/" + std::to_string(call.dirfd))
                                                   : std::string();
    if (base.empty()) return {};
    dir = base + "/" + dir;
  }
  UniqueFd root(::open(("/proc/" + std::to_string(call.pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return {};
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), dir.c_str(), &how, sizeof how)));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) return {};
  for (const auto& r : refuse_)
    if (r.name == name && r.dev == st.st_dev && r.ino == st.st_ino) return r.path;
  return {};
}

std::vector<std::string> appeared(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& p : plan.protect) {
    if (p.state != ProtectedPath::State::Absent || p.refuse_host.empty()) continue;
    struct stat st {};
    if (::lstat(p.refuse_host.c_str(), &st) == 0 && std::find(out.begin(), out.end(), p.refuse_host) == out.end())
      out.push_back(p.refuse_host);
  }
  return out;
}

}  // namespace mcpjail::protect
