// Seccomp layer: compiles the policy tables (seccomp_policy.cc) for a plan
// into a BPF program with libseccomp, loads it as the last step before
// execve, and answers the jail's denied calls in the supervisor.
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
//
// Exec in strict mode (and whenever the profile denies execve)
//   The filter has to be installed before the launcher's own execve of the
//   server, and seccomp has no state, so "allow the first execve only" cannot
//   be said in BPF. Options considered:
//   - Allow execve only when the pathname pointer equals the address of the
//     launcher's path string. Unsound: after exec the server can map memory
//     at any address it likes (mmap MAP_FIXED) and write any path there; the
//     only protection would be the secrecy of one ASLR'd pointer, which a
//     server in errno mode can brute-force at leisure.
//   - Route execve/execveat to the supervisor (SECCOMP_RET_USER_NOTIF) and
//     let it allow exactly the launcher's call. Chosen. The supervisor does
//     not look at the (racy) pathname; it checks *who* is calling:
//     /proc/<pid>/exe of the caller must be the same file (st_dev, st_ino) as
//     the supervisor's own /proc/self/exe, i.e. the caller is still the
//     mcp-jail image that has not exec'd yet. A task's exe changes only by
//     execve (denied) or prctl(PR_SET_MM_EXE_FILE) (needs CAP_SYS_RESOURCE,
//     which the jail lacks), so once the server runs, no task of the jail can
//     pass the check. The answer is SECCOMP_USER_NOTIF_FLAG_CONTINUE, whose
//     documented time-of-check/time-of-use caveat concerns decisions based on
//     argument memory; this decision is based on the caller's identity, and
//     the caller is the single-threaded launcher blocked in the call. The
//     notification id is re-validated after reading /proc, so a recycled pid
//     cannot be mistaken for the caller.
//   Consequences: the execve waits for the supervisor, so the listener is
//   returned for every action (kill too; there only execve/execveat notify),
//   and the jailed command must not itself be the mcp-jail binary.
//
// The watch (SeccompPlan::watch, policy::watched())
//   Failed writes outside the write paths (EROFS, EACCES from Landlock) and
//   refused executions are otherwise invisible to the supervisor. Calls that
//   write through a path, and exec, are therefore sent to it even when the
//   policy allows them: open/openat only when a write flag is set (a
//   SCMP_CMP_MASKED_EQ rule allows them when none is, so reads never leave the
//   kernel), the others (creat, openat2, mkdir, unlink, rename, ...) always.
//   The supervisor reads the path from the caller's memory
//   (process_vm_readv), makes it absolute against /proc/PID/cwd or
//   /proc/PID/fd/N, checks that the notification is still pending
//   (SECCOMP_IOCTL_NOTIF_ID_VALID) so that the data belongs to the caller, and
//   answers SECCOMP_USER_NOTIF_FLAG_CONTINUE. It never decides: the call
//   proceeds exactly as without the watch and the kernel (read-only mounts,
//   Landlock) allows or refuses it, so the continue flag's TOCTOU caveat does
//   not apply - a path changed after it was read changes only what is logged.
//   With the deny action KILL the watched calls get NOTIFY rules of their own;
//   a profile deny of a watched call wins (it is a denial, not watched).
#include "mcpjail/seccomp.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "mcpjail/channel.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace mcpjail::seccomp {
namespace {

[[noreturn]] void fail(const std::string& what) { throw LaunchError("seccomp", what); }

// Number of a system call on x86_64: libseccomp's table first, then the
// policy's table of newer calls. Negative when it is not an x86_64 call.
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

// The calls the watch observes under `plan`: those of policy::watched() that
// the policy allows (base group or profile allow, and not denied).
// (By name, resolving only the watched calls: the supervisor builds this
// before every launch.)
std::map<int, const policy::Watched*> watched_calls(const SeccompPlan& plan) {
  std::map<int, const policy::Watched*> out;
  if (!plan.watch) return out;
  const unsigned base = policy::base_bit(plan.base);
  auto listed = [](const std::vector<std::string>& names, const char* n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  for (const auto& w : policy::watched()) {
    if (listed(plan.deny, w.syscall)) continue;
    bool allowed = listed(plan.allow, w.syscall);
    for (const auto& g : policy::allowed_groups())
      if (!allowed && (g.bases & base))
        for (const char* name : g.syscalls) allowed |= std::strcmp(name, w.syscall) == 0;
    const int nr = resolve(w.syscall);
    if (allowed && nr >= 0) out[nr] = &w;
  }
  return out;
}

const char* action_name(SeccompAction a) {
  switch (a) {
    case SeccompAction::Errno: return "errno";
    case SeccompAction::Kill: return "kill";
    case SeccompAction::Log: return "log";
  }
  return "?";
}

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

// /proc/<pid>/exe is the same file as our own executable.
bool runs_our_image(pid_t pid) {
  static const struct stat self = [] {
    struct stat st {};
    if (stat("/proc/self/exe", &st) < 0) st.st_ino = 0;
    return st;
  }();
  if (pid <= 0 || self.st_ino == 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/exe", static_cast<int>(pid));
  struct stat st {};
  if (stat(path, &st) < 0) return false;
  return st.st_dev == self.st_dev && st.st_ino == self.st_ino;
}

// SIGKILL the process of thread `tid` while notification `id` is pending
// (so `tid` still names the caller).
void kill_caller(int listener, pid_t tid, std::uint64_t id) {
  if (tid <= 0) return;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, tid, PIDFD_THREAD));
  if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0));
  if (pidfd < 0) return;
  if (seccomp_notify_id_valid(listener, id) == 0)
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  ::close(pidfd);
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

