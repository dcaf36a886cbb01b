// Landlock layer: mirrors the filesystem rules in the kernel's own access
// control, restricts execution to the allowed executables, scopes signals and
// abstract unix sockets. Applied after capabilities are dropped, before seccomp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail::landlock {

// The Landlock ABI version of the running kernel, 0 when unavailable.
int abi_version();

// Applies `plan` to the calling process (paths are inside the jail, after
// pivot_root). Throws LaunchError("landlock", ...) when the kernel lacks a
// needed feature, unless plan.best_effort; returns what was skipped.
//
// Preconditions (checked, LaunchError when violated): no_new_privs is set and
// the process is single-threaded (a Landlock domain covers the calling thread
// only). Every rule path and every executable must exist inside the jail.
std::vector<std::string> apply(const LandlockPlan& plan);

// Human-readable rules for `mcp-jail check`.
std::string describe(const LandlockPlan& plan);

// ---- Building blocks, exposed for `check` and for tests -------------------

// One file that gets the execute right, and why.
using ExecFile = exec::ExecFile;

// The files that must be executable for `exec_allow` to run, resolved in the
// current mount namespace (exec::closure): each executable, the ELF
// interpreter (PT_INTERP) of every dynamically linked ELF, and for `#!`
// scripts the interpreter and, for `#!/usr/bin/env ... PROG`, PROG looked up
// in `path_env` (the server's PATH, LandlockPlan::path_env; relative entries
// are ignored; "" stands for exec::kDefaultSearchPath). Nested interpreters
// are followed up to the kernel's own depth. Throws LaunchError("landlock",
// ...) for a missing file or an unsupported format (only ELF and `#!` are
// supported; binfmt_misc handlers are not).
std::vector<ExecFile> exec_closure(const std::vector<std::string>& exec_allow, const std::string& path_env);

// The features `plan` needs from the kernel that Landlock ABI `abi` lacks,
// each as "name (Landlock ABI n)". Empty when everything is there.
std::vector<std::string> missing_features(const LandlockPlan& plan, int abi);

// The kernel's Landlock errata bitmask (fixed issues), 0 when unknown.
std::uint64_t errata();

}  // namespace mcpjail::landlock
