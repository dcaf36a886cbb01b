// The exported seccomp profile against the jail's own filter, call by call.
//
// The jail's side is the program the jail loads (compile_with_libseccomp,
// with the watch off: the watch only observes calls the policy allows). The
// export's side is the JSON compiled the way runc 1.1 compiles it: one
// libseccomp rule per name and entry, filters on different arguments ANDed,
// unknown names skipped, the default action from defaultAction and
// defaultErrnoRet, libseccomp's default bad-architecture action, and runc's
// ENOSYS answer for calls above the highest number the profile names. Both
// programs run in a classic-BPF interpreter over every x86_64 number, the
// other ABIs, and argument vectors built from the policy's own argument
// rules (each allowed value, values next to them, high bits set).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/personality.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <set>
#include <sstream>

#include "export/export.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/seccomp_policy.hpp"
#include "mcpjail/unique_fd.hpp"
#include "support/bpf.hpp"

using namespace mcpjail;
using nlohmann::json;
namespace sc = mcpjail::seccomp;

namespace {

using mcpjail::test::run_bpf;

std::vector<sock_filter> export_bpf(scmp_filter_ctx ctx) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_memfd_create, "export-test", MFD_CLOEXEC)));
  REQUIRE(fd);
  REQUIRE(seccomp_export_bpf(ctx, fd.get()) == 0);
  struct stat st {};
  REQUIRE(::fstat(fd.get(), &st) == 0);
  std::vector<sock_filter> code(static_cast<std::size_t>(st.st_size) / sizeof(sock_filter));
  REQUIRE(::pread(fd.get(), code.data(), static_cast<std::size_t>(st.st_size), 0) == st.st_size);
  return code;
}

// ---- the exported JSON, compiled as runc 1.1 compiles it ----------------------

std::uint32_t action_of(const std::string& name, const json& errno_ret) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.is_number() ? errno_ret.get<unsigned>() : EPERM);
  FAIL("action " << name << " is not one runc knows");
  return 0;
}

struct RuncProgram {
  std::vector<sock_filter> code;
  int max_nr = -1;  // runc answers ENOSYS above it (x86_64 numbers)
};

RuncProgram compile_like_runc(const json& profile) {
  const std::uint32_t def = action_of(profile.at("defaultAction"), profile.value("defaultErrnoRet", json()));
  scmp_filter_ctx ctx = seccomp_init(def);
  REQUIRE(ctx != nullptr);
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  for (const auto& a : profile.at("architectures")) {
    REQUIRE(a == "SCMP_ARCH_X86_64");  // the profile names the native architecture only
    const int rc = seccomp_arch_add(ctx, SCMP_ARCH_X86_64);
    REQUIRE((rc == 0 || rc == -EEXIST));
  }
  REQUIRE(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) == 0);
  RuncProgram out;
  for (const auto& e : profile.at("syscalls")) {
    const std::uint32_t act = action_of(e.at("action"), e.value("errnoRet", json()));
    for (const auto& n : e.at("names")) {
      const int nr = seccomp_syscall_resolve_name(n.get<std::string>().c_str());
      if (nr < 0) continue;  // runc: "unknown seccomp syscall ignored"
      out.max_nr = std::max(out.max_nr, nr);
      if (act == def) continue;  // runc skips rules equal to the default
      std::vector<scmp_arg_cmp> cmps;
      std::map<unsigned, int> per_arg;
      for (const auto& a : e.value("args", json::array())) {
        REQUIRE(a.at("op") == "SCMP_CMP_MASKED_EQ");
        const unsigned idx = a.at("index");
        cmps.push_back(SCMP_CMP(idx, SCMP_CMP_MASKED_EQ, a.at("value").get<std::uint64_t>(),
                                a.at("valueTwo").get<std::uint64_t>()));
        ++per_arg[idx];
      }
      const bool same_arg = std::any_of(per_arg.begin(), per_arg.end(), [](auto& p) { return p.second > 1; });
      if (same_arg) {
        for (const auto& c : cmps) REQUIRE(seccomp_rule_add_array(ctx, act, nr, 1, &c) == 0);
      } else {
        const int rc = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(cmps.size()),
                                              cmps.empty() ? nullptr : cmps.data());
        INFO("rule for " << n << ": " << e.dump());
        REQUIRE(rc == 0);
      }
    }
  }
  out.code = export_bpf(ctx);
  return out;
}

