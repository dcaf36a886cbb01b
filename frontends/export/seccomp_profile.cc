// The jail's seccomp policy as an OCI / Docker-format seccomp profile.
//
// The decisions follow the policy tables (seccomp.hpp, namespace policy) in
// the order the jail's own compiler applies them: the profile's allow list,
// the base's groups, the argument rules, the ENOSYS groups, then the calls
// newer than libseccomp's table. A call is decided once; the profile's deny
// list wins over everything. The test in tests/export/ compiles this JSON
// the way runc does and compares it with the jail's own program, call by
// call.
#include <seccomp.h>

#include <cerrno>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "export.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/seccomp_policy.hpp"

namespace mcpjail::exporter {

namespace {

namespace policy = seccomp::policy;
using nlohmann::json;

int resolve(const std::string& name) {
  const int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str());
  if (nr >= 0) return nr;
  for (const auto& n : policy::numbered())
    if (name == n.name) return n.nr;
  return -1;
}

bool known_to_libseccomp(const char* name) { return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) >= 0; }

json masked_eq(unsigned arg, std::uint64_t mask, std::uint64_t value) {
  // SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` the value compared.
  return {{"index", arg}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}};
}

}  // namespace

SeccompProfile seccomp_profile(const SeccompPlan& plan) {
  const unsigned base = policy::base_bit(plan.base);
  if (base == 0) throw LaunchError("export", "unknown seccomp base \"" + plan.base + "\" (default or strict)");

  std::set<int> deny, allow;
  for (const auto& n : plan.deny)
    if (int nr = resolve(n); nr >= 0) deny.insert(nr);
  for (const auto& n : plan.allow)
    if (int nr = resolve(n); nr >= 0 && !deny.count(nr)) allow.insert(nr);

  std::set<int> done;
  auto is_free = [&](int nr) { return nr >= 0 && !deny.count(nr) && !done.count(nr); };

  SeccompProfile out;
  std::vector<std::string> plain;  // allowed whatever the arguments
  json conditional = json::array();
  json enosys_names = json::array();
  std::map<int, json> other_errno;  // errno -> names (an errno group other than ENOSYS)

  // An allowed call; one that sets a mode keeps the setuid/setgid guard
  // (policy::setid_guards()), as the jail's filter does: allowed without
  // those bits (open/openat: or without a creating flag), EPERM with them,
  // which the jail's supervisor answers whatever the profile's action.
  // EPERM for a setuid/setgid mode (open/openat: with a creating flag).
  auto setid_eperm = [&](const std::string& name, const policy::SetidGuard& g) {
    auto rule = [&](json args) {
      conditional.push_back(
          {{"names", {name}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}, {"args", std::move(args)}});
    };
    for (std::uint64_t bit : {std::uint64_t(S_ISUID), std::uint64_t(S_ISGID)}) {
      if (g.flags_arg < 0) {
        rule({masked_eq(g.mode_arg, bit, bit)});
        continue;
      }
      for (std::uint64_t cf = 1; cf <= policy::kCreateFlags; cf <<= 1)
        if (cf & policy::kCreateFlags)
          rule({masked_eq(static_cast<unsigned>(g.flags_arg), cf, cf), masked_eq(g.mode_arg, bit, bit)});
    }
  };
  auto allow_call = [&](const std::string& name) {
    const auto& guards = policy::setid_guards();
    const auto g = std::find_if(guards.begin(), guards.end(), [&](const auto& x) { return name == x.syscall; });
    if (g == guards.end()) {
      plain.push_back(name);
      return;
    }
    auto allow_if = [&](json args) {
      conditional.push_back({{"names", {name}}, {"action", "SCMP_ACT_ALLOW"}, {"args", std::move(args)}});
    };
    allow_if({masked_eq(g->mode_arg, policy::kSetidBits, 0)});
    if (g->flags_arg >= 0) allow_if({masked_eq(static_cast<unsigned>(g->flags_arg), policy::kCreateFlags, 0)});
    // Under the action "errno" the default answer is EPERM already.
    if (plan.action != SeccompAction::Errno) setid_eperm(name, *g);
  };

  for (int nr : allow) {
    allow_call(seccomp::syscall_name(nr));
    done.insert(nr);
  }
  for (const auto& g : policy::allowed_groups()) {
    if (!(g.bases & base)) continue;
    for (const char* name : g.syscalls) {
      const int nr = resolve(name);
      if (!is_free(nr)) continue;
      allow_call(name);
      done.insert(nr);
    }
  }
  for (const auto& r : policy::arg_rules()) {
    if (!(r.bases & base)) continue;
    const int nr = resolve(r.syscall);
    if (!is_free(nr)) continue;
    for (const auto& c : r.allow_if) {
      // One entry per case. Runtimes AND the filters of one entry only when
      // they name different arguments (runc turns filters on the same
      // argument into separate rules, an OR): a case must not repeat one.
      json args = json::array();
      std::set<unsigned> seen;
      for (const auto& cmp : c.all) {
        if (!seen.insert(cmp.arg).second)
          throw LaunchError("export", std::string("the seccomp rule for ") + r.syscall + " (" + c.what +
                                          ") compares argument " + std::to_string(cmp.arg) +
                                          " twice, which the OCI profile format cannot AND");
        args.push_back(masked_eq(cmp.arg, cmp.mask, cmp.value));
      }
      conditional.push_back({{"names", {r.syscall}}, {"action", "SCMP_ACT_ALLOW"}, {"args", args}});
    }
    if (!r.except.empty())
      for (auto [mask, value] : policy::complement_cover(r.except))
        conditional.push_back({{"names", {r.syscall}},
                               {"action", "SCMP_ACT_ALLOW"},
                               {"args", {masked_eq(r.except_arg, mask, value)}}});
    done.insert(nr);
  }
  for (const auto& g : policy::errno_groups()) {
    for (const char* name : g.syscalls) {
      const int nr = resolve(name);
      if (!is_free(nr)) continue;
      if (g.error == ENOSYS) enosys_names.push_back(name);
      else other_errno[g.error].push_back(name);
      done.insert(nr);
    }
  }
  // Calls newer than this build's libseccomp, exactly where the jail's
  // compiler adds them (it adds none that libseccomp knows by name).
  std::vector<std::string> newer;
  for (const auto& n : policy::numbered()) {
    if (!(n.bases & base) || known_to_libseccomp(n.name) || !is_free(n.nr)) continue;
    if (n.treatment == policy::Treatment::Allow) allow_call(n.name);
    else if (n.treatment == policy::Treatment::Enosys) enosys_names.push_back(n.name);
    else continue;
    newer.push_back(n.name);
    done.insert(n.nr);
  }

  // Under the action "log" a denied call reaches the jail's supervisor, which
  // still refuses a setuid/setgid mode with EPERM (under "kill" the filter
  // kills it first; under "errno" the answer is EPERM anyway).
  if (plan.action == SeccompAction::Log)
    for (const auto& g : policy::setid_guards())
      if (const int nr = resolve(g.syscall); nr >= 0 && (deny.count(nr) || !done.count(nr))) setid_eperm(g.syscall, g);

  // exec that the jail allows only for its own start of the server.
  for (const char* name : policy::kExecCalls) {
    const int nr = resolve(name);
    if (nr < 0 || done.count(nr)) continue;
    if (std::string(name) != "execve") continue;  // execveat stays denied
    plain.push_back(name);
    done.insert(nr);
    out.gaps.push_back(
        {"seccomp",
         plan.base == "strict" ? "base \"strict\": no exec after the start; the jail's supervisor lets through only the "
                                 "launcher's own execve of the server"
                               : "execve denied by the profile; the jail's supervisor lets through only the launcher's "
                                 "own execve of the server",
         "a runtime loads the filter before its own execve of the server and cannot tell that call from later ones, so "
         "this profile allows execve (execveat stays denied). What may run is then decided by the mounts alone (no "
         "Landlock): writable mounts are noexec."});
  }

  json syscalls = json::array();
  if (!plain.empty()) syscalls.push_back({{"names", plain}, {"action", "SCMP_ACT_ALLOW"}});
  for (auto& c : conditional) syscalls.push_back(std::move(c));
  if (!enosys_names.empty())
    syscalls.push_back({{"names", enosys_names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  for (auto& [err, names] : other_errno)
    syscalls.push_back({{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", err}});

  json& j = out.json;
  switch (plan.action) {
    case SeccompAction::Errno:
      j["defaultAction"] = "SCMP_ACT_ERRNO";
      j["defaultErrnoRet"] = EPERM;
      break;
    case SeccompAction::Kill: j["defaultAction"] = "SCMP_ACT_KILL_PROCESS"; break;
    case SeccompAction::Log: j["defaultAction"] = "SCMP_ACT_LOG"; break;
  }
  j["architectures"] = {"SCMP_ARCH_X86_64"};
  j["syscalls"] = std::move(syscalls);

  switch (plan.action) {
    case SeccompAction::Errno:
      out.gaps.push_back({"seccomp",
                          "a denied call fails with EPERM through the supervisor, which reports it as an audit \"deny\" "
                          "event",
                          "the filter answers EPERM itself (defaultErrnoRet 1), unreported"});
      break;
    case SeccompAction::Log:
      out.gaps.push_back({"seccomp", "action \"log\": denied calls run and are reported as audit \"deny\" events",
                          "SCMP_ACT_LOG: they run and the kernel logs them (audit subsystem), where it logs seccomp actions"});
      break;
    case SeccompAction::Kill: break;
  }
  out.gaps.push_back({"seccomp",
                      std::string("calls unknown to the policy (numbers its tables do not name) ") +
                          (plan.action == SeccompAction::Errno ? "answer ENOSYS from the supervisor"
                                                               : "get the profile's action"),
                      "runc answers ENOSYS for every call above the highest number the profile names (newer than the "
                      "newest one it names), whatever the action; below it, and in other runtimes, they get the default "
                      "action"});
  out.gaps.push_back({"seccomp",
                      "ia32 (int 0x80) and x32 calls kill the whole process (the filter's bad-architecture action)",
                      "the profile names x86_64 only, so libseccomp answers other architectures with its default "
                      "bad-architecture action, which kills the calling thread; the profile format cannot set it"});
  if (!newer.empty()) {
    std::string names;
    for (const auto& n : newer) names += (names.empty() ? "" : ", ") + n;
    out.gaps.push_back({"seccomp",
                        "calls newer than this build's libseccomp are decided by number (" + names + ")",
                        "they are named in the profile; a runtime whose libseccomp does not know a name skips it (runc "
                        "then answers ENOSYS, as for every call newer than the newest one it knows)"});
  }
  return out;
}

}  // namespace mcpjail::exporter
