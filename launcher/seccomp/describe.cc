// The effective seccomp policy of a plan, for `mcp-jail check`: the tables
// (policy.cc) as compile.cc applies them, with the profile's allow and deny.
#include "mcpjail/seccomp.hpp"

#include <cstring>
#include <sstream>

#include "mcpjail/seccomp_internal.hpp"

namespace mcpjail::seccomp {
namespace {

const char* action_name(SeccompAction a) {
  switch (a) {
    case SeccompAction::Errno: return "errno";
    case SeccompAction::Kill: return "kill";
    case SeccompAction::Log: return "log";
  }
  return "?";
}

}  // namespace

std::string describe(const SeccompPlan& plan) {
  std::ostringstream o;
  const unsigned base = policy::base_bit(plan.base);
  if (base == 0) {
    o << "seccomp: unknown base \"" << plan.base << "\"\n";
    return o.str();
  }
  const std::set<int> deny = resolve_all(plan.deny);
  std::set<int> allow = resolve_all(plan.allow);
  for (int nr : deny) allow.erase(nr);
  auto shown = [&](int nr) { return nr >= 0 && !deny.count(nr) && !allow.count(nr); };

  std::size_t plain = 0, checked = 0;
  for (const auto& g : policy::allowed_groups())
    if (g.bases & base)
      for (const char* n : g.syscalls) plain += shown(resolve(n)) ? 1 : 0;
  for (const auto& r : policy::arg_rules())
    if ((r.bases & base) && shown(resolve(r.syscall))) ++checked;

  o << "base: " << plan.base
    << (base == policy::kStrict ? " (no process creation: threads only, no exec after the launcher's)"
                                : " (in the spirit of Docker's default; Node, Python and Go servers)")
    << ", " << plain << " calls allowed, " << checked << " with argument checks\n";
  o << "  action: " << action_name(plan.action) << " - ";
  switch (plan.action) {
    case SeccompAction::Errno:
      o << "other calls fail with EPERM and are reported as audit \"deny\" events\n";
      break;
    case SeccompAction::Kill: o << "other calls kill the server (SIGSYS), not reported\n"; break;
    case SeccompAction::Log:
      o << "other calls are ALLOWED and reported as audit \"deny\" events (not a jail)\n";
      break;
  }
  o << "  architecture: x86_64 only; ia32 (int 0x80) and x32 calls kill the server\n";
  if (plan.watch)
    o << "  watch: open/openat with a write flag, creat, openat2, mkdir, mknod, unlink, rmdir, rename, link,\n"
         "    symlink, truncate, chmod, chown (and their *at forms) and exec go to the supervisor, which logs\n"
         "    writes outside the write paths (fs_denied) and execs (exec) and lets every call continue:\n"
         "    observation only, the mounts and Landlock decide. Reads are not observed.\n";
  for (int nr : performed_calls(plan))
    for (const auto& p : policy::performed())
      if (resolve(p.syscall) == nr)
        o << "  performed by the supervisor: " << p.syscall
          << " (the memfd is made with MFD_NOEXEC_SEAL when the kernel has it; MFD_EXEC is refused)\n";

  o << "  allowed:\n";
  for (const auto& g : policy::allowed_groups()) {
    if (!(g.bases & base)) continue;
    std::string names;
    for (const char* n : g.syscalls)
      if (shown(resolve(n))) names += std::string(" ") + n;
    if (!names.empty()) o << "    " << g.name << ":" << names << "\n";
  }
  o << "  allowed with argument checks:\n";
  for (const auto& r : policy::arg_rules())
    if ((r.bases & base) && shown(resolve(r.syscall))) o << "    " << r.summary << "\n";

  o << "  never a setuid or setgid mode (EPERM, reported, whatever the action):";
  for (const auto& g : policy::setid_guards())
    if (const int nr = resolve(g.syscall); nr >= 0 && !deny.count(nr)) o << " " << g.syscall;
  o << "\n";

  o << "  answered ENOSYS (not reported, so runtimes fall back):";
  for (const auto& g : policy::errno_groups())
    for (const char* n : g.syscalls)
      if (shown(resolve(n))) o << " " << n;
  for (const auto& n : policy::numbered())
    if ((n.bases & base) && n.treatment == policy::Treatment::Enosys && !known_to_libseccomp(n.name) &&
        shown(n.nr))
      o << " " << n.name;
  o << "\n";

  o << "  denied:\n";
  for (const auto& dc : policy::deny_classes()) {
    std::string names;
    for (const char* n : dc.syscalls)
      if (!allow.count(resolve(n))) names += std::string(" ") + n;
    o << "    " << dc.name << ":" << names;
    bool has_rule = false;
    if (dc.rule)
      for (const auto& r : policy::arg_rules())
        has_rule |= (r.bases & base) && std::strcmp(r.syscall, dc.rule) == 0;
    if (dc.rule && (!has_rule || deny.count(resolve(dc.rule))) && !allow.count(resolve(dc.rule)))
      o << (names.empty() ? " " : "; ") << "every " << dc.rule << " call";
    else if (*dc.also)
      o << (names.empty() ? " " : "; ") << dc.also;
    o << "\n";
  }
  bool exec_denied = false;
  for (const char* n : policy::kExecCalls) {
    int nr = resolve(n);
    bool allowed_by_base = false;
    for (const auto& g : policy::allowed_groups())
      if (g.bases & base)
        for (const char* s : g.syscalls) allowed_by_base |= std::strcmp(s, n) == 0;
    if (deny.count(nr) || (!allowed_by_base && !allow.count(nr))) exec_denied = true;
  }
  if (base == policy::kStrict)
    o << "    process creation: fork vfork; clone without CLONE_THREAD; setsid setpgid "
         "pidfd_open pidfd_send_signal\n";
  if (exec_denied)
    o << "    exec: execve execveat, except the launcher's own execve of the server "
         "(the supervisor allows exactly that one)\n";

  auto list = [&](const char* label, const std::vector<std::string>& names, bool is_allow) {
    o << "  profile " << label << ":";
    if (names.empty()) o << " none";
    for (const auto& n : names) {
      int nr = resolve(n.c_str());
      o << " " << n;
      if (nr < 0) {
        o << " (not an x86_64 call: no effect)";
        continue;
      }
      if (is_allow && deny.count(nr)) {
        o << " (also denied: deny wins)";
        continue;
      }
      if (is_allow) {
        for (const auto& dc : policy::deny_classes())
          for (const char* s : dc.syscalls)
            if (std::strcmp(s, n.c_str()) == 0) o << " (overrides denied class \"" << dc.name << "\")";
        for (const auto& r : policy::arg_rules())
          if ((r.bases & base) && std::strcmp(r.syscall, n.c_str()) == 0)
            o << " (without argument checks)";
        if (n == "clone3") o << " (lets clone3 create namespaces: it cannot be argument-checked)";
      }
    }
    o << "\n";
  };
  list("allow", plan.allow, true);
  list("deny", plan.deny, false);
  return o.str();
}

}  // namespace mcpjail::seccomp
