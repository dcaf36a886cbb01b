// State pass: the profile's private state directory, ${PROFILE_STATE}. Where
// it is comes first (the other passes bind paths from it); what must exist
// below it is gathered from them last. `run` and `probe` create it
// (prepare_state, launcher/state.cc); planning changes nothing.
#include <algorithm>

#include "mcpjail/trust.hpp"
#include "mcpjail/plan/passes.hpp"
#include "mcpjail/state.hpp"

namespace mcpjail::planning {

StatePlan locate_state(Context& c, const std::vector<RuntimeBinds>& runtimes) {
  std::string reason;
  for (const auto& r : runtimes)
    if (!r.state_reason.empty() && reason.empty()) reason = r.state_reason;
  const Profile& pr = c.profile;
  if (reason.empty() && pr.env.home == Profile::Env::Home::State) reason = "env.home = \"state\"";
  if (!pr.state_used && reason.empty()) return {};
  if (pr.state_dir.empty())
    throw LaunchError("state", (reason.empty() ? "" : reason + ", in ") + "${PROFILE_STATE}, which is undefined: " +
                                   pr.state_error);
  StatePlan st;
  st.dir = pr.state_dir;
  st.name = st.dir.substr(st.dir.rfind('/') + 1);
  const std::string home = state_home(c.inv.load);
  if (home.empty() || st.dir != (home == "/" ? "" : home) + "/mcp-jail/" + st.name)
    throw LaunchError("state", "${PROFILE_STATE} " + st.dir + " is not in the state home of this launch (" +
                                   (home.empty() ? "none" : home) + "): the profile was loaded for another user");
  // The state home is the user's own (~/.local/state): symlinks owned by
  // the user or root are followed there, never below it.
  auto w = safe_walk(c.root(), home, TrustPolicy{kTrustedLinkOwner, {}});
  if (!w.error.empty()) throw LaunchError("state", "state home " + home + ": " + w.error);
  if (w.type != ObjType::Missing && w.type != ObjType::Directory)
    throw LaunchError("state", "state home " + home + " is not a directory");
  st.home_canonical = w.canonical;
  st.canonical = (w.canonical == "/" ? "" : w.canonical) + "/mcp-jail/" + st.name;
  auto root = safe_walk(c.root(), st.canonical, TrustPolicy{kTrustedLinkOwner, {}});
  if (root.error.empty() && root.type == ObjType::Missing) st.missing.push_back(st.dir);
  return st;
}

StateUse state_use(Context& c, const TrustPolicy& trust, const std::string& path) {
  auto w = safe_walk(c.root(), path, trust);
  return StateUse{path, w.error.empty() && w.type == ObjType::Missing};
}

void finish_state(StatePlan& st, const std::vector<StateUse>& uses) {
  if (st.dir.empty()) return;
  auto add_once = [](std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  for (const auto& u : uses) {
    if (u.path.size() > st.dir.size() && u.path.starts_with(st.dir + "/")) add_once(st.paths, u.path.substr(st.dir.size() + 1));
    if (u.missing) add_once(st.missing, u.path);
  }
}

}  // namespace mcpjail::planning
