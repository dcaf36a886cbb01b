/* escape_probe: attempts one class of jail escape (or one thing a server
 * legitimately does) and exits 0 when the outcome is the expected one under
 * the mcp-jail seccomp filter, 1 when it is not (with a line on stderr saying
 * what happened). Cases whose expected outcome is death by SIGSYS exit 1 if
 * they survive.
 *
 *   escape_probe CASE        run one case
 *   escape_probe --list      print the case names
 *
 * Every call is made with arguments that are harmless when no filter is
 * loaded (nonexistent paths, invalid descriptors, bad magic numbers), so a
 * broken filter in a test run as root cannot damage the machine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

extern char** environ;

static const char* current_case = "?";
static int failures;

/* Records a failed expectation and keeps going, so one run shows every
 * call of the class that misbehaves. */
static void failf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "escape_probe %s: ", current_case);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  ++failures;
}

/* rc must be -1 with errno `want`. */
static void expect_err(const char* what, long rc, int want) {
  int e = errno;
  if (rc == -1 && e == want) return;
  if (rc == -1)
    failf("%s: errno %d (%s), expected %d (%s)", what, e, strerror(e), want, strerror(want));
  else
    failf("%s: returned %ld, expected errno %d (%s)", what, rc, want, strerror(want));
}
#define EPERM_(what, call) expect_err(what, (long)(call), EPERM)
#define ENOSYS_(what, call) expect_err(what, (long)(call), ENOSYS)

/* rc must not be a seccomp denial: not -1/EPERM and not -1/ENOSYS. */
static void expect_not_denied(const char* what, long rc) {
  if (rc == -1 && (errno == EPERM || errno == ENOSYS))
    failf("%s: denied (%s)", what, strerror(errno));
}
/* rc must be >= 0. */
static long expect_ok(const char* what, long rc) {
  if (rc < 0) failf("%s: failed: %s", what, strerror(errno));
  return rc;
}

/* A 32-bit system call through the ia32 gate (int 0x80). */
static long ia32_syscall(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80"
                   : "=a"(ret)
                   : "a"(nr), "b"(a), "c"(b), "d"(c)
                   : "memory", "r8", "r9", "r10", "r11");
  return ret;
}
#define IA32_GETPID 20
#define IA32_UNSHARE 310

/* ---- killed: other ABIs ---------------------------------------------- */

static void case_ia32_getpid(void) {
  long r = ia32_syscall(IA32_GETPID, 0, 0, 0);
  failf("ia32 getpid returned %ld (the filter let a 32-bit call through)", r);
}
static void case_ia32_unshare(void) {
  long r = ia32_syscall(IA32_UNSHARE, CLONE_NEWUSER, 0, 0);
  failf("ia32 unshare(CLONE_NEWUSER) returned %ld", r);
}
static void case_x32_getpid(void) {
  long r = syscall(__X32_SYSCALL_BIT | SYS_getpid);
  failf("x32 getpid returned %ld (errno %d)", r, r < 0 ? errno : 0);
}
static void case_x32_unshare(void) {
  long r = syscall(__X32_SYSCALL_BIT | SYS_unshare, CLONE_NEWUSER);
  failf("x32 unshare returned %ld (errno %d)", r, r < 0 ? errno : 0);
}

/* ---- namespaces --------------------------------------------------------- */

static long raw_clone(unsigned long flags) {
  long r = syscall(SYS_clone, flags, 0, 0, 0, 0);
  if (r == 0) _exit(0); /* the filter failed; the child leaves at once */
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}

