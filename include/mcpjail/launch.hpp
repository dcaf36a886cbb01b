// One launch of a planned jail, the same for every command that starts one
// (`run`, `probe`): the profile's state directory, the audit log, the pins,
// then the supervisor, in that order.
#pragma once
#include <optional>
#include <string>

#include "mcpjail/plan.hpp"

namespace mcpjail {

struct LaunchOptions {
  // The command line the plan came from: where pin manifests are kept, and
  // the `mcp-jail pin` command a pin mismatch message names.
  const Invocation& invocation;
  // Replaces the plan's audit target ("stderr", "none" or an absolute path).
  std::optional<std::string> audit_log = std::nullopt;
  // Print the one-line summary of what was blocked on stderr at the end.
  bool summary = true;
};

// Creates what the plan's state directory lacks (prepare_state), opens the
// audit log, verifies the pins (a mismatch: a pin_mismatch event each, a
// message, and 125 without starting anything), then runs the jail under the
// supervisor. Returns the exit status of `mcp-jail run`. Throws LaunchError
// when the state directory or the audit log cannot be set up.
int launch(const Plan& plan, const LaunchOptions& options);

}  // namespace mcpjail
