// Seccomp layer (libseccomp): the last thing installed before execve.
// Policies are data (seccomp_policy.hpp), compiled by the build for the bases
// as they are, per launch for a base a profile changes. launcher/seccomp/:
//   policy.cc    the tables, each entry with its reason
//   compile.cc   a plan and the tables -> a BPF program (libseccomp); the build
//                runs it too (prebuild.cc) for the programs of the bases
//   install.cc   the program of a launch (prebuilt, or compiled now), its way
//                from the supervisor to the jail, and loading it
//   notify.cc    the supervisor's answers to the filter's notifications
//                (denials, the launcher's own exec, the watch)
//   describe.cc  the policy as `mcp-jail check` shows it
#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/create_helper.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::seccomp {

namespace policy {
struct Watched;
struct SetidGuard;
}

// ---- Compiling (compile.cc) -------------------------------------------------

// A compiled filter: the BPF program libseccomp generated, and whether it
// needs a user-notification listener.
struct Program {
  std::vector<sock_filter> code;
  bool listener = false;
};

// Builds the program with libseccomp (binary-tree optimised): a few ms of
// CPU per launch. Allocates; does not change the calling process. Throws
// LaunchError("seccomp", ...).
Program compile_with_libseccomp(const SeccompPlan& plan);

// "ptrace", or "syscall_<nr>" for numbers unknown to the policy (x86_64).
std::string syscall_name(int nr);

// ---- The program of a launch (install.cc) -----------------------------------
// A launch prepares the program in the supervisor (compile(): prebuilt, or
// built by libseccomp) after clone(), while the jail builds its root; the
// server receives it over the channel (channel.hpp) just before loading it.

// Programs built at build time by seccomp_prebuild (compile_with_libseccomp()
// over the policy tables, run by the build) for every base and action with
// empty profile allow/deny lists, which is what the built-in profiles use.
// The build writes them to a generated source (seccomp_prebuilt.cc); the
// seccomp tests check that each equals a fresh compile_with_libseccomp().
struct PrebuiltProgram {
  const char* base;
  SeccompAction action;
  const sock_filter* code;
  std::size_t count;
  bool listener;
  bool seal_memfd;  // SeccompPlan::seal_memfd (rootless launches)
};
extern const PrebuiltProgram kPrebuilt[];
extern const std::size_t kPrebuiltCount;
extern const unsigned kPrebuiltLibseccomp[3];  // the libseccomp version that built them

// The prebuilt program for `plan`, or nullptr: the plan changes the base
// (allow/deny), or this process runs with another libseccomp version than
// the one that built them.
const PrebuiltProgram* prebuilt(const SeccompPlan& plan);

// The program for `plan`: the prebuilt one when there is one, else
// compile_with_libseccomp(). Allocates; does not change the calling process.
// Throws LaunchError("seccomp", ...).
Program compile(const SeccompPlan& plan);

// Sends `program` as one message on `sock` (the supervisor's end of the
// channel's report socket). Returns false when the other end is closed (the
// jail has already ended, and its report says why); throws
// LaunchError("seccomp", ...) on other failures.
bool send_program(int sock, const Program& program);

// Receives the program send_program() sent; blocks until it arrives. Throws
// LaunchError("seccomp", ...) when the socket closes first or what arrives
// is not a well-formed program: the server then does not start.
Program receive_program(int sock);

// Loads a compiled program with one seccomp(2) call: no allocation, so it is
// safe in a child forked from a multi-threaded parent. no_new_privs must
// already be set. Returns the user-notification listener fd when denied
// calls are reported through the supervisor (empty fd when the action does
// not report). Throws LaunchError("seccomp", ...) when no_new_privs is not
// set or the kernel refuses the filter.
//
// The listener must be handed to the supervisor (over the channel) and served
// before the execve that follows: with base "strict" (or execve denied by the
// profile) that execve itself waits for the supervisor's answer, so in that
// case a listener is returned for every action, "kill" included. The fd is
// close-on-exec.
UniqueFd install(const Program& program);

// Same as install(compile(plan)).
UniqueFd install(const SeccompPlan& plan);

// ---- Notifications, in the supervisor (notify.cc) ---------------------------