struct clone_args_v0 {
  __u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
static long raw_clone3(__u64 flags) {
  struct clone_args_v0 a;
  memset(&a, 0, sizeof a);
  a.flags = flags;
  a.exit_signal = SIGCHLD;
  long r = syscall(SYS_clone3, &a, sizeof a);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r;
}

static void case_namespaces(void) {
  EPERM_("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
  EPERM_("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
  EPERM_("unshare(CLONE_FILES)", unshare(CLONE_FILES));
  EPERM_("clone(CLONE_NEWNS)", raw_clone(CLONE_NEWNS | SIGCHLD));
  EPERM_("clone(CLONE_NEWUSER)", raw_clone(CLONE_NEWUSER | SIGCHLD));
  EPERM_("clone(CLONE_NEWPID|CLONE_NEWNET)", raw_clone(CLONE_NEWPID | CLONE_NEWNET | SIGCHLD));
  /* High bits do not hide the namespace flag: the kernel reads the low 32. */
  EPERM_("clone(0xffffffff00000000|CLONE_NEWUSER)",
         raw_clone(0xffffffff00000000UL | CLONE_NEWUSER | SIGCHLD));
  int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  EPERM_("setns(uts)", setns(fd, 0));
  EPERM_("setns(-1)", setns(-1, 0));
  if (fd >= 0) close(fd);
}

static void case_clone3(void) {
  ENOSYS_("clone3(CLONE_NEWUSER)", raw_clone3(CLONE_NEWUSER));
  ENOSYS_("clone3(fork)", raw_clone3(0));
}

static void case_unshare(void) { EPERM_("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER)); }

/* ---- mounts ------------------------------------------------------------- */

static void case_mount_family(void) {
  const char* nowhere = "/nonexistent-mcpjail-probe";
  EPERM_("mount", syscall(SYS_mount, "none", nowhere, "tmpfs", 0UL, NULL));
  EPERM_("umount2", syscall(SYS_umount2, nowhere, 0));
  EPERM_("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  EPERM_("fsconfig", syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
  EPERM_("fsmount", syscall(SYS_fsmount, -1, 0, 0));
  EPERM_("fspick", syscall(SYS_fspick, AT_FDCWD, nowhere, 0));
  EPERM_("open_tree", syscall(SYS_open_tree, AT_FDCWD, nowhere, 0));
  EPERM_("move_mount", syscall(SYS_move_mount, -1, "", AT_FDCWD, nowhere, 0));
  EPERM_("mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
  EPERM_("pivot_root", syscall(SYS_pivot_root, nowhere, nowhere));
  EPERM_("chroot", chroot(nowhere));
}

/* ---- other processes ---------------------------------------------------- */

static void case_process_access(void) {
  EPERM_("ptrace(PEEKDATA, parent)", syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, getppid(), 0, 0));
  char src[8] = "secret", dst[8];
  struct iovec l = {dst, sizeof dst}, r = {src, sizeof src};
  EPERM_("process_vm_readv(self)", syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0));
  EPERM_("process_vm_writev(self)", syscall(SYS_process_vm_writev, getpid(), &r, 1, &l, 1, 0));
  EPERM_("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0));
  EPERM_("pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0));
}

static void case_ptrace(void) {
  EPERM_("ptrace(PEEKDATA, parent)", syscall(SYS_ptrace, 2, getppid(), 0, 0));
}

/* ---- kernel surfaces ---------------------------------------------------- */

static void case_keys(void) {
  EPERM_("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  EPERM_("add_key", syscall(SYS_add_key, "user", "mcpjail-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
  EPERM_("request_key", syscall(SYS_request_key, "user", "mcpjail-probe-none", NULL, 0));
}

static void case_kernel_surface(void) {
  EPERM_("bpf", syscall(SYS_bpf, -1, NULL, 0));
  EPERM_("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  EPERM_("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
  EPERM_("fanotify_init", syscall(SYS_fanotify_init, 0, 0));
  EPERM_("modify_ldt", syscall(SYS_modify_ldt, 0, NULL, 0));
  EPERM_("iopl", syscall(SYS_iopl, 0));
}

static void case_io_uring(void) {
  char params[120];
  memset(params, 0, sizeof params);
  ENOSYS_("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
  ENOSYS_("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
  ENOSYS_("io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0));
}

static void case_handles(void) {
  char buf[128];
  memset(buf, 0, sizeof buf);
  int mount_id = 0;
  ((unsigned*)buf)[0] = 64; /* handle_bytes */
  EPERM_("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", buf, &mount_id, 0));
  EPERM_("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, buf, O_RDONLY));
}

static void case_machine(void) {
  EPERM_("kexec_load (bad flags)", syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
  EPERM_("kexec_file_load (bad fds)", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
  EPERM_("init_module", syscall(SYS_init_module, NULL, 0, ""));
  EPERM_("finit_module", syscall(SYS_finit_module, -1, "", 0));
  EPERM_("delete_module", syscall(SYS_delete_module, "mcpjail_probe_none", O_NONBLOCK));
  EPERM_("reboot (bad magic)", syscall(SYS_reboot, 0, 0, 0, NULL));
  EPERM_("swapon", syscall(SYS_swapon, "/nonexistent-mcpjail-probe", 0));
  EPERM_("swapoff", syscall(SYS_swapoff, "/nonexistent-mcpjail-probe"));
  static char long_name[1000]; /* longer than HOST_NAME_MAX: EINVAL without the filter */
  memset(long_name, 'x', sizeof long_name);
  EPERM_("sethostname (too long)", syscall(SYS_sethostname, long_name, sizeof long_name));
}

static void case_time_setting(void) {
  EPERM_("settimeofday(NULL, NULL)", syscall(SYS_settimeofday, NULL, NULL));
  struct timespec ts = {0, 0};
  EPERM_("clock_settime(MONOTONIC)", syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
  char tx[256];
  memset(tx, 0, sizeof tx); /* modes = 0: a read-only query without the filter */
  EPERM_("adjtimex", syscall(SYS_adjtimex, tx));
  EPERM_("clock_adjtime", syscall(SYS_clock_adjtime, CLOCK_REALTIME, tx));
}

static void case_legacy(void) {
  EPERM_("acct", syscall(SYS_acct, "/nonexistent-mcpjail-probe"));
  EPERM_("quotactl", syscall(SYS_quotactl, 0, "/nonexistent-mcpjail-probe", 0, NULL));
  EPERM_("lookup_dcookie", syscall(SYS_lookup_dcookie, 0, NULL, 0));
  EPERM_("syslog(SIZE_BUFFER)", syscall(SYS_syslog, 10, NULL, 0));
  EPERM_("uselib", syscall(SYS_uselib, "/nonexistent-mcpjail-probe"));
  /* vhangup is only tried without a controlling terminal, where it has
   * nothing to hang up should the filter be missing. setsid may itself be
   * denied (strict). */
  (void)setsid();
  int tty = open("/dev/tty", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (tty >= 0) {
    close(tty);
    fprintf(stderr, "escape_probe legacy: controlling terminal present, vhangup not tried\n");
  } else {
    EPERM_("vhangup", syscall(SYS_vhangup));
  }
}

/* ---- terminal injection -------------------------------------------------- */

static void case_tiocsti(void) {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  char c = 'x';
  EPERM_("ioctl(TIOCSTI)", syscall(SYS_ioctl, fd, 0x5412UL, &c));
  EPERM_("ioctl(0xdeadbeef00005412)", syscall(SYS_ioctl, fd, 0xdeadbeef00005412UL, &c));
  EPERM_("ioctl(0xffffffff00005412)", syscall(SYS_ioctl, fd, 0xffffffff00005412UL, &c));
  EPERM_("ioctl(TIOCLINUX)", syscall(SYS_ioctl, fd, 0x541CUL, &c));
  EPERM_("ioctl(0x100000000000541c)", syscall(SYS_ioctl, fd, 0x100000000000541CUL, &c));
  close(fd);
}

static void case_ioctl_allowed(void) {
  int p[2];
  if (expect_ok("pipe2", pipe2(p, O_CLOEXEC)) < 0) return;
  if (write(p[1], "abc", 3) != 3) failf("write to pipe");
  int n = -1;
  expect_ok("ioctl(FIONREAD)", syscall(SYS_ioctl, p[0], (unsigned long)FIONREAD, &n));
  if (n != 3) failf("FIONREAD said %d", n);
  int one = 1;
  /* The kernel drops the high bits: this is FIONBIO, and allowed. */
  expect_ok("ioctl(0xdeadbeef00005421 = FIONBIO)", syscall(SYS_ioctl, p[0], 0xdeadbeef00005421UL, &one));
  char t[64];
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  expect_err("ioctl(TCGETS) on /dev/null", syscall(SYS_ioctl, fd, (unsigned long)TCGETS, t), ENOTTY);
  expect_err("ioctl(TIOCSTI+1 = TIOCGWINSZ)", syscall(SYS_ioctl, fd, 0x5413UL, t), ENOTTY);
  expect_err("ioctl(TIOCLINUX-1)", syscall(SYS_ioctl, fd, 0x541BUL, t), ENOTTY);
  close(fd);
  close(p[0]);
  close(p[1]);
}

/* ---- personality --------------------------------------------------------- */

static void case_personality_ok(void) {
  expect_ok("personality(query)", syscall(SYS_personality, 0xffffffffUL));
  expect_ok("personality(PER_LINUX32)", syscall(SYS_personality, (unsigned long)PER_LINUX32));
  struct utsname u;
  uname(&u);
  expect_ok("personality(PER_LINUX)", syscall(SYS_personality, (unsigned long)PER_LINUX));
  if (strcmp(u.machine, "x86_64") == 0) failf("PER_LINUX32 did not change uname (%s)", u.machine);
}

static void case_personality_bad(void) {
  EPERM_("personality(ADDR_NO_RANDOMIZE)", syscall(SYS_personality, (unsigned long)ADDR_NO_RANDOMIZE));
  EPERM_("personality(READ_IMPLIES_EXEC)", syscall(SYS_personality, (unsigned long)READ_IMPLIES_EXEC));
  EPERM_("personality(MMAP_PAGE_ZERO)", syscall(SYS_personality, (unsigned long)MMAP_PAGE_ZERO));
  EPERM_("personality(high bits|ADDR_NO_RANDOMIZE)",
         syscall(SYS_personality, 0xffffffff00000000UL | ADDR_NO_RANDOMIZE));
}

/* For action "log": a denied call that, continued, succeeds harmlessly. */
static void case_log_personality(void) {
  long r = syscall(SYS_personality, (unsigned long)ADDR_NO_RANDOMIZE);
  if (r == -1) failf("personality(ADDR_NO_RANDOMIZE) was not continued: %s", strerror(errno));
}

/* ---- sockets -------------------------------------------------------------- */

static long sock(long family, long type, long proto) {
  long fd = syscall(SYS_socket, family, type, proto);
  if (fd >= 0) close((int)fd);
  return fd < 0 ? -1 : 0;
}

static void case_sockets_denied(void) {
  EPERM_("socket(AF_VSOCK)", sock(AF_VSOCK, SOCK_STREAM, 0));
  EPERM_("socket(AF_ALG)", sock(AF_ALG, SOCK_SEQPACKET, 0));
  EPERM_("socket(AF_PACKET)", sock(AF_PACKET, SOCK_RAW, 0x0300));
  EPERM_("socket(AF_INET, SOCK_RAW, ICMP)", sock(AF_INET, SOCK_RAW, IPPROTO_ICMP));
  EPERM_("socket(AF_INET6, SOCK_RAW|NONBLOCK|CLOEXEC)",
         sock(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW));
  EPERM_("socket(AF_INET, SOCK_STREAM, SCTP)", sock(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
  EPERM_("socket(AF_INET, SOCK_SEQPACKET)", sock(AF_INET, SOCK_SEQPACKET, 0));
  EPERM_("socket(AF_NETLINK, NETLINK_AUDIT)", sock(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
  EPERM_("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", sock(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT));
  EPERM_("socket(AF_NETLINK, NETLINK_NETFILTER)", sock(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER));
  EPERM_("socket(AF_BLUETOOTH)", sock(31, SOCK_STREAM, 0));
  /* High bits do not turn AF_PACKET into something else. */
  EPERM_("socket(1<<32|AF_PACKET)", sock((1L << 32) | AF_PACKET, SOCK_RAW, 0));
  EPERM_("socket(AF_INET, 1<<32|SOCK_RAW)", sock(AF_INET, (1L << 32) | SOCK_RAW, IPPROTO_ICMP));
  int sv[2];
  EPERM_("socketpair(AF_NETLINK)", socketpair(AF_NETLINK, SOCK_RAW, 0, sv));
}

static void case_sockets_ok(void) {
  expect_ok("socket(AF_INET, STREAM)", sock(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  expect_ok("socket(AF_INET, STREAM, TCP)", sock(AF_INET, SOCK_STREAM, IPPROTO_TCP));
  expect_ok("socket(AF_INET, DGRAM)", sock(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  expect_ok("socket(AF_INET, DGRAM, UDP)", sock(AF_INET, SOCK_DGRAM, IPPROTO_UDP));
  expect_not_denied("socket(AF_INET6, STREAM)", sock(AF_INET6, SOCK_STREAM, 0));
  expect_not_denied("socket(AF_INET6, DGRAM)", sock(AF_INET6, SOCK_DGRAM, 0));
  expect_not_denied("socket(AF_INET, DGRAM, ICMP) ping", sock(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
  expect_not_denied("socket(AF_INET, STREAM, MPTCP)", sock(AF_INET, SOCK_STREAM, IPPROTO_MPTCP));
  expect_ok("socket(AF_UNIX, STREAM)", sock(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  expect_ok("socket(AF_UNIX, DGRAM)", sock(AF_UNIX, SOCK_DGRAM, 0));
  expect_ok("socket(AF_UNIX, SEQPACKET)", sock(AF_UNIX, SOCK_SEQPACKET, 0));
  expect_ok("socket(AF_NETLINK, RAW, ROUTE)", sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  expect_ok("socket(AF_NETLINK, DGRAM, ROUTE)", sock(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE));
  int sv[2];
  if (expect_ok("socketpair(AF_UNIX)", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) == 0) {
    close(sv[0]);
    close(sv[1]);
  }

  /* A TCP round trip on loopback. */
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (expect_ok("bind", bind(l, (struct sockaddr*)&a, sizeof a)) < 0) return;
  expect_ok("listen", listen(l, 1));
  expect_ok("getsockname", getsockname(l, (struct sockaddr*)&a, &al));
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  expect_ok("connect", connect(c, (struct sockaddr*)&a, sizeof a));
  int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  expect_ok("accept4", s);
  expect_ok("send", send(c, "ping", 4, 0));
  char buf[8] = {0};
  if (recv(s, buf, sizeof buf, 0) != 4 || memcmp(buf, "ping", 4) != 0) failf("TCP round trip");
  close(s);
  close(c);
  close(l);
}

/* ---- processes and threads ---------------------------------------------- */

static void* thread_body(void* arg) {
  long* v = arg;
  for (int i = 0; i < 1000; ++i) *v += i;
  return NULL;
}

static void case_threads(void) {
  pthread_t t[4];
  long v[4] = {0};
  for (int i = 0; i < 4; ++i) {
    int e = pthread_create(&t[i], NULL, thread_body, &v[i]);
    if (e) {
      failf("pthread_create: %s", strerror(e));
      return;
    }
  }
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; ++i)
    if (v[i] != 499500) failf("thread %d computed %ld", i, v[i]);
}

static int run_true_fork(void) {
  pid_t p = fork();
  if (p < 0) return -1;
  if (p == 0) {
    char* argv[] = {(char*)"true", NULL};
    execve("/bin/true", argv, environ);
    _exit(127);
  }
  int st = 0;
  waitpid(p, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void case_fork_exec(void) {
  int r = run_true_fork();
  if (r != 0) failf("fork + execve(/bin/true) gave %d (errno %s)", r, r < 0 ? strerror(errno) : "-");
}

static void case_spawn(void) {
  pid_t p;
  char* argv[] = {(char*)"true", NULL};
  int e = posix_spawn(&p, "/bin/true", NULL, NULL, argv, environ);
  if (e) {
    failf("posix_spawn: %s", strerror(e));
    return;
  }
  int st = 0;
  waitpid(p, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failf("posix_spawn child status %d", st);
}

static long reap(long pid) {
  if (pid == 0) _exit(0); /* child of a fork the filter should have denied */
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid;
}
static int vfork_child(void* arg) {
  (void)arg;
  _exit(0);
}

static void case_fork_denied(void) {
  EPERM_("fork (clone SIGCHLD)", raw_clone(SIGCHLD));
  EPERM_("fork syscall", reap(syscall(SYS_fork)));
  pid_t v = vfork(); /* glibc's vfork: the vfork system call */
  if (v == 0) _exit(0);
  EPERM_("vfork", reap(v));
  static char stack[64 * 1024];
  EPERM_("clone(CLONE_VM|CLONE_VFORK) as posix_spawn does",
         reap(clone(vfork_child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL)));
  pid_t p;
  char* argv[] = {(char*)"true", NULL};
  int e = posix_spawn(&p, "/bin/true", NULL, NULL, argv, environ);
  if (e == 0) {
    waitpid(p, NULL, 0);
    failf("posix_spawn succeeded");
  }
}

static void case_exec_denied(void) {
  /* /bin/false: should the exec go through, the probe still fails. */
  char* argv[] = {(char*)"false", NULL};
  EPERM_("execve(/bin/false)", execve("/bin/false", argv, environ));
  EPERM_("execveat(AT_FDCWD, /bin/false)", syscall(SYS_execveat, AT_FDCWD, "/bin/false", argv, environ, 0));
}

/* ---- ordinary work -------------------------------------------------------- */

/* The watch: file calls that write, by absolute and relative paths, through a
 * directory fd and "..", next to reads that must not reach the supervisor.
 * Everything happens in /tmp/mcpjail-watch-PID (the test knows the pid), and
 * every call is expected to succeed: the watch only observes. Last, an execve
 * of a program that does not exist (ENOENT) and, with strict, EPERM. */
static void case_watch(void) {
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/mcpjail-watch-%d", (int)getpid());
  expect_ok("mkdir", mkdir(dir, 0700));
  expect_ok("chdir", chdir(dir));
  int fd = open("a", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  expect_ok("open(a, O_WRONLY|O_CREAT)", fd);
  close(fd);
  fd = open("a", O_RDONLY | O_CLOEXEC);
  expect_ok("open(a, O_RDONLY)", fd);
  close(fd);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  expect_ok("open(dir, O_DIRECTORY)", dfd);
  expect_ok("mkdirat(sub)", mkdirat(dfd, "sub", 0700));
  fd = openat(dfd, "sub/../b", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  expect_ok("openat(sub/../b, O_RDWR|O_CREAT|O_TRUNC)", fd);
  close(fd);
  fd = openat(dfd, "b", O_RDONLY | O_CLOEXEC);
  expect_ok("openat(b, O_RDONLY)", fd);
  close(fd);
  expect_ok("renameat(b, c)", renameat(dfd, "b", AT_FDCWD, "c"));
  expect_ok("symlink", symlink("/etc/passwd", "l"));
  /* The bases answer ENOSYS for openat2 (its mode is out of the filter's
     reach); a profile that allows it gets it watched. */
  struct open_how how = {0};
  how.flags = O_RDONLY | O_CLOEXEC;
  fd = (int)syscall(SYS_openat2, dfd, "c", &how, sizeof how);
  if (!(fd < 0 && errno == ENOSYS)) {
    expect_ok("openat2(c, O_RDONLY)", fd);
    close(fd);
    how.flags = O_WRONLY | O_CLOEXEC;
    fd = (int)syscall(SYS_openat2, dfd, "c", &how, sizeof how);
    expect_ok("openat2(c, O_WRONLY)", fd);
    close(fd);
  }
  expect_ok("truncate(c)", truncate("c", 0));
  expect_ok("chmod(c)", chmod("c", 0644));
  expect_ok("unlinkat(l)", unlinkat(dfd, "l", 0));
  expect_ok("unlink(c)", unlink("c"));
  expect_ok("unlink(a)", unlink("a"));
  expect_ok("unlinkat(sub, AT_REMOVEDIR)", unlinkat(dfd, "sub", AT_REMOVEDIR));
  close(dfd);
  expect_ok("chdir /", chdir("/"));
  expect_ok("rmdir", rmdir(dir));
  char* argv[] = {(char*)"prog", NULL};
  long rc = execve("/nonexistent/../nonexistent/prog", argv, environ);
  if (rc != -1 || (errno != ENOENT && errno != EPERM)) failf("execve of a missing program: %ld %s", rc, strerror(errno));
}

static void case_files(void) {
  char dir[] = "/tmp/mcpjail-probe-XXXXXX";
  if (!mkdtemp(dir)) {
    failf("mkdtemp: %s", strerror(errno));
    return;
  }
  char a[128], b[128];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  int fd = open(a, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  expect_ok("open(O_CREAT)", fd);
  expect_ok("write", write(fd, "hello", 5));
  expect_ok("fsync", fsync(fd));
  struct stat st;
  expect_ok("fstat", fstat(fd, &st));
  struct statx sx;
  expect_ok("statx", statx(AT_FDCWD, a, 0, STATX_SIZE, &sx));
  if (sx.stx_size != 5) failf("statx size %llu", (unsigned long long)sx.stx_size);
  char buf[8] = {0};
  expect_ok("pread", pread(fd, buf, 5, 0));
  if (memcmp(buf, "hello", 5) != 0) failf("read back %s", buf);
  void* m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) failf("mmap file: %s", strerror(errno));
  else if (memcmp(m, "hello", 5) != 0) failf("mmap content");
  if (m != MAP_FAILED) munmap(m, 4096);
  close(fd);
  expect_ok("rename", rename(a, b));
  expect_ok("symlink", symlink(b, a));
  expect_ok("readlink", readlink(a, buf, sizeof buf));
  expect_ok("chmod", chmod(b, 0644));
  expect_ok("unlink a", unlink(a));
  expect_ok("unlink b", unlink(b));
  expect_ok("mkdir", mkdir(a, 0700));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char dents[512];
  expect_ok("getdents64", syscall(SYS_getdents64, dfd, dents, sizeof dents));
  close(dfd);
  expect_ok("rmdir a", rmdir(a));
  expect_ok("rmdir", rmdir(dir));
}

static void case_memory(void) {
  size_t len = 1 << 20;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    failf("mmap: %s", strerror(errno));
    return;
  }
  memset(p, 1, len);
  expect_ok("madvise", madvise(p, len, MADV_DONTNEED));
  char* q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    failf("mremap: %s", strerror(errno));
    q = p;
  }
  expect_ok("mprotect(RX)", mprotect(q, 4096, PROT_READ | PROT_EXEC)); /* what a JIT does */
  munmap(q, q == p ? len : 2 * len);
  int mfd = (int)syscall(SYS_memfd_create, "probe", 1 /* MFD_CLOEXEC */);
  expect_ok("memfd_create", mfd);
  if (mfd >= 0) close(mfd);
  long k = syscall(SYS_pkey_alloc, 0, 0);
  expect_not_denied("pkey_alloc", k);
  if (k >= 0) syscall(SYS_pkey_free, k);
  void* b1 = sbrk(0);
  expect_not_denied("brk", (long)(intptr_t)b1);
}

static void case_misc(void) {
  char r[16];
  expect_ok("getrandom", getrandom(r, sizeof r, 0));
  struct timespec ts;
  expect_ok("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &ts));
  struct utsname u;
  expect_ok("uname", uname(&u));
  expect_ok("prctl(PR_SET_NAME)", prctl(PR_SET_NAME, "probe", 0, 0, 0));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  expect_ok("epoll_create1", ep);
  int ev = eventfd(0, EFD_CLOEXEC);
  expect_ok("eventfd", ev);
  struct epoll_event e = {.events = EPOLLIN, .data = {.fd = ev}};
  expect_ok("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e));
  uint64_t one = 1;
  expect_ok("write eventfd", write(ev, &one, sizeof one));
  expect_ok("epoll_wait", epoll_wait(ep, &e, 1, 100));
  int tf = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  expect_ok("timerfd_create", tf);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  expect_ok("signalfd", signalfd(-1, &set, SFD_CLOEXEC));
  int in = inotify_init1(IN_CLOEXEC);
  expect_ok("inotify_init1", in);
  expect_ok("inotify_add_watch", inotify_add_watch(in, "/tmp", IN_CREATE));
  expect_ok("nanosleep", nanosleep(&(struct timespec){0, 1000}, NULL));
  expect_ok("getppid", getppid());
  expect_ok("sched_getaffinity", syscall(SYS_sched_getaffinity, 0, sizeof r, r));
  expect_ok("kill(self, 0)", kill(getpid(), 0));
}

static void case_unknown_nr(void) { ENOSYS_("syscall(1000)", syscall(1000)); }

static void case_new_syscalls(void) {
  ENOSYS_("statmount (457)", syscall(457, NULL, NULL, 0, 0));
  ENOSYS_("listns (470)", syscall(470, NULL, NULL, 0, 0));
  expect_not_denied("mseal (462)", syscall(462, 0, 0, 0));
}

struct probe_case {
  const char* name;
  void (*fn)(void);
};
static const struct probe_case cases[] = {
    {"ia32_getpid", case_ia32_getpid},
    {"ia32_unshare", case_ia32_unshare},
    {"x32_getpid", case_x32_getpid},
    {"x32_unshare", case_x32_unshare},
    {"namespaces", case_namespaces},
    {"unshare", case_unshare},
    {"clone3", case_clone3},
    {"mount_family", case_mount_family},
    {"process_access", case_process_access},
    {"ptrace", case_ptrace},
    {"keys", case_keys},
    {"kernel_surface", case_kernel_surface},
    {"io_uring", case_io_uring},
    {"handles", case_handles},
    {"machine", case_machine},
    {"time_setting", case_time_setting},
    {"legacy", case_legacy},
    {"tiocsti", case_tiocsti},
    {"ioctl_allowed", case_ioctl_allowed},
    {"personality_ok", case_personality_ok},
    {"personality_bad", case_personality_bad},
    {"log_personality", case_log_personality},
    {"sockets_denied", case_sockets_denied},
    {"sockets_ok", case_sockets_ok},
    {"threads", case_threads},
    {"fork_exec", case_fork_exec},
    {"spawn", case_spawn},
    {"fork_denied", case_fork_denied},
    {"exec_denied", case_exec_denied},
    {"files", case_files},
    {"watch", case_watch},
    {"memory", case_memory},
    {"misc", case_misc},
    {"unknown_nr", case_unknown_nr},
    {"new_syscalls", case_new_syscalls},
};

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: escape_probe CASE | --list\n");
    return 2;
  }
  if (strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) puts(cases[i].name);
    return 0;
  }
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    if (strcmp(argv[1], cases[i].name) == 0) {
      current_case = cases[i].name;
      cases[i].fn();
      return failures ? 1 : 0;
    }
  }
  fprintf(stderr, "escape_probe: unknown case %s\n", argv[1]);
  return 2;
}
