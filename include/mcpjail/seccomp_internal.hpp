// Pieces of launcher/seccomp/ shared between its files (not a public
// interface). Defined in compile.cc: what the build-time generator links.
#pragma once
#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/create_helper.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/seccomp_policy.hpp"

namespace mcpjail::seccomp {

// Throws LaunchError("seccomp", what).
[[noreturn]] void fail(const std::string& what);

// Number of a system call on x86_64: libseccomp's table first, then the
// policy's table of newer calls. Negative when it is not an x86_64 call.
int resolve(const char* name);

// Whether libseccomp's own table has `name` (policy::numbered() is only for
// the calls it does not).
bool known_to_libseccomp(const char* name);

// The numbers of `names`; names that are not x86_64 calls (e.g. "stime") are
// left out.
std::set<int> resolve_all(const std::vector<std::string>& names);

// The calls the watch observes under `plan`: those of policy::watched() that
// the policy allows (base group or profile allow, and not denied).
std::map<int, const policy::Watched*> watched_calls(const SeccompPlan& plan);

// The calls the supervisor performs under `plan` (policy::performed(), only
// with SeccompPlan::seal_memfd): those the policy allows and does not deny.
std::set<int> performed_calls(const SeccompPlan& plan);

// ---- Not linked by the build-time generator: creating.cc ----------------------

// A NUL-terminated string of at most `max` bytes (max < PATH_MAX) at `addr` in the memory of
// `pid`, read page by page (it may end just before an unmapped page): 0 with
// the string, EFAULT when it cannot be read, E2BIG when it is longer.
int read_cstring(pid_t pid, std::uint64_t addr, std::size_t max, std::string* out);
// A path argument (at most PATH_MAX bytes with its NUL): 0, EFAULT, or
// ENAMETOOLONG when it is longer (as the kernel answers).
int read_path_string(pid_t pid, std::uint64_t addr, std::string* out);

// Whether the create helper performs `syscall` (a creating call).
bool performable(std::string_view syscall);

// Reads the creating call `syscall` of the stopped caller `pid` once:
// arguments, strings, the open_how of openat2, its working directory and
// directory descriptors (O_PATH, through /proc) and its umask. 0, or the
// errno the call is to fail with.
int read_creating_call(std::string_view syscall, const seccomp_data& d, pid_t pid, create::Call* call,
                       create::CallFds* fds);

}  // namespace mcpjail::seccomp
