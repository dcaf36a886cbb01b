// `mcp-jail check`: the plan in a form a person can review.
#include <sstream>

#include "mcpjail/landlock.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail {

namespace {
std::string quote_args(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`") == std::string::npos;
    out += plain ? a : "'" + a + "'";
  }
  return out;
}
}  // namespace

std::string render_plan(const Plan& p) {
  std::ostringstream o;
  o << "profile      " << p.profile_name << "\n";
  for (const auto& s : p.profile_sources) o << "  from       " << s << "\n";
  o << "identity     ";
  if (p.id.root_mode)
    o << "root launch: no user namespace; the server runs as uid " << p.id.uid << " gid " << p.id.gid << " ("
      << p.id.user_name << ") on the host, supplementary groups dropped\n";
  else
    o << "rootless: user namespace mapping uid " << p.id.uid << " and gid " << p.id.gid
      << " to themselves (nothing else mapped)\n";
  o << "namespaces   " << (p.id.root_mode ? "" : "user ") << "mount pid ipc uts cgroup"
    << (p.network.mode == NetMode::Host ? "" : " net") << "\n";
  if (!p.exe.empty()) {
    o << "command      " << quote_args(p.argv) << "\n";
    o << "  executes   " << p.exe << "\n";
  } else {
    o << "command      (none given: add -- COMMAND to see the command's own files)\n";
  }
  o << "\nfilesystem   (applied in this order on a fresh tmpfs root; nosuid,nodev everywhere)\n";
  int i = 0;
  for (const auto& m : p.mounts) {
    char num[16];
    std::snprintf(num, sizeof num, "%3d ", ++i);
    o << num;
    switch (m.kind) {
      case MountKind::Bind:
        o << (m.writable ? "rw    " : "ro    ") << m.target;
        if (m.source != m.target) o << "  <- " << m.source;
        if (!m.is_dir) o << "  (file)";
        break;
      case MountKind::Tmpfs: o << "tmpfs " << m.target << "  size " << format_size(m.size); break;
      case MountKind::Mask: o << "hide  " << m.target << (m.is_dir ? "  (empty dir, mode 000)" : "  (mode 000 file)"); break;
      case MountKind::Symlink: o << "link  " << m.target << " -> " << m.source; break;
      case MountKind::File: o << "file  " << m.target; break;
      case MountKind::Proc: {
        o << "proc  /proc  read-only:";
        for (int k = 0; mnt::kProcReadOnly[k]; ++k) o << " " << mnt::kProcReadOnly[k];
        o << "; masked:";
        for (int k = 0; mnt::kProcMasked[k]; ++k) o << " " << mnt::kProcMasked[k];
        break;
      }
      case MountKind::Dev: o << "dev   /dev  null zero full random urandom tty shm pts ptmx (+ fd, stdin, stdout, stderr links); read-only"; break;
    }
    o << "\n        why: " << m.why << "\n";
  }
  o << "    then pivot_root into it, detach the old root, remount / read-only\n";
  for (const auto& h : p.hide_skipped) o << "  hide skipped: " << h << "\n";

  o << "\nnetwork      ";
  switch (p.network.mode) {
    case NetMode::None: o << "none: own network namespace, loopback only\n"; break;
    case NetMode::Host: o << "host: the host's network (allow_host_network = true)\n"; break;
    case NetMode::Allowlist:
      o << "allowlist:";
      for (const auto& a : p.network.allow) o << " " << a;
      o << "\n";
      break;
  }
  o << "hostname     " << p.hostname << "\n";
  o << "cwd          " << p.cwd << "\n";
  o << "environment  (nothing else is passed)\n";
  for (const auto& e : p.env) o << "  " << e << "\n";
  o << "privileges   no_new_privs; capabilities: none (effective, permitted, inheritable, ambient, bounding); "
       "securebits locked; new session; fds above 2 closed\n";
  o << "limits       core dumps off";
  if (p.limits.nofile) o << "; nofile " << p.limits.nofile;
  if (p.limits.file_size) o << "; file_size " << format_size(p.limits.file_size);
  if (p.limits.memory) o << "; memory " << format_size(*p.limits.memory);
  if (p.limits.pids) o << "; pids " << *p.limits.pids;
  if (p.limits.cpu) o << "; cpu " << *p.limits.cpu;
  o << "; tmpfs_size " << format_size(p.limits.tmpfs_size);
  if (p.limits.wall_time.count()) o << "; wall_time " << format_duration(p.limits.wall_time) << " (exit 124)";
  o << "\n";
  o << "landlock     " << landlock::describe(p.landlock) << "\n";
  o << "seccomp      " << seccomp::describe(p.seccomp) << "\n";
  o << "audit        " << p.audit_log << "\n";
  if (!p.best_effort.empty()) {
    o << "best_effort ";
    for (const auto& b : p.best_effort) o << " " << b;
    o << "  (these layers may be skipped, with an audit event)\n";
  }
  if (!p.notes.empty()) {
    o << "\nnotes\n";
    for (const auto& n : p.notes) o << "  - " << n << "\n";
  }
  return o.str();
}

}  // namespace mcpjail
