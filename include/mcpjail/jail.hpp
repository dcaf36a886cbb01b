// The jail side of a launch: everything that happens inside the new
// namespaces, in one fixed order (see jail.cc), ending in execve.
#pragma once
#include "mcpjail/channel.hpp"
#include "mcpjail/plan.hpp"

namespace mcpjail::jail {

// The jail's first process (pid 1 of its pid namespace). Builds the jail,
// starts the server as pid 2, then reaps and forwards signals until the
// server exits, and exits with its status (128+N for signal N). Talks to the
// supervisor over `ch` (channel.hpp).
[[noreturn]] void init_main(const Plan& plan, const channel::JailEnds& ch);

}  // namespace mcpjail::jail
