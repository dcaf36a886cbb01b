// The supervisor's side of the seccomp filter: answers its user
// notifications (Handler). What reaches it: calls the policy denies (action
// "errno" or "log"), execve/execveat when the policy does not allow them, and
// the calls of the watch.
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
//   policy allows them (how the filter selects them: compile.cc).
//   The supervisor reads the path from the caller's memory
//   (process_vm_readv), makes it absolute against /proc/PID/cwd or
//   /proc/PID/fd/N, checks that the notification is still pending
//   (SECCOMP_IOCTL_NOTIF_ID_VALID) so that the data belongs to the caller, and
//   answers SECCOMP_USER_NOTIF_FLAG_CONTINUE. It never allows: the call
//   proceeds exactly as without the watch and the kernel (read-only mounts,
//   Landlock) allows or refuses it, so the continue flag's TOCTOU caveat does
//   not apply - a path changed after it was read changes only what is logged.
//   A learning plan (SeccompPlan::learn, `mcp-jail learn`) sends every open,
//   reads included (Notice::read), only to record the path: the answer is the
//   same CONTINUE, so the path the kernel then resolves may differ from the
//   one recorded. That gap matters for nothing here: the recording decides
//   no access, and what protects the host while learning is the learning
//   jail itself (a read-only view with credentials hidden).
//   The one answer it gives itself is a refusal: an exec of a program the
//   plan does not let run gets ENOENT (the exec judge, set by the
//   supervisor), so a program outside the allowlist looks absent, as tools
//   probing for optional helpers expect. A refusal grants nothing, so a path
//   swapped after it was read can only turn an exec Landlock would have
//   allowed into ENOENT, never the reverse.
#include "mcpjail/seccomp.hpp"

#include <fcntl.h>
#include <linux/audit.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "mcpjail/paths.hpp"
#include "mcpjail/seccomp_internal.hpp"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
// Linux 6.3 (linux/memfd.h, fcntl.h); older headers lack them.
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace mcpjail::seccomp {
namespace {

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

// The name argument of memfd_create: at most kMemfdNameMax bytes and a NUL
// (the kernel's MFD_NAME_MAX_LEN).
constexpr std::size_t kMemfdNameMax = 249;

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
  if (read_path_string(pid, d.args[a.path], &path) != 0) return {};
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

// The observed call creates a name: mkdir, mknod, symlink, link, the new
// name of rename, and open, openat, openat2 with O_CREAT (creat always).
bool creates(const policy::Watched& w, const seccomp_data& d, pid_t pid) {
  const std::string_view s = w.syscall;
  if (s == "creat" || s.starts_with("mkdir") || s.starts_with("mknod") || s.starts_with("symlink") ||
      s.starts_with("link") || s.starts_with("rename"))
    return true;
  if (w.flags_arg >= 0) return (d.args[w.flags_arg] & O_CREAT) != 0;
  if (w.how_arg >= 0) {
    std::uint64_t flags = 0;
    iovec local{&flags, sizeof flags};
    iovec remote{reinterpret_cast<void*>(d.args[w.how_arg]), sizeof flags};
    return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof flags) &&
           (flags & O_CREAT);
  }
  return false;
}

}  // namespace

