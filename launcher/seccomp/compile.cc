// Seccomp compiler: a plan and the policy tables (policy.cc) to a BPF
// program, built with libseccomp. The launcher runs it for a base a profile
// changes; the build runs it (prebuild.cc) for the bases as they are. Also
// the name <-> number resolution the other files of the layer share.
//
// Shape of the filter
//   - Architecture: only AUDIT_ARCH_X86_64 is in the filter. Any other
//     architecture (ia32 through int 0x80) hits SCMP_FLTATR_ACT_BADARCH =
//     KILL_PROCESS, and libseccomp adds a check that kills x32 numbers
//     (nr | 0x40000000) on the x86_64 arch as well. Neither reaches the
//     supervisor.
//   - The default action is the deny action: SCMP_ACT_NOTIFY for "errno" and
//     "log" (the supervisor answers EPERM, or lets the call continue, and
//     reports it), SCMP_ACT_KILL_PROCESS for "kill".
//   - Everything the base allows is an explicit ALLOW rule, possibly with
//     argument comparisons. libseccomp refuses a rule whose action equals the
//     default action, so a "deny when the argument is X" rule cannot be
//     written; every argument rule is therefore phrased as "allow when ..."
//     (see policy::complement_cover for ioctl). Allow-only rules are also
//     fail-closed: a value the tables did not foresee is denied.
//   - clone3 and io_uring_* answer ENOSYS in the filter, unreported.
//   - Binary-tree optimisation (SCMP_FLTATR_CTL_OPTIMIZE = 2): a lookup costs
//     about log2(rules) comparisons instead of a linear scan.
//   - execve/execveat, when the policy does not allow them (strict, or denied
//     by the profile), are sent to the supervisor, which lets exactly the
//     launcher's own execve of the server through (see notify.cc).
//   - The watch (SeccompPlan::watch, policy::watched()): calls that write
//     through a path, and exec, are sent to the supervisor even when the
//     policy allows them: open/openat only when a write flag is set (a
//     SCMP_CMP_MASKED_EQ rule allows them when none is, so reads never leave
//     the kernel), the others (creat, openat2, mkdir, unlink, rename, ...)
//     always. With the deny action KILL the watched calls get NOTIFY rules of
//     their own; a profile deny of a watched call wins (it is a denial, not
//     watched). What the supervisor does with them: notify.cc. A learning
//     plan (SeccompPlan::learn, `mcp-jail learn`) sends open/openat always,
//     reads too, so that the supervisor can record what was read, and the
//     calls that only look at a path (policy::looked(): stat, access,
//     readlink, ...) unless they name a descriptor (AT_EMPTY_PATH).
//   - Calls the supervisor performs (SeccompPlan::seal_memfd,
//     policy::performed()): memfd_create always goes to the supervisor,
//     which makes the memfd sealed against exec and hands it over.
#include "mcpjail/seccomp.hpp"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "mcpjail/errors.hpp"
#include "mcpjail/seccomp_internal.hpp"

namespace mcpjail::seccomp {

void fail(const std::string& what) { throw LaunchError("seccomp", what); }

int resolve(const char* name) {
  int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name);
  if (nr >= 0) return nr;
  for (const auto& n : policy::numbered())
    if (std::strcmp(n.name, name) == 0) return n.nr;
  return -1;
}

bool known_to_libseccomp(const char* name) {
  return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) >= 0;
}

std::set<int> resolve_all(const std::vector<std::string>& names) {
  std::set<int> out;
  for (const auto& n : names) {
    int nr = resolve(n.c_str());
    if (nr >= 0) out.insert(nr);  // names not on x86_64 (e.g. "stime") do nothing here
  }
  return out;
}

