// Seccomp filter cost: a syscall-heavy loop with and without the mcp-jail
// filter, plus what building and loading the filter costs per launch.
//
//   seccomp_bench [ITERATIONS [ROUNDS]]   (defaults: 10,000,000 per loop, 5 rounds)
//
// Each measurement runs in a fresh child process (a filter cannot be
// removed), pinned to one CPU. Bare and filtered runs alternate, ROUNDS
// times each, and the fastest of each is kept: on a shared 2-core machine
// the minimum is the stable number (the median is printed for reference).
// Loops:
//   getppid        always allowed, no argument check: since Linux 5.11 the
//                  kernel's per-filter action cache skips the BPF program
//                  entirely for such calls;
//   read+fstat     the common I/O pair (1-byte read from /dev/zero);
//   ioctl FIONREAD argument-checked (the TIOCSTI/TIOCLINUX rule): the BPF
//                  program runs on every call;
//   socket         argument-checked (family, type, protocol: the longest rule),
//                  an AF_INET6 datagram socket, with close.
// A third column loads a one-instruction "allow everything" filter: the cost
// any seccomp filter has (the syscall entry takes the slow path), as opposed
// to the cost of this policy.
//
// The watch (write-intent file calls and exec go to the supervisor) is timed
// separately, with this process serving the child's notifications as the
// supervisor does (seccomp::Handler, then the plan's WriteMap, an audit event
// to /dev/null when the path is not writable, rate-limited):
//   open O_RDONLY+close   a read: allowed in the filter, never notified;
//   open O_WRONLY+close   a write in a writable tmpfs: one round trip;
//   open O_CREAT, fails   a write where the plan allows none (ENOENT here):
//                         a round trip and an fs_denied event (folded).
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "mcpjail/audit.hpp"
#include "mcpjail/channel.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/watch.hpp"

using namespace mcpjail;
using Clock = std::chrono::steady_clock;

namespace {

double ns_since(Clock::time_point t0, long n) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(n);
}

// Runs `body` in a child, after loading `prog` if given; returns ns per call.
void send_fd(int sock, int fd) {
  char byte = 'F';
  iovec iov{&byte, 1};
  if (channel::send_message(sock, &iov, 1, fd) != 1) std::abort();
}

UniqueFd recv_fd(int sock) {
  char byte;
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return {};
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return UniqueFd(fd);
    }
  return {};
}

// What the supervisor does with a notification (supervisor.cc, on_notice),
// for the watch's write events.
struct MiniSupervisor {
  Plan plan;
  seccomp::Handler handler;
  watch::WriteMap writes;
  watch::RateLimit limit{10, 30};
  Audit audit{"/dev/null", "bench"};
  explicit MiniSupervisor(const Plan& p) : plan(p), handler(p.seccomp), writes(plan) {}
  void serve(int listener) {
    auto n = handler.handle(listener);
    if (!n || n->kind != seccomp::Notice::Kind::Watch) return;
    for (const auto& path : n->paths) {
      if (path.empty() || writes.judge(path) != watch::Verdict::NotWritable) continue;
      nlohmann::json f = {{"syscall", n->syscall}, {"path", path}, {"access", "write"}, {"pid", n->pid}};
      if (limit.admit(path)) audit.event("fs_denied", std::move(f));
      else audit.count("fs_denied", f);
      break;
    }
  }
};

// Runs `body` in a child, after loading `prog` if given; returns ns per call.
// With a supervisor, the child's listener is served here until it is done.
double in_child(const seccomp::Program* prog, const std::function<double()>& body,
                MiniSupervisor* sup = nullptr) {
  int p[2], sv[2];
  if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    close(sv[0]);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    UniqueFd listener;
    if (prog) {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      listener = seccomp::install(*prog);  // nothing is denied below
    }
    if (sup) {
      send_fd(sv[1], listener.get());
      listener.reset();
    }
    double r = body();
    if (write(p[1], &r, sizeof r) != sizeof r) _exit(1);
    _exit(0);
  }
  close(p[1]);
  close(sv[1]);
  UniqueFd listener;
  if (sup) listener = recv_fd(sv[0]);
  close(sv[0]);
  double r = -1;
  for (;;) {
    pollfd fds[2] = {{p[0], POLLIN, 0}, {listener.get(), POLLIN, 0}};
    if (poll(fds, listener ? 2 : 1, -1) < 0) continue;
    if (listener && (fds[1].revents & POLLIN)) sup->serve(listener.get());
    if (fds[0].revents) {
      if (read(p[0], &r, sizeof r) != sizeof r) r = -1;
      break;
    }
  }
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  return r;
}

