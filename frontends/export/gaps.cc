// The jail's side of the gaps that both exports have: what the jail does for
// these layers is said once here; each engine says what it does instead.
#include <algorithm>

#include "export.hpp"
#include "mcpjail/protect.hpp"

namespace mcpjail::exporter {

Gap memfd_gap(std::string here) {
  return {"memfd",
          "a program the server writes into memory (memfd_create, then execveat or /proc/self/fd) cannot be run: "
          "root launches set vm.memfd_noexec = 2 in the jail's pid namespace, rootless ones have the supervisor "
          "create every memfd sealed against execution (MFD_NOEXEC_SEAL)",
          std::move(here)};
}

Gap supervisor_gap(std::string here) {
  return {"supervisor",
          "the supervisor outside the jail: the audit log (start, deny, fs_denied, exec, net_block, dns_refused, "
          "limit, exit events) and the watch, which reports writes outside the write paths and every exec",
          std::move(here)};
}

std::optional<Gap> protect_gap(const Plan& plan) {
  if (std::none_of(plan.protect.begin(), plan.protect.end(), protect::refused_at_launch)) return std::nullopt;
  return Gap{"protect",
             "protected names missing from a write path at launch (.mcp.json, .vscode, ...) cannot be created: "
             "the jail's create helper performs every creating call and refuses them",
             "nothing refuses them: the server can create them in the write path; those that exist stay read-only "
             "binds"};
}

std::optional<Gap> pin_gap(const Plan& plan, std::string here) {
  if (plan.pins.empty()) return std::nullopt;
  return Gap{"pin", "[pin]: run checks the sha256 of the server's files before anything starts", std::move(here)};
}

}  // namespace mcpjail::exporter
