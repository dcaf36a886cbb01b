// Tests of the seccomp layer, without the launcher:
//  - the policy tables are consistent (names resolve, no denied class is allowed);
//  - the compiled BPF does what the tables say, checked by running the program
//    in a small classic-BPF interpreter over many synthetic calls (arch, x32,
//    ioctl requests with high bits, clone flags, socket triples, ...);
//  - escape_probe, exec'd under the real filter in a forked child, for every
//    case under base default and strict with actions errno and kill, with the
//    test process acting as the supervisor (it receives the listener over
//    the channel and answers notifications with a Handler);
//  - action log continues calls and reports them; strict mode's launcher exec;
//  - node and python3 run unchanged under both bases with no denial reported.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../support/skip.hpp"
#include "mcpjail/channel.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/seccomp_internal.hpp"
#include "mcpjail/seccomp_policy.hpp"
#include "support/bpf.hpp"

#ifndef MCPJAIL_ESCAPE_PROBE
#error "MCPJAIL_ESCAPE_PROBE must name the escape_probe binary"
#endif

using namespace mcpjail;
namespace sc = mcpjail::seccomp;
namespace pol = mcpjail::seccomp::policy;

extern char** environ;

namespace {

using mcpjail::test::run_bpf;

int nr_of(const char* name) { return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name); }

seccomp_data call(int nr, std::vector<std::uint64_t> args = {}, std::uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  for (std::size_t i = 0; i < args.size() && i < 6; ++i) d.args[i] = args[i];
  return d;
}

constexpr std::uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr std::uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
constexpr std::uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
constexpr std::uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

SeccompPlan make_plan(const char* base, SeccompAction action = SeccompAction::Errno) {
  SeccompPlan p;
  p.base = base;
  p.action = action;
  return p;
}

// ---------------------------------------------------------------------------
// Running a program under the filter, with this process as the supervisor.

// The listener crosses the channel as in a launch (channel.hpp): a Listener
// report, with the fd attached when there is one.
void send_fd(int sock, int fd) {
  channel::send_report(sock, channel::ReportKind::Listener, 0, "", "", fd);
}

int recv_fd(int sock) {
  pollfd p{sock, POLLIN, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  channel::Report r;
  UniqueFd fd;
  if (channel::read_report(sock, &r, &fd) != channel::Read::Report || r.kind != channel::ReportKind::Listener)
    return -1;
  return fd.release();
}

// What the supervisor was told about one notification (seccomp::Notice
// without its fd, so that runs can be copied around).
struct Seen {
  pid_t pid = 0;
  std::string syscall;
  bool allowed = false;
  bool launcher_exec = false;
  bool watch = false;  // observed by the watch, continued
  bool exec = false;
  std::vector<std::string> paths;
};

struct Run {
  pid_t pid = 0;
  int status = 0;
  std::string output;
  std::vector<Seen> denials;  // every notification: launcher exec and watch ones included
  bool timed_out = false;

  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool signalled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
  // The denials: what the supervisor writes "deny" events for.
  std::vector<Seen> reported() const {
    std::vector<Seen> out;
    for (const auto& d : denials)
      if (!d.launcher_exec && !d.watch) out.push_back(d);
    return out;
  }
  std::vector<Seen> watched() const {
    std::vector<Seen> out;
    for (const auto& d : denials)
      if (d.watch) out.push_back(d);
    return out;
  }
  bool watched_path(const std::string& syscall, const std::string& path) const {
    for (const auto& d : watched())
      if (d.syscall == syscall && std::find(d.paths.begin(), d.paths.end(), path) != d.paths.end()) return true;
    return false;
  }
  bool reported_call(const std::string& name) const {
    for (const auto& d : reported())
      if (d.syscall == name) return true;
    return false;
  }
  std::string describe() const {
    std::string s = "status ";
    if (WIFEXITED(status)) s += "exit " + std::to_string(WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) s += std::string("signal ") + strsignal(WTERMSIG(status));
    s += timed_out ? " (timed out)" : "";
    s += "; reported:";
    for (const auto& d : denials) {
      s += " " + d.syscall + (d.allowed ? "(allowed)" : "") + (d.launcher_exec ? "(launcher exec)" : "") +
           (d.watch ? "(watch)" : "");
      for (const auto& p : d.paths) s += "[" + p + "]";
    }
    s += "\n--- output ---\n" + output;
    return s;
  }
};

enum class Supervise { Serve, CloseListener };

// Forks; the child sets no_new_privs, loads `prog` (if any), sends the
// listener to us, and execs argv. We answer notifications until it exits.
Run run_under(const sc::Program* prog, const SeccompPlan& plan, const std::vector<std::string>& args,
              Supervise mode = Supervise::Serve, std::vector<std::string> extra_env = {}) {
  int sv[2], out[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);

  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(sv[0]);
    ::close(out[0]);
    dup2(out[1], 1);
    dup2(out[1], 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // SIGSYS would dump core
    int lfd = -1;
    if (prog) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
      try {
        lfd = sc::install(*prog).release();
      } catch (const std::exception& e) {
        dprintf(2, "install: %s\n", e.what());
        _exit(121);
      }
    }
    send_fd(sv[1], lfd);
    if (lfd >= 0) ::close(lfd);
    ::close(sv[1]);
    execve(argv[0], argv.data(), envp.data());
    dprintf(2, "execve %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }

  ::close(sv[1]);
  ::close(out[1]);
  Run r;
  r.pid = pid;
  int listener = recv_fd(sv[0]);
  ::close(sv[0]);
  if (mode == Supervise::CloseListener && listener >= 0) {
    ::close(listener);
    listener = -1;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<std::size_t>(n));
  };
  sc::Handler handler(plan);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {out[0], POLLIN, 0}};
    poll(fds, 2, 50);
    if (listener >= 0 && (fds[0].revents & POLLIN)) {
      if (auto n = handler.handle(listener)) {
        using K = sc::Notice::Kind;
        r.denials.push_back({n->pid, n->syscall, n->allowed, n->kind == K::LauncherExec, n->kind == K::Watch, n->exec,
                             n->paths});
      }
    } else if (listener >= 0 && (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))) {
      ::close(listener);
      listener = -1;
    }
    drain();
    pid_t w = waitpid(pid, &r.status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &r.status, 0);
      break;
    }
  }
  drain();
  if (listener >= 0) ::close(listener);
  ::close(out[0]);
  return r;
}

Run probe(const SeccompPlan& plan, const std::string& which) {
  sc::Program prog = sc::compile(plan);
  return run_under(&prog, plan, {MCPJAIL_ESCAPE_PROBE, which});
}

bool file_exists(const char* p) { return access(p, X_OK) == 0; }

// ---------------------------------------------------------------------------
// What each escape_probe case should do.

enum class Want { Pass, Fail, Sigsys, Sigkill };

