#include "mcpjail/launch.hpp"

#include <cstdio>

#include "mcpjail/audit.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/pin.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/supervisor.hpp"
#include "mcpjail/trust.hpp"

namespace mcpjail {

int launch(const Plan& plan, const LaunchOptions& options) {
  prepare_state(plan);
  Audit audit(options.audit_log.value_or(plan.audit_log), plan.profile_name, jail_writable_trees(plan));
  if (!pin::verify_before_launch(plan.pins, options.invocation, &audit)) return kExitLauncherError;
  const int status = supervise(plan, audit);
  if (options.summary)
    if (const std::string s = audit.summary(); !s.empty()) stderr_line(s);
  return status;
}

}  // namespace mcpjail
