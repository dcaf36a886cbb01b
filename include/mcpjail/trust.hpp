// What a jail can plant for the next launch, and how the launcher refuses to
// be steered by it (launcher/trust.cc).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "mcpjail/plan.hpp"

namespace mcpjail {

// Canonical host paths some jail of this plan can write: the sources of the
// writable binds and the profile's state directory. Nothing the launcher
// itself opens on the host (the audit log) may live inside them.
std::vector<std::string> jail_writable_trees(const Plan& plan);

}  // namespace mcpjail