const char* want_name(Want w) {
  switch (w) {
    case Want::Pass: return "exit 0";
    case Want::Fail: return "exit 1";
    case Want::Sigsys: return "SIGSYS";
    case Want::Sigkill: return "SIGKILL";
  }
  return "?";
}

bool matches(const Run& r, Want w) {
  switch (w) {
    case Want::Pass: return r.exited(0);
    case Want::Fail: return r.exited(1);
    case Want::Sigsys: return r.signalled(SIGSYS);
    case Want::Sigkill: return r.signalled(SIGKILL);
  }
  return false;
}

struct Row {
  const char* name;
  Want def_errno, strict_errno, def_kill, strict_kill;
  // With action errno: the call the supervisor must have been told about
  // ("" = not checked), or "-" = nothing may be reported.
  const char* def_report;
  const char* strict_report;
};

using W = Want;
const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      // other ABIs: killed by the filter itself, never reported
      {"ia32_getpid", W::Sigsys, W::Sigsys, W::Sigsys, W::Sigsys, "-", "-"},
      {"ia32_unshare", W::Sigsys, W::Sigsys, W::Sigsys, W::Sigsys, "-", "-"},
      {"x32_getpid", W::Sigsys, W::Sigsys, W::Sigsys, W::Sigsys, "-", "-"},
      {"x32_unshare", W::Sigsys, W::Sigsys, W::Sigsys, W::Sigsys, "-", "-"},
      // denied classes: EPERM (reported) or SIGSYS
      {"namespaces", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "unshare", "unshare"},
      {"unshare", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "unshare", "unshare"},
      {"mount_family", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "mount", "mount"},
      {"process_access", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "ptrace", "ptrace"},
      {"ptrace", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "ptrace", "ptrace"},
      {"keys", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "keyctl", "keyctl"},
      {"kernel_surface", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "bpf", "bpf"},
      {"handles", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "name_to_handle_at", "name_to_handle_at"},
      {"machine", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "kexec_load", "kexec_load"},
      {"time_setting", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "settimeofday", "settimeofday"},
      {"legacy", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "acct", "acct"},
      {"tiocsti", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "ioctl", "ioctl"},
      {"personality_bad", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "personality", "personality"},
      {"sockets_denied", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "socket", "socket"},
      {"unknown_nr", W::Pass, W::Pass, W::Sigsys, W::Sigsys, "syscall_1000", "syscall_1000"},
      // ENOSYS in the filter: the same under every action, never reported
      {"clone3", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"io_uring", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"new_syscalls", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      // what servers do
      {"ioctl_allowed", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"sockets_ok", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"threads", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"files", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      // the watch observes, never refuses; strict refuses the final execve
      {"watch", W::Pass, W::Pass, W::Pass, W::Sigkill, "-", "execve"},
      {"memory", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      {"misc", W::Pass, W::Pass, W::Pass, W::Pass, "-", "-"},
      // where default and strict differ
      {"personality_ok", W::Pass, W::Fail, W::Pass, W::Sigsys, "-", "personality"},
      {"fork_exec", W::Pass, W::Fail, W::Pass, W::Sigsys, "-", "clone"},
      {"spawn", W::Pass, W::Fail, W::Pass, W::Sigsys, "-", "clone"},
      {"fork_denied", W::Fail, W::Pass, W::Fail, W::Sigsys, "", "clone"},
      // strict + kill: execve reaches the supervisor, which kills the caller
      {"exec_denied", W::Fail, W::Pass, W::Fail, W::Sigkill, "", "execve"},
  };
  return r;
}

void check_rows(const char* base, SeccompAction action) {
  const bool strict = std::string(base) == "strict";
  const bool kill = action == SeccompAction::Kill;
  SeccompPlan plan = make_plan(base, action);
  sc::Program prog = sc::compile(plan);
  for (const Row& row : rows()) {
    Want want = strict ? (kill ? row.strict_kill : row.strict_errno) : (kill ? row.def_kill : row.def_errno);
    Run r = run_under(&prog, plan, {MCPJAIL_ESCAPE_PROBE, row.name});
    INFO("case " << row.name << " under base " << base << ", action " << (kill ? "kill" : "errno")
                 << ": want " << want_name(want) << "; got " << r.describe());
    CHECK(matches(r, want));
    if (!kill) {
      std::string rep = strict ? row.strict_report : row.def_report;
      if (rep == "-") CHECK(r.reported().empty());
      else if (!rep.empty()) CHECK(r.reported_call(rep));
      for (const auto& d : r.reported()) {
        CHECK_FALSE(d.allowed);
        CHECK(d.pid == r.pid);
      }
    } else {
      // Only execve/execveat ever reach the supervisor with action kill.
      for (const auto& d : r.reported()) CHECK((d.syscall == "execve" || d.syscall == "execveat"));
    }
    // The launcher's own execve went through the supervisor, once (strict:
    // the launcher-exec check; default: the watch observes every exec).
    std::size_t launcher_execs = 0;
    for (const auto& d : r.denials) launcher_execs += d.launcher_exec ? 1 : 0;
    CHECK(launcher_execs == 1u);
  }
}

}  // namespace

// ===========================================================================
// The policy tables

TEST_CASE("every name in the policy tables is an x86_64 system call", "[seccomp][policy]") {
  for (const auto& g : pol::allowed_groups())
    for (const char* n : g.syscalls) {
      INFO(g.name << ": " << n);
      CHECK(nr_of(n) >= 0);
    }
  for (const auto& r : pol::arg_rules()) CHECK(nr_of(r.syscall) >= 0);
  for (const auto& g : pol::errno_groups())
    for (const char* n : g.syscalls) CHECK(nr_of(n) >= 0);
  for (const auto& dc : pol::deny_classes())
    for (const char* n : dc.syscalls) {
      INFO(dc.name << ": " << n);
      CHECK(nr_of(n) >= 0);
    }
  for (const auto& n : pol::numbered()) {
    int known = nr_of(n.name);
    INFO(n.name);
    CHECK((known < 0 || known == n.nr));  // a newer libseccomp must agree
  }
}

TEST_CASE("no denied class and no ENOSYS call is allowed by a group", "[seccomp][policy]") {
  for (unsigned base : {unsigned(pol::kDefault), unsigned(pol::kStrict)}) {
    std::map<std::string, std::string> allowed;  // name -> group
    for (const auto& g : pol::allowed_groups()) {
      if (!(g.bases & base)) continue;
      for (const char* n : g.syscalls) {
        INFO("base " << base << ": " << n << " in " << g.name);
        CHECK(allowed.emplace(n, g.name).second);  // listed once
      }
    }
    for (const auto& r : pol::arg_rules())
      if (r.bases & base) {
        INFO(r.syscall);
        CHECK(allowed.count(r.syscall) == 0);
      }
    for (const auto& dc : pol::deny_classes())
      for (const char* n : dc.syscalls) {
        INFO(dc.name << ": " << n);
        CHECK(allowed.count(n) == 0);
      }
    for (const auto& g : pol::errno_groups())
      for (const char* n : g.syscalls) CHECK(allowed.count(n) == 0);
    CHECK(allowed.count("execve") == (base == pol::kDefault ? 1u : 0u));
    CHECK(allowed.count("fork") == (base == pol::kDefault ? 1u : 0u));
    CHECK(allowed.count("clone") == 0);  // argument-checked in both
  }
}