// By name, resolving only the watched calls: the supervisor builds this
// before every launch.
namespace policy {

const std::vector<Watched>& looked() {
  using K = Watched::Kind;
  static const std::vector<Watched> table = {
      {"stat", K::Look, -1, -1, {{-1, 0}}},          {"lstat", K::Look, -1, -1, {{-1, 0}}},
      {"newfstatat", K::Look, -1, -1, {{0, 1}}, 3},  {"statx", K::Look, -1, -1, {{0, 1}}, 2},
      {"access", K::Look, -1, -1, {{-1, 0}}},        {"faccessat", K::Look, -1, -1, {{0, 1}}},
      {"faccessat2", K::Look, -1, -1, {{0, 1}}, 3},  {"readlink", K::Look, -1, -1, {{-1, 0}}},
      {"readlinkat", K::Look, -1, -1, {{0, 1}}},
  };
  return table;
}

bool looks_only(std::string_view syscall) {
  const auto& t = looked();
  return std::any_of(t.begin(), t.end(), [&](const Watched& w) { return syscall == w.syscall; });
}

}  // namespace policy

namespace {

// The policy lets `syscall` through under `plan`: a group of its base or
// the profile's allow lists it, and the profile's deny does not.
bool policy_allows(const SeccompPlan& plan, const char* syscall) {
  auto listed = [](const std::vector<std::string>& names, const char* n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  if (listed(plan.deny, syscall)) return false;
  if (listed(plan.allow, syscall)) return true;
  const unsigned base = policy::base_bit(plan.base);
  for (const auto& g : policy::allowed_groups())
    if (g.bases & base)
      for (const char* name : g.syscalls)
        if (std::strcmp(name, syscall) == 0) return true;
  return false;
}

}  // namespace

std::map<int, const policy::Watched*> watched_calls(const SeccompPlan& plan) {
  std::map<int, const policy::Watched*> out;
  if (!plan.watch) return out;
  auto add = [&](const policy::Watched& w) {
    const int nr = resolve(w.syscall);
    if (nr >= 0 && policy_allows(plan, w.syscall)) out[nr] = &w;
  };
  for (const auto& w : policy::watched()) add(w);
  if (plan.learn)
    for (const auto& w : policy::looked()) add(w);
  return out;
}

std::set<int> performed_calls(const SeccompPlan& plan) {
  std::set<int> out;
  if (!plan.seal_memfd) return out;
  for (const auto& p : policy::performed()) {
    const int nr = resolve(p.syscall);
    if (nr >= 0 && policy_allows(plan, p.syscall)) out.insert(nr);
  }
  return out;
}

namespace {

struct Ctx {
  scmp_filter_ctx ctx;
  explicit Ctx(std::uint32_t def) : ctx(seccomp_init(def)) {
    if (!ctx) fail("libseccomp could not create a filter context");
  }
  ~Ctx() { seccomp_release(ctx); }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
};

void add_rule(Ctx& c, std::uint32_t action, int nr, const std::vector<scmp_arg_cmp>& cmps) {
  int rc = seccomp_rule_add_array(c.ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                  cmps.empty() ? nullptr : cmps.data());
  if (rc < 0) fail(errno_text("adding the rule for " + syscall_name(nr), -rc));
}

std::vector<sock_filter> export_bpf(Ctx& c) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_memfd_create, "mcpjail-seccomp", MFD_CLOEXEC)));
  if (!fd) fail(errno_text("memfd_create for the compiled filter", errno));
  int rc = seccomp_export_bpf(c.ctx, fd.get());
  if (rc < 0) fail(errno_text("generating the BPF program", -rc));
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) fail(errno_text("fstat of the compiled filter", errno));
  if (st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0 ||
      st.st_size / sizeof(sock_filter) > BPF_MAXINSNS)
    fail("libseccomp produced a program of " + std::to_string(st.st_size) + " bytes");
  std::vector<sock_filter> code(static_cast<std::size_t>(st.st_size) / sizeof(sock_filter));
  char* p = reinterpret_cast<char*>(code.data());
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = pread(fd.get(), p + off, static_cast<std::size_t>(st.st_size - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(errno_text("reading the compiled filter", n < 0 ? errno : EIO));
    off += n;
  }
  return code;
}

}  // namespace

