// Idmapped write paths of root launches. A root launch runs the server as an
// unprivileged uid (65534) without a user namespace, so a write path owned by
// someone else (a CI checkout owned by root, 0755) is read-only to it in
// practice. Such a bind is mounted idmapped (mount_setattr MOUNT_ATTR_IDMAP):
// files the path's owner (and group) own appear as the jail's, and what the
// jail creates belongs to that owner on the host. Files of any other owner map
// to no one inside (the overflow id; no ownership rights), so they stay
// exactly as protected as without the mapping.
#pragma once
#include <sys/types.h>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail::idmap {

// A user namespace mapping uid `owner_uid` to `jail_uid` and gid `owner_gid`
// to `jail_gid`, one id each and nothing else, as the userns_fd of
// mount_setattr(MOUNT_ATTR_IDMAP). Needs CAP_SETUID/CAP_SETGID (a root
// launch). Throws LaunchError("mounts", ...).
UniqueFd userns(uid_t owner_uid, gid_t owner_gid, uid_t jail_uid, gid_t jail_gid);

}  // namespace mcpjail::idmap