TEST_CASE("strict allows a subset of default", "[seccomp][policy]") {
  for (const auto& g : pol::allowed_groups()) CHECK((g.bases & pol::kDefault) != 0);
}

TEST_CASE("complement_cover covers every 32-bit value except the excluded ones", "[seccomp][policy]") {
  const std::vector<std::uint64_t> except = {0x5412, 0x541C};
  auto cover = pol::complement_cover(except);
  CHECK(cover.size() <= 64);
  // Pairwise disjoint ...
  for (std::size_t i = 0; i < cover.size(); ++i)
    for (std::size_t j = i + 1; j < cover.size(); ++j) {
      auto [m1, v1] = cover[i];
      auto [m2, v2] = cover[j];
      CHECK(((v1 ^ v2) & m1 & m2) != 0);
    }
  // ... none matches an excluded value ...
  for (auto [m, v] : cover)
    for (auto e : except) CHECK((std::uint32_t(e) & m) != v);
  // ... and together they hold 2^32 - 2 values: exactly the complement.
  std::uint64_t total = 0;
  for (auto [m, v] : cover) total += std::uint64_t(1) << (32 - __builtin_popcount(m));
  CHECK(total == (std::uint64_t(1) << 32) - except.size());

  CHECK(pol::complement_cover({}).size() == 1);  // mask 0: everything
}

TEST_CASE("syscall_name", "[seccomp][policy]") {
  CHECK(sc::syscall_name(nr_of("ptrace")) == "ptrace");
  CHECK(sc::syscall_name(467) == "open_tree_attr");
  CHECK(sc::syscall_name(1000) == "syscall_1000");
}

// ===========================================================================
// The compiled program, interpreted

TEST_CASE("other architectures and x32 numbers are killed by the filter", "[seccomp][bpf]") {
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
      auto prog = sc::compile(make_plan(base, action));
      INFO(base);
      for (int nr : {0, 1, 20, 39, 101, 310, 1000}) {
        CHECK(run_bpf(prog.code, call(nr, {}, AUDIT_ARCH_I386)) == kKill);
        CHECK(run_bpf(prog.code, call(nr | 0x40000000, {})) == kKill);
      }
      CHECK(run_bpf(prog.code, call(0, {}, AUDIT_ARCH_AARCH64)) == kKill);
      CHECK(run_bpf(prog.code, call(nr_of("unshare") | 0x40000000, {CLONE_NEWUSER})) == kKill);
    }
}

TEST_CASE("groups, classes and ENOSYS calls compile as the tables say", "[seccomp][bpf]") {
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill}) {
      const unsigned bit = pol::base_bit(base);
      const std::uint32_t deny = action == SeccompAction::Kill ? kKill : kNotify;
      auto prog = sc::compile(make_plan(base, action));
      INFO(base << " " << (action == SeccompAction::Kill ? "kill" : "errno"));
      CHECK(prog.code.size() < BPF_MAXINSNS);
      for (const auto& g : pol::allowed_groups())
        for (const char* n : g.syscalls) {
          INFO(n);
          std::uint32_t want = (g.bases & bit) ? kAllow : deny;
          if (!(g.bases & bit) && (std::string(n) == "execve" || std::string(n) == "execveat"))
            want = kNotify;  // the launcher-exec check, whatever the action
          // The watch: allowed calls it observes go to the supervisor, whatever
          // the action; open/openat only with a write flag (0 here: a read).
          for (const auto& w : pol::watched())
            if ((g.bases & bit) && std::string(n) == w.syscall && w.flags_arg < 0) want = kNotify;
          CHECK(run_bpf(prog.code, call(nr_of(n))) == want);
        }
      for (const auto& dc : pol::deny_classes())
        for (const char* n : dc.syscalls) {
          INFO(n);
          CHECK(run_bpf(prog.code, call(nr_of(n))) == deny);
        }
      for (const auto& g : pol::errno_groups())
        for (const char* n : g.syscalls) CHECK(run_bpf(prog.code, call(nr_of(n))) == kEnosys);
      CHECK(run_bpf(prog.code, call(457)) == kEnosys);  // statmount
      CHECK(run_bpf(prog.code, call(462)) == kAllow);   // mseal
      CHECK(run_bpf(prog.code, call(467)) == deny);     // open_tree_attr
      CHECK(run_bpf(prog.code, call(470)) == kEnosys);  // listns
      CHECK(run_bpf(prog.code, call(1000)) == deny);
      CHECK(prog.listener);  // the watch reports through it, whatever the action

      // Without the watch, the old shape: allowed calls are plain ALLOW, and
      // with action kill only strict (the launcher-exec check) has a listener.
      SeccompPlan quiet = make_plan(base, action);
      quiet.watch = false;
      auto qp = sc::compile(quiet);
      for (const auto& g : pol::allowed_groups())
        for (const char* n : g.syscalls)
          if (g.bases & bit) {
            INFO("watch off: " << n);
            CHECK(run_bpf(qp.code, call(nr_of(n), {0, 0, O_WRONLY | O_CREAT})) == kAllow);
          }
      CHECK(qp.listener == (action != SeccompAction::Kill || std::string(base) == "strict"));
    }
}

