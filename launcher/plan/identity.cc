// Identity pass: who the server runs as.
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cctype>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

namespace {

bool numeric(const std::string& s) {
  return !s.empty() && s.size() < 11 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

Identity plan_identity(Context& c) {
  const Profile& pr = c.profile;
  const Invocation& inv = c.inv;
  Identity id;
  id.invoking_uid = inv.uid;
  id.root_mode = inv.euid == 0;
  if (id.root_mode && inv.uid != 0)
    throw LaunchError("identity", "mcp-jail runs with euid 0 but uid " + std::to_string(inv.uid) +
                                      "; it must not be installed setuid. Run it as root or as a normal user.");
  if (!id.root_mode) {
    id.uid = inv.uid;
    id.gid = inv.gid;
    if (const passwd* pw = ::getpwuid(id.uid)) id.user_name = pw->pw_name;
    else id.user_name = "user";
    if (pr.exec.user)
      c.note("exec.user = \"" + *pr.exec.user + "\" is not applied: a rootless launch runs as the invoking user (uid " +
             std::to_string(id.uid) + ")");
    return id;
  }
  const std::string spec = pr.exec.user.value_or("nobody");
  const SourceLoc loc = pr.exec.user ? pr.exec.user_loc : SourceLoc{"default exec.user"};
  std::string user = spec, group_name;
  if (auto colon = spec.find(':'); colon != std::string::npos) {
    user = spec.substr(0, colon);
    group_name = spec.substr(colon + 1);
  }
  if (numeric(user)) {
    id.uid = static_cast<uid_t>(std::stoul(user));
    const passwd* pw = ::getpwuid(id.uid);
    id.gid = pw ? pw->pw_gid : static_cast<gid_t>(id.uid);
    id.user_name = pw ? pw->pw_name : "jail";
  } else if (const passwd* pw = ::getpwnam(user.c_str())) {
    id.uid = pw->pw_uid;
    id.gid = pw->pw_gid;
    id.user_name = pw->pw_name;
  } else {
    c.error(loc, "exec.user: no user named '" + user + "' on this host (use a name, a uid or uid:gid)");
    return id;
  }
  if (!group_name.empty()) {
    if (numeric(group_name)) id.gid = static_cast<gid_t>(std::stoul(group_name));
    else if (const struct group* gr = ::getgrnam(group_name.c_str())) id.gid = gr->gr_gid;
    else c.error(loc, "exec.user: no group named '" + group_name + "'");
  }
  if (id.uid == 0 || id.gid == 0)
    c.error(loc, "exec.user resolves to uid/gid 0; the jail never runs as root (pick an unprivileged user such as "
                 "\"nobody\" or a uid like \"1001\")");
  return id;
}

}  // namespace mcpjail::planning
