// The jail's uplink: pasta (from passt), attached to the jail's network
// namespace. pasta creates a tap device there and carries the jail's
// traffic through ordinary sockets of the host, so it works rootless.
//
// Options (passt 2023-03 and later):
//   --config-net            pasta itself puts the host's addresses, routes and MTU on the
//                           tap device (over netlink) before it reports ready
//   --no-map-gw             the gateway address is NOT mapped to the host's loopback: by
//                           default pasta sends what the jail sends to the gateway to the
//                           host's 127.0.0.1, where it reached host-only listeners
//   -t none -u none         no inbound port forwarding from the host to the jail
//   -T none -U none         no forwarding from the jail's loopback to the host's
//   --no-dhcp --no-dhcpv6 --no-ra   nothing to configure by protocol (done by --config-net);
//                           neighbour discovery stays (the jail must resolve its gateway)
//   --foreground --quiet    stays the child of its keeper (below); errors on stderr
//   --pid /proc/self/fd/5   a pipe: pasta writes its pid there once the namespace is
//                           configured, which is the readiness signal
//   --netns /proc/self/fd/3 --userns /proc/self/fd/4   the jail's namespaces, opened by the
//                           supervisor (pasta as root could not open /proc/PID/ns/* of a
//                           process that holds more capabilities than it keeps)
//   --runas 0               root launches only: pasta would otherwise switch to "nobody"
//                           before joining the namespace, and fail. It keeps uid 0 with
//                           CAP_SYS_ADMIN and CAP_NET_BIND_SERVICE only, under its own
//                           seccomp filter, in its own empty mount namespace.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <linux/close_range.h>

#include "mcpjail/errors.hpp"
#include "mcpjail/host_checks.hpp"
#include "mcpjail/netfilter.hpp"

namespace mcpjail::netfilter {

namespace {

UniqueFd open_ns(pid_t pid, const char* which) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + which;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw LaunchError("network", errno_text("open the jail's namespace " + path, errno));
  return fd;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string Uplink::binary() {
  auto usable = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IXOTH);
  };
  for (std::string p : {"/usr/bin/pasta", "/usr/local/bin/pasta", "/usr/sbin/pasta", "/bin/pasta"}) {
    if (!usable(p)) continue;
    // On CPUs with AVX2 pasta re-executes itself as pasta.avx2: start that
    // build directly and save the second execve.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && usable(p + ".avx2")) return p + ".avx2";
    return p;
  }
  return "";
}

std::vector<std::string> Uplink::options(bool rootless) {
  std::vector<std::string> o = {"--foreground", "--quiet",    "--config-net", "--ns-ifname", kUplinkName,
                                "--no-map-gw",  "-t",         "none",         "-u",          "none",
                                "-T",           "none",       "-U",           "none",        "--no-dhcp",
                                "--no-dhcpv6",  "--no-ra"};
  if (!rootless) {
    o.push_back("--runas");
    o.push_back("0");
  }
  return o;
}

std::unique_ptr<Uplink> Uplink::start(pid_t pid, bool rootless, std::chrono::milliseconds timeout) {
  auto up = spawn(pid, rootless);
  up->wait_ready(timeout);
  return up;
}