std::string syscall_name(int nr) {
  if (char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr)) {
    std::string s(n);
    std::free(n);
    return s;
  }
  for (const auto& n : policy::numbered())
    if (n.nr == nr) return n.name;
  return "syscall_" + std::to_string(nr);
}

Program compile_with_libseccomp(const SeccompPlan& plan) {
  const unsigned base = policy::base_bit(plan.base);
  if (base == 0) fail("unknown seccomp base \"" + plan.base + "\" (default or strict)");

  const std::set<int> deny = resolve_all(plan.deny);
  std::set<int> allow = resolve_all(plan.allow);
  for (int nr : deny) allow.erase(nr);  // deny wins over allow

  const std::uint32_t deny_action =
      plan.action == SeccompAction::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_NOTIFY;
  Ctx c(deny_action);
  auto attr = [&](scmp_filter_attr a, std::uint32_t v, const char* what) {
    int rc = seccomp_attr_set(c.ctx, a, v);
    if (rc < 0) fail(errno_text(std::string("setting ") + what, -rc));
  };
  attr(SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "the bad-architecture action");
  attr(SCMP_FLTATR_CTL_OPTIMIZE, 2, "binary-tree optimisation");
  attr(SCMP_FLTATR_API_SYSRAWRC, 1, "raw return codes");

  std::set<int> done;  // calls that have their rules
  auto is_free = [&](int nr) { return nr >= 0 && !deny.count(nr) && !done.count(nr); };

  // An allowed call, or one the watch observes: open/openat allowed without
  // a write flag and sent to the supervisor with one; the others always sent.
  // With the deny action NOTIFY, "sent" is the default; with KILL it needs
  // rules of its own (one per write flag: libseccomp has no "any bit set").
  const auto watch = watched_calls(plan);
  bool watching = false;
  // The setuid/setgid guard (policy::setid_guards()): the allow rule of a
  // call that sets a mode holds only without those bits (or, for open and
  // openat, without a creating flag); the rest goes to the supervisor, which
  // answers EPERM. Watched calls with a mode reach the supervisor anyway.
  std::map<int, const policy::SetidGuard*> guards;
  for (const auto& g : policy::setid_guards())
    if (int nr = resolve(g.syscall); nr >= 0) guards[nr] = &g;
  auto allow_guarded = [&](int nr, const policy::SetidGuard& g) {
    const auto setid = SCMP_CMP(g.mode_arg, SCMP_CMP_MASKED_EQ, policy::kSetidBits, 0);
    add_rule(c, SCMP_ACT_ALLOW, nr, {setid});
    if (g.flags_arg >= 0)
      add_rule(c, SCMP_ACT_ALLOW, nr,
               {SCMP_CMP(static_cast<unsigned>(g.flags_arg), SCMP_CMP_MASKED_EQ, policy::kCreateFlags, 0)});
    if (deny_action == SCMP_ACT_NOTIFY) return;
    for (std::uint64_t bit : {std::uint64_t(S_ISUID), std::uint64_t(S_ISGID)}) {
      const auto mode = SCMP_CMP(g.mode_arg, SCMP_CMP_MASKED_EQ, bit, bit);
      if (g.flags_arg < 0) {
        add_rule(c, SCMP_ACT_NOTIFY, nr, {mode});
        continue;
      }
      for (std::uint64_t cf = 1; cf <= policy::kCreateFlags; cf <<= 1)
        if (cf & policy::kCreateFlags)
          add_rule(c, SCMP_ACT_NOTIFY, nr,
                   {SCMP_CMP(static_cast<unsigned>(g.flags_arg), SCMP_CMP_MASKED_EQ, cf, cf), mode});
    }
  };
  auto allow_call = [&](int nr) {
    auto w = watch.find(nr);
    if (w == watch.end()) {
      if (auto g = guards.find(nr); g != guards.end()) allow_guarded(nr, *g->second);
      else add_rule(c, SCMP_ACT_ALLOW, nr, {});
    } else if (w->second->flags_arg >= 0 && !plan.learn) {
      const unsigned a = static_cast<unsigned>(w->second->flags_arg);
      add_rule(c, SCMP_ACT_ALLOW, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, policy::kOpenWriteFlags, 0)});
      if (deny_action != SCMP_ACT_NOTIFY)
        for (std::uint64_t bit = 1; bit <= policy::kOpenWriteFlags; bit <<= 1)
          if (bit & policy::kOpenWriteFlags) add_rule(c, SCMP_ACT_NOTIFY, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, bit, bit)});
      watching = true;
    } else if (w->second->kind == policy::Watched::Kind::Look && w->second->at_flags_arg >= 0) {
      // A look by descriptor (AT_EMPTY_PATH: fstat) stays in the kernel.
      const unsigned a = static_cast<unsigned>(w->second->at_flags_arg);
      add_rule(c, SCMP_ACT_ALLOW, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)});
      if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)});
      watching = true;
    } else {
      if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {});
      watching = true;
    }
    done.insert(nr);
  };

  // Calls the supervisor performs (policy::performed(), seal_memfd): sent to
  // it, never allowed in the kernel.
  const auto performed = performed_calls(plan);
  for (int nr : performed) {
    if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {});
    done.insert(nr);
  }

  // The profile's additions are unconditional, even for calls the base
  // allows only for some arguments (the watch still observes them).
  for (int nr : allow)
    if (!done.count(nr)) allow_call(nr);

  for (const auto& g : policy::allowed_groups()) {
    if (!(g.bases & base)) continue;
    for (const char* name : g.syscalls) {
      int nr = resolve(name);
      if (!is_free(nr)) continue;
      allow_call(nr);
    }
  }

  for (const auto& r : policy::arg_rules()) {
    if (!(r.bases & base)) continue;
    int nr = resolve(r.syscall);
    if (!is_free(nr)) continue;
    for (const auto& cs : r.allow_if) {
      std::vector<scmp_arg_cmp> cmps;
      for (const auto& cmp : cs.all)
        cmps.push_back(SCMP_CMP(cmp.arg, SCMP_CMP_MASKED_EQ, cmp.mask, cmp.value));
      add_rule(c, SCMP_ACT_ALLOW, nr, cmps);
    }
    if (!r.except.empty()) {
      for (auto [mask, value] : policy::complement_cover(r.except))
        add_rule(c, SCMP_ACT_ALLOW, nr, {SCMP_CMP(r.except_arg, SCMP_CMP_MASKED_EQ, mask, value)});
    }
    done.insert(nr);
  }

  for (const auto& g : policy::errno_groups()) {
    for (const char* name : g.syscalls) {
      int nr = resolve(name);
      if (!is_free(nr)) continue;
      add_rule(c, SCMP_ACT_ERRNO(static_cast<std::uint32_t>(g.error)), nr, {});
      done.insert(nr);
    }
  }

  for (const auto& n : policy::numbered()) {
    if (!(n.bases & base) || known_to_libseccomp(n.name) || !is_free(n.nr)) continue;
    if (n.treatment == policy::Treatment::Allow) add_rule(c, SCMP_ACT_ALLOW, n.nr, {});
    else if (n.treatment == policy::Treatment::Enosys) add_rule(c, SCMP_ACT_ERRNO(ENOSYS), n.nr, {});
    else continue;
    done.insert(n.nr);
  }

  // execve/execveat not allowed (strict, or denied by the profile): they go
  // to the supervisor, which lets the launcher's own execve through (see
  // notify.cc). With NOTIFY as the deny action that is the default.
  bool exec_notify = false;
  for (const char* name : policy::kExecCalls) {
    int nr = resolve(name);
    if (nr < 0 || done.count(nr)) continue;
    exec_notify = true;
    if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {});
  }

  Program p;
  p.code = export_bpf(c);
  p.listener = deny_action == SCMP_ACT_NOTIFY || exec_notify || watching || !performed.empty();
  return p;
}

}  // namespace mcpjail::seccomp