// ---- outcomes ----------------------------------------------------------------

enum class Act { Allow, Errno, Kill, Log, LauncherExec, Other };
struct Outcome {
  Act act = Act::Other;
  int err = 0;
  bool operator==(const Outcome&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Outcome& x) {
  const char* names[] = {"allow", "errno", "kill", "log", "launcher-exec-only", "other"};
  o << names[static_cast<int>(x.act)];
  if (x.act == Act::Errno) o << "(" << x.err << ")";
  return o;
}

bool is_exec(int nr) { return nr == SYS_execve || nr == SYS_execveat; }

// What the jail does with a call: the filter's answer, and for a
// notification what the supervisor answers (the watch is off).
Outcome jail_outcome(std::uint32_t ret, const SeccompPlan& plan, const seccomp_data& d) {
  const std::uint32_t action = ret & SECCOMP_RET_ACTION_FULL;
  switch (action) {
    case SECCOMP_RET_ALLOW: return {Act::Allow};
    case SECCOMP_RET_ERRNO: return {Act::Errno, static_cast<int>(ret & SECCOMP_RET_DATA)};
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD: return {Act::Kill};
    case SECCOMP_RET_LOG: return {Act::Log};
    case SECCOMP_RET_USER_NOTIF: {
      if (d.arch == AUDIT_ARCH_X86_64 && is_exec(static_cast<int>(d.nr))) {
        // Exec the plan does not allow: only the launcher's own reaches the server.
        const bool allowed_by_plan = plan.base == "default" &&
                                     std::find(plan.deny.begin(), plan.deny.end(), sc::syscall_name(static_cast<int>(d.nr))) == plan.deny.end();
        if (!allowed_by_plan) return {Act::LauncherExec};
      }
      // A setuid/setgid mode: the supervisor answers EPERM whatever the
      // action (policy::setid_guards(), seccomp/notify.cc).
      if (d.arch == AUDIT_ARCH_X86_64)
        for (const auto& g : sc::policy::setid_guards())
          if (sc::syscall_name(static_cast<int>(d.nr)) == g.syscall &&
              (d.args[g.mode_arg] & sc::policy::kSetidBits) != 0 &&
              (g.flags_arg < 0 || (d.args[g.flags_arg] & sc::policy::kCreateFlags) != 0))
            return {Act::Errno, EPERM};
      if (plan.action == SeccompAction::Log) return {Act::Log};
      const bool known = sc::syscall_name(static_cast<int>(d.nr)).rfind("syscall_", 0) != 0;
      return {Act::Errno, known ? EPERM : ENOSYS};
    }
  }
  return {Act::Other};
}

Outcome runc_outcome(const RuncProgram& p, const seccomp_data& d) {
  // runc's stub: a native call above the highest number the profile names
  // answers ENOSYS before the filter runs.
  if (d.arch == AUDIT_ARCH_X86_64 && !(d.nr & 0x40000000) && static_cast<int>(d.nr) > p.max_nr)
    return {Act::Errno, ENOSYS};
  const std::uint32_t ret = run_bpf(p.code, d);
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW: return {Act::Allow};
    case SECCOMP_RET_ERRNO: return {Act::Errno, static_cast<int>(ret & SECCOMP_RET_DATA)};
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD: return {Act::Kill};
    case SECCOMP_RET_LOG: return {Act::Log};
  }
  return {Act::Other};
}

Outcome default_outcome(const SeccompPlan& plan) {
  switch (plan.action) {
    case SeccompAction::Errno: return {Act::Errno, EPERM};
    case SeccompAction::Kill: return {Act::Kill};
    case SeccompAction::Log: return {Act::Log};
  }
  return {};
}

