#include "mcpjail/supervisor.hpp"

#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "mcpjail/channel.hpp"
#include "mcpjail/host_checks.hpp"
#include "mcpjail/jail.hpp"
#include "mcpjail/landlock.hpp"
#include "mcpjail/limits.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/protect.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/seccomp_policy.hpp"
#include "mcpjail/user.hpp"
#include "mcpjail/watch.hpp"
#include "mcpjail/phase.hpp"

namespace mcpjail {

namespace {

constexpr int kSupervisedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD};

std::string clone_failure(int err, bool rootless) {
  std::string msg = errno_text("clone() of the jail's namespaces failed", err);
  if (!rootless || (err != EPERM && err != ENOSPC && err != EACCES)) return msg;
  // The setting that forbids it, when one does (host_checks.hpp; `mcp-jail doctor` probes as well).
  if (const host::Check c = host::check_userns(host::read_userns_inputs(false)); !c.ok)
    return msg + ": " + c.found + ". Fix: " + c.fix;
  return msg + ". Unprivileged user namespaces are not available here: check `sysctl user.max_user_namespaces` "
               "(must be > 0), `kernel.unprivileged_userns_clone` (Debian, must be 1) and AppArmor's "
               "`kernel.apparmor_restrict_unprivileged_userns`; `mcp-jail doctor` probes them; or run mcp-jail as root";
}

// Drops this process's page-table entries for the code it ran only to start
// the jail: every segment of the launcher, libc and the dynamic linker that
// is mapped without write permission (code and constants), whose pages are
// therefore the file's own. The pages stay in the page cache, shared; what
// the poll loop runs faults back in. Start-up code (parsing, planning) is
// most of a supervisor's resident set, which the hundreds of supervisors of
// a busy host would otherwise each keep mapped as long as their servers run.
// Not while a debugger is attached: its breakpoints are private copies of
// code pages.
int release_segments(dl_phdr_info* info, std::size_t, void*) {
  if (std::string_view(info->dlpi_name).starts_with("linux-vdso")) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || ph.p_memsz == 0) continue;
    // Whole pages only (a read-only segment can share its last page with
    // the next, writable one).
    const std::uintptr_t from = (info->dlpi_addr + ph.p_vaddr + page - 1) & ~static_cast<std::uintptr_t>(page - 1);
    const std::uintptr_t to = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz) & ~static_cast<std::uintptr_t>(page - 1);
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  }
  return 0;
}

