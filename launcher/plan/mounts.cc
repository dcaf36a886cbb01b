// Mounts the jail makes itself (/proc, /dev, generated /etc files), the
// masks of filesystem.hide, and the working directory: what can only be
// planned once the binds are ordered.
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "mcpjail/trust.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

std::vector<MountStep> generated_mounts(Context& c, const Identity& id) {
  const Profile& pr = c.profile;
  std::vector<MountStep> out;
  MountStep proc;
  proc.kind = MountKind::Proc;
  proc.target = "/proc";
  proc.why = "fresh procfs for the jail's pid namespace";
  out.push_back(proc);
  MountStep dev;
  dev.kind = MountKind::Dev;
  dev.target = "/dev";
  dev.size = 64 << 10;
  dev.why = "minimal /dev";
  out.push_back(dev);
  auto file = [&](const std::string& target, std::string content, const std::string& why) {
    MountStep s;
    s.kind = MountKind::File;
    s.target = target;
    s.is_dir = false;
    s.content = std::move(content);
    s.why = why;
    out.push_back(std::move(s));
  };
  const std::string host = pr.exec.hostname.value_or("mcp-jail");
  file("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + host + "\n",
       "generated: loopback names only");
  if (pr.network.mode == NetMode::Host) {
    std::ifstream in("/etc/resolv.conf");  // follows a symlink into /run, as it should
    std::string resolv(std::istreambuf_iterator<char>(in), {});
    file("/etc/resolv.conf", resolv, "generated: copy of the host's resolver configuration (network = host)");
  } else if (pr.network.mode == NetMode::Allowlist) {
    file("/etc/resolv.conf",
         std::string("# the jail's filtering resolver (network = allowlist): it answers allowed names only\n"
                     "nameserver ") + netfilter::kResolverAddress + "\noptions timeout:2 attempts:2\n",
         "generated: the jail's DNS filter");
  } else {
    file("/etc/resolv.conf", "# no resolver in this jail (network = none)\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
         "generated: no name resolution");
  }
  std::string passwd = "root:x:0:0:root:/root:/usr/sbin/nologin\n";
  std::string group = "root:x:0:\n";
  if (id.uid != 65534) {
    passwd += id.user_name + ":x:" + std::to_string(id.uid) + ":" + std::to_string(id.gid) + "::" +
              (pr.env.set.count("HOME") ? pr.env.set.at("HOME") : server_home(pr)) + ":/usr/sbin/nologin\n";
  }
  passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
  if (id.gid != 65534) group += id.user_name + ":x:" + std::to_string(id.gid) + ":\n";
  group += "nogroup:x:65534:\n";
  file("/etc/passwd", passwd, "generated: root, the jail's user, nobody");
  file("/etc/group", group, "generated: root, the jail's group, nogroup");
  return out;
}

std::vector<std::string> plan_hides(Context& c, std::vector<MountStep>& mounts) {
  std::vector<std::string> skipped;
  for (const auto& h : c.profile.filesystem.hide) {
    const MountStep* via = visible_through(mounts, h.path);
    if (!via) {
      skipped.push_back(h.path + ": not visible in the jail");
      continue;
    }
    if (via->kind == MountKind::Tmpfs) {
      skipped.push_back(h.path + ": inside a fresh tmpfs (empty at start)");
      continue;
    }
    const std::string host = via->source + h.path.substr(via->target.size());
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) {
      // Gone since the profile was written: suspicious when the jail could
      // have moved an ancestor (trust.hpp), else simply nothing to hide.
      if (auto why = vanished_narrowing(*via, h.path); !why.empty()) c.error(h.loc, why);
      else skipped.push_back(h.path + ": does not exist (nothing to hide)");
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      c.error(h.loc, "hide path " + h.path + " is a symlink; list the path it points to");
      continue;
    }
    MountStep s;
    s.kind = MountKind::Mask;
    s.target = h.path;
    s.is_dir = S_ISDIR(st.st_mode);
    s.why = "filesystem.hide (" + h.loc.str() + ")";
    mounts.push_back(std::move(s));
  }
  return skipped;
}

std::string plan_cwd(Context& c, const std::vector<MountStep>& mounts) {
  const auto& exec = c.profile.exec;
  if (exec.cwd) {
    if (!jail_visible(mounts, *exec.cwd))
      c.error(exec.cwd_loc, "exec.cwd " + *exec.cwd + " is not visible in the jail; list it in filesystem.read or write");
    return *exec.cwd;
  }
  const std::string& pwd = c.inv.load.pwd;
  const std::string cwd = jail_visible(mounts, pwd) ? pwd : "/";
  if (cwd == "/" && pwd != "/")
    c.note("working directory " + pwd + " is not visible in the jail; the server starts in /");
  return cwd;
}

}  // namespace mcpjail::planning