TEST_CASE("the watch: open/openat reach the supervisor only with a write flag", "[seccomp][bpf]") {
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
      auto prog = sc::compile(make_plan(base, action));
      INFO(base << " action " << int(action));
      const int open_nr = nr_of("open"), openat_nr = nr_of("openat");
      const std::uint64_t reads[] = {O_RDONLY, O_RDONLY | O_CLOEXEC, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
                                     O_PATH | O_CLOEXEC, O_RDONLY | O_NONBLOCK | O_LARGEFILE | O_NOCTTY,
                                     O_RDONLY | O_APPEND, 0xffffffff00000000ULL | O_RDONLY};
      const std::uint64_t writes[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_ACCMODE, O_WRONLY | O_CREAT | O_TRUNC,
                                      O_RDWR | O_CLOEXEC, O_TMPFILE | O_RDWR, O_CREAT | O_EXCL,
                                      0xffffffff00000000ULL | O_WRONLY};
      for (std::uint64_t f : reads) {
        INFO("read flags " << std::hex << f);
        CHECK(run_bpf(prog.code, call(open_nr, {0, f, 0})) == kAllow);
        CHECK(run_bpf(prog.code, call(openat_nr, {std::uint64_t(AT_FDCWD), 0, f, 0})) == kAllow);
      }
      for (std::uint64_t f : writes) {
        INFO("write flags " << std::hex << f);
        CHECK(run_bpf(prog.code, call(open_nr, {0, f, 0})) == kNotify);
        CHECK(run_bpf(prog.code, call(openat_nr, {std::uint64_t(AT_FDCWD), 0, f, 0})) == kNotify);
      }
      // Every combination of the low 12 flag bits: notified exactly when a
      // write flag is among them.
      for (std::uint64_t f = 0; f < 4096; ++f) {
        const std::uint32_t want = (f & pol::kOpenWriteFlags) ? kNotify : kAllow;
        if (run_bpf(prog.code, call(openat_nr, {0, 0, f, 0})) != want) FAIL("openat flags " << std::hex << f);
      }
      // The rest of the watch: always notified, never killed or denied here.
      for (const char* n : {"creat", "mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "rename",
                            "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "truncate", "chmod",
                            "fchmodat", "chown", "lchown", "fchownat"}) {
        INFO(n);
        CHECK(run_bpf(prog.code, call(nr_of(n))) == kNotify);
      }
      // Reads and descriptor I/O never do.
      for (const char* n : {"read", "pread64", "write", "fstat", "newfstatat", "statx", "readlink", "getdents64",
                            "access", "faccessat2", "close", "ftruncate", "fchmod"}) {
        INFO(n);
        CHECK(run_bpf(prog.code, call(nr_of(n), {0, 0, O_WRONLY})) == kAllow);
      }
      CHECK(run_bpf(prog.code, call(nr_of("execve"))) == kNotify);
      // openat2 answers ENOSYS in the bases (its mode cannot be checked); a
      // profile that allows it gets it watched.
      CHECK(run_bpf(prog.code, call(nr_of("openat2"))) == kEnosys);
      SeccompPlan with2 = make_plan(base, action);
      with2.allow = {"openat2"};
      CHECK(run_bpf(sc::compile(with2).code, call(nr_of("openat2"))) == kNotify);
    }
  // A profile deny wins over the watch: the call is a denial.
  SeccompPlan p = make_plan("default", SeccompAction::Kill);
  p.deny = {"unlink", "openat"};
  auto prog = sc::compile(p);
  CHECK(run_bpf(prog.code, call(nr_of("unlink"))) == kKill);
  CHECK(run_bpf(prog.code, call(nr_of("openat"), {0, 0, O_RDONLY})) == kKill);
  CHECK(run_bpf(prog.code, call(nr_of("mkdir"))) == kNotify);
}

TEST_CASE("setuid/setgid modes reach the supervisor, every other mode is allowed, under every action",
          "[seccomp][bpf]") {
  const std::uint64_t setid[] = {S_ISUID, S_ISGID, S_ISUID | S_ISGID, 06755, 0xffffffff00000000ULL | 04755};
  const std::uint64_t plain[] = {0, 0644, 0755, 01777, 0777, 0xffffffff00000000ULL | 0755};
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log})
      for (bool watch : {false, true}) {
        SeccompPlan plan = make_plan(base, action);
        plan.watch = watch;
        auto prog = sc::compile(plan);
        INFO(base << " action " << int(action) << " watch " << watch);
        for (const auto& g : pol::setid_guards()) {
          const int nr = nr_of(g.syscall);
          if (nr < 0) continue;
          if (std::string(base) == "strict" && (std::string(g.syscall) == "mknod" || std::string(g.syscall) == "mknodat"))
            continue;  // not in strict at all
          INFO(g.syscall);
          auto args = [&](std::uint64_t flags, std::uint64_t mode) {
            std::vector<std::uint64_t> a(6, 0);
            if (g.flags_arg >= 0) a[static_cast<std::size_t>(g.flags_arg)] = flags;
            a[g.mode_arg] = mode;
            return a;
          };
          for (std::uint64_t m : setid) {
            INFO("mode " << std::oct << m);
            CHECK(run_bpf(prog.code, call(nr, args(O_WRONLY | O_CREAT, m))) == kNotify);
            if (g.flags_arg >= 0) {
              CHECK(run_bpf(prog.code, call(nr, args(O_RDWR | O_TMPFILE, m))) == kNotify);
              // Without a creating flag the mode is not used: a read stays in the kernel.
              CHECK(run_bpf(prog.code, call(nr, args(O_RDONLY, m))) == kAllow);
            }
          }
          for (std::uint64_t m : plain) {
            INFO("mode " << std::oct << m);
            const std::uint32_t got = run_bpf(prog.code, call(nr, args(O_RDONLY, m)));
            // Watched calls go to the supervisor (it lets them continue).
            bool watched = false;
            for (const auto& w : pol::watched())
              if (watch && std::string(w.syscall) == g.syscall && w.flags_arg < 0) watched = true;
            CHECK(got == (watched ? kNotify : kAllow));
          }
        }
      }
}

