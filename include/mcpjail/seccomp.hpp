// Seccomp layer (libseccomp): the last thing installed before execve.
// Policies are data (launcher/seccomp_policy.cc), compiled by the build for
// the bases as they are, per launch for a base a profile changes.
#pragma once
#include <fcntl.h>
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

namespace policy {
struct Watched;
}

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

// Supervisor side: reads one notification from `listener`, answers it and
// returns what was attempted. nullopt when nothing could be read (the jail is
// gone) or nothing is worth reporting.
//
// Call it when the listener polls readable; the read blocks otherwise. A
// notification can also be withdrawn between poll and read (the caller was
// interrupted by a signal): that also gives nullopt, so keep polling until
// the listener reports POLLHUP (every task of the jail is gone) or the jail
// has exited.
//
// What a notification is, and the answer:
//   Deny          a call the policy does not allow: EPERM for action
//                 "errno", continue for "log" (allowed = true), SIGKILL for
//                 "kill" (only exec reaches the supervisor then). System calls
//                 this policy does not know (newer than the libseccomp syscall
//                 table) are answered ENOSYS, as an older kernel would.
//   LauncherExec  the launcher's own execve of the server: continue.
//   Watch         a call the policy allows and the watch observes
//                 (policy::watched()): continue, always; the kernel decides.
//                 `paths` holds the paths it names, for the caller to judge.
struct Notice {
  enum class Kind { Deny, LauncherExec, Watch } kind = Kind::Deny;
  pid_t pid = 0;          // thread id as seen from the supervisor
  std::string syscall;    // name, e.g. "ptrace"
  bool allowed = false;   // Deny: true for action "log"
  bool exec = false;      // an execve/execveat (Watch, or a denied exec)
  // Watch (and a denied exec): the judged paths of policy::watched(), made
  // absolute lexically against the caller's working directory or directory
  // fd: "." and ".." are folded, symlinks are NOT followed. An entry is empty
  // when the path could not be read. Empty for an openat2 without a write flag
  // (nothing to judge).
  std::vector<std::string> paths;
  // Exec (Watch or denied): the caller's root directory (/proc/PID/root,
  // O_PATH), opened while the caller was known to be the notifying task, so
  // that the program can be looked up as the jail sees it. May be empty.
  UniqueFd root;
};

// Answers notifications for one plan (the policy's classification of each
// call is computed once).
class Handler {
 public:
  explicit Handler(const SeccompPlan& plan);
  std::optional<Notice> handle(int listener);

 private:
  SeccompPlan plan_;
  std::vector<const policy::Watched*> watched_;  // by syscall number; null: not observed
  std::vector<int> exec_nrs_;
};

// One notification with a Handler made for it (tests; the supervisor keeps one).
std::optional<Notice> handle_notification(int listener, const SeccompPlan& plan);

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

// ---- The watch --------------------------------------------------------------
// Calls the policy allows but the supervisor observes (SeccompPlan::watch):
// they are sent to the supervisor, which reads the path, logs an attempt the
// plan does not allow, and lets the call continue - the kernel (read-only
// mounts, Landlock) decides as it would without the watch. Reads never reach
// the supervisor: open/openat are notified only with a write flag.

// open/openat flags that mean "may write": the call is observed when any is set.
// (O_TMPFILE needs O_WRONLY or O_RDWR, so it is covered.)
inline constexpr std::uint64_t kOpenWriteFlags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;

// A path argument: `path` (an index into seccomp_data.args) relative to the
// directory fd in `dirfd` (an index; -1: the caller's working directory).
struct PathArg {
  int dirfd;
  int path;
};
struct Watched {
  const char* syscall;
  enum class Kind { Write, Exec } kind;
  // open/openat: the index of the flags argument, observed only with one of
  // kOpenWriteFlags; -1: every call is observed.
  int flags_arg = -1;
  // openat2: the index of the struct open_how pointer (flags read by the
  // supervisor); -1: none.
  int how_arg = -1;
  // The paths the supervisor judges (where the call writes; the program for
  // exec). A second path of rename/link that is only read is left out, and so
  // is the target string of symlink.
  std::vector<PathArg> paths;
  // *at calls with AT_EMPTY_PATH: the index of their flags argument (-1: none).
  int at_flags_arg = -1;
};
const std::vector<Watched>& watched();

// The (mask, value) pairs, over the low 32 bits, whose union is exactly every
// 32-bit value except those in `except` (at most 32 pairs per excluded value).
std::vector<std::pair<std::uint32_t, std::uint32_t>> complement_cover(
    const std::vector<std::uint64_t>& except);

}  // namespace policy
}  // namespace mcpjail::seccomp
