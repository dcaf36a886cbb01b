// The order of the jail, in one place (docs/ARCHITECTURE.md, "The layers"):
//
//   init (pid 1 of the new pid namespace; the namespaces come from clone())
//     1. die with the supervisor; drop every inherited fd
//     2. wait until the supervisor has written the uid/gid maps (rootless)
//        and moved us into the jail's cgroup; then a cgroup namespace
//     3. mounts: fresh root, binds, tmpfs, masks, /proc, /dev, pivot_root,
//        old root detached, root read-only                  (mnt.cc)
//     4. network: loopback up (network = none)              (netfilter/net.cc)
//        allowlist: loopback, the nft table, DNS and netlink
//        sockets to the supervisor while pasta starts; once
//        the supervisor says the uplink is up, its gateways
//        into the table                                     (netfilter/jail_net.cc)
//     5. hostname
//     6. rlimits                                            (limits.cc)
//     6a. protected names missing at launch: fork the create helper, which
//        performs the server's creating calls for the supervisor, as the
//        jail's user, under the server's Landlock rules  (create_helper.cc)
//     7. fork the server, then give up everything itself and reap
//   server
//     8. new session; default signal state; fds above 2 closed; env = plan
//     9. no_new_privs; bounding set emptied; root mode: become the jail uid;
//        all capability sets cleared                        (caps.cc, user.cc)
//    10. cwd
//    11. Landlock                                           (landlock.cc)
//    12. seccomp, last: nothing after it needs a blocked call (seccomp/);
//        the program comes from the supervisor, prepared meanwhile
//    13. execve
// Everything init and the server say to the supervisor, and the "go" bytes
// they wait for, cross the channel (channel.cc).
#include "mcpjail/jail.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "mcpjail/caps.hpp"
#include "mcpjail/channel.hpp"
#include "mcpjail/create_helper.hpp"
#include "mcpjail/landlock.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/net.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/user.hpp"
#include "mcpjail/phase.hpp"

namespace mcpjail::jail {

namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

[[noreturn]] void report_and_exit(int sock, const std::string& layer, const std::string& text, int code) {
  channel::send_report(sock, channel::ReportKind::Error, code, layer, text);
  ::_exit(code);
}

// Closes every fd except 0, 1, 2 and `keep` (in any order).
void close_fds_except(std::initializer_list<int> keep_list) {
  std::vector<int> keep(keep_list);
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int k : keep) {
    if (k < 3) continue;
    if (static_cast<unsigned>(k) > from && ::close_range(from, static_cast<unsigned>(k) - 1, 0) != 0)
      throw LaunchError("fds", errno_text("close_range", errno));
    from = static_cast<unsigned>(k) + 1;
  }
  if (::close_range(from, ~0U, 0) != 0) throw LaunchError("fds", errno_text("close_range", errno));
}

// Every signal's default action, none blocked: what a process of the jail
// starts from (handlers and the mask are inherited through fork and exec).
void default_signals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // EINVAL for KILL/STOP: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw LaunchError("no_new_privs", errno_text("prctl", errno));
}

// What both init and the server give up: the bounding set, the ids (root
// mode), every capability.
void give_up_privileges(const Plan& plan) {
  set_no_new_privs();
  caps::drop_bounding_set();
  if (plan.id.root_mode) user::become_jail_user(plan.id);
  caps::drop_all();
}

void noop_handler(int) {}

// The create helper (mcpjail/create_helper.hpp): the server's ids, no
// capabilities, no_new_privs, a Landlock domain of its own with the server's
// rules (so the server can neither signal nor trace it), not dumpable. It
// keeps the jail's stdio, as the server does, so that a descriptor name it
// resolves itself means what it means to the server.
[[noreturn]] void helper_main(const Plan& plan, const channel::JailEnds& ch, int sock) {
  try {
    phase("helper");
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_PDEATHSIG", errno));
    default_signals();
    close_fds_except({sock, ch.report});
    give_up_privileges(plan);
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_DUMPABLE", errno));
    (void)landlock::apply(plan.landlock);  // what it skips, the server reports
  } catch (const LaunchError& e) {
    report_and_exit(ch.report, "protect", std::string("create helper: ") + e.what(), e.exit_code());
  } catch (const std::exception& e) {
    report_and_exit(ch.report, "protect", std::string("create helper: ") + e.what(), kExitLauncherError);
  }
  ::close(ch.report);
  create::serve(plan, sock);
}

// Starts the create helper and hands its socket to the supervisor, before the
// server exists (reports arrive in order: the supervisor has the helper before
// the server's first call can reach it).
void start_create_helper(const Plan& plan, const channel::JailEnds& ch) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throw LaunchError("protect", errno_text("socketpair for the create helper", errno));
  UniqueFd mine(sv[0]), theirs(sv[1]);
  const pid_t pid = ::fork();
  if (pid < 0) throw LaunchError("protect", errno_text("fork the create helper", errno));
  if (pid == 0) {
    mine.reset();
    helper_main(plan, ch, theirs.get());
  }
  channel::send_report(ch.report, channel::ReportKind::CreateHelper, 0, "", "", mine.get());
}