TEST_CASE("ioctl: TIOCSTI and TIOCLINUX denied on the low 32 bits, everything else allowed",
          "[seccomp][bpf]") {
  auto prog = sc::compile(make_plan("default"));
  const int ioctl_nr = nr_of("ioctl");
  std::mt19937_64 rng(42);
  auto want = [](std::uint64_t req) {
    std::uint32_t lo = std::uint32_t(req);
    return (lo == 0x5412 || lo == 0x541C) ? kNotify : kAllow;
  };
  for (std::uint64_t high : {0ULL, 0xdeadbeef00000000ULL, 0xffffffff00000000ULL, 0x100000000ULL}) {
    for (std::uint64_t lo = 0; lo < 0x10000; ++lo) {
      std::uint64_t req = high | lo;
      if (run_bpf(prog.code, call(ioctl_nr, {3, req})) != want(req)) FAIL("ioctl request " << std::hex << req);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t req = rng();
    if (i % 2) {  // an excluded value with random high bits, or a one-bit neighbour
      std::uint32_t lo = rng() % 2 ? 0x5412u : 0x541Cu;
      if (rng() % 3) lo ^= 1u << (rng() % 32);
      req = (req & ~0xffffffffULL) | lo;
    }
    if (run_bpf(prog.code, call(ioctl_nr, {3, req})) != want(req)) FAIL("ioctl request " << std::hex << req);
  }
  CHECK(run_bpf(prog.code, call(ioctl_nr, {3, 0xdeadbeef00005412ULL})) == kNotify);
}

TEST_CASE("clone: namespace flags denied, threads allowed, strict allows threads only",
          "[seccomp][bpf]") {
  const int clone_nr = nr_of("clone");
  const std::uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                               CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  const std::uint64_t fork_flags = CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD;
  const std::uint64_t vfork_flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  const std::uint64_t news[] = {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET};
  auto def = sc::compile(make_plan("default"));
  auto strict = sc::compile(make_plan("strict"));
  CHECK(run_bpf(def.code, call(clone_nr, {thread})) == kAllow);
  CHECK(run_bpf(def.code, call(clone_nr, {fork_flags})) == kAllow);
  CHECK(run_bpf(def.code, call(clone_nr, {vfork_flags})) == kAllow);
  CHECK(run_bpf(strict.code, call(clone_nr, {thread})) == kAllow);
  CHECK(run_bpf(strict.code, call(clone_nr, {fork_flags})) == kNotify);
  CHECK(run_bpf(strict.code, call(clone_nr, {vfork_flags})) == kNotify);
  for (std::uint64_t n : news) {
    for (std::uint64_t base : {thread, fork_flags, std::uint64_t(0xffffffff00000000ULL | SIGCHLD)}) {
      CHECK(run_bpf(def.code, call(clone_nr, {base | n})) == kNotify);
      CHECK(run_bpf(strict.code, call(clone_nr, {base | n})) == kNotify);
    }
  }
  // Bits the kernel ignores (above 32) do not matter either way.
  CHECK(run_bpf(def.code, call(clone_nr, {0xffffffff00000000ULL | fork_flags})) == kAllow);
}

TEST_CASE("socket: the allowed families, types and protocols, and nothing else", "[seccomp][bpf]") {
  auto prog = sc::compile(make_plan("default"));
  const int socket_nr = nr_of("socket"), pair_nr = nr_of("socketpair");
  auto oracle = [](std::uint64_t fam64, std::uint64_t type64, std::uint64_t proto64) {
    std::uint32_t fam = std::uint32_t(fam64), type = std::uint32_t(type64) & 0xf,
                  proto = std::uint32_t(proto64);
    if (fam == AF_UNIX) return true;
    if (fam == AF_NETLINK) return proto == 0;
    if (fam == AF_INET || fam == AF_INET6) {
      if (type == SOCK_STREAM) return proto == 0 || proto == IPPROTO_TCP || proto == IPPROTO_MPTCP;
      if (type == SOCK_DGRAM)
        return proto == 0 || proto == IPPROTO_UDP ||
               proto == std::uint32_t(fam == AF_INET ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
    }
    return false;
  };
  const std::uint64_t types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET, 6, 10};
  const std::uint64_t flags[] = {0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC};
  const std::uint64_t protos[] = {0, 1, 6, 17, 58, 132, 136, 255, 262, 0x100000006ULL};
  for (std::uint64_t fam = 0; fam < 48; ++fam)
    for (std::uint64_t fhigh : {0ULL, 0x100000000ULL})
      for (std::uint64_t t : types)
        for (std::uint64_t fl : flags)
          for (std::uint64_t p : protos) {
            std::uint64_t f = fam | fhigh, ty = t | fl;
            std::uint32_t got = run_bpf(prog.code, call(socket_nr, {f, ty, p}));
            std::uint32_t want = oracle(f, ty, p) ? kAllow : kNotify;
            if (got != want) FAIL("socket(" << f << ", " << ty << ", " << p << ")");
          }
  for (std::uint64_t fam = 0; fam < 48; ++fam)
    CHECK(run_bpf(prog.code, call(pair_nr, {fam, SOCK_STREAM, 0})) == (fam == AF_UNIX ? kAllow : kNotify));
}

TEST_CASE("personality: only the harmless values", "[seccomp][bpf]") {
  auto def = sc::compile(make_plan("default"));
  auto strict = sc::compile(make_plan("strict"));
  const int nr = nr_of("personality");
  for (std::uint64_t v : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    CHECK(run_bpf(def.code, call(nr, {v})) == kAllow);
    CHECK(run_bpf(strict.code, call(nr, {v})) == kNotify);
  }
  for (std::uint64_t v : {std::uint64_t(ADDR_NO_RANDOMIZE), std::uint64_t(READ_IMPLIES_EXEC),
                          std::uint64_t(MMAP_PAGE_ZERO), std::uint64_t(0x0040008), std::uint64_t(1),
                          std::uint64_t(0x7fffffff)})
    CHECK(run_bpf(def.code, call(nr, {v})) == kNotify);
}

TEST_CASE("profile allow and deny change the base by name", "[seccomp][bpf]") {
  SeccompPlan p = make_plan("default");
  p.allow = {"ptrace", "ioctl", "read", "stime"};  // stime: not on x86_64, no effect
  p.deny = {"read", "execve", "clone3"};
  auto prog = sc::compile(p);
  CHECK(run_bpf(prog.code, call(nr_of("ptrace"))) == kAllow);
  CHECK(run_bpf(prog.code, call(nr_of("ioctl"), {0, 0x5412})) == kAllow);  // unconditional now
  CHECK(run_bpf(prog.code, call(nr_of("read"))) == kNotify);               // deny wins
  CHECK(run_bpf(prog.code, call(nr_of("execve"))) == kNotify);             // launcher-exec check
  CHECK(run_bpf(prog.code, call(nr_of("clone3"))) == kNotify);             // denied, reported
  CHECK(run_bpf(prog.code, call(nr_of("write"))) == kAllow);

  SeccompPlan k = make_plan("default", SeccompAction::Kill);
  k.deny = {"execve"};
  auto kp = sc::compile(k);
  CHECK(kp.listener);
  CHECK(run_bpf(kp.code, call(nr_of("execve"))) == kNotify);
  CHECK(run_bpf(kp.code, call(nr_of("ptrace"))) == kKill);
}

TEST_CASE("an unknown base is refused", "[seccomp][policy]") {
  CHECK_THROWS_AS(sc::compile(make_plan("loose")), LaunchError);
}

TEST_CASE("describe shows base, action, classes and profile changes", "[seccomp][policy]") {
  SeccompPlan p = make_plan("default");
  p.allow = {"ptrace"};
  p.deny = {"tee"};
  std::string d = sc::describe(p);
  CHECK(d.find("base: default") != std::string::npos);
  CHECK(d.find("action: errno") != std::string::npos);
  CHECK(d.find("x86_64 only") != std::string::npos);
  CHECK(d.find("TIOCSTI") != std::string::npos);
  CHECK(d.find("clone3") != std::string::npos);
  CHECK(d.find("profile allow: ptrace (overrides denied class") != std::string::npos);
  CHECK(d.find("profile deny: tee") != std::string::npos);
  CHECK(d.find("exec: execve") == std::string::npos);
  std::string s = sc::describe(make_plan("strict", SeccompAction::Kill));
  CHECK(s.find("action: kill") != std::string::npos);
  CHECK(s.find("exec: execve execveat, except the launcher's own") != std::string::npos);
  CHECK(s.find("personality: every personality call") != std::string::npos);
}

// ===========================================================================
// The real filter

TEST_CASE("install refuses without no_new_privs, and the listener is close-on-exec",
          "[seccomp][install]") {
  auto prog = sc::compile(make_plan("default"));
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 0;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0) {
      try {
        sc::install(prog);
        _exit(10);  // must not load without no_new_privs
      } catch (const LaunchError& e) {
        if (e.layer() != "seccomp") _exit(11);
      }
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    UniqueFd l = sc::install(prog);
    if (!l) _exit(12);
    int fl = fcntl(l.get(), F_GETFD);
    if (fl < 0 || !(fl & FD_CLOEXEC)) rc = 13;
    _exit(rc);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("the prebuilt programs are exactly what libseccomp builds from the tables now", "[seccomp][bpf]") {
  // The build compiles them with this libseccomp; a launch that uses one
  // must load the very program compile_with_libseccomp() would give it.
  REQUIRE(sc::kPrebuiltCount == 12);
  for (const bool seal : {false, true})
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
      INFO(base << " " << static_cast<int>(action) << (seal ? " memfd sealing" : ""));
      SeccompPlan plan = make_plan(base, action);
      plan.seal_memfd = seal;
      const auto* pre = sc::prebuilt(plan);
      REQUIRE(pre != nullptr);
      const auto fresh = sc::compile_with_libseccomp(plan);
      CHECK(pre->listener == fresh.listener);
      REQUIRE(pre->count == fresh.code.size());
      CHECK(std::memcmp(pre->code, fresh.code.data(), fresh.code.size() * sizeof(sock_filter)) == 0);
      const auto used = sc::compile(plan);
      CHECK(used.code.size() == fresh.code.size());
      CHECK(used.listener == fresh.listener);
    }
  // A profile's allow or deny list changes the program: never prebuilt.
  SeccompPlan changed = make_plan("default");
  changed.deny = {"tee"};
  CHECK(sc::prebuilt(changed) == nullptr);
  changed = make_plan("strict");
  changed.allow = {"ptrace"};
  CHECK(sc::prebuilt(changed) == nullptr);
  SeccompPlan unknown = make_plan("default");
  unknown.base = "no-such-base";
  CHECK(sc::prebuilt(unknown) == nullptr);
}

TEST_CASE("the compiled filter crosses from supervisor to jail intact, and nothing else is accepted",
          "[seccomp][install]") {
  auto pair = [] {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    return std::pair<UniqueFd, UniqueFd>(UniqueFd(sv[0]), UniqueFd(sv[1]));
  };
  auto refused = [](int sock) {
    try {
      sc::receive_program(sock);
    } catch (const LaunchError& e) {
      return e.layer() == "seccomp";
    }
    return false;
  };
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill}) {
      auto [sup, jail] = pair();
      const auto prog = sc::compile(make_plan(base, action));
      sc::send_program(sup.get(), prog);
      const auto got = sc::receive_program(jail.get());
      CHECK(got.listener == prog.listener);
      REQUIRE(got.code.size() == prog.code.size());
      CHECK(std::memcmp(got.code.data(), prog.code.data(), prog.code.size() * sizeof(sock_filter)) == 0);
    }
  SECTION("the supervisor's end closes first") {
    auto [sup, jail] = pair();
    sup.reset();
    CHECK(refused(jail.get()));
  }
  SECTION("a message that is not a program") {
    auto [sup, jail] = pair();
    const char junk[64] = "not a filter";
    REQUIRE(send(sup.get(), junk, sizeof junk, 0) == static_cast<ssize_t>(sizeof junk));
    CHECK(refused(jail.get()));
  }
  SECTION("a program cut short") {
    auto [sup, jail] = pair();
    const auto prog = sc::compile(make_plan("default"));
    int tmp[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tmp) == 0);
    UniqueFd a(tmp[0]), b(tmp[1]);
    sc::send_program(a.get(), prog);
    std::vector<char> whole(64 * 1024);
    const ssize_t n = recv(b.get(), whole.data(), whole.size(), 0);
    REQUIRE(n > 16);
    REQUIRE(send(sup.get(), whole.data(), static_cast<std::size_t>(n) - sizeof(sock_filter), 0) ==
            n - static_cast<ssize_t>(sizeof(sock_filter)));
    CHECK(refused(jail.get()));
  }
}