Handler::Handler(const SeccompPlan& plan) : plan_(plan) {
  for (const auto& [nr, w] : watched_calls(plan)) {
    if (nr >= static_cast<int>(watched_.size())) watched_.resize(static_cast<std::size_t>(nr) + 1, nullptr);
    watched_[static_cast<std::size_t>(nr)] = w;
  }
  for (const char* name : policy::kExecCalls) exec_nrs_.push_back(resolve(name));
  if (const auto performed = performed_calls(plan); performed.count(resolve("memfd_create")))
    memfd_nr_ = resolve("memfd_create");
  for (const auto& g : policy::setid_guards()) {
    const int nr = resolve(g.syscall);
    if (nr < 0) continue;
    if (nr >= static_cast<int>(guards_.size())) guards_.resize(static_cast<std::size_t>(nr) + 1, nullptr);
    guards_[static_cast<std::size_t>(nr)] = &g;
  }
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

  // memfd_create, performed here (SeccompPlan::seal_memfd): the memfd is made
  // with MFD_NOEXEC_SEAL and handed over. The flags are a register of the
  // stopped caller, so what is judged is what is used; the name is copied
  // from its memory and only names the memfd.
  if (nr == memfd_nr_ && memfd_nr_ >= 0) {
    n.syscall = "memfd_create";
    const unsigned flags = static_cast<std::uint32_t>(req->data.args[1]);
    if (flags & MFD_EXEC) {
      n.kind = Notice::Kind::Deny;
      n.memfd_exec = true;
      resp->error = -EACCES;
      (void)seccomp_notify_respond(listener, resp);
      return n;
    }
    std::string name;
    int err = read_cstring(n.pid, req->data.args[0], kMemfdNameMax, &name);
    if (err == E2BIG) err = EINVAL;  // as the kernel answers a longer name
    UniqueFd fd;
    if (err == 0) {
      fd.reset(static_cast<int>(::syscall(SYS_memfd_create, name.c_str(), (flags & ~MFD_CLOEXEC) | MFD_CLOEXEC | MFD_NOEXEC_SEAL)));
      if (!fd) err = errno;
    }
    if (err == 0 && !valid()) return std::nullopt;  // the caller is gone or was interrupted
    create::Outcome made;
    made.error = err;
    made.fd = std::move(fd);
    (void)answer_performed(listener, req->id, made, (flags & MFD_CLOEXEC) != 0);
    return std::nullopt;
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

  // A mode with the setuid or setgid bit (policy::setid_guards()): refused
  // whatever the action. The mode is a register of the stopped caller, not
  // memory, so what is judged is what the kernel would use.
  if (nr >= 0 && static_cast<std::size_t>(nr) < guards_.size() && guards_[static_cast<std::size_t>(nr)]) {
    const policy::SetidGuard& g = *guards_[static_cast<std::size_t>(nr)];
    const auto arg32 = [&](unsigned i) { return static_cast<std::uint32_t>(req->data.args[i]); };
    const bool creates = g.flags_arg < 0 || (arg32(static_cast<unsigned>(g.flags_arg)) & policy::kCreateFlags);
    if (creates && (arg32(g.mode_arg) & policy::kSetidBits)) {
      n.kind = Notice::Kind::Deny;
      n.syscall = g.syscall;
      n.setid = true;
      resp->error = -EPERM;
      (void)seccomp_notify_respond(listener, resp);
      return n;
    }
  }

  // Reads what the call names: its paths (and, for exec, the caller's root).
  auto observe = [&](const policy::Watched& w) {
    if (w.how_arg >= 0) {
      std::uint64_t flags = 0;
      iovec local{&flags, sizeof flags};
      iovec remote{reinterpret_cast<void*>(req->data.args[w.how_arg]), sizeof flags};
      if (::process_vm_readv(n.pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof flags) &&
          !(flags & policy::kOpenWriteFlags)) {
        // openat2 for reading: nothing to judge (but performed, below, while
        // names are protected: its flags are in memory and may change).
        if (!plan_.learn) return;
        n.read = true;
      }
    }
    // Only a learning plan sends open/openat without a write flag.
    if (plan_.learn && w.flags_arg >= 0 && !(req->data.args[w.flags_arg] & policy::kOpenWriteFlags)) n.read = true;
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
    if (n.exec && exec_judge_) {
      // A program the plan does not allow looks absent (ENOENT), as on a
      // system without it. Only a refusal is decided here (ExecJudgement).
      const ExecJudgement j = exec_judge_(n);
      n.judged = true;
      n.exec_allowed = j.allowed;
      if (j.refuse) {
        n.refused = true;
        n.allowed = false;
        resp->flags = 0;
        resp->error = -ENOENT;
      }
    }
    // A call that creates a name, at a protected name: refused by path, else
    // performed by the create helper (create_helper.hpp), never continued.
    if (creations_.perform && w->kind == policy::Watched::Kind::Write && performable(w->syscall) &&
        (w->how_arg >= 0 || creates(*w, req->data, n.pid))) {
      if (!n.paths.empty() && creations_.refuses) n.protected_path = creations_.refuses(n.paths.back());
      resp->flags = 0;
      if (!n.protected_path.empty()) {
        resp->error = -EACCES;
        n.allowed = false;
      } else {
        create::Call call;
        create::CallFds fds;
        const int err = read_creating_call(w->syscall, req->data, n.pid, &call, &fds);
        if (!valid()) return std::nullopt;  // the caller is gone or was interrupted: nothing to answer
        if (err == 0) {
          if (creations_.perform(std::move(call), std::move(fds), req->id, std::move(n))) return std::nullopt;
          resp->error = -EIO;  // the helper is gone: nothing is created
        } else {
          resp->error = -err;
        }
        (void)seccomp_notify_respond(listener, resp);
        return std::nullopt;
      }
    }
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

bool answer_performed(int listener, std::uint64_t id, create::Outcome& o, bool cloexec) {
  if (o.error == 0 && o.fd) {
    seccomp_notif_addfd add{};
    add.id = id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;
    add.srcfd = static_cast<std::uint32_t>(o.fd.get());
    add.newfd_flags = cloexec ? O_CLOEXEC : 0;
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) >= 0) return true;  // answered
    if (errno == ENOENT) return false;  // the caller is gone or was interrupted
    o.error = errno;  // EMFILE: its table is full
  }
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = o.error ? -o.error : 0;
  return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0;
}

bool memfd_noexec_seal_supported() {
  static const bool supported = [] {
    UniqueFd fd(static_cast<int>(::syscall(SYS_memfd_create, "mcpjail-probe", MFD_CLOEXEC | MFD_NOEXEC_SEAL)));
    if (!fd) return false;
    const int seals = ::fcntl(fd.get(), F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_EXEC) != 0;
  }();
  return supported;
}

}  // namespace mcpjail::seccomp
