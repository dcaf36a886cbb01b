// Idmap pass: which writable binds of a root launch are idmapped (idmap.hpp).
#include <sys/stat.h>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

void plan_idmaps(Plan& plan) {
  if (!plan.id.root_mode) return;  // rootless: the user's own paths, and no privilege to idmap
  for (auto& m : plan.mounts) {
    if (m.kind != MountKind::Bind || !m.writable) continue;
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) continue;  // the jail re-checks the source when it binds it
    if (st.st_uid == plan.id.uid) continue;            // the jail's own already (the state directory)
    m.idmap_owner = std::make_pair(st.st_uid, st.st_gid);
  }
}

}  // namespace mcpjail::planning