Program compile(const SeccompPlan& plan) {
  if (const auto* pre = prebuilt(plan))
    return Program{std::vector<sock_filter>(pre->code, pre->code + pre->count), pre->listener};
  return compile_with_libseccomp(plan);
}

const PrebuiltProgram* prebuilt(const SeccompPlan& plan) {
  // Only the bases as they are: profile allow/deny lists change the program,
  // and the programs were built with the watch on (seccomp_prebuild.cc).
  if (!plan.allow.empty() || !plan.deny.empty() || !plan.watch) return nullptr;
  // Built by the libseccomp this process runs with, or not used at all.
  const scmp_version* v = seccomp_version();
  if (!v || v->major != kPrebuiltLibseccomp[0] || v->minor != kPrebuiltLibseccomp[1] ||
      v->micro != kPrebuiltLibseccomp[2])
    return nullptr;
  for (std::size_t i = 0; i < kPrebuiltCount; ++i) {
    const PrebuiltProgram& p = kPrebuilt[i];
    if (plan.base == p.base && plan.action == p.action) return &p;
  }
  return nullptr;
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
  auto allow_call = [&](int nr) {
    auto w = watch.find(nr);
    if (w == watch.end()) {
      add_rule(c, SCMP_ACT_ALLOW, nr, {});
    } else if (w->second->flags_arg >= 0) {
      const unsigned a = static_cast<unsigned>(w->second->flags_arg);
      add_rule(c, SCMP_ACT_ALLOW, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, policy::kOpenWriteFlags, 0)});
      if (deny_action != SCMP_ACT_NOTIFY)
        for (std::uint64_t bit = 1; bit <= policy::kOpenWriteFlags; bit <<= 1)
          if (bit & policy::kOpenWriteFlags) add_rule(c, SCMP_ACT_NOTIFY, nr, {SCMP_CMP(a, SCMP_CMP_MASKED_EQ, bit, bit)});
      watching = true;
    } else {
      if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {});
      watching = true;
    }
    done.insert(nr);
  };

  // The profile's additions are unconditional, even for calls the base
  // allows only for some arguments (the watch still observes them).
  for (int nr : allow) allow_call(nr);

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
  // to the supervisor, which lets the launcher's own execve through (see the
  // top of this file). With NOTIFY as the deny action that is the default.
  bool exec_notify = false;
  for (const char* name : policy::kExecCalls) {
    int nr = resolve(name);
    if (nr < 0 || done.count(nr)) continue;
    exec_notify = true;
    if (deny_action != SCMP_ACT_NOTIFY) add_rule(c, SCMP_ACT_NOTIFY, nr, {});
  }

  Program p;
  p.code = export_bpf(c);
  p.listener = deny_action == SCMP_ACT_NOTIFY || exec_notify || watching;
  return p;
}

UniqueFd install(const Program& program) {
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (nnp != 1) fail("no_new_privs is not set; it must be set before the seccomp filter is loaded");
  if (program.code.empty()) fail("empty filter program");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.code.size());
  prog.filter = const_cast<sock_filter*>(program.code.data());

  unsigned long flags = 0;
  if (program.listener)
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
    // Kernels before 5.19. Without the flag a signal can interrupt a pending
    // notification (the call is then restarted); nothing is lost.
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  }
  if (rc < 0) {
    int err = errno;
    if (err == EBUSY)
      fail("the process already has a seccomp filter with a notification listener "
           "(mcp-jail inside a jail that reports through a supervisor?)");
    fail(errno_text("loading the seccomp filter", err));
  }
  return program.listener ? UniqueFd(static_cast<int>(rc)) : UniqueFd();
}

