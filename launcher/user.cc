// Two modes (docs/ARCHITECTURE.md, "The layers", step 2):
//  - rootless: a user namespace in which the invoking uid/gid map to
//    themselves. The jail's processes have the same ids inside and on the
//    host; capabilities they hold inside are dropped before exec.
//  - root: NO user namespace. Mapping an unprivileged host uid into a fresh
//    user namespace would leave its creator unable to create the jail's files
//    (unmapped fsuid: EOVERFLOW) or reach root-only bind sources, and mapping
//    host uid 0 is exactly the hole docs/ARCHITECTURE.md records (a jail that could
//    write /proc/sys/kernel/core_pattern). So real root builds the jail in
//    host-owned namespaces and then becomes an unprivileged uid (default
//    "nobody") with an empty capability set - the state of a systemd service
//    with User=nobody. The server is never uid 0, inside or out.
#include "mcpjail/user.hpp"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace mcpjail::user {

namespace {

void write_file(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw LaunchError("user namespace", errno_text("open " + path, errno));
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw LaunchError("user namespace", errno_text("write " + path + " (\"" + data.substr(0, data.size() - 1) + "\")", errno));
}

}  // namespace

void write_id_maps(pid_t child, const Identity& id) {
  const std::string base = "/proc/" + std::to_string(child);
  write_file(base + "/setgroups", "deny\n");
  write_file(base + "/uid_map", std::to_string(id.uid) + " " + std::to_string(id.uid) + " 1\n");
  write_file(base + "/gid_map", std::to_string(id.gid) + " " + std::to_string(id.gid) + " 1\n");
}

void become_jail_user(const Identity& id) {
  if (id.uid == 0 || id.gid == 0) throw LaunchError("identity", "refusing to run the jail as uid/gid 0");
  if (::setgroups(0, nullptr) != 0) throw LaunchError("identity", errno_text("setgroups([])", errno));
  if (::setresgid(id.gid, id.gid, id.gid) != 0)
    throw LaunchError("identity", errno_text("setresgid(" + std::to_string(id.gid) + ")", errno));
  if (::setresuid(id.uid, id.uid, id.uid) != 0)
    throw LaunchError("identity", errno_text("setresuid(" + std::to_string(id.uid) + ")", errno));
  uid_t r, e, s;
  if (::getresuid(&r, &e, &s) != 0 || r != id.uid || e != id.uid || s != id.uid)
    throw LaunchError("identity", "uid switch did not take effect");
}

}  // namespace mcpjail::user
