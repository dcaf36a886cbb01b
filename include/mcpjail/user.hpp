// Identity layer: uid/gid maps (rootless) and the switch to the jail's user.
#pragma once
#include <sys/types.h>

#include "mcpjail/plan.hpp"

namespace mcpjail::user {

// Supervisor side, rootless only: the jail's user namespace maps the invoking
// uid and gid to themselves (and nothing else); setgroups is denied, as the
// kernel requires for an unprivileged mapping.
void write_id_maps(pid_t child, const Identity& id);

// Jail side, root mode only: supplementary groups dropped, then gid and uid set
// to the jail's unprivileged ids for good (real, effective and saved).
void become_jail_user(const Identity& id);

}  // namespace mcpjail::user