// What a notification is, and the answer:
//   Deny          a call the policy does not allow: EPERM for action
//                 "errno", continue for "log" (allowed = true), SIGKILL for
//                 "kill" (only exec reaches the supervisor then). System calls
//                 this policy does not know (newer than the libseccomp syscall
//                 table) are answered ENOSYS, as an older kernel would.
//   LauncherExec  the launcher's own execve of the server: continue.
//   Watch         a call the policy allows and the watch observes
//                 (policy::watched()): continue; the kernel decides. `paths`
//                 holds the paths it names, for the caller to judge. The one
//                 exception: an exec the exec judge (Handler::set_exec_judge)
//                 refuses is answered ENOENT (`refused`), never continued.
//   Performed     (SeccompPlan::seal_memfd) memfd_create: the supervisor made
//                 the memfd sealed against exec and handed it over; nothing
//                 is reported. With MFD_EXEC it is refused (EACCES) and
//                 reported as a Deny with `memfd_exec`.
struct Notice {
  enum class Kind { Deny, LauncherExec, Watch } kind = Kind::Deny;
  pid_t pid = 0;          // thread id as seen from the supervisor
  std::string syscall;    // name, e.g. "ptrace"
  bool allowed = false;   // Deny: true for action "log"
  bool exec = false;      // an execve/execveat (Watch, or a denied exec)
  bool setid = false;     // Deny: refused for a setuid/setgid mode (policy::setid_guards())
  bool memfd_exec = false;  // Deny: memfd_create with MFD_EXEC, refused (SeccompPlan::seal_memfd)
  bool read = false;      // Watch, learning plans only: an open without a write flag
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
  // An observed exec, when the Handler has an exec judge: what it said.
  bool judged = false;
  std::optional<bool> exec_allowed;  // the plan allows the program; nullopt: no such file, or cannot tell
  bool refused = false;              // answered ENOENT instead of continued
  // Watch: the protected name (mcpjail/protect.hpp) the call would have
  // created; the call was refused with EACCES. Empty otherwise.
  std::string protected_path;
};

// What the supervisor makes of an exec the watch observes (before it is
// answered): whether the plan allows the program, and whether to refuse it.
//
// Refusing is safe from here although the path was read from the caller's
// memory: a refusal grants nothing, so a path changed after it was read can
// only make a call fail that would otherwise have gone on to Landlock. What is
// allowed is never decided here: that call continues and Landlock checks the
// execute right on the file the kernel opens.
struct ExecJudgement {
  std::optional<bool> allowed;
  bool refuse = false;  // answer ENOENT: the program looks absent
};

// Creating calls while the plan has protected names to refuse
// (mcpjail/create_helper.hpp). `refuses`: the protected path a call's lexical
// path is or lies below (refused at once with EACCES: a refusal grants
// nothing). Every other creating call (and every openat2, whose flags are in
// the caller's memory) is never continued: it is read once and given to
// `perform` with the notification id; the answer comes later, from
// answer_performed(). `perform` returns false when it cannot take the call
// (the helper is gone): the call then fails with EIO.
struct Creations {
  std::function<std::string(const std::string& lexical)> refuses;
  std::function<bool(create::Call&&, create::CallFds&&, std::uint64_t id, Notice&&)> perform;
};

// Answers notification `id` with what the create helper did: the error, or
// the new descriptor installed in the caller (close-on-exec when `cloexec`),
// or success. False when the caller was gone.
bool answer_performed(int listener, std::uint64_t id, create::Outcome& outcome, bool cloexec);

// Answers notifications for one plan (the policy's classification of each
// call is computed once).
class Handler {
 public:
  explicit Handler(const SeccompPlan& plan);

  // Reads one notification from `listener`, answers it and returns what was
  // attempted. nullopt when nothing could be read (the jail is gone) or
  // nothing is worth reporting.
  //
  // Call it when the listener polls readable; the read blocks otherwise. A
  // notification can also be withdrawn between poll and read (the caller was
  // interrupted by a signal): that also gives nullopt, so keep polling until
  // the listener reports POLLHUP (every task of the jail is gone) or the jail
  // has exited.
  std::optional<Notice> handle(int listener);

  // Consulted for every exec the watch observes, while the call is pending
  // (Notice::paths and Notice::root are set). Without one, every such exec
  // continues.
  void set_exec_judge(std::function<ExecJudgement(const Notice&)> judge) { exec_judge_ = std::move(judge); }
  // Protected names to refuse: creating calls are refused or performed, never
  // continued (Creations).
  void set_creations(Creations c) { creations_ = std::move(c); }

 private:
  std::function<ExecJudgement(const Notice&)> exec_judge_;
  Creations creations_;
  SeccompPlan plan_;
  std::vector<const policy::Watched*> watched_;  // by syscall number; null: not observed
  std::vector<int> exec_nrs_;
  std::vector<const policy::SetidGuard*> guards_;  // by syscall number; null: no mode to check
  int memfd_nr_ = -1;  // memfd_create when the supervisor performs it (SeccompPlan::seal_memfd)
};

// Whether this kernel has MFD_NOEXEC_SEAL (Linux 6.3+): probed once with a
// real memfd_create(..., MFD_NOEXEC_SEAL), whose memfd must carry F_SEAL_EXEC.
bool memfd_noexec_seal_supported();

// ---- For `mcp-jail check` (describe.cc) --------------------------------------

// The effective syscall policy in a form a person can review.
std::string describe(const SeccompPlan& plan);

}  // namespace mcpjail::seccomp
