// Network layer (libnl route). network = none: a new namespace with only
// loopback, up. The allowlist uplink lives beside this in netfilter/.
#pragma once

namespace mcpjail::net {

// Brings "lo" up in the calling process's network namespace.
// Throws LaunchError("network", ...).
void bring_up_loopback();

}  // namespace mcpjail::net
