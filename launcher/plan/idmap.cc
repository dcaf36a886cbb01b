// Idmap pass: which writable binds of a root launch are idmapped (idmap.hpp).
#include <sys/stat.h>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

void plan_idmaps(Plan& plan) {
  if (!plan.id.root_mode) return;  // rootless: the user's own paths, and no privilege to idmap
  std::vector<const MountStep*> mapped;
  for (auto& m : plan.mounts) {
    if (m.kind != MountKind::Bind || !m.writable) continue;
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) continue;  // the jail re-checks the source when it binds it
    if (st.st_uid == plan.id.uid) continue;            // the jail's own already (the state directory)
    m.idmap_owner = std::make_pair(st.st_uid, st.st_gid);
  }
  // A bind inside an idmapped write path (a directory pinned as a mount
  // point, a protected name bound read-only over itself) is seen through the
  // same mapping, so that owners do not change from one mount to the next
  // (git checks that its repository belongs to its user).
  for (const auto& m : plan.mounts)
    if (m.idmap_owner) mapped.push_back(&m);
  for (auto& m : plan.mounts) {
    if (m.kind != MountKind::Bind || m.idmap_owner) continue;
    // The profile's state directory is the jail's user's by construction
    // (run creates it so, maybe only after planning): never seen through
    // another owner's mapping, which would leave its files unmapped.
    if (!plan.state.canonical.empty() && path_is_under(m.source, plan.state.canonical)) continue;
    const MountStep* outer = nullptr;
    for (const MountStep* o : mapped)
      if (o != &m && path_is_under(m.source, o->source) && (!outer || o->source.size() > outer->source.size())) outer = o;
    if (outer) m.idmap_owner = outer->idmap_owner;
  }
}

}  // namespace mcpjail::planning
