// What a jail can plant for the next launch, and how the launcher refuses to
// be steered by it (launcher/trust.cc).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "mcpjail/plan.hpp"

namespace mcpjail {

// Whose symbolic links a launch follows on the host (bind sources, write
// paths, the state home and directory, the command): root's only, and never
// inside a write path, in both modes. A rootless jail runs as the invoking
// user, so a link owned by that user may have been planted by any earlier
// jail of the user, whatever its profile; in root mode the jail's uid is not
// root. The cost: a path through a link of the user's own (~/code ->
// /data/code) is refused, and the error names the real path to list instead.
// The audit log follows no link at all (open_audit_log).
inline constexpr uid_t kTrustedLinkOwner = 0;

// Canonical host paths some jail of this plan can write: the sources of the
// writable binds and the profile's state directory. Nothing the launcher
// itself opens on the host (the audit log) may live inside them.
std::vector<std::string> jail_writable_trees(const Plan& plan);

}  // namespace mcpjail

namespace mcpjail {

// Narrowed paths inside a write path (a hide mask, a read-only bind, or any
// mount below a writable bind) hold only while the directories between the
// write path and them keep their names: otherwise the jail renames an
// ancestor (config -> config.x) and the next launch finds nothing to hide, or
// binds a decoy. pin_narrowed_ancestors() adds, before each such mount, a
// read-write bind of every directory between the writable bind and the
// narrowed path onto itself: a mount point cannot be renamed, removed or
// replaced (EBUSY), so the chain holds for the life of the jail. Throws
// LaunchError("filesystem") when a directory of the chain is missing or is a
// symlink on the host.
void pin_narrowed_ancestors(Plan& plan);

// For a hide path `hide` that does not exist on the host, seen through the
// bind `via`: an error when `via` is writable and the hide path's parent
// directory is gone too (a jail may have moved the secret out of reach by
// renaming an ancestor), else "" (nothing to hide).
std::string vanished_narrowing(const MountStep& via, const std::string& hide);

}  // namespace mcpjail