TEST_CASE("without a filter the ia32 and namespace vectors are live on this machine",
          "[seccomp][probe]") {
  // Shows that the probes test something real: int 0x80 reaches the kernel,
  // and unshare works, when nothing filters.
  SeccompPlan plan = make_plan("default");
  Run r = run_under(nullptr, plan, {MCPJAIL_ESCAPE_PROBE, "ia32_getpid"});
  INFO(r.describe());
  if (r.signalled(SIGSEGV)) WARN("IA32 emulation is off on this kernel: int 0x80 faults");
  else CHECK(r.exited(1));  // the call returned
  Run u = run_under(nullptr, plan, {MCPJAIL_ESCAPE_PROBE, "unshare"});
  INFO(u.describe());
  CHECK(u.exited(1));  // unshare(CLONE_NEWUSER) succeeded
}

TEST_CASE("escape probes: base default, action errno", "[seccomp][probe]") {
  check_rows("default", SeccompAction::Errno);
}
TEST_CASE("escape probes: base strict, action errno", "[seccomp][probe]") {
  check_rows("strict", SeccompAction::Errno);
}
TEST_CASE("escape probes: base default, action kill", "[seccomp][probe]") {
  check_rows("default", SeccompAction::Kill);
}
TEST_CASE("escape probes: base strict, action kill", "[seccomp][probe]") {
  check_rows("strict", SeccompAction::Kill);
}

TEST_CASE("the supervisor hears about a denied ptrace, with the jail's pid", "[seccomp][notify]") {
  SeccompPlan plan = make_plan("default");
  Run r = probe(plan, "ptrace");
  INFO(r.describe());
  CHECK(r.exited(0));  // the probe saw EPERM
  REQUIRE(r.reported().size() == 1);
  CHECK(r.reported()[0].syscall == "ptrace");
  CHECK(r.reported()[0].pid == r.pid);
  CHECK_FALSE(r.reported()[0].allowed);
}

TEST_CASE("action log lets the call continue and reports it", "[seccomp][notify]") {
  for (const char* base : {"default", "strict"}) {
    SeccompPlan plan = make_plan(base, SeccompAction::Log);
    Run r = probe(plan, "log_personality");
    INFO(base << ": " << r.describe());
    CHECK(r.exited(0));  // personality(ADDR_NO_RANDOMIZE) succeeded
    REQUIRE(r.reported().size() == 1);
    CHECK(r.reported()[0].syscall == "personality");
    CHECK(r.reported()[0].allowed);
    // ptrace continues too: it then fails on its own (ESRCH, not traced), so
    // the probe, which wants EPERM, fails.
    Run p = probe(plan, "ptrace");
    INFO(p.describe());
    CHECK(p.exited(1));
    CHECK(p.reported_call("ptrace"));
  }
}

