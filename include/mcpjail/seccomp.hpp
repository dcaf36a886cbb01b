// Seccomp layer (libseccomp): the last thing installed before execve.
// Policies are data (launcher/seccomp_policy.cc), compiled by the build for
// the bases as they are, per launch for a base a profile changes.
#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/plan.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::seccomp {

// The effective syscall policy in a form a person can review (`mcp-jail check`).
std::string describe(const SeccompPlan& plan);

// Builds the filter from `plan` and loads it into the calling process.
// no_new_privs must already be set. Returns the user-notification listener
// fd when denied calls are reported through the supervisor (empty fd when
// the action does not report). Throws LaunchError("seccomp", ...) on failure.
//
// The listener must be handed to the supervisor (SCM_RIGHTS) and served
// before the execve that follows: with base "strict" (or execve denied by the
// profile) that execve itself waits for the supervisor's answer, so in that
// case a listener is returned for every action, "kill" included. The fd is
// close-on-exec. Same as install(compile(plan)).
UniqueFd install(const SeccompPlan& plan);

// Supervisor side: reads one notification from `listener`, answers it
// (EPERM for action "errno", continue for action "log") and returns what was
// attempted. nullopt when nothing could be read (the jail is gone).
//
// Call it when the listener polls readable; the read blocks otherwise. A
// notification can also be withdrawn between poll and read (the caller was
// interrupted by a signal): that also gives nullopt, so keep polling until
// the listener reports POLLHUP (every task of the jail is gone) or the jail
// has exited. System calls this policy does not know (newer than the
// libseccomp syscall table) are answered ENOSYS, as an older kernel would.
struct Denial {
  pid_t pid = 0;          // pid as seen from the supervisor
  std::string syscall;    // name, e.g. "ptrace"
  bool allowed = false;   // true for action "log"
  // The launcher's own execve of the server when exec is denied (base
  // "strict"): allowed, and not an audit "deny" event.
  bool launcher_exec = false;
};
std::optional<Denial> handle_notification(int listener, const SeccompPlan& plan);

// ---- The pieces of install(), for callers that build before fork ----------

// A compiled filter: the BPF program libseccomp generated, and whether it
// needs a user-notification listener.
struct Program {
  std::vector<sock_filter> code;
  bool listener = false;
};

// The program for `plan`: the prebuilt one when there is one (below), else
// compile_with_libseccomp(). Allocates; does not change the calling process.
// Throws LaunchError("seccomp", ...).
Program compile(const SeccompPlan& plan);

// Builds the program with libseccomp (binary-tree optimised): a few ms of
// CPU per launch. Throws LaunchError("seccomp", ...).
Program compile_with_libseccomp(const SeccompPlan& plan);

// Programs built at build time by seccomp_prebuild (this file's
// compile_with_libseccomp() over the policy tables, run by the build) for
// every base and action with empty profile allow/deny lists, which is what
// the built-in profiles use. The build writes them to a generated source
// (seccomp_prebuilt.cc); the seccomp tests check that each equals a fresh
// compile_with_libseccomp().
struct PrebuiltProgram {
  const char* base;
  SeccompAction action;
  const sock_filter* code;
  std::size_t count;
  bool listener;
};
extern const PrebuiltProgram kPrebuilt[];
extern const std::size_t kPrebuiltCount;
extern const unsigned kPrebuiltLibseccomp[3];  // the libseccomp version that built them

// The prebuilt program for `plan`, or nullptr: the plan changes the base
// (allow/deny), or this process runs with another libseccomp version than
// the one that built them.
const PrebuiltProgram* prebuilt(const SeccompPlan& plan);

// Loads a compiled program with one seccomp(2) call: no allocation, so it is
// safe in a child forked from a multi-threaded parent. Throws LaunchError
// when no_new_privs is not set or the kernel refuses the filter.
UniqueFd install(const Program& program);

