// The user namespaces of idmapped write paths (idmap.hpp).
#include "mcpjail/idmap.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>

#include "mcpjail/paths.hpp"
#include "mcpjail/errors.hpp"

namespace mcpjail::idmap {

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw LaunchError("mounts", errno_text("idmapped write path: " + what, err));
}

void write_file(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) fail("open " + path, errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail("write " + path, errno);
}

// The /proc directory of `child` (a child of this thread, pid `child` in this
// process's pid namespace). The /proc mounted here may belong to an ancestor
// pid namespace (the jail's init builds its root before it mounts its own):
// the child is found among this thread's children by the last field of its
// NSpid, its pid in the innermost namespace.
std::string proc_of(pid_t child) {
  std::istringstream kids(read_file("/proc/thread-self/children").value_or(""));
  for (long p; kids >> p;) {
    const std::string dir = "/proc/" + std::to_string(p);
    std::istringstream status(read_file(dir + "/status").value_or(""));
    for (std::string line; std::getline(status, line);) {
      if (!line.starts_with("NSpid:")) continue;
      std::istringstream ids(line.substr(6));
      long last = -1;
      for (long id; ids >> id;) last = id;
      if (last == child) return dir;
    }
  }
  return {};
}

}  // namespace

UniqueFd userns(uid_t owner_uid, gid_t owner_gid, uid_t jail_uid, gid_t jail_gid) {
  // A child unshares a user namespace and waits; the mappings are written
  // from here (root in the parent namespace may map any id), its namespace
  // is opened, and the child is let go.
  int ready[2], release[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) fail("pipe", errno);
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  if (::pipe2(release, O_CLOEXEC) != 0) fail("pipe", errno);
  UniqueFd release_r(release[0]), release_w(release[1]);
  const pid_t child = ::fork();
  if (child < 0) fail("fork", errno);
  if (child == 0) {
    // Only the parent holds the write end of `release`: its close is the
    // child's signal to go.
    release_w.reset();
    ready_r.reset();
    char c = 0;
    if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
    if (::write(ready_w.get(), "x", 1) != 1) ::_exit(1);
    (void)!::read(release_r.get(), &c, 1);  // returns when the parent closes its end
    ::_exit(0);
  }
  ready_w.reset();
  release_r.reset();
  auto reap = [&] {
    release_w.reset();
    int st = 0;
    while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
  };
  char c = 0;
  if (::read(ready_r.get(), &c, 1) != 1) {
    reap();
    fail("the helper process could not create a user namespace", EPERM);
  }
  const std::string proc = proc_of(child);
  UniqueFd ns;
  try {
    if (proc.empty()) fail("cannot find the helper process in /proc/thread-self/children", ESRCH);
    write_file(proc + "/uid_map", std::to_string(owner_uid) + " " + std::to_string(jail_uid) + " 1\n");
    write_file(proc + "/setgroups", "deny");
    write_file(proc + "/gid_map", std::to_string(owner_gid) + " " + std::to_string(jail_gid) + " 1\n");
    ns = UniqueFd(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) fail("open " + proc + "/ns/user", errno);
  } catch (...) {
    reap();
    throw;
  }
  reap();
  return ns;
}

}  // namespace mcpjail::idmap