TEST_CASE("strict: the launcher's execve is allowed once, later ones are reported",
          "[seccomp][notify]") {
  SeccompPlan plan = make_plan("strict");
  Run r = probe(plan, "exec_denied");
  INFO(r.describe());
  CHECK(r.exited(0));
  REQUIRE_FALSE(r.denials.empty());
  CHECK(r.denials[0].launcher_exec);
  CHECK(r.denials[0].syscall == "execve");
  CHECK(r.denials[0].allowed);
  CHECK(r.reported_call("execve"));
  CHECK(r.reported_call("execveat"));
  for (const auto& d : r.reported()) CHECK_FALSE(d.allowed);
}

TEST_CASE("strict: without a supervisor the server is never started", "[seccomp][notify]") {
  SeccompPlan plan = make_plan("strict");
  auto prog = sc::compile(plan);
  Run r = run_under(&prog, plan, {MCPJAIL_ESCAPE_PROBE, "threads"}, Supervise::CloseListener);
  INFO(r.describe());
  CHECK(r.exited(126));  // execve failed (ENOSYS: nobody to ask)
  CHECK(r.output.find("execve") != std::string::npos);
}

TEST_CASE("default with execve denied by the profile: only the launcher's exec goes through",
          "[seccomp][notify]") {
  SeccompPlan plan = make_plan("default");
  plan.deny = {"execve"};
  Run r = probe(plan, "fork_exec");  // the forked child's execve is refused
  INFO(r.describe());
  CHECK(r.exited(1));
  REQUIRE_FALSE(r.denials.empty());
  CHECK(r.denials[0].launcher_exec);
  REQUIRE(r.reported().size() == 1);
  CHECK(r.reported()[0].syscall == "execve");
  CHECK(r.reported()[0].pid != r.pid);  // the probe's child
}

TEST_CASE("default: the launcher's execve reaches the supervisor only with the watch, unreported",
          "[seccomp][notify]") {
  Run r = probe(make_plan("default"), "threads");
  INFO(r.describe());
  CHECK(r.exited(0));
  REQUIRE(r.denials.size() == 1);
  CHECK(r.denials[0].launcher_exec);
  SeccompPlan quiet = make_plan("default");
  quiet.watch = false;
  Run q = probe(quiet, "threads");
  INFO(q.describe());
  CHECK(q.exited(0));
  CHECK(q.denials.empty());
}

TEST_CASE("the watch: writes and exec are observed with their paths, reads are not, nothing is refused",
          "[seccomp][notify]") {
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill}) {
      const bool strict = std::string(base) == "strict", kill = action == SeccompAction::Kill;
      SeccompPlan plan = make_plan(base, action);
      plan.allow = {"openat2"};  // ENOSYS in the bases
      Run r = probe(plan, "watch");
      INFO(base << (kill ? " kill: " : " errno: ") << r.describe());
      CHECK(matches(r, strict && kill ? Want::Sigkill : Want::Pass));
      const std::string dir = "/tmp/mcpjail-watch-" + std::to_string(r.pid);
      CHECK(r.watched_path("mkdir", dir));
      CHECK(r.watched_path("openat", dir + "/a"));  // open() is openat in glibc; relative to the cwd
      CHECK(r.watched_path("mkdirat", dir + "/sub"));
      CHECK(r.watched_path("openat", dir + "/b"));  // "sub/../b" through the directory fd, folded
      CHECK(r.watched_path("renameat", dir + "/b"));
      CHECK(r.watched_path("renameat", dir + "/c"));
      CHECK(r.watched_path("symlink", dir + "/l"));
      CHECK_FALSE(r.watched_path("symlink", "/etc/passwd"));  // a link's target is only a string
      CHECK(r.watched_path("openat2", dir + "/c"));
      CHECK(r.watched_path("truncate", dir + "/c"));
      CHECK(r.watched_path("chmod", dir + "/c"));
      CHECK(r.watched_path("unlinkat", dir + "/l"));
      CHECK(r.watched_path("unlink", dir + "/c"));
      CHECK(r.watched_path("unlinkat", dir + "/sub"));
      CHECK(r.watched_path("rmdir", dir));
      // The read-only opens of a and b never reached the supervisor; the
      // read-only openat2 did (its flags are behind a pointer) but names nothing.
      std::size_t opens_a = 0, opens_b = 0, openat2_empty = 0;
      for (const auto& d : r.watched()) {
        CHECK(d.allowed);
        CHECK(d.pid == r.pid);
        if (d.syscall == "openat" && d.paths == std::vector<std::string>{dir + "/a"}) ++opens_a;
        if (d.syscall == "openat" && d.paths == std::vector<std::string>{dir + "/b"}) ++opens_b;
        if (d.syscall == "openat2" && d.paths.empty()) ++openat2_empty;
      }
      CHECK(opens_a == 1);
      CHECK(opens_b == 1);
      CHECK(openat2_empty == 1);
      // The last exec: observed under default (it fails with ENOENT), denied
      // and reported with its path under strict.
      const std::string prog = "/nonexistent/prog";
      if (strict) {
        REQUIRE(r.reported().size() == 1);
        CHECK(r.reported()[0].syscall == "execve");
        CHECK(r.reported()[0].paths == std::vector<std::string>{prog});
      } else {
        CHECK(r.reported().empty());
        bool seen = false;
        for (const auto& d : r.watched()) seen |= d.exec && d.paths == std::vector<std::string>{prog};
        CHECK(seen);
      }
    }
  // Off: nothing but the launcher's exec.
  SeccompPlan quiet = make_plan("default");
  quiet.watch = false;
  Run q = probe(quiet, "watch");
  INFO(q.describe());
  CHECK(q.exited(0));
  CHECK(q.watched().empty());
}

// ===========================================================================
// Real runtimes, unchanged