// ---- From the supervisor to the jail ---------------------------------------
// A launch prepares the program in the supervisor (compile(): prebuilt, or
// built by libseccomp) after clone(), while the jail builds its root; the
// server receives it just before loading it.

// Sends `program` as one message on `sock` (SOCK_SEQPACKET, the jail's
// report socket). Returns false when the other end is closed (the jail has
// already ended, and its report says why); throws LaunchError("seccomp",
// ...) on other failures.
bool send_program(int sock, const Program& program);

// Receives the program send_program() sent; blocks until it arrives. Throws
// LaunchError("seccomp", ...) when the socket closes first or what arrives
// is not a well-formed program: the server then does not start.
Program receive_program(int sock);

// "ptrace", or "syscall_<nr>" for numbers unknown to the policy (x86_64).
std::string syscall_name(int nr);

// ---- The policy tables (launcher/seccomp_policy.cc) ------------------------
// Reviewable data: which calls each base allows, which are allowed only for
// some argument values, which answer ENOSYS, and the classes that are denied.
namespace policy {

enum Bases : unsigned { kDefault = 1u << 0, kStrict = 1u << 1, kBoth = kDefault | kStrict };

// Base name ("default", "strict") to its bit; 0 for an unknown base.
unsigned base_bit(const std::string& base);

// Allowed unconditionally.
struct Group {
  const char* name;
  unsigned bases;
  const char* why;
  std::vector<const char*> syscalls;
};
const std::vector<Group>& allowed_groups();

// One comparison: (arg[index] & mask) == value. Arguments the kernel takes as
// 32-bit ints use mask 0xffffffff so that high bits set by an attacker (which
// the kernel discards) cannot make a value look different to the filter.
struct Cmp {
  unsigned arg;
  std::uint64_t mask;
  std::uint64_t value;
};
// One allowed case: every comparison holds.
struct Case {
  const char* what;
  std::vector<Cmp> all;
};
// A call allowed only when one of `allow_if` holds, or (when `except` is
// non-empty) unless (arg[except_arg] & 0xffffffff) is one of `except`.
struct ArgRule {
  const char* syscall;
  unsigned bases;
  const char* summary;  // one line for `check`
  const char* why;
  std::vector<Case> allow_if;
  unsigned except_arg = 0;
  std::vector<std::uint64_t> except;
};
const std::vector<ArgRule>& arg_rules();

// Answered with an errno by the filter itself and not reported: ENOSYS makes
// libc and runtimes fall back to calls the filter can inspect.
struct ErrnoGroup {
  const char* name;
  int error;
  const char* why;
  std::vector<const char*> syscalls;
};
const std::vector<ErrnoGroup>& errno_groups();

// System calls newer than libseccomp's table, by x86_64 number. Used only
// when libseccomp cannot resolve the name.
enum class Treatment { Allow, Enosys, Deny };
struct Numbered {
  const char* name;
  int nr;
  Treatment treatment;
  unsigned bases;
};
const std::vector<Numbered>& numbered();

// Classes of calls the bases deny (nothing in allowed_groups() names them);
// for `check` and the tests.
struct DenyClass {
  const char* name;
  const char* why;
  std::vector<const char*> syscalls;
  const char* also;  // argument-level denials belonging to the class, or ""
  // The call whose argument rule implements `also` (nullptr if none); a base
  // without that rule denies the call outright.
  const char* rule = nullptr;
};
const std::vector<DenyClass>& deny_classes();

// Calls whose use after the filter is loaded goes to the supervisor's
// launcher-exec check when they are not allowed (see seccomp.cc).
inline constexpr const char* kExecCalls[] = {"execve", "execveat"};

// The (mask, value) pairs, over the low 32 bits, whose union is exactly every
// 32-bit value except those in `except` (at most 32 pairs per excluded value).
std::vector<std::pair<std::uint32_t, std::uint32_t>> complement_cover(
    const std::vector<std::uint64_t>& except);

}  // namespace policy
}  // namespace mcpjail::seccomp