void release_startup_code() {
  UniqueFd f(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  if (!f) return;
  char buf[4096];
  const ssize_t n = ::read(f.get(), buf, sizeof buf - 1);
  if (n <= 0) return;
  buf[n] = '\0';
  const char* t = std::strstr(buf, "\nTracerPid:");
  if (!t || std::strtol(t + 11, nullptr, 10) != 0) return;
  ::dl_iterate_phdr(release_segments, nullptr);
}

// The layers a started jail has, for the audit log's start event.
nlohmann::json layers_of(const Plan& plan, const std::vector<std::string>& skipped, bool cgroup) {
  nlohmann::json l = nlohmann::json::array();
  l.push_back(plan.id.root_mode ? "uid-drop" : "user-namespace");
  for (const char* s : {"mount", "pid", "ipc", "uts", "cgroup-namespace"}) l.push_back(s);
  l.push_back(plan.network.mode == NetMode::Host ? "network-host" : "network-namespace");
  if (plan.network.mode == NetMode::Allowlist) l.push_back("egress-allowlist");
  for (const char* s : {"read-only-root", "no-capabilities", "no_new_privs", "rlimits"}) l.push_back(s);
  const bool landlock_skipped =
      std::any_of(skipped.begin(), skipped.end(), [](const std::string& s) { return s.starts_with("landlock"); });
  l.push_back(landlock_skipped ? "landlock-partial" : "landlock");
  l.push_back("seccomp-" + plan.seccomp.base);
  if (cgroup) l.push_back("cgroup-limits");
  if (!plan.pins.empty()) l.push_back("pins");  // verified before the launch
  return l;
}

// Audit event rates (per second, burst) for what the seccomp listener
// reports; a loop of denied or watched calls cannot flood the log. Held-back
// events are still counted for the exit summary.
constexpr double kDenyPerSecond = 10, kDenyBurst = 30;
constexpr double kWatchPerSecond = 10, kWatchBurst = 30;

// The seccomp plan as this kernel can serve it: without MFD_NOEXEC_SEAL
// (before Linux 6.3) the supervisor cannot make a memfd sealed against exec,
// so memfd_create stays in the kernel (`check` says that hole is open).
SeccompPlan served_seccomp_plan(const SeccompPlan& p) {
  SeccompPlan s = p;
  if (s.seal_memfd && !seccomp::memfd_noexec_seal_supported()) s.seal_memfd = false;
  return s;
}

class Supervisor {
 public:
  Supervisor(const Plan& plan, Audit& audit)
      : plan_(plan),
        audit_(audit),
        seccomp_plan_(served_seccomp_plan(plan.seccomp)),
        seccomp_(seccomp_plan_),
        writes_(plan),
        execs_(plan),
        deny_limit_(kDenyPerSecond, kDenyBurst),
        fs_limit_(kWatchPerSecond, kWatchBurst),
        exec_limit_(kWatchPerSecond, kWatchBurst),
        guard_(plan) {
    // Protected names missing at launch: creating calls are refused by path
    // here, or performed by the jail's create helper (create_helper.hpp),
    // which checks the directory it creates in; never continued.
    if (guard_.active())
      seccomp_.set_creations({[this](const std::string& lexical) { return guard_.refuses_lexically(lexical); },
                              [this](create::Call&& call, create::CallFds&& fds, std::uint64_t id, seccomp::Notice&& n) {
                                const bool cloexec = call.op == create::Op::Open && (call.flags & O_CLOEXEC);
                                if (!helper_.submit(call, fds, id)) return false;
                                performing_.emplace(id, Performing{std::move(n), cloexec});
                                return true;
                              }});
    // A program the plan does not let run looks absent: its exec fails with
    // ENOENT, as on a system without it (a tool probing for an optional
    // helper expects "not found", not "permission denied"). Only where
    // Landlock holds the execute right (this kernel has it: the jail applied
    // it or did not start); a program run through a descriptor is left to
    // the kernel, which refuses it, and reported as before.
    if (landlock::abi_version() > 0)
      seccomp_.set_exec_judge([this](const seccomp::Notice& n) {
        seccomp::ExecJudgement j;
        if (n.paths.empty() || n.paths[0].empty()) return j;
        const auto v = execs_.judge(n.paths[0], n.root.get());
        if (v == watch::ExecSet::Verdict::Allowed) j.allowed = true;
        if (v == watch::ExecSet::Verdict::NotAllowed) j.allowed = false;
        j.refuse = v == watch::ExecSet::Verdict::NotAllowed && !by_descriptor(n.paths[0]);
        return j;
      });
  }

  int run() {
    start_ = std::chrono::steady_clock::now();
    channel::Ends ch = channel::open();

    const bool limits_best_effort =
        std::find(plan_.best_effort.begin(), plan_.best_effort.end(), "limits") != plan_.best_effort.end();
    std::string skipped;
    auto cgroup = limits::create_cgroup(plan_.limits, audit_.launch_id(), limits_best_effort, &skipped);
    if (!skipped.empty()) {
      skipped_.push_back("limits: " + skipped);
      // As for the layers the jail skips (below): one line, whatever the audit log.
      stderr_line("mcp-jail: limits skipped (best_effort): " + skipped);
    }
    has_cgroup_ = cgroup != nullptr;

    // Signals are taken through a signalfd; block them before the clone so
    // none is lost (the jail restores its own mask).
    sigset_t set;
    sigemptyset(&set);
    for (int s : kSupervisedSignals) sigaddset(&set, s);
    sigset_t old;
    ::sigprocmask(SIG_BLOCK, &set, &old);
    sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd_) throw LaunchError("supervisor", errno_text("signalfd", errno));

    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (plan_.network.mode != NetMode::Host) flags |= CLONE_NEWNET;
    if (!plan_.id.root_mode) flags |= CLONE_NEWUSER;
    // A fork-like clone (no new stack): the child continues here with a copy
    // of this process and becomes pid 1 of the new pid namespace.
    phase("preclone");
    const long pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) throw LaunchError("namespaces", clone_failure(errno, !plan_.id.root_mode));
    if (pid == 0) {
      ch.go_supervisor.reset();
      ch.report_supervisor.reset();
      jail::init_main(plan_, ch.jail());
    }
    child_ = static_cast<pid_t>(pid);
    server_shares_stderr();  // from now on a launcher line may follow a partial line of the server
    phase("cloned");
    ch.go_jail.reset();
    ch.report_jail.reset();
    // Start-up, while the jail waits for "go" bytes. A step that fails kills
    // the jail. A jail that has ended meanwhile (a layer failed in it) is
    // not an error here: the loop below reads its report and status.
    try {
      if (!plan_.id.root_mode) user::write_id_maps(child_, plan_.id);
      if (cgroup) cgroup->add(child_);
      if (plan_.network.mode == NetMode::Allowlist) {
        egress_ = std::make_unique<netfilter::Egress>(
            plan_.network, [this](const std::string& type, nlohmann::json f) { audit_.event(type, std::move(f)); });
        egress_->set_suppressed_counter([this](const std::string& type, nlohmann::json f) { audit_.hold_back(type, f); });
      }
      // network = allowlist: pasta, the longest step of the launch, starts
      // first, then the jail builds its root while it comes up (and the
      // filter below is compiled). A jail that has ended already fails the
      // start here; its own report names the cause (below).
      if (egress_) egress_->start_uplink(child_, !plan_.id.root_mode);
      bool alive = channel::send_go(ch.go_supervisor.get());
      phase("go");
      // The seccomp program (prebuilt for the built-in bases; for a base the
      // profile changes, libseccomp takes a few ms to build it, here in
      // parallel with the jail building its root); the server loads it last.
      if (alive) alive = seccomp::send_program(ch.report_supervisor.get(), seccomp::compile(seccomp_plan_));
      phase("sc-sent");
      // A second byte lets the jail configure its network once the uplink is up.
      if (alive && egress_) {
        egress_->uplink_ready();
        channel::send_go(ch.go_supervisor.get());
        phase("uplink");
      }
    } catch (const LaunchError&) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
      // The jail may have failed first (and this step only because of it,
      // e.g. its namespaces were gone): its own report names the cause.
      if (auto r = pending_error(ch.report_supervisor.get())) throw LaunchError(r->layer, r->text, r->code);
      throw;
    } catch (...) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
      throw;
    }
    ch.go_supervisor.reset();
    report_ = std::move(ch.report_supervisor);

    if (plan_.limits.wall_time.count() > 0) {
      timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
      if (!timer_) throw LaunchError("limits", errno_text("timerfd for wall_time", errno));
      itimerspec its{};
      its.it_value.tv_sec = plan_.limits.wall_time.count() / 1000;
      its.it_value.tv_nsec = (plan_.limits.wall_time.count() % 1000) * 1'000'000;
      ::timerfd_settime(timer_.get(), 0, &its, nullptr);
    }

    const int status = loop();
    phase("end");
    if (cgroup) {
      if (cgroup->memory_limit_hit()) audit_.event("limit", {{"which", "memory"}});
      if (cgroup->pids_limit_hit()) audit_.event("limit", {{"which", "pids"}});
    }
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return status;
  }

 private:
  int loop() {
    int exit_status = -1;
    while (exit_status < 0) {
      pollfd fds[6];
      int n = 0;
      fds[n++] = {sigfd_.get(), POLLIN, 0};
      const int rep_i = report_ ? n : -1;
      if (report_) fds[n++] = {report_.get(), POLLIN, 0};
      const int lst_i = listener_ ? n : -1;
      if (listener_) fds[n++] = {listener_.get(), POLLIN, 0};
      const int tim_i = timer_ ? n : -1;
      if (timer_) fds[n++] = {timer_.get(), POLLIN, 0};
      const int egr_i = egress_ ? n : -1;
      if (egress_) fds[n++] = {egress_->fd(), POLLIN, 0};
      const int hlp_i = helper_.attached() ? n : -1;
      if (helper_.attached()) fds[n++] = {helper_.fd(), POLLIN, 0};
      int timeout = -1;
      if (release_due_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*release_due_ - std::chrono::steady_clock::now());
        timeout = static_cast<int>(std::max<long long>(0, left.count()));
      }
      const int ready = ::poll(fds, static_cast<nfds_t>(n), timeout);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw LaunchError("supervisor", errno_text("poll", errno));
      }
      if (release_due_ && std::chrono::steady_clock::now() >= *release_due_) {
        // The server has run for a while: what the profile, the plan and the
        // filter compiler allocated goes back to the system, and so do the
        // page mappings of start-up code (the supervisor stays as long as
        // the server runs). Not sooner, so that a launch burst or a
        // short-lived server does not pay for it.
        release_due_.reset();
        release_startup_code();
        ::malloc_trim(0);
      }
      if (ready == 0) continue;
      if (rep_i >= 0 && fds[rep_i].revents) read_report();
      if (egr_i >= 0 && fds[egr_i].revents) egress_->process();
      if (lst_i >= 0 && fds[lst_i].revents) {
        if (fds[lst_i].revents & POLLIN) {
          if (auto n = seccomp_.handle(listener_.get())) on_notice(*n);
        }
        if (fds[lst_i].revents & (POLLHUP | POLLERR | POLLNVAL)) listener_.reset();
      }
      if (hlp_i >= 0 && fds[hlp_i].revents) helper_outcomes();
      if (tim_i >= 0 && fds[tim_i].revents) {
        audit_.event("limit", {{"which", "wall_time"}, {"ms", plan_.limits.wall_time.count()}});
        stderr_line("mcp-jail: limits: wall_time of " + std::to_string(plan_.limits.wall_time.count()) +
                    " ms reached; the jail was killed");
        ::kill(child_, SIGKILL);
        wall_time_hit_ = true;
        timer_.reset();
      }
      if (fds[0].revents) exit_status = read_signals();
    }
    // Drain what the jail said before it ended (an error report races the exit).
    while (report_) read_report();
    if (egress_) egress_->finish();  // drops logged just before the end; pasta goes
    if (error_) {
      stderr_line(std::string("mcp-jail: ") + error_->layer + ": " + error_->text);
      audit_.event("error", {{"layer", error_->layer}, {"message", error_->text}, {"status", error_->code}});
      exit_status = error_->code;
    } else if (wall_time_hit_) {
      exit_status = kExitWallTime;
    }
    // Protected names that were missing and exist now: the jail's creating
    // calls were checked by the create helper, so someone or something on the
    // host made them during the launch. Said, not undone.
    for (const auto& p : protect::appeared(plan_)) {
      audit_.event("protect_created", {{"path", p}});
      stderr_line("mcp-jail: " + plan_.profile_name + ": the protected name " + p +
                  " did not exist at launch and exists now (made on the host meanwhile: the jail's creating calls were checked); "
                  "check it before git, direnv or an editor runs it");
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_);
    for (const auto& [key, count] : learned_)
      audit_.event("learn", {{"access", key.first}, {"path", key.second}, {"count", count}});
    if (learned_dropped_) audit_.event("learn", {{"access", "dropped"}, {"count", learned_dropped_}});
    audit_.event("exit", {{"status", exit_status}, {"duration_ms", ms.count()}});
    return exit_status;
  }

  // Writes an event unless `limit` holds it back (then it is only counted).
  void limited_event(watch::RateLimit& limit, const std::string& key, const std::string& type, nlohmann::json f) {
    if (!limit.admit(key)) {
      audit_.hold_back(type, f);
      return;
    }
    if (auto n = limit.take_suppressed()) f["suppressed"] = n;
    audit_.event(type, std::move(f));
  }

  // What the seccomp listener reported (seccomp::Notice).
  void on_notice(const seccomp::Notice& n) {
    using K = seccomp::Notice::Kind;
    if (n.kind == K::LauncherExec) return;  // the launcher's own execve of the server
    if (plan_.seccomp.learn) learn(n);
    // Recorded only (learning plans): a read, a look at a path.
    if (n.read || (n.kind == K::Watch && seccomp::policy::looks_only(n.syscall))) return;
    if (n.kind == K::Deny) {
      nlohmann::json f = {{"syscall", n.syscall}, {"pid", n.pid}, {"allowed", n.allowed}};
      if (n.exec && !n.paths.empty() && !n.paths[0].empty()) f["path"] = n.paths[0];
      if (n.setid) f["reason"] = "setuid/setgid mode";
      if (n.memfd_exec) f["reason"] = "MFD_EXEC (memfds are sealed against exec)";
      limited_event(deny_limit_, n.syscall, "deny", std::move(f));
      return;
    }
    if (n.exec) {
      if (n.paths.empty() || n.paths[0].empty()) return;
      const auto allowed = n.refused ? std::optional<bool>(false)
                                     : n.judged && n.exec_allowed ? n.exec_allowed
                                                                  : execs_.allowed(n.paths[0], n.root.get());
      if (!allowed && !by_descriptor(n.paths[0])) return;  // no such file: the exec fails with ENOENT (a PATH search)
      limited_event(exec_limit_, n.paths[0], "exec",
                    {{"path", n.paths[0]}, {"allowed", allowed.value_or(false)}, {"syscall", n.syscall}, {"pid", n.pid}});
      return;
    }
    if (!n.protected_path.empty()) {
      // Refused by the guard of protected names (protect.hpp).
      const std::string p = n.paths.empty() ? n.protected_path : n.paths.back();
      limited_event(fs_limit_, p, "fs_denied",
                    {{"syscall", n.syscall}, {"path", p}, {"access", "create"}, {"pid", n.pid},
                     {"reason", "protected name"}, {"protected", n.protected_path}});
      return;
    }
    for (const auto& p : n.paths) {
      if (p.empty() || writes_.judge(p) != watch::Verdict::NotWritable) continue;
      nlohmann::json f = {{"syscall", n.syscall}, {"path", p}, {"access", "write"}, {"pid", n.pid}};
      for (const auto& e : plan_.protect)
        if (e.state == ProtectedPath::State::Bound && path_is_under(p, e.path)) {
          f["reason"] = "protected name";
          f["protected"] = e.path;
          break;
        }
      limited_event(fs_limit_, p, "fs_denied", std::move(f));
      return;  // one event per call
    }
  }

  // `mcp-jail learn`: what the server read, wrote, executed and which denied
  // calls it tried, each with the number of calls; written as "learn" events
  // when the launch ends (one per path, not one per call).
  void learn(const seccomp::Notice& n) {
    auto add = [&](const char* access, const std::string& what) {
      if (what.empty()) return;
      auto it = learned_.find({access, what});
      if (it != learned_.end()) ++it->second;
      else if (learned_.size() < kLearnMax) learned_.emplace(std::make_pair(std::string(access), what), 1);
      else ++learned_dropped_;
    };
    if (n.kind == seccomp::Notice::Kind::Deny) {
      add("syscall", n.syscall);
      if (n.exec && !n.paths.empty()) add("exec", n.paths[0]);
      return;
    }
    if (n.exec) {
      if (!n.paths.empty()) add("exec", n.paths[0]);
      return;
    }
    const bool look = n.kind == seccomp::Notice::Kind::Watch && seccomp::policy::looks_only(n.syscall);
    for (const auto& p : n.paths) add(look ? "stat" : n.read ? "read" : "write", p);
  }

  // A program run through a descriptor - a file without a name (a memfd, a
  // deleted or O_TMPFILE file) by execveat(fd, "", AT_EMPTY_PATH), or
  // /proc/self/fd/N, /dev/fd/N - is never in the allowed set.
  static bool by_descriptor(const std::string& p) {
    return p.starts_with("/memfd:") || p.ends_with(" (deleted)") || p.starts_with("/dev/fd/") ||
           (p.starts_with("/proc/") && p.find("/fd/") != std::string::npos);
  }

  void read_report() {
    channel::Report r;
    UniqueFd received;
    switch (channel::read_report(report_.get(), &r, &received)) {
      case channel::Read::Report: break;
      case channel::Read::Malformed: return;
      case channel::Read::Empty:
        if (child_exited_) report_.reset();
        return;
      // The jail ended with something unread (the filter, when it failed
      // before reaching it): the error is reported once, and what the jail
      // sent before it is still queued. Not the end of the reports.
      case channel::Read::Reset: return;
      case channel::Read::End:
        // Every jail process closed its end: init gave up its privileges and
        // the server's execve succeeded (the socket is close-on-exec).
        report_.reset();
        if (!error_ && !started_) {
          started_ = true;
          nlohmann::json skipped = skipped_;
          audit_.event("start", {{"command", plan_.argv}, {"exe", plan_.exe}, {"layers", layers_of(plan_, skipped_, has_cgroup_)},
                                 {"skipped", skipped}, {"uid", plan_.id.uid}, {"mode", plan_.id.root_mode ? "root" : "rootless"},
                                 {"env_dropped", plan_.env_dropped}});
          release_due_ = std::chrono::steady_clock::now() + kReleaseAfter;
        }
        return;
    }
    switch (r.kind) {
      case channel::ReportKind::Error:
        if (!error_) error_ = std::make_unique<channel::Report>(r);
        // The process that failed has ended; a jail missing one of its parts
        // (the create helper) must not go on either.
        if (child_ > 0 && !child_exited_) ::kill(child_, SIGKILL);
        break;
      case channel::ReportKind::Listener: listener_ = std::move(received); break;
      case channel::ReportKind::CreateHelper:
        if (guard_.active() && !helper_.attached()) helper_.attach(std::move(received));
        break;
      case channel::ReportKind::NetSocket:
        if (egress_) egress_->adopt(r.code, std::move(received));
        break;
      case channel::ReportKind::Skipped:
        skipped_.push_back(std::string(r.layer) + ": " + r.text);
        stderr_line(std::string("mcp-jail: ") + r.layer + " skipped (best_effort): " + r.text);
        break;
    }
  }

  // What the create helper did, answered to the waiting callers and reported
  // like any observed call (a refusal as an fs_denied event). A helper that
  // is gone fails what it had not answered, with EIO.
  void helper_outcomes() {
    while (auto d = helper_.receive()) {
      auto it = performing_.find(d->tag);
      if (it == performing_.end()) continue;
      Performing p = std::move(it->second);
      performing_.erase(it);
      if (listener_ && !seccomp::answer_performed(listener_.get(), d->tag, d->outcome, p.cloexec)) continue;
      if (!d->outcome.refused.empty()) {
        p.notice.protected_path = d->outcome.refused;
        p.notice.allowed = false;
      }
      on_notice(p.notice);
    }
    for (const auto id : helper_.abandoned()) {
      create::Outcome eio;
      eio.error = EIO;
      if (listener_) (void)seccomp::answer_performed(listener_.get(), id, eio, false);
      performing_.erase(id);
    }
  }

  // The first error report the (ended) jail left on `sock`, if any.
  static std::unique_ptr<channel::Report> pending_error(int sock) {
    for (;;) {
      auto r = std::make_unique<channel::Report>();
      UniqueFd fd;
      switch (channel::read_report(sock, r.get(), &fd)) {
        case channel::Read::Report:
          if (r->kind == channel::ReportKind::Error) return r;
          continue;
        case channel::Read::Reset: continue;  // once, see read_report()
        default: return nullptr;
      }
    }
  }

  // Returns the exit status once the jail's init has ended, else -1.
  int read_signals() {
    signalfd_siginfo si{};
    int result = -1;
    while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig != SIGCHLD) {
        ::kill(child_, sig);  // init forwards it to the server
        continue;
      }
      int status = 0;
      const pid_t p = ::waitpid(child_, &status, WNOHANG);
      if (p == child_) {
        child_exited_ = true;
        if (WIFEXITED(status)) result = WEXITSTATUS(status);
        else if (WIFSIGNALED(status)) result = 128 + WTERMSIG(status);
      }
    }
    return result;
  }

  const Plan& plan_;
  Audit& audit_;
  const SeccompPlan seccomp_plan_;  // plan_.seccomp as this kernel serves it
  seccomp::Handler seccomp_;
  watch::WriteMap writes_;
  watch::ExecSet execs_;
  watch::RateLimit deny_limit_, fs_limit_, exec_limit_;
  protect::Guard guard_;
  create::Client helper_;
  struct Performing {
    seccomp::Notice notice;
    bool cloexec = false;
  };
  std::map<std::uint64_t, Performing> performing_;  // by notification id
  static constexpr std::size_t kLearnMax = 200000;  // distinct paths kept by learn()
  std::map<std::pair<std::string, std::string>, std::uint64_t> learned_;
  std::uint64_t learned_dropped_ = 0;
  pid_t child_ = -1;
  bool child_exited_ = false;
  bool started_ = false;
  bool wall_time_hit_ = false;
  bool has_cgroup_ = false;
  UniqueFd sigfd_, report_, listener_, timer_;
  std::unique_ptr<channel::Report> error_;
  std::vector<std::string> skipped_;
  std::chrono::steady_clock::time_point start_;
  // When start-up memory is released (set once the server runs).
  static constexpr auto kReleaseAfter = std::chrono::milliseconds(100);
  std::optional<std::chrono::steady_clock::time_point> release_due_;
  std::unique_ptr<netfilter::Egress> egress_;  // network = allowlist; last: goes first (pasta killed)
};

}  // namespace

int supervise(const Plan& plan, Audit& audit) { return Supervisor(plan, audit).run(); }

}  // namespace mcpjail
