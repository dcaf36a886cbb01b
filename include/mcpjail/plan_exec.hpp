// Which files the server may execute or map executable (planning step,
// launcher/plan_exec.cc). Every writable mount of the jail is noexec: a file
// the server writes (to a write path, a tmpfs, the state directory) cannot be
// run, loaded by the dynamic loader, dlopen()ed or mapped PROT_EXEC. The
// exceptions are the trees of `[filesystem] exec` and the npx package tree.
#pragma once
#include <string>
#include <vector>

#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail {

// A tree whose files may run although it lies inside a writable mount.
struct ExecTree {
  PathRule rule;    // the path inside the jail (optional: skipped when missing)
  std::string why;  // for `check`
};

// Runs once plan.mounts is ordered, before hides and Landlock are planned.
// For each tree: when it is a writable bind or tmpfs itself, that mount
// loses noexec; when it lies inside one, it is bound again over it
// (writable, exec allowed), in mount order; inside a read-only bind there is
// nothing to do (read-only binds keep exec). Each tree also gets a Landlock
// rule with the execute right, so both layers agree (derived from the exec
// mount when Landlock is planned; added here for a read-only bind). Problems go to `diags`.
void plan_exec_trees(Plan& plan, const std::vector<ExecTree>& trees, int root_fd, const TrustPolicy& policy,
                     std::vector<Diagnostic>& diags);

}  // namespace mcpjail

namespace mcpjail {

// The trees of `[filesystem] exec`, and `npx_packages` when not empty (the
// directory npx installs packages into and runs their bins from).
std::vector<ExecTree> exec_trees(const Profile& profile, const std::string& npx_packages);

}  // namespace mcpjail