namespace {

const char* kNodeCommon = R"JS(
const { Worker } = require('worker_threads');
const fs = require('fs'), crypto = require('crypto'), net = require('net'), os = require('os');
const workerCode = `
  const { parentPort } = require('worker_threads');
  parentPort.postMessage(require('crypto').createHash('sha256').update('x').digest('hex'));`;
async function common() {
  const w = new Worker(workerCode, { eval: true });
  const h = await new Promise((r) => w.on('message', r));
  if (!h.startsWith('2d711642')) throw new Error('worker hash ' + h);
  const dir = fs.mkdtempSync(os.tmpdir() + '/mcpjail-node-');
  fs.writeFileSync(dir + '/a', 'hello');
  if (fs.readFileSync(dir + '/a', 'utf8') !== 'hello') throw new Error('fs');
  await fs.promises.readFile(dir + '/a');
  fs.copyFileSync(dir + '/a', dir + '/b');
  fs.statSync(dir + '/b'); fs.readdirSync(dir);
  fs.rmSync(dir, { recursive: true });
  crypto.randomBytes(32);
  await new Promise((r, j) => crypto.scrypt('pw', 'salt', 32, (e) => (e ? j(e) : r())));
  crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  os.networkInterfaces(); os.cpus();
  const srv = net.createServer((s) => s.end('pong')).listen(0, '127.0.0.1');
  await new Promise((r) => srv.on('listening', r));
  const got = await new Promise((r) => {
    const c = net.connect(srv.address().port, '127.0.0.1'); let d = '';
    c.on('data', (x) => (d += x)); c.on('end', () => r(d));
  });
  srv.close();
  if (got !== 'pong') throw new Error('net ' + got);
  await w.terminate();
}
)JS";

const char* kNodeDefault = R"JS(
(async () => {
  await common();
  const cp = require('child_process');
  const out = cp.spawnSync('/bin/echo', ['spawned']).stdout.toString().trim();
  if (out !== 'spawned') throw new Error('spawnSync ' + out);
  await new Promise((r, j) => cp.exec('/bin/true', (e) => (e ? j(e) : r())));
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(3); });
)JS";

const char* kNodeStrict = R"JS(
(async () => {
  await common();
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(3); });
)JS";

const char* kPyCommon = R"PY(
import threading, asyncio, hashlib, json, os, tempfile, socket, ssl, concurrent.futures
res = []
ts = [threading.Thread(target=lambda: res.append(hashlib.sha256(b'x').hexdigest())) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
assert len(res) == 4 and res[0].startswith('2d711642'), res
with concurrent.futures.ThreadPoolExecutor(4) as ex: assert sum(ex.map(abs, [-1, -2, 3])) == 6
async def net():
    srv = await asyncio.start_server(lambda r, w: (w.write(b'pong'), w.close()), '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    rd, wr = await asyncio.open_connection('127.0.0.1', port)
    d = await rd.read(10); wr.close(); srv.close()
    await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2])
    return d
assert asyncio.run(net()) == b'pong'
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, 'a'), 'w').write('x'); assert os.listdir(d) == ['a']
socket.if_nameindex(); ssl.create_default_context(); json.dumps({'a': 1})
)PY";

const char* kPyDefault = R"PY(
import subprocess, asyncio
assert subprocess.run(['/bin/echo', 'sub'], capture_output=True).stdout == b'sub\n'
async def sub():
    p = await asyncio.create_subprocess_exec('/bin/true'); return await p.wait()
assert asyncio.run(sub()) == 0
import multiprocessing
with multiprocessing.Pool(2) as pool: assert pool.map(abs, [-1, -2]) == [1, 2]
print('ok')
)PY";

const char* kPyStrict = R"PY(
print('ok')
)PY";

// Runs argv under `base` with action errno: it must exit 0, print "ok", and
// cause no report at all (nothing it did was denied).
void check_runtime(const char* base, const std::vector<std::string>& argv,
                   const std::vector<std::string>& env = {}) {
  SeccompPlan plan = make_plan(base);
  sc::Program prog = sc::compile(plan);
  Run r = run_under(&prog, plan, argv, Supervise::Serve, env);
  INFO(argv[0] << " under " << base << ": " << r.describe());
  CHECK(r.exited(0));
  CHECK(r.output.find("ok") != std::string::npos);
  CHECK(r.reported().empty());
}

const char* kNode = "/usr/bin/node";
const char* kPython = "/usr/bin/python3";

}  // namespace

TEST_CASE("node runs unchanged under default: worker_threads, fs, crypto, net, child_process",
          "[seccomp][runtime]") {
  if (!file_exists(kNode)) SKIP_TEST(std::string(kNode) + " is not installed");
  check_runtime("default", {kNode, "-e", std::string(kNodeCommon) + kNodeDefault});
  // libuv's io_uring backend, when enabled, must fall back on ENOSYS.
  check_runtime("default", {kNode, "-e", std::string(kNodeCommon) + kNodeDefault}, {"UV_USE_IO_URING=1"});
}

TEST_CASE("node runs unchanged under strict: worker_threads, fs, crypto, net", "[seccomp][runtime]") {
  if (!file_exists(kNode)) SKIP_TEST(std::string(kNode) + " is not installed");
  check_runtime("strict", {kNode, "-e", std::string(kNodeCommon) + kNodeStrict});
}

TEST_CASE("python3 runs unchanged under default: threads, asyncio, subprocess, multiprocessing",
          "[seccomp][runtime]") {
  if (!file_exists(kPython)) SKIP_TEST(std::string(kPython) + " is not installed");
  check_runtime("default", {kPython, "-c", std::string(kPyCommon) + kPyDefault});
}

TEST_CASE("python3 runs unchanged under strict: threads, asyncio, sockets", "[seccomp][runtime]") {
  if (!file_exists(kPython)) SKIP_TEST(std::string(kPython) + " is not installed");
  check_runtime("strict", {kPython, "-c", std::string(kPyCommon) + kPyStrict});
}

TEST_CASE("seal_memfd: memfd_create goes to the supervisor, in every base and action, and only then",
          "[seccomp][bpf]") {
  const int memfd = nr_of("memfd_create");
  REQUIRE(memfd >= 0);
  for (const char* base : {"default", "strict"})
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
      INFO(base << " " << static_cast<int>(action));
      SeccompPlan plan = make_plan(base, action);
      CHECK(run_bpf(sc::compile(plan).code, call(memfd, {0, MFD_CLOEXEC})) == kAllow);
      plan.seal_memfd = true;
      const auto* pre = sc::prebuilt(plan);  // rootless launches load a prebuilt program too
      REQUIRE(pre != nullptr);
      CHECK(pre->seal_memfd);
      const auto prog = sc::compile(plan);
      CHECK(prog.listener);
      for (std::uint64_t flags : {0ULL, 1ULL, 0x10ULL, 0xffffffffULL})
        CHECK(run_bpf(prog.code, call(memfd, {0, flags})) == kNotify);
      // other calls are as without it
      CHECK(run_bpf(prog.code, call(nr_of("read"))) == kAllow);
      // a profile's allow keeps it with the supervisor; a deny wins
      plan.allow = {"memfd_create"};
      CHECK(run_bpf(sc::compile(plan).code, call(memfd, {0, 0})) == kNotify);
      plan.allow.clear();
      plan.deny = {"memfd_create"};
      CHECK(run_bpf(sc::compile(plan).code, call(memfd, {0, 0})) == (action == SeccompAction::Kill ? kKill : kNotify));
      CHECK(sc::performed_calls(plan).empty());
    }
}
