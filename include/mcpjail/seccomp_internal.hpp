// Pieces of launcher/seccomp/ shared between its files (not a public
// interface). Defined in compile.cc: what the build-time generator links.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

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

}  // namespace mcpjail::seccomp
