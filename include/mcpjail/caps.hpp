// Capabilities layer (libcap): the server starts with none at all.
#pragma once

namespace mcpjail::caps {

// Drops every capability from the bounding set and locks the securebits so
// that uid 0 and file capabilities never grant any again. Needs CAP_SETPCAP:
// call before giving up the ids.
void drop_bounding_set();

// Clears the effective, permitted, inheritable and ambient sets, then reads
// them back and throws LaunchError("capabilities", ...) if anything is left.
void drop_all();

}  // namespace mcpjail::caps