std::unique_ptr<Uplink> Uplink::spawn(pid_t pid, bool rootless) {
  const std::string bin = binary();
  if (bin.empty())
    throw LaunchError("network", "network = \"allowlist\" needs pasta, which is not installed (Debian and Ubuntu: "
                                 "apt-get install passt; Fedora: dnf install passt)");
  UniqueFd netns = open_ns(pid, "net");
  UniqueFd userns = rootless ? open_ns(pid, "user") : UniqueFd();
  int pp[2];
  if (::pipe2(pp, O_CLOEXEC) != 0) throw LaunchError("network", errno_text("pipe", errno));
  UniqueFd ready_r(pp[0]), ready_w(pp[1]);

  std::vector<std::string> args = {bin};
  for (auto& o : options(rootless)) args.push_back(o);
  args.insert(args.end(), {"--pid", "/proc/self/fd/5", "--netns", "/proc/self/fd/3"});
  if (rootless) args.insert(args.end(), {"--userns", "/proc/self/fd/4"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char env0[] = "PATH=/usr/bin:/bin";
  char* envp[] = {env0, nullptr};
  int lp[2];
  if (::pipe2(lp, O_CLOEXEC) != 0) throw LaunchError("network", errno_text("pipe", errno));
  UniqueFd life_r(lp[0]), life_w(lp[1]);
  // pasta's stderr, relayed by the keeper (below), and the keeper's word
  // that pasta has been killed (its end closes).
  int ep[2], kp[2];
  if (::pipe2(ep, O_CLOEXEC) != 0) throw LaunchError("network", errno_text("pipe", errno));
  UniqueFd err_r(ep[0]), err_w(ep[1]);
  if (::pipe2(kp, O_CLOEXEC) != 0) throw LaunchError("network", errno_text("pipe", errno));
  UniqueFd killed_r(kp[0]), killed_w(kp[1]);
  const pid_t supervisor = ::getpid();

  const pid_t keeper = ::fork();
  if (keeper < 0) throw LaunchError("network", errno_text("fork the uplink keeper", errno));
  if (keeper == 0) {
    // The keeper: only async-signal-safe calls from here on. It starts
    // pasta, relays pasta's messages to stderr, then waits for either
    // pasta's end or the supervisor's word (the write end of the life pipe
    // closes: the jail has ended, or the supervisor is gone), and kills
    // pasta in the second case.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_NAME, "mcp-jail-uplink", 0, 0, 0);
    ::close(life_w.get());
    if (::getppid() != supervisor) ::_exit(125);
    ::setsid();  // terminal signals go to the supervisor, which decides
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) ::_exit(125);
    const pid_t pasta = ::fork();
    if (pasta < 0) ::_exit(125);
    if (pasta == 0) {
      // Set, but pasta does not keep it (measured: it survived its parent);
      // the keeper is what ends it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      // Move everything above the target slots first, then into place.
      const int n = ::fcntl(netns.get(), F_DUPFD_CLOEXEC, 10);
      const int u = userns ? ::fcntl(userns.get(), F_DUPFD_CLOEXEC, 10) : ::fcntl(devnull, F_DUPFD_CLOEXEC, 10);
      const int w = ::fcntl(ready_w.get(), F_DUPFD_CLOEXEC, 10);
      if (n < 0 || u < 0 || w < 0 || ::dup2(devnull, 0) < 0 || ::dup2(devnull, 1) < 0 ||
          ::dup2(err_w.get(), 2) < 0 || ::dup2(n, 3) < 0 || ::dup2(u, 4) < 0 || ::dup2(w, 5) < 0)
        ::_exit(125);
      ::close_range(6, ~0U, 0);
      ::execve(argv[0], argv.data(), envp);
      ::_exit(127);
    }
    // The keeper holds none of the caller's stdin and stdout (it may outlive
    // the supervisor by the time pasta takes to go), and stderr only until
    // pasta is killed.
    if (::dup2(devnull, 0) < 0 || ::dup2(devnull, 1) < 0) ::_exit(125);
    const int life = ::fcntl(life_r.get(), F_DUPFD_CLOEXEC, 10);
    const int errs = ::fcntl(err_r.get(), F_DUPFD_CLOEXEC, 10);
    const int told = ::fcntl(killed_w.get(), F_DUPFD_CLOEXEC, 10);
    if (life < 0 || errs < 0 || told < 0 || ::dup2(life, 3) < 0 || ::dup2(errs, 4) < 0 || ::dup2(told, 5) < 0)
      ::_exit(125);
    ::close_range(6, ~0U, 0);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pasta, 0));
    bool relaying = true;
    auto relay = [&relaying] {
      char buf[512];
      const ssize_t k = ::read(4, buf, sizeof buf);
      if (k < 0 && errno == EINTR) return;
      if (k <= 0) {
        relaying = false;
        return;
      }
      (void)!::write(2, buf, static_cast<std::size_t>(k));
    };
    for (;;) {
      pollfd fds[3] = {{3, POLLIN, 0}, {4, POLLIN, 0}, {pidfd, POLLIN, 0}};
      if (!relaying) fds[1].fd = -1;
      const int r = ::poll(fds, pidfd >= 0 ? 3 : 2, pidfd >= 0 ? -1 : 200);
      if (r < 0 && errno != EINTR) break;
      if (r > 0 && fds[1].revents) relay();
      int status = 0;
      if (::waitpid(pasta, &status, WNOHANG) == pasta) {
        // What pasta said last, before the supervisor reports its end.
        ::fcntl(4, F_SETFL, O_NONBLOCK);
        while (relaying) relay();
        ::_exit(decode(status));
      }
      if (r > 0 && fds[0].revents) break;  // the supervisor is done, or gone
    }
    // Killed, pasta runs no more code of its own; the kernel's teardown of
    // its tap device and memory takes tens of ms more, which nobody has to
    // wait for: the supervisor goes on once told.
    // The caller's stderr is let go first: a caller reading it to its end
    // (a shell's `2>&1 |`, a host logging the server's stderr) must not wait
    // for the teardown either. (Closed, not replaced by /dev/null: that
    // descriptor went with close_range() above.)
    ::kill(pasta, SIGKILL);
    ::close(2);
    ::close(5);
    int status = 0;
    while (::waitpid(pasta, &status, 0) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  std::unique_ptr<Uplink> up(new Uplink());
  up->keeper_ = keeper;
  up->life_ = std::move(life_w);
  up->ready_ = std::move(ready_r);
  up->killed_ = std::move(killed_r);
  life_r.reset();
  ready_w.reset();
  err_r.reset();
  err_w.reset();
  killed_w.reset();
  return up;
}

void Uplink::wait_ready(std::chrono::milliseconds timeout) {
  if (!ready_) return;
  // Ready when pasta has written its pid; EOF first means it gave up.
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw LaunchError("network", "pasta did not configure the jail's network within " +
                                       std::to_string(timeout.count()) + " ms");
    pollfd p{ready_.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[64];
    const ssize_t k = ::read(ready_.get(), buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k > 0) {
      got.append(buf, static_cast<std::size_t>(k));
      if (got.find('\n') != std::string::npos) break;
      continue;
    }
    if (!got.empty()) break;
    int status = 0;
    ::waitpid(keeper_, &status, 0);
    keeper_ = -1;
    const std::string exit_text = "pasta's exit status " + std::to_string(decode(status)) + "; its messages are above";
    // The usual cause: a tun device this user may not open (host_checks.hpp).
    if (const host::Check tun = host::check_tun(host::read_tun_inputs(false)); !tun.ok)
      throw LaunchError("network", "pasta could not set up the jail's uplink: " + tun.found + ". Fix: " + tun.fix +
                                       " (" + exit_text + ")");
    throw LaunchError("network", "pasta could not set up the jail's uplink (" + exit_text + ")");
  }
  ready_.reset();
  pasta_ = static_cast<pid_t>(std::strtol(got.c_str(), nullptr, 10));
}

void Uplink::stop() {
  if (!life_) return;
  life_.reset();  // the keeper kills pasta, then closes its end of `killed_`
  char c;
  while (killed_ && ::read(killed_.get(), &c, 1) < 0 && errno == EINTR) {
  }
  killed_.reset();
  // The keeper reaps pasta and exits on its own; reaped here when it has
  // already, otherwise by whoever inherits it once the supervisor exits.
  if (keeper_ > 0 && ::waitpid(keeper_, nullptr, WNOHANG) == keeper_) keeper_ = -1;
}

Uplink::~Uplink() { stop(); }

}  // namespace mcpjail::netfilter