UniqueFd install(const SeccompPlan& plan) { return install(compile(plan)); }

namespace {

// A NUL-terminated string of at most PATH_MAX bytes at `addr` in the memory
// of `pid`, read page by page (the string may end just before an unmapped
// page). False when it cannot be read or does not end in range.
bool read_string(pid_t pid, std::uint64_t addr, std::string* out) {
  char buf[PATH_MAX];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const std::uint64_t at = addr + got;
    const std::size_t chunk = std::min<std::size_t>(4096 - at % 4096, sizeof buf - got);
    iovec local{buf + got, chunk};
    iovec remote{reinterpret_cast<void*>(at), chunk};
    const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    if (const void* z = std::memchr(buf + got, 0, static_cast<std::size_t>(n))) {
      out->assign(buf, static_cast<std::size_t>(static_cast<const char*>(z) - buf));
      return true;
    }
    got += static_cast<std::size_t>(n);
  }
  return false;
}

// The target of a /proc/PID/{cwd,fd/N} link: a path inside the jail (the
// kernel prints it from the jail's root). Empty unless absolute.
std::string proc_link(pid_t pid, const char* what) {
  char link[64], buf[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/%d/%s", static_cast<int>(pid), what);
  const ssize_t n = ::readlink(link, buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf) || buf[0] != '/') return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

// The absolute path a (dirfd, path) pair names for task `pid`; empty when
// it cannot be told.
std::string resolve_path(pid_t pid, const seccomp_data& d, const policy::PathArg& a, bool empty_path) {
  std::string path;
  if (!read_string(pid, d.args[a.path], &path)) return {};
  if (!path.empty() && path[0] == '/') return lexical_path("/", path);
  if (path.empty() && !empty_path) return {};  // ENOENT from the kernel
  const int dirfd = a.dirfd < 0 ? AT_FDCWD : static_cast<int>(static_cast<std::uint32_t>(d.args[a.dirfd]));
  std::string base;
  if (dirfd == AT_FDCWD) {
    base = proc_link(pid, "cwd");
  } else if (dirfd >= 0) {
    const std::string fd = "fd/" + std::to_string(dirfd);
    base = proc_link(pid, fd.c_str());
  }
  if (base.empty()) return {};
  return lexical_path(base, path);
}

// The message send_program() sends: this header, then the instructions.
struct WireHeader {
  std::uint32_t magic;
  std::uint32_t count;     // instructions that follow
  std::uint32_t listener;  // 1: load with a notification listener
  std::uint32_t reserved;
};
constexpr std::uint32_t kWireMagic = 0x4d4a5346;  // "MJSF"
}  // namespace

bool send_program(int sock, const Program& program) {
  if (program.code.empty() || program.code.size() > BPF_MAXINSNS) fail("no program to send");
  WireHeader h{kWireMagic, static_cast<std::uint32_t>(program.code.size()), program.listener ? 1u : 0u, 0};
  const iovec iov[2] = {{&h, sizeof h},
                        {const_cast<sock_filter*>(program.code.data()), program.code.size() * sizeof(sock_filter)}};
  const ssize_t n = channel::send_message(sock, iov, 2);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;  // the jail has ended
  if (n < 0) fail(errno_text("sending the compiled filter to the jail", errno));
  if (static_cast<std::size_t>(n) != sizeof h + iov[1].iov_len) fail("the compiled filter was sent in part");
  return true;
}

Program receive_program(int sock) {
  std::vector<unsigned char> buf(sizeof(WireHeader) + BPF_MAXINSNS * sizeof(sock_filter));
  bool truncated = false;
  const ssize_t n = channel::receive_message(sock, buf.data(), buf.size(), &truncated);
  if (n < 0) fail(errno_text("receiving the compiled filter from the supervisor", errno));
  if (n == 0) fail("the supervisor closed the channel before the compiled filter arrived");
  WireHeader h{};
  if (static_cast<std::size_t>(n) < sizeof h || truncated)
    fail("a malformed message arrived instead of the compiled filter");
  std::memcpy(&h, buf.data(), sizeof h);
  if (h.magic != kWireMagic || h.count == 0 || h.count > BPF_MAXINSNS || h.listener > 1 ||
      static_cast<std::size_t>(n) != sizeof h + h.count * sizeof(sock_filter))
    fail("a malformed message arrived instead of the compiled filter");
  Program p;
  p.code.resize(h.count);
  std::memcpy(p.code.data(), buf.data() + sizeof h, h.count * sizeof(sock_filter));
  p.listener = h.listener == 1;
  return p;
}