// ---- argument vectors ----------------------------------------------------------

using Args = std::array<std::uint64_t, 6>;

// Values worth trying for a call: from its argument rules, and around them.
std::vector<Args> vectors_for(const char* name) {
  std::vector<Args> v = {Args{}, Args{~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL}};
  const std::uint64_t high = 0xdeadbeef00000000ULL;
  for (const auto& r : sc::policy::arg_rules()) {
    if (std::strcmp(r.syscall, name) != 0) continue;
    for (const auto& c : r.allow_if) {
      Args a{};
      for (const auto& cmp : c.all) a[cmp.arg] = cmp.value;
      v.push_back(a);
      for (const auto& cmp : c.all) {
        Args b = a;
        b[cmp.arg] |= high;  // the kernel ignores these bits of an int
        v.push_back(b);
        const std::uint64_t low = cmp.mask & (~cmp.mask + 1);  // the lowest bit the rule compares
        Args n = a;
        n[cmp.arg] ^= low;
        v.push_back(n);
        Args m = a;
        m[cmp.arg] |= ~cmp.mask & 0xffffffffULL;  // bits the rule ignores
        v.push_back(m);
      }
    }
    for (std::uint64_t e : r.except)
      for (std::uint64_t x : std::vector<std::uint64_t>{e, e | high, e + 1, e - 1, e ^ 0x80000000ULL}) {
        Args a{};
        a[r.except_arg] = x;
        v.push_back(a);
      }
  }
  if (std::strcmp(name, "clone") == 0)
    for (std::uint64_t f : std::vector<std::uint64_t>{std::uint64_t(SIGCHLD), std::uint64_t(CLONE_NEWUSER), std::uint64_t(CLONE_NEWNS | CLONE_THREAD),
                            std::uint64_t(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM),
                            std::uint64_t(CLONE_NEWNET | SIGCHLD), std::uint64_t(CLONE_NEWTIME | SIGCHLD),
                            std::uint64_t(CLONE_NEWPID) << 32})
      v.push_back(Args{f});
  if (std::strcmp(name, "socket") == 0)
    for (int fam : {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, 40 /* AF_VSOCK */, 38 /* AF_ALG */})
      for (int type : std::vector<int>{SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET,
                                       int(SOCK_STREAM) | int(SOCK_NONBLOCK) | int(SOCK_CLOEXEC),
                                       int(SOCK_DGRAM) | int(SOCK_CLOEXEC)})
        for (int proto : {0, int(IPPROTO_TCP), int(IPPROTO_UDP), int(IPPROTO_ICMP), int(IPPROTO_ICMPV6),
                          int(IPPROTO_MPTCP), int(IPPROTO_SCTP), 16 /* NETLINK_GENERIC */})
          v.push_back(Args{std::uint64_t(fam), std::uint64_t(type), std::uint64_t(proto)});
  if (std::strcmp(name, "personality") == 0)
    for (std::uint64_t p : std::vector<std::uint64_t>{std::uint64_t(ADDR_NO_RANDOMIZE), std::uint64_t(READ_IMPLIES_EXEC),
                                                      std::uint64_t(PER_LINUX32) | std::uint64_t(ADDR_NO_RANDOMIZE),
                                                      0x100000000ULL})
      v.push_back(Args{p});
  if (std::strcmp(name, "ioctl") == 0)
    for (std::uint64_t req :
         std::vector<std::uint64_t>{std::uint64_t(FIONREAD), std::uint64_t(TCGETS), std::uint64_t(TIOCSTI) | high, 0ULL})
      v.push_back(Args{0, req});
  return v;
}

seccomp_data call(std::uint32_t nr, const Args& a, std::uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = static_cast<int>(nr);
  d.arch = arch;
  for (int i = 0; i < 6; ++i) d.args[i] = a[i];
  return d;
}

SeccompPlan make(const char* base, SeccompAction action, std::vector<std::string> allow = {},
                 std::vector<std::string> deny = {}) {
  SeccompPlan p;
  p.base = base;
  p.action = action;
  p.allow = std::move(allow);
  p.deny = std::move(deny);
  p.watch = false;
  return p;
}

