// The seccomp policy tables (launcher/seccomp/policy.cc): reviewable data,
// with the reason for each entry. Which calls each base allows, which are
// allowed only for some argument values, which answer ENOSYS, the classes
// that are denied, and the calls the watch observes. Pure data: nothing here
// needs libseccomp (launcher/seccomp/compile.cc turns the tables into a
// program).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcpjail::seccomp::policy {

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
// launcher-exec check when they are not allowed (see seccomp/notify.cc).
inline constexpr const char* kExecCalls[] = {"execve", "execveat"};

// ---- No setuid or setgid files --------------------------------------------
// A file the jail makes setuid in a write path is setuid on the host, where
// nosuid does not hold. As systemd's RestrictSUIDSGID: the calls that set a
// mode are allowed only when (mode & kSetidBits) == 0 (for open/openat: or
// when the flags create nothing); otherwise they go to the supervisor, which
// answers EPERM whatever the action ("log" and "kill" included) and reports a
// "deny" event with the call's name. openat2 answers ENOSYS (errno_groups()).
// A profile's [seccomp] allow of one of these calls keeps the guard; a
// profile deny wins as for any call.
inline constexpr std::uint64_t kSetidBits = S_ISUID | S_ISGID;
// open/openat flags under which the mode is used (O_TMPFILE without O_DIRECTORY).
inline constexpr std::uint64_t kCreateFlags = O_CREAT | (O_TMPFILE & ~O_DIRECTORY);
struct SetidGuard {
  const char* syscall;
  int flags_arg;      // open/openat: the flags; -1: the mode always applies
  unsigned mode_arg;  // compared on its low 32 bits (mode_t)
};
const std::vector<SetidGuard>& setid_guards();

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
  // Look: a learning plan's look at a path (looked()); neither written nor run.
  enum class Kind { Write, Exec, Look } kind;
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

// ---- Looks (learning plans only) ---------------------------------------------
// Calls that only look at a path - stat, lstat, newfstatat, statx, access,
// faccessat, faccessat2, readlink, readlinkat - sent to the supervisor by a
// learning plan (SeccompPlan::learn) so that a path whose existence the
// server checks is recorded ("stat" learn events). Observed like the watch:
// the call continues and the kernel decides. A call with AT_EMPTY_PATH (an
// fstat() by descriptor) stays in the kernel: its file was opened, and
// recorded, before. Defined in compile.cc; never part of a profile's filter.
const std::vector<Watched>& looked();
// `syscall` is one of looked().
bool looks_only(std::string_view syscall);

// ---- Calls the supervisor performs -------------------------------------------
// With SeccompPlan::seal_memfd, these calls (when the policy allows them) go
// to the supervisor, which performs them on the caller's behalf and hands
// the result back (notify.cc). memfd_create: the flags are a register of the
// stopped caller (no race); MFD_EXEC is refused with EACCES; otherwise the
// supervisor calls memfd_create(name, flags | MFD_NOEXEC_SEAL) and injects
// the descriptor (SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND), so
// the memfd can never be made executable (F_SEAL_EXEC, no x bit).
struct Performed {
  const char* syscall;
  const char* why;
};
const std::vector<Performed>& performed();

// The (mask, value) pairs, over the low 32 bits, whose union is exactly every
// 32-bit value except those in `except` (at most 32 pairs per excluded value).
std::vector<std::pair<std::uint32_t, std::uint32_t>> complement_cover(
    const std::vector<std::uint64_t>& except);


}  // namespace mcpjail::seccomp::policy