Handler::Handler(const SeccompPlan& plan) : plan_(plan) {
  for (const auto& [nr, w] : watched_calls(plan)) {
    if (nr >= static_cast<int>(watched_.size())) watched_.resize(static_cast<std::size_t>(nr) + 1, nullptr);
    watched_[static_cast<std::size_t>(nr)] = w;
  }
  for (const char* name : policy::kExecCalls) exec_nrs_.push_back(resolve(name));
}

std::optional<Notice> Handler::handle(int listener) {
  seccomp_notif* req = nullptr;
  seccomp_notif_resp* resp = nullptr;
  if (seccomp_notify_alloc(&req, &resp) != 0) return std::nullopt;
  struct Free {
    seccomp_notif* q;
    seccomp_notif_resp* r;
    ~Free() { seccomp_notify_free(q, r); }
  } free_later{req, resp};

  if (seccomp_notify_receive(listener, req) != 0) return std::nullopt;

  Notice n;
  n.pid = static_cast<pid_t>(req->pid);
  const int nr = req->data.nr;
  std::memset(resp, 0, sizeof *resp);
  resp->id = req->id;
  auto valid = [&] { return seccomp_notify_id_valid(listener, req->id) == 0; };

  if (req->data.arch != AUDIT_ARCH_X86_64) {
    // The filter kills other architectures itself; answer defensively.
    n.syscall = "arch_" + std::to_string(req->data.arch) + "_" + std::to_string(nr);
    resp->error = -EPERM;
    (void)seccomp_notify_respond(listener, resp);
    return n;
  }

  n.exec = std::find(exec_nrs_.begin(), exec_nrs_.end(), nr) != exec_nrs_.end();
  if (n.exec && runs_our_image(n.pid) && valid()) {
    n.kind = Notice::Kind::LauncherExec;
    n.syscall = syscall_name(nr);
    n.allowed = true;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    (void)seccomp_notify_respond(listener, resp);
    return n;
  }

  // Reads what the call names: its paths (and, for exec, the caller's root).
  auto observe = [&](const policy::Watched& w) {
    if (w.how_arg >= 0) {
      std::uint64_t flags = 0;
      iovec local{&flags, sizeof flags};
      iovec remote{reinterpret_cast<void*>(req->data.args[w.how_arg]), sizeof flags};
      if (::process_vm_readv(n.pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof flags) &&
          !(flags & policy::kOpenWriteFlags))
        return;  // openat2 for reading: nothing to judge
    }
    const bool empty_path =
        w.at_flags_arg >= 0 && (static_cast<std::uint32_t>(req->data.args[w.at_flags_arg]) & AT_EMPTY_PATH);
    for (const auto& a : w.paths) n.paths.push_back(resolve_path(n.pid, req->data, a, empty_path));
    if (w.kind == policy::Watched::Kind::Exec) {
      char root[64];
      std::snprintf(root, sizeof root, "/proc/%d/root", static_cast<int>(n.pid));
      n.root.reset(::open(root, O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
  };

  const policy::Watched* w =
      nr >= 0 && static_cast<std::size_t>(nr) < watched_.size() ? watched_[static_cast<std::size_t>(nr)] : nullptr;
  if (w) {
    // Observed, never decided here: the call continues and the kernel (the
    // mounts, Landlock) decides as it would without the watch.
    n.kind = Notice::Kind::Watch;
    n.syscall = w->syscall;
    n.allowed = true;
    observe(*w);
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    // What was read belongs to the caller only if the notification is still
    // pending now (the pid was not recycled meanwhile).
    const bool ok = valid();
    (void)seccomp_notify_respond(listener, resp);
    if (!ok) return std::nullopt;
    return n;
  }

  n.syscall = syscall_name(nr);
  const bool known = n.syscall.rfind("syscall_", 0) != 0;
  if (n.exec) {
    for (const auto& x : policy::watched())
      if (x.kind == policy::Watched::Kind::Exec && n.syscall == x.syscall) observe(x);
    if (!valid()) {
      n.paths.clear();
      n.root.reset();
    }
  }
  if (plan_.action == SeccompAction::Log) {
    n.allowed = true;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else if (!known) {
    resp->error = -ENOSYS;
  } else {
    resp->error = -EPERM;
    // With action "kill" only execve/execveat are notified as denials: kill
    // as the filter would have.
    if (plan_.action == SeccompAction::Kill) kill_caller(listener, n.pid, req->id);
  }
  // ENOENT: the caller was interrupted or died meanwhile; the attempt is
  // still worth reporting.
  (void)seccomp_notify_respond(listener, resp);
  return n;
}

std::optional<Notice> handle_notification(int listener, const SeccompPlan& plan) {
  return Handler(plan).handle(listener);
}

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
