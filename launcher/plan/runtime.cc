// Runtime adapters: the registry, and the planner's questions to it (see
// runtime.hpp). Each adapter lives in its own runtime_*.cc.
#include "mcpjail/plan/runtime.hpp"

#include "mcpjail/plan/passes.hpp"
#include "mcpjail/plan/runtime_python.hpp"

namespace mcpjail::planning {

const std::vector<const Runtime*>& runtimes() {
  static const std::vector<const Runtime*> all = {&npx_runtime(), &uv_runtime(), &python_runtime()};
  return all;
}

std::vector<RuntimeBinds> detect_runtimes(Context& c, const Identity& id) {
  const RuntimeQuery q{c.inv.command, c.profile.network.mode, c.profile.state_dir, id, &c.inv};
  std::vector<RuntimeBinds> found;
  for (const Runtime* r : runtimes())
    if (auto b = r->detect(q)) found.push_back(std::move(*b));
  return found;
}

void note_runtimes(Context& c, const std::vector<RuntimeBinds>& runtimes) {
  for (const auto& r : runtimes)
    for (const auto& n : r.notes) c.note(n);
}

}  // namespace mcpjail::planning