struct Loop {
  const char* name;
  long scale;  // iterations = n / scale
  std::function<double(long)> run;
};

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 10'000'000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;

  // ---- per launch: compile (libseccomp) and install (one seccomp(2) call).
  // The built-in bases skip the compile (prebuilt at build time); a profile
  // that changes them with seccomp allow/deny pays it once per launch, in the
  // supervisor, in parallel with the jail's mounts.
  std::printf("filter build (libseccomp) and load (seccomp(2)), us, best / median of 30:\n");
  for (const char* base : {"default", "strict"}) {
    SeccompPlan plan;
    plan.base = base;
    seccomp::Program prog;
    std::vector<double> compile_us, install_us;
    for (int i = 0; i < 30; ++i) {
      // libseccomp's build (what a profile with seccomp allow/deny lists
      // costs); the bases as they are load a program prebuilt by the build.
      auto t0 = Clock::now();
      prog = seccomp::compile_with_libseccomp(plan);
      compile_us.push_back(ns_since(t0, 1) / 1000.0);
      install_us.push_back(in_child(nullptr, [&] {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        auto t = Clock::now();
        UniqueFd l = seccomp::install(prog);
        return ns_since(t, 1) / 1000.0;
      }));
    }
    std::sort(compile_us.begin(), compile_us.end());
    std::sort(install_us.begin(), install_us.end());
    std::printf("  %-8s compile %7.1f / %7.1f   install %6.1f / %6.1f   %zu BPF instructions\n", base,
                compile_us.front(), compile_us[15], install_us.front(), install_us[15], prog.code.size());
  }

  std::vector<Loop> loops = {
      {"getppid", 1,
       [](long k) {
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) syscall(SYS_getppid);
         return ns_since(t0, k);
       }},
      {"read+fstat", 2,
       [](long k) {
         int fd = open("/dev/zero", O_RDONLY);
         char c;
         struct stat st;
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) {
           if (read(fd, &c, 1) != 1) std::abort();
           fstat(fd, &st);
         }
         return ns_since(t0, k);
       }},
      {"ioctl FIONREAD", 1,
       [](long k) {
         int p[2];
         if (pipe(p) != 0) std::abort();
         int avail;
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) ioctl(p[0], FIONREAD, &avail);
         return ns_since(t0, k);
       }},
      {"socket+close", 10,
       [](long k) {
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) {
           int fd = socket(AF_INET6, SOCK_DGRAM, 0);
           if (fd < 0) std::abort();
           close(fd);
         }
         return ns_since(t0, k);
       }},
  };

  SeccompPlan def;
  seccomp::Program prog = seccomp::compile(def);
  std::printf("\nsystem call cost, base default, action errno, ns per loop iteration, best of %d:\n",
              rounds);
  seccomp::Program allow_all;
  allow_all.code.push_back(sock_filter{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
  std::printf("  %-18s %10s %10s %10s %10s %8s   %s\n", "loop", "iterations", "no filter", "allow-all",
              "mcp-jail", "ratio", "(medians: none / mcp-jail)");
  for (const Loop& l : loops) {
    long k = n / l.scale;
    std::vector<double> bare, all, filt;
    for (int r = 0; r < rounds; ++r) {
      bare.push_back(in_child(nullptr, [&] { return l.run(k); }));
      all.push_back(in_child(&allow_all, [&] { return l.run(k); }));
      filt.push_back(in_child(&prog, [&] { return l.run(k); }));
    }
    std::sort(bare.begin(), bare.end());
    std::sort(all.begin(), all.end());
    std::sort(filt.begin(), filt.end());
    double b = bare.front(), a = all.front(), f = filt.front();
    double bm = bare[bare.size() / 2], fm = filt[filt.size() / 2];
    std::printf("  %-18s %10ld %10.1f %10.1f %10.1f %7.3fx   (%.1f / %.1f = %.3fx)\n", l.name, k, b, a,
                f, f / b, bm, fm, fm / bm);
  }

  // ---- the watch
  char dir_tmpl[] = "/tmp/mcpjail-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_tmpl);
  const std::string file = dir + "/f";
  Plan plan;
  {
    MountStep tmp;
    tmp.kind = MountKind::Tmpfs;
    tmp.target = "/tmp";
    plan.mounts.push_back(tmp);
  }
  SeccompPlan off = def;
  off.watch = false;
  seccomp::Program prog_off = seccomp::compile(off);
  const std::vector<Loop> watched = {
      {"open O_RDONLY+close", 1000,
       [&](long k) {
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) close(open(file.c_str(), O_RDONLY | O_CLOEXEC));
         return ns_since(t0, k);
       }},
      {"open O_WRONLY+close", 1000,
       [&](long k) {
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i) close(open(file.c_str(), O_WRONLY | O_CLOEXEC));
         return ns_since(t0, k);
       }},
      {"open O_CREAT, fails", 1000,
       [&](long k) {
         auto t0 = Clock::now();
         for (long i = 0; i < k; ++i)
           if (open("/nonexistent-mcpjail-bench/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0) std::abort();
         return ns_since(t0, k);
       }},
  };
  close(open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  std::printf("\nthe watch (base default): ns per call, best of %d; the supervisor is this process, unpinned\n",
              rounds);
  std::printf("  %-22s %10s %10s %10s %10s %10s\n", "loop", "iterations", "no filter", "watch off", "watch on",
              "difference");
  for (const Loop& l : watched) {
    long k = std::max(1000L, n / l.scale);
    std::vector<double> bare, quiet, on;
    for (int r = 0; r < rounds; ++r) {
      bare.push_back(in_child(nullptr, [&] { return l.run(k); }));
      Plan plan_off = plan, plan_on = plan;
      plan_off.seccomp = off;
      plan_on.seccomp = def;
      MiniSupervisor s1(plan_off), s2(plan_on);
      quiet.push_back(in_child(&prog_off, [&] { return l.run(k); }, &s1));
      on.push_back(in_child(&prog, [&] { return l.run(k); }, &s2));
    }
    std::sort(bare.begin(), bare.end());
    std::sort(quiet.begin(), quiet.end());
    std::sort(on.begin(), on.end());
    std::printf("  %-22s %10ld %10.1f %10.1f %10.1f %+10.1f\n", l.name, k, bare.front(), quiet.front(), on.front(),
                on.front() - quiet.front());
  }
  unlink(file.c_str());
  rmdir(dir.c_str());
  return 0;
}
