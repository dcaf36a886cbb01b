// The profile's private state directory (${PROFILE_STATE}): created by `run`
// and `probe` before the jail is built, checked every time.
#pragma once
#include <map>
#include <string>

#include "mcpjail/plan.hpp"

namespace mcpjail {

// $XDG_STATE_HOME as the state home takes it from `env`: its value when it
// is an absolute path (normalised), else "" (unset or invalid: ignored).
std::string xdg_state_home(const std::map<std::string, std::string>& env);

// The invoking user's state home, the one place it is worked out:
// load.state_home ($XDG_STATE_HOME, see xdg_state_home) when set, else
// ${HOME}/.local/state; "" when neither is known. Profiles keep their state
// in <state home>/mcp-jail/<name> (${PROFILE_STATE}), `pin` its manifests
// in <state home>/mcp-jail.
std::string state_home(const LoadOptions& load);

// Creates what `plan.state` lists as missing and checks what exists:
//   - the state home (mkdir -p, mode 0700) must be a directory owned by root
//     or the invoking user and not writable by group or others;
//   - <state home>/mcp-jail is owned by the invoking user;
//   - the profile's directory and every path below it that the jail binds
//     are owned by the jail's uid (root mode: created by root and chowned to
//     the jail's uid and gid, so the server can write it), mode 0700 when
//     created.
// Each component is opened relative to its parent without following
// symlinks. Anything that is a symlink, not a directory (where one is
// needed), owned by someone else or writable by group or others is refused:
// LaunchError("state", ..., 125) naming the path and the fix.
// Does nothing when the profile does not use ${PROFILE_STATE}.
void prepare_state(const Plan& plan);

}  // namespace mcpjail
