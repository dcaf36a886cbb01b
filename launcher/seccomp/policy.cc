// Seccomp policies as data (seccomp_policy.hpp; compile.cc turns them into a
// program).
//
// Two bases, both allowlists for the native x86_64 ABI only:
//   default  in the spirit of Docker's default profile, sized so that Node,
//            Python and Go MCP servers run unchanged (threads, child processes,
//            files, sockets);
//   strict   for servers that need no process creation: threads yes, fork and
//            exec no, and a few more groups left out.
// A call that no table allows is denied with the profile's action (errno:
// EPERM through the supervisor, reported; kill; log: allowed and reported).
// Calls in errno_groups() answer ENOSYS without a report, so that runtimes
// fall back to calls the filter can inspect.
//
// Reviewing a change here: every group says why it is needed and why it is
// safe given the other layers (mount namespace and read-only root, Landlock,
// no capabilities, no_new_privs, PID/IPC/network namespaces). The tests in
// tests/seccomp/ check that no denied class is allowed by any group, that
// every name resolves on x86_64, and that the compiled filter does what the
// tables say.
#include <linux/netlink.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

#include "mcpjail/seccomp_policy.hpp"

namespace mcpjail::seccomp::policy {

unsigned base_bit(const std::string& base) {
  if (base == "default") return kDefault;
  if (base == "strict") return kStrict;
  return 0;
}

const std::vector<Group>& allowed_groups() {
  static const std::vector<Group> groups = {
      {"process lifetime and signals", kBoth,
       "Every runtime needs these. Signals reach only the jail's own PID namespace "
       "(Landlock scopes them too); the waits find nothing when no child can be made.",
       {"exit", "exit_group", "restart_syscall", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
        "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo",
        "rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill", "tkill", "pause", "alarm",
        "getitimer", "setitimer", "wait4", "waitid"}},

      {"threads and synchronisation", kBoth,
       "Thread start-up and locking in glibc, V8, CPython and the Go runtime (Node 20 "
       "registers rseq). Threads are created with clone, which is argument-checked; "
       "clone3 answers ENOSYS.",
       {"futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "set_robust_list",
        "get_robust_list", "set_tid_address", "rseq", "membarrier", "sched_yield", "gettid",
        "arch_prctl"}},

      {"memory", kBoth,
       "Allocators and JITs (V8 remaps code pages; Node 20 asks for a protection key with "
       "pkey_alloc). memfd_create makes an anonymous file visible to nobody else; "
       "map_shadow_stack is for CET shadow stacks in newer glibc.",
       {"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "pkey_alloc",
        "pkey_free", "pkey_mprotect", "memfd_create", "map_shadow_stack"}},

      {"memory locking and NUMA policy", kDefault,
       "Bounded by RLIMIT_MEMLOCK and the memory limit; some databases and crypto libraries "
       "lock pages. Servers that only compute and talk (strict) do not need them.",
       {"mlock", "mlock2", "munlock", "mlockall", "munlockall", "get_mempolicy", "set_mempolicy",
        "mbind"}},

      {"descriptor I/O", kBoth,
       "Plain I/O on descriptors the jail already holds. fs.copyFile uses copy_file_range "
       "and sendfile.",
       {"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
        "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock",
        "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "fallocate", "ftruncate",
        "truncate", "fadvise64", "readahead", "sendfile", "copy_file_range", "splice", "pipe",
        "pipe2"}},

      {"pipe page splicing", kDefault,
       "tee and vmsplice are rarely used and vmsplice has a history of kernel bugs; strict "
       "leaves them out.",
       {"tee", "vmsplice"}},

      {"files and directories", kBoth,
       "What a server can see and change is decided by the mounts (read-only root, scoped "
       "binds) and Landlock, not here. statx is how Node 20 and newer glibc stat files; "
       "chown cannot give a file away without CAP_CHOWN. The calls that set a file mode "
       "are allowed only without the setuid and setgid bits (setid_guards()); openat2, "
       "whose mode seccomp cannot see, answers ENOSYS.",
       {"open", "openat", "creat", "stat", "fstat", "lstat", "newfstatat", "statx",
        "statfs", "fstatfs", "access", "faccessat", "faccessat2", "getcwd", "chdir", "fchdir",
        "getdents", "getdents64", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2",
        "link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat", "readlink", "readlinkat",
        "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "fchownat", "lchown",
        "umask", "utime", "utimes", "utimensat", "futimesat", "getxattr", "lgetxattr",
        "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr",
        "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "inotify_init",
        "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "cachestat"}},

      {"device and FIFO nodes", kDefault,
       "mkfifo; device nodes need CAP_MKNOD, which the jail does not have.",
       {"mknod", "mknodat"}},

      {"clocks and timers", kBoth,
       "Reading clocks, sleeping and timers. Setting the clock is denied.",
       {"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
        "times", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
        "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime"}},

      {"event loops", kBoth,
       "libuv (Node), asyncio and the Go netpoller.",
       {"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "poll", "ppoll", "select", "pselect6", "eventfd", "eventfd2", "signalfd", "signalfd4"}},

      {"socket use", kBoth,
       "Using sockets the jail was allowed to create (socket and socketpair are "
       "argument-checked). Where traffic may go is the network layer's job.",
       {"connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername",
        "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
        "recvmmsg", "shutdown"}},

      {"process and system information", kBoth,
       "Read-only questions about the process and the machine (os.cpus() reads the "
       "affinity). setrlimit/prlimit64 cannot raise a hard limit without CAP_SYS_RESOURCE.",
       {"getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
        "getgroups", "getpgid", "getpgrp", "getsid", "capget", "uname", "sysinfo", "getrusage",
        "getrlimit", "setrlimit", "prlimit64", "getpriority", "getcpu", "sched_getaffinity",
        "sched_getparam", "sched_getscheduler", "sched_getattr", "sched_get_priority_max",
        "sched_get_priority_min", "sched_rr_get_interval", "ioprio_get", "getrandom"}},

      {"self-restriction", kBoth,
       "prctl names threads and sets the parent-death signal; with no capabilities and "
       "no_new_privs its other options only narrow the process. seccomp and Landlock can "
       "only add restrictions.",
       {"prctl", "seccomp", "landlock_create_ruleset", "landlock_add_rule",
        "landlock_restrict_self"}},

      {"scheduling", kDefault,
       "A process tuning its own threads; raising priority needs CAP_SYS_NICE.",
       {"setpriority", "sched_setaffinity", "sched_setparam", "sched_setscheduler",
        "sched_setattr", "ioprio_set"}},

      {"process creation", kDefault,
       "child_process.spawn, subprocess and os/exec. Which programs may run is Landlock's "
       "job ([exec] allow). clone is argument-checked in both bases.",
       {"fork", "vfork", "execve", "execveat", "setsid", "setpgid", "pidfd_open",
        "pidfd_send_signal"}},

      {"credentials", kDefault,
       "With no capabilities and no_new_privs these can only keep or drop privileges; some "
       "programs drop them defensively at start-up.",
       {"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
        "setfsuid", "setfsgid", "capset"}},

      {"System V and POSIX IPC", kDefault,
       "Confined to the jail's IPC namespace; used by worker pools and some native modules.",
       {"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
        "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
        "mq_timedreceive", "mq_notify", "mq_getsetattr"}},

      {"Linux AIO", kDefault,
       "The old asynchronous I/O interface (not io_uring), used by some databases.",
       {"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"}},
  };
  return groups;
}

namespace {

constexpr std::uint64_t k32 = 0xffffffffULL;

// Every flag that makes clone create a namespace. CLONE_NEWTIME (0x80) is not
// among them: for clone it is part of the exit-signal byte, and only
// unshare/clone3 (both denied) read it as a namespace flag.
constexpr std::uint64_t kCloneNew = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// socket(2) type without SOCK_NONBLOCK / SOCK_CLOEXEC (the kernel's SOCK_TYPE_MASK).
constexpr std::uint64_t kSockType = 0xf;

std::vector<Case> inet_cases() {
  std::vector<Case> cases;
  struct P {
    int family;
    int type;
    int protocol;
    const char* what;
  };
  static const P kAllowed[] = {
      {AF_INET, SOCK_STREAM, 0, "AF_INET stream"},
      {AF_INET, SOCK_STREAM, IPPROTO_TCP, "AF_INET TCP"},
      {AF_INET, SOCK_STREAM, IPPROTO_MPTCP, "AF_INET MPTCP"},
      {AF_INET, SOCK_DGRAM, 0, "AF_INET datagram"},
      {AF_INET, SOCK_DGRAM, IPPROTO_UDP, "AF_INET UDP"},
      {AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "AF_INET ICMP echo (ping socket)"},
      {AF_INET6, SOCK_STREAM, 0, "AF_INET6 stream"},
      {AF_INET6, SOCK_STREAM, IPPROTO_TCP, "AF_INET6 TCP"},
      {AF_INET6, SOCK_STREAM, IPPROTO_MPTCP, "AF_INET6 MPTCP"},
      {AF_INET6, SOCK_DGRAM, 0, "AF_INET6 datagram"},
      {AF_INET6, SOCK_DGRAM, IPPROTO_UDP, "AF_INET6 UDP"},
      {AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6, "AF_INET6 ICMPv6 echo (ping socket)"},
  };
  for (const P& p : kAllowed) {
    cases.push_back({p.what,
                     {{0, k32, std::uint64_t(p.family)},
                      {1, kSockType, std::uint64_t(p.type)},
                      {2, k32, std::uint64_t(p.protocol)}}});
  }
  return cases;
}

std::vector<Case> socket_cases() {
  std::vector<Case> cases = {
      {"AF_UNIX", {{0, k32, AF_UNIX}}},
      // getifaddrs/if_nameindex (os.networkInterfaces, getaddrinfo's
      // AI_ADDRCONFIG) read addresses over NETLINK_ROUTE; changing them needs
      // CAP_NET_ADMIN. Netlink sockets are SOCK_RAW by convention, so the raw
      // check below is for IP only.
      {"AF_NETLINK with NETLINK_ROUTE", {{0, k32, AF_NETLINK}, {2, k32, NETLINK_ROUTE}}},
  };
  for (Case& c : inet_cases()) cases.push_back(std::move(c));
  return cases;
}

}  // namespace

const std::vector<ArgRule>& arg_rules() {
  static const std::vector<ArgRule> rules = {
      {"clone", kDefault, "clone: no CLONE_NEW* flag (threads, fork, vfork, posix_spawn are fine)",
       "Creating namespaces is the usual first step out of a container: unshare(CLONE_NEWUSER) "
       "hands back every capability inside a new user namespace. The kernel reads only the "
       "low 32 bits of the flags; the mask lies within them.",
       {{"no CLONE_NEW* flag", {{0, kCloneNew, 0}}}},
       0, {}},

      {"clone", kStrict, "clone: threads only (CLONE_THREAD set, no CLONE_NEW* flag)",
       "Strict servers make threads, never processes: clone without CLONE_THREAD is fork, "
       "vfork or posix_spawn.",
       {{"thread, no CLONE_NEW* flag", {{0, kCloneNew | CLONE_THREAD, CLONE_THREAD}}}},
       0, {}},

      {"ioctl", kBoth,
       "ioctl: any request except TIOCSTI and TIOCLINUX (compared on the low 32 bits)",
       "TIOCSTI pushes characters into a terminal's input queue (typing commands into the "
       "user's shell; dev.tty.legacy_tiocsti is on here) and TIOCLINUX reads and pastes the "
       "console selection. The kernel truncates the request to 32 bits, so "
       "0xdeadbeef00005412 is TIOCSTI as well: only the low 32 bits are compared. libseccomp "
       "has no masked not-equal, so the allowed set is compiled into masked-equal patterns "
       "that cover every other value (complement_cover).",
       {}, 1, {TIOCSTI, TIOCLINUX}},

      {"socket", kBoth,
       "socket: AF_UNIX; AF_INET/AF_INET6 TCP, MPTCP, UDP, ICMP echo; AF_NETLINK "
       "NETLINK_ROUTE (no raw IP, packet, vsock, AF_ALG, SCTP or other families)",
       "An allowlist of families and protocols. Raw and packet sockets sniff and forge "
       "traffic; AF_VSOCK reaches the hypervisor host; AF_ALG, SCTP and the rarer families "
       "load little-used kernel code with a history of exploitable bugs; netlink families "
       "other than NETLINK_ROUTE talk to audit, uevents, netfilter and more. The type is "
       "compared without SOCK_NONBLOCK/SOCK_CLOEXEC.",
       socket_cases(), 0, {}},

      {"socketpair", kBoth, "socketpair: AF_UNIX only",
       "Connected pairs for IPC (asyncio, libuv, subprocess pipes).",
       {{"AF_UNIX", {{0, k32, AF_UNIX}}}}, 0, {}},

      {"personality", kDefault,
       "personality: 0 (PER_LINUX), PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, 0xffffffff "
       "(query)",
       "The values Docker allows: the query, the default and the uname-changing ones used by "
       "setarch/linux32 in build scripts. Everything else is denied, notably "
       "ADDR_NO_RANDOMIZE (ASLR off for the next exec), READ_IMPLIES_EXEC (W^X off) and "
       "MMAP_PAGE_ZERO. glibc, Node and CPython do not call personality at all.",
       {{"PER_LINUX", {{0, k32, PER_LINUX}}},
        {"PER_LINUX32", {{0, k32, PER_LINUX32}}},
        {"UNAME26", {{0, k32, UNAME26}}},
        {"PER_LINUX32|UNAME26", {{0, k32, std::uint64_t(PER_LINUX32) | std::uint64_t(UNAME26)}}},
        {"query", {{0, k32, 0xffffffffULL}}}},
       0, {}},
  };
  return rules;
}

const std::vector<ErrnoGroup>& errno_groups() {
  static const std::vector<ErrnoGroup> groups = {
      {"clone3", ENOSYS,
       "glibc, Node and CPython try clone3 first and fall back to clone on ENOSYS (with "
       "EPERM Node aborts and Python cannot start threads). Its flags live in memory "
       "seccomp cannot read, so only clone can be checked for CLONE_NEW*.",
       {"clone3"}},
      {"openat2", ENOSYS,
       "Its flags and mode are in a struct open_how in memory, which seccomp cannot read, so "
       "a setuid or setgid mode could not be refused (setid_guards()); systemd's "
       "RestrictSUIDSGID does the same. glibc, Node, CPython and Go open files with openat; "
       "callers of openat2 fall back to it on ENOSYS. A profile that adds openat2 to "
       "[seccomp] allow gets it unconditionally, and with it a way to create setuid files.",
       {"openat2"}},
      {"io_uring", ENOSYS,
       "A large kernel attack surface whose operations bypass seccomp entirely. libuv and "
       "others fall back to their thread pools on ENOSYS.",
       {"io_uring_setup", "io_uring_enter", "io_uring_register"}},
  };
  return groups;
}

const std::vector<Numbered>& numbered() {
  // x86_64 numbers from arch/x86/entry/syscalls/syscall_64.tbl (Linux 6.8 to
  // 6.18). ENOSYS is what a kernel without them answers, so callers fall
  // back; open_tree_attr belongs to the mount family and is denied.
  static const std::vector<Numbered> table = {
      {"statmount", 457, Treatment::Enosys, kBoth},
      {"listmount", 458, Treatment::Enosys, kBoth},
      {"lsm_get_self_attr", 459, Treatment::Enosys, kBoth},
      {"lsm_set_self_attr", 460, Treatment::Enosys, kBoth},
      {"lsm_list_modules", 461, Treatment::Enosys, kBoth},
      {"mseal", 462, Treatment::Allow, kBoth},  // seals the caller's own mappings
      {"setxattrat", 463, Treatment::Enosys, kBoth},
      {"getxattrat", 464, Treatment::Enosys, kBoth},
      {"listxattrat", 465, Treatment::Enosys, kBoth},
      {"removexattrat", 466, Treatment::Enosys, kBoth},
      {"open_tree_attr", 467, Treatment::Deny, kBoth},
      {"file_getattr", 468, Treatment::Enosys, kBoth},
      {"file_setattr", 469, Treatment::Enosys, kBoth},
      {"listns", 470, Treatment::Enosys, kBoth},
  };
  return table;
}

const std::vector<DenyClass>& deny_classes() {
  static const std::vector<DenyClass> classes = {
      {"namespace creation", "a new user namespace hands back every capability",
       {"unshare", "setns"}, "clone with any CLONE_NEW* flag; clone3 answers ENOSYS", "clone"},
      {"mounts and root changes", "remounting or re-rooting undoes the filesystem view",
       {"mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
        "move_mount", "mount_setattr", "pivot_root", "chroot"},
       "open_tree_attr; statmount and listmount answer ENOSYS"},
      {"other processes' memory", "reading or injecting into another process",
       {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
        "process_madvise", "process_mrelease"},
       ""},
      {"kernel keyrings", "shared kernel keyrings and a long list of keyctl bugs",
       {"keyctl", "add_key", "request_key"}, ""},
      {"kernel attack surface", "large, frequently exploited subsystems no server needs",
       {"bpf", "perf_event_open", "userfaultfd", "fanotify_init", "fanotify_mark", "modify_ldt",
        "iopl", "ioperm"},
       "io_uring_setup, io_uring_enter and io_uring_register answer ENOSYS"},
      {"file handles", "open_by_handle_at walks around the mount namespace (\"shocker\")",
       {"open_by_handle_at", "name_to_handle_at"}, ""},
      {"kernel and machine control", "not for a server to touch",
       {"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff",
        "sethostname", "setdomainname"},
       ""},
      {"clock and time setting", "the clock is shared with the host",
       {"settimeofday", "clock_settime", "adjtimex", "clock_adjtime"}, ""},
      {"accounting, quotas and legacy calls", "obsolete or host-wide, some leak kernel data",
       {"acct", "quotactl", "quotactl_fd", "lookup_dcookie", "syslog", "uselib", "vhangup",
        "nfsservctl", "_sysctl", "ustat", "sysfs", "remap_file_pages", "memfd_secret",
        "set_mempolicy_home_node", "migrate_pages", "move_pages"},
       ""},
      {"terminal injection", "typing into the user's terminal", {},
       "ioctl TIOCSTI and TIOCLINUX (low 32 bits of the request)", "ioctl"},
      {"sockets", "sniffing, forging, the hypervisor, rarely used protocol code", {},
       "socket families other than AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK/NETLINK_ROUTE "
       "(AF_PACKET, AF_VSOCK, AF_ALG, ...); raw IP sockets; SCTP and other IP protocols",
       "socket"},
      {"personality", "turning off ASLR or W^X for the next program", {},
       "values other than 0, PER_LINUX32, UNAME26 and the query", "personality"},
  };
  return classes;
}

const std::vector<SetidGuard>& setid_guards() {
  // Mode argument indices from the x86_64 prototypes: chmod(path, mode),
  // fchmod(fd, mode), fchmodat(dirfd, path, mode, flags), fchmodat2(dirfd,
  // path, mode, flags), creat(path, mode), open(path, flags, mode),
  // openat(dirfd, path, flags, mode), mkdir(path, mode), mkdirat(dirfd, path,
  // mode), mknod(path, mode, dev), mknodat(dirfd, path, mode, dev).
  static const std::vector<SetidGuard> table = {
      {"chmod", -1, 1},   {"fchmod", -1, 1}, {"fchmodat", -1, 2}, {"fchmodat2", -1, 2},
      {"creat", -1, 1},   {"open", 1, 2},    {"openat", 2, 3},    {"mkdir", -1, 1},
      {"mkdirat", -1, 2}, {"mknod", -1, 1},  {"mknodat", -1, 2},
  };
  return table;
}

const std::vector<Watched>& watched() {
  using K = Watched::Kind;
  // Write-intent calls on paths, and exec. Calls on descriptors (write,
  // ftruncate, fchmod, ...) are not here: the descriptor was opened (and, if
  // for writing, observed) before. Neither are utimensat and the xattr calls.
  static const std::vector<Watched> table = {
      {"open", K::Write, 1, -1, {{-1, 0}}},
      {"openat", K::Write, 2, -1, {{0, 1}}},
      {"openat2", K::Write, -1, 2, {{0, 1}}},
      {"creat", K::Write, -1, -1, {{-1, 0}}},
      {"mkdir", K::Write, -1, -1, {{-1, 0}}},
      {"mkdirat", K::Write, -1, -1, {{0, 1}}},
      {"mknod", K::Write, -1, -1, {{-1, 0}}},
      {"mknodat", K::Write, -1, -1, {{0, 1}}},
      {"unlink", K::Write, -1, -1, {{-1, 0}}},
      {"unlinkat", K::Write, -1, -1, {{0, 1}}},
      {"rmdir", K::Write, -1, -1, {{-1, 0}}},
      {"rename", K::Write, -1, -1, {{-1, 0}, {-1, 1}}},
      {"renameat", K::Write, -1, -1, {{0, 1}, {2, 3}}},
      {"renameat2", K::Write, -1, -1, {{0, 1}, {2, 3}}},
      {"link", K::Write, -1, -1, {{-1, 1}}},
      {"linkat", K::Write, -1, -1, {{2, 3}}},
      {"symlink", K::Write, -1, -1, {{-1, 1}}},
      {"symlinkat", K::Write, -1, -1, {{1, 2}}},
      {"truncate", K::Write, -1, -1, {{-1, 0}}},
      {"chmod", K::Write, -1, -1, {{-1, 0}}},
      {"fchmodat", K::Write, -1, -1, {{0, 1}}},
      {"fchmodat2", K::Write, -1, -1, {{0, 1}}, 3},
      {"chown", K::Write, -1, -1, {{-1, 0}}},
      {"lchown", K::Write, -1, -1, {{-1, 0}}},
      {"fchownat", K::Write, -1, -1, {{0, 1}}, 4},
      {"execve", K::Exec, -1, -1, {{-1, 0}}},
      {"execveat", K::Exec, -1, -1, {{0, 1}}, 4},
  };
  return table;
}

const std::vector<Performed>& performed() {
  static const std::vector<Performed> table = {
      {"memfd_create",
       "A program written into a memfd runs through execveat(fd, \"\", AT_EMPTY_PATH) or "
       "execve(\"/proc/self/fd/N\"), and memfds live on an internal mount Landlock allows. "
       "Root launches set vm.memfd_noexec = 2 in the jail's pid namespace; a rootless "
       "launcher cannot (the sysctl wants the host's root). There the supervisor makes "
       "the memfd itself with MFD_NOEXEC_SEAL (Linux 6.3+) and hands it over: the flags "
       "are read from the caller's registers, MFD_EXEC is refused with EACCES. The pages "
       "are charged to the memory cgroup of the task that writes them (the server)."},
  };
  return table;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> complement_cover(
    const std::vector<std::uint64_t>& except) {
  // Walk the binary trie of 32-bit values from the top bit down. A subtree
  // holding no excluded value is one pattern (mask = the bits fixed so far);
  // a subtree holding some is split in two. Each excluded value contributes
  // at most one split per bit, so the cover has at most 32 * |except| pairs.
  std::vector<std::uint32_t> ex;
  for (std::uint64_t v : except) ex.push_back(static_cast<std::uint32_t>(v));
  std::sort(ex.begin(), ex.end());
  ex.erase(std::unique(ex.begin(), ex.end()), ex.end());

  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  struct Node {
    std::uint32_t mask, value;
    int bit;  // next bit to decide; -1 when the value is complete
  };
  std::vector<Node> stack = {{0, 0, 31}};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    bool holds = std::any_of(ex.begin(), ex.end(),
                             [&](std::uint32_t v) { return (v & n.mask) == n.value; });
    if (!holds) {
      out.emplace_back(n.mask, n.value);
      continue;
    }
    if (n.bit < 0) continue;  // exactly an excluded value
    std::uint32_t b = 1u << n.bit;
    stack.push_back({n.mask | b, n.value | b, n.bit - 1});
    stack.push_back({n.mask | b, n.value, n.bit - 1});
  }
  return out;
}

}  // namespace mcpjail::seccomp::policy