[[noreturn]] void server_main(const Plan& plan, const channel::JailEnds& ch) {
  try {
    phase("server");
    // 8. session, signals, fds, environment
    if (::setsid() < 0) throw LaunchError("session", errno_text("setsid", errno));
    default_signals();
    close_fds_except({ch.report});
    std::vector<char*> envp;
    for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    // 9. privileges
    give_up_privileges(plan);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_PDEATHSIG", errno));

    phase("privs");
    // 10. working directory (checked as the jail's user)
    if (::chdir(plan.cwd.c_str()) != 0)
      throw LaunchError("cwd", errno_text("cannot enter the working directory " + plan.cwd, errno));

    // 11. Landlock
    for (const auto& skipped : landlock::apply(plan.landlock))
      channel::send_report(ch.report, channel::ReportKind::Skipped, 0, "landlock", skipped);

    phase("landlock");
    // 12. seccomp, last. The supervisor sent the program while the jail was
    //     being built; nothing arrives, nothing starts.
    const seccomp::Program filter = seccomp::receive_program(ch.report);
    phase("sc-received");
    UniqueFd listener = seccomp::install(filter);
    if (listener) {
      channel::send_report(ch.report, channel::ReportKind::Listener, 0, "", "", listener.get());
      listener.reset();
    }

    phase("seccomp");
    // 13. exec; on success the report socket closes (O_CLOEXEC).
    ::execve(plan.exe.c_str(), argv.data(), envp.data());
    const int err = errno;
    report_and_exit(ch.report, "exec", errno_text("cannot execute " + plan.exe, err),
                    err == ENOENT ? kExitNotFound : kExitCannotExecute);
  } catch (const LaunchError& e) {
    report_and_exit(ch.report, e.layer(), e.what(), e.exit_code());
  } catch (const std::exception& e) {
    report_and_exit(ch.report, "jail", e.what(), kExitLauncherError);
  }
}

// pid 1: forwards signals to the server, reaps every child, and exits with
// the server's status when it ends (the kernel then kills whatever is left
// in the pid namespace).
[[noreturn]] void reap_loop(pid_t server) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  for (;;) {
    siginfo_t info{};
    const int sig = ::sigwaitinfo(&set, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(server, sig);
      continue;
    }
    int status = 0;
    pid_t p;
    while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != server) continue;
      if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
      if (WIFSIGNALED(status)) ::_exit(128 + WTERMSIG(status));
    }
  }
}

}  // namespace

void init_main(const Plan& plan, const channel::JailEnds& ch) {
  try {
    phase("init");
    // 1. die with the supervisor; nothing inherited reaches the jail (an
    //    inherited directory fd would be a way out of the new root).
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_PDEATHSIG", errno));
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    close_fds_except({ch.go, ch.report});

    // 2. ids mapped, cgroup joined; then a cgroup namespace rooted there.
    if (!channel::wait_go(ch.go)) ::_exit(kExitLauncherError);  // the supervisor is gone
    // network = allowlist: a second byte comes once the uplink is up (step 4).
    if (plan.network.mode != NetMode::Allowlist) ::close(ch.go);
    // network = allowlist: libnftables for step 4, loaded from the host's
    // files before the root changes, while pasta starts.
    std::unique_ptr<netfilter::NftLibrary> nft;
    if (plan.network.mode == NetMode::Allowlist) nft = netfilter::NftLibrary::load();
    phase("init-go");
    if (::unshare(CLONE_NEWCGROUP) != 0) throw LaunchError("namespaces", errno_text("unshare(CLONE_NEWCGROUP)", errno));

    // 3. the root filesystem
    mnt::build_root(plan);
    phase("mounts");

    // 4. network. allowlist: the table is installed while pasta is still
    // starting (nothing but loopback leaves before the supervisor opens its
    // gate); the uplink's gateways go into it once pasta has configured
    // them, before the server is forked.
    if (plan.network.mode == NetMode::None) net::bring_up_loopback();
    else if (plan.network.mode == NetMode::Allowlist) {
      netfilter::prepare_jail_network(plan.network, ch.report);
      // init stays (pid 1) as long as the server runs: nothing of libnftables
      // is needed any more, nor what installing the table allocated.
      nft.reset();
      ::malloc_trim(0);
      phase("net-table");
      if (!channel::wait_go(ch.go)) ::_exit(kExitLauncherError);  // the supervisor is gone, or the uplink failed
      ::close(ch.go);
      netfilter::close_uplink_gateways();
    }

    phase("net");
    // 5. hostname (own UTS namespace)
    if (::sethostname(plan.hostname.data(), plan.hostname.size()) != 0)
      throw LaunchError("hostname", errno_text("sethostname", errno));

    // 6. rlimits, inherited by every process of the jail
    limits::apply_rlimits(plan.limits);

    // 6a. the create helper
    if (create::needed(plan)) start_create_helper(plan, ch);
    phase("helper-started");

    // 7. the server; init keeps nothing it does not need.
    struct sigaction sa {};
    sa.sa_handler = noop_handler;  // pid 1 ignores signals it has no handler for
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (int s : kForwarded) {
      ::sigaction(s, &sa, nullptr);
      sigaddset(&set, s);
    }
    ::sigaction(SIGCHLD, &sa, nullptr);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    phase("prefork");
    const pid_t server = ::fork();
    if (server < 0) throw LaunchError("jail", errno_text("fork the server", errno));
    if (server == 0) server_main(plan, ch);
    phase("forked");

    give_up_privileges(plan);
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_DUMPABLE", errno));
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw LaunchError("lifecycle", errno_text("PR_SET_PDEATHSIG", errno));
    ::close(ch.report);
    reap_loop(server);
  } catch (const LaunchError& e) {
    report_and_exit(ch.report, e.layer(), e.what(), e.exit_code());
  } catch (const std::exception& e) {
    report_and_exit(ch.report, "jail", e.what(), kExitLauncherError);
  }
}

}  // namespace mcpjail::jail