struct Comparison {
  std::size_t compared = 0;
  std::vector<std::string> differ;  // calls decided otherwise (and not listed)
};

// The comparison itself; `tampered`, when given, stands for the exported JSON
// (to show that the comparison sees a difference).
Comparison compare_calls(const SeccompPlan& plan, const json* tampered = nullptr) {
  const auto exported = exporter::seccomp_profile(plan);
  const auto jail = sc::compile_with_libseccomp(plan);
  const auto runc = compile_like_runc(tampered ? *tampered : exported.json);
  Comparison out;
  REQUIRE(runc.max_nr > 0);
  auto has_gap = [&](const char* text) {
    return std::any_of(exported.gaps.begin(), exported.gaps.end(),
                       [&](const exporter::Gap& g) { return (g.jail + g.here).find(text) != std::string::npos; });
  };
  for (std::uint32_t nr = 0; nr < 520; ++nr) {
    const std::string name = sc::syscall_name(static_cast<int>(nr));
    for (const Args& a : vectors_for(name.c_str())) {
      const seccomp_data d = call(nr, a);
      const Outcome j = jail_outcome(run_bpf(jail.code, d), plan, d);
      const Outcome o = runc_outcome(runc, d);
      ++out.compared;
      INFO(plan.base << "/" << static_cast<int>(plan.action) << " " << name << " (" << nr << ") args " << std::hex
                     << a[0] << " " << a[1] << " " << a[2] << std::dec << ": jail " << j << ", export " << o);
      if (j.act == Act::LauncherExec) {
        // Only the launcher's own execve passes in the jail; a runtime's
        // execve of the server comes after the filter, so execve is
        // allowed there (and said so); execveat stays denied.
        if (nr == SYS_execve) {
          CHECK(o == Outcome{Act::Allow});
          CHECK(has_gap("execve"));
        } else {
          CHECK(o == default_outcome(plan));
        }
      } else if (static_cast<int>(nr) > runc.max_nr) {
        // runc's own rule: ENOSYS above the highest number the profile
        // names, before the filter runs (listed). A call the jail allows
        // there is one this libseccomp cannot name (listed by name).
        CHECK(o == Outcome{Act::Errno, ENOSYS});
        CHECK(has_gap("newer than the newest"));
        if (j.act == Act::Allow) CHECK(has_gap(name.c_str()));
      } else if (j == Outcome{Act::Errno, ENOSYS} && name.rfind("syscall_", 0) == 0) {
        // A number the policy does not know, below that: ENOSYS from the
        // jail's supervisor, the default action here (listed).
        CHECK(o == default_outcome(plan));
        CHECK(has_gap("unknown to the policy"));
      } else if (!(o == j)) {
        std::ostringstream d;
        d << name << " (" << nr << ") args " << std::hex << a[0] << " " << a[1] << " " << a[2] << std::dec << ": jail "
          << j << ", export " << o;
        out.differ.push_back(d.str());
      }
    }
  }
  // Other ABIs: killed in both (the jail: the process; libseccomp's default
  // bad-architecture action: the thread, listed).
  for (std::uint32_t nr : {0u, 1u, 20u, 310u}) {
    const seccomp_data ia32 = call(nr, Args{}, AUDIT_ARCH_I386);
    CHECK((run_bpf(jail.code, ia32) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS);
    CHECK(runc_outcome(runc, ia32) == Outcome{Act::Kill});
    const seccomp_data x32 = call(nr | 0x40000000u, Args{});
    CHECK(jail_outcome(run_bpf(jail.code, x32), plan, x32) == Outcome{Act::Kill});
    CHECK(runc_outcome(runc, x32) == Outcome{Act::Kill});
  }
  CHECK(has_gap("bad-architecture"));
  return out;
}

std::size_t compare(const SeccompPlan& plan) {
  const Comparison c = compare_calls(plan);
  std::string first;
  for (std::size_t i = 0; i < c.differ.size() && i < 20; ++i) first += c.differ[i] + "\n";
  INFO(plan.base << "/" << static_cast<int>(plan.action) << ": " << c.differ.size() << " calls differ:\n" << first);
  CHECK(c.differ.empty());
  return c.compared;
}

}  // namespace

