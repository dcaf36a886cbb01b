#include "mcpjail/trust.hpp"

#include <algorithm>

namespace mcpjail {

std::vector<std::string> jail_writable_trees(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& m : plan.mounts)
    if (m.kind == MountKind::Bind && m.writable && !m.source.empty()) out.push_back(m.source);
  if (!plan.state.canonical.empty()) out.push_back(plan.state.canonical);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace mcpjail