TEST_CASE("seccomp: the seccomp profile decides every call as the jail does, base default", "[export][seccomp]") {
  for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
    const auto n = compare(make("default", action));
    CHECK(n > 600);
  }
}

TEST_CASE("seccomp: the seccomp profile decides every call as the jail does, base strict", "[export][seccomp]") {
  for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) compare(make("strict", action));
}

TEST_CASE("seccomp: the profile's allow and deny lists carry over", "[export][seccomp]") {
  compare(make("default", SeccompAction::Errno, {"ptrace", "clone", "personality"}, {"socket", "mkdir", "ioctl"}));
  compare(make("default", SeccompAction::Kill, {}, {"execve", "clone3"}));
  compare(make("strict", SeccompAction::Errno, {"fork", "execveat"}, {"clone"}));
  compare(make("default", SeccompAction::Errno, {"not_a_call"}, {"unshare", "also_not_a_call"}));
}

TEST_CASE("seccomp: the seccomp profile's shape", "[export][seccomp]") {
  const auto p = exporter::seccomp_profile(make("default", SeccompAction::Errno));
  const json& j = p.json;
  CHECK(j["defaultAction"] == "SCMP_ACT_ERRNO");
  CHECK(j["defaultErrnoRet"] == EPERM);
  CHECK(j["architectures"] == json::array({"SCMP_ARCH_X86_64"}));
  bool enosys = false, masked = false;
  for (const auto& e : j["syscalls"]) {
    REQUIRE(e.contains("names"));
    REQUIRE(e["names"].is_array());
    if (e["action"] == "SCMP_ACT_ERRNO") {
      CHECK(e["errnoRet"] == ENOSYS);
      for (const auto& n : e["names"]) enosys |= n == "clone3";
    }
    for (const auto& a : e.value("args", json::array())) {
      CHECK(a["op"] == "SCMP_CMP_MASKED_EQ");
      masked = true;
    }
  }
  CHECK(enosys);
  CHECK(masked);
  CHECK(exporter::seccomp_profile(make("default", SeccompAction::Kill)).json["defaultAction"] == "SCMP_ACT_KILL_PROCESS");
  CHECK(exporter::seccomp_profile(make("default", SeccompAction::Log)).json["defaultAction"] == "SCMP_ACT_LOG");
  CHECK_THROWS_AS(exporter::seccomp_profile(make("lenient", SeccompAction::Errno)), LaunchError);
}

TEST_CASE("seccomp: the comparison sees a profile that decides a call otherwise", "[export][seccomp]") {
  const SeccompPlan plan = make("default", SeccompAction::Errno);
  const json good = exporter::seccomp_profile(plan).json;
  REQUIRE(compare_calls(plan).differ.empty());
  // One allowed call fewer; one ioctl pattern fewer; an ENOSYS group turned
  // into an allow: each must show.
  json fewer = good;
  auto& names = fewer["syscalls"][0]["names"];
  names.erase(std::find(names.begin(), names.end(), "getcwd"));
  const auto a = compare_calls(plan, &fewer);
  CHECK(a.differ.size() >= 1);
  CHECK(a.differ[0].find("getcwd") == 0);
  json ioctl = good;
  for (auto it = ioctl["syscalls"].begin(); it != ioctl["syscalls"].end(); ++it)
    if ((*it)["names"][0] == "ioctl") {
      ioctl["syscalls"].erase(it);
      break;
    }
  CHECK_FALSE(compare_calls(plan, &ioctl).differ.empty());
  json enosys = good;
  for (auto& e : enosys["syscalls"])
    if (e["action"] == "SCMP_ACT_ERRNO") {
      e.erase("errnoRet");
      e["action"] = "SCMP_ACT_ALLOW";
    }
  CHECK_FALSE(compare_calls(plan, &enosys).differ.empty());
}
