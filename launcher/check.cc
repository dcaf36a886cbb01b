// `mcp-jail check`: the plan in a form a person can review.
#include <algorithm>
#include <sstream>

#include "mcpjail/create_helper.hpp"
#include "mcpjail/dns_filter.hpp"
#include "mcpjail/landlock.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail {

namespace {

void render_allowlist(std::ostringstream& o, const Plan& p) {
  const auto& n = p.network;
  namespace nf = netfilter;
  o << "allowlist: own network namespace; uplink: pasta";
  for (const auto& a : nf::Uplink::options(!p.id.root_mode)) o << " " << a;
  o << "\n";
  if (n.rules.empty()) o << "  allow      nothing (no allow entries): only loopback\n";
  for (const auto& r : n.rules) {
    o << "  allow      " << r.str() << "  (TCP, UDP; ";
    switch (r.kind) {
      case nf::AllowRule::Kind::Host: o << "the addresses the DNS filter answers for this name"; break;
      case nf::AllowRule::Kind::Wildcard: o << "names below " << r.name << ", at any depth, not " << r.name << " itself"; break;
      case nf::AllowRule::Kind::Address: o << (r.net.host() ? "this address" : "this network"); break;
      case nf::AllowRule::Kind::Any: o << "every name: the addresses the DNS filter answers for any name"; break;
    }
    o << ")\n";
  }
  o << "  closed     the uplink's gateway; this host's own addresses (read at launch, followed while the jail runs); "
       "DNS (port 53) except to the jail's own resolver;";
  for (const auto& m : nf::metadata_addresses())
    if (std::find(n.private_allowed.begin(), n.private_allowed.end(), m) == n.private_allowed.end()) o << " " << m.str();
  o << "\n  closed     private and local ranges:";
  for (const auto& d : nf::denied_ranges()) o << " " << d.str();
  o << "\n";
  for (const auto& c : n.private_allowed)
    o << "  opened     " << c.str()
      << (nf::denied_range_of(c) ? " (allow_private: reachable where an allow entry matches; so are this host's own "
                                   "addresses inside it)\n"
                                 : " (allow_private: this host's own addresses inside it, where an allow entry matches)\n");
  const nf::DnsFilter::Limits dl;
  o << "  dns        filter at " << nf::kResolverAddress << ":53 (UDP and TCP), /etc/resolv.conf points there; A/AAAA "
    << "for allowed names are answered from a cache (" << dl.cache_entries << " questions) or forwarded (a budget of "
    << dl.upstream_burst << ", then " << dl.upstream_per_second << " a second; past it SERVFAIL, audit event limit) "
    << "and their addresses allowed for the answer's TTL (bounded to " << nf::kMinTtl << "-" << nf::kMaxTtl
    << " s), except addresses that stay closed; other names: REFUSED, audit event dns_refused\n";
  o << "  upstream  ";
  for (const auto& r : n.resolvers) o << " " << r.str();
  if (n.resolvers.empty()) o << " (none)";
  o << "  (from " << (n.resolvers_from.empty() ? "nowhere" : n.resolvers_from) << ")\n";
  o << "  blocked    rejected (TCP: reset; other: ICMP administratively prohibited), logged by NFLOG, audit event "
       "net_block\n";
  o << "  nftables   in the jail's namespace (the sets are filled in at launch):\n";
  std::istringstream rs(nf::ruleset(n));
  for (std::string line; std::getline(rs, line);) {
    std::string out;
    for (char c : line) out += c == '\t' ? std::string("  ") : std::string(1, c);
    o << "    " << out << "\n";
  }
}

// The few lines that matter most, before the full plan: who the server runs
// as, what it can write, run and reach, and what may be left out.
void render_summary(std::ostringstream& o, const Plan& p) {
  o << "summary      (the full plan follows)\n";
  o << "  runs as    uid " << p.id.uid << " gid " << p.id.gid;
  if (p.id.root_mode) o << " (" << p.id.user_name << "), root launch";
  else o << ", rootless (a user namespace mapping only that uid)";
  o << "; no capabilities, no_new_privs\n";
  std::vector<std::string> writes;
  for (const auto& m : p.mounts) {
    if (m.kind == MountKind::Bind && m.writable)
      writes.push_back(m.target + (m.exec ? " (exec)" : ""));
    else if (m.kind == MountKind::Tmpfs)
      writes.push_back(m.target + " (tmpfs " + format_size(m.size) + ", gone at exit" + (m.exec ? ", exec" : "") + ")");
    else if (m.kind == MountKind::Dev)
      writes.push_back("/dev/shm (tmpfs " + format_size(p.limits.tmpfs_size ? p.limits.tmpfs_size : kDefaultTmpfsSize) +
                       ", gone at exit)");
  }
  o << "  can write  " << (writes.empty() ? std::string("nothing") : join(writes, ", ")) << "\n";
  std::vector<std::string> runs = p.landlock.exec_allow;
  for (const auto& r : p.landlock.rules)
    if (r.exec) runs.push_back("what lies beneath " + r.path);
  o << "  can run    "
    << (runs.empty() ? std::string(p.exe.empty() ? "the command (none given) and its runtime's programs" : "nothing")
                     : join(runs, ", ") + " (+ the ELF and #! interpreters these need)")
    << "; nothing else, nothing written in the jail\n";
  o << "  network    ";
  switch (p.network.mode) {
    case NetMode::None: o << "none (loopback only)\n"; break;
    case NetMode::Host: o << "the host's (allow_host_network)\n"; break;
    case NetMode::Allowlist: {
      std::vector<std::string> allowed;
      for (const auto& r : p.network.rules) allowed.push_back(r.str());
      o << "allowlist: " << (allowed.empty() ? std::string("nothing but loopback") : join(allowed, ", "))
        << "; private ranges and this host's own addresses closed\n";
      break;
    }
  }
  if (!p.protect.empty()) {
    std::size_t bound = 0;
    for (const auto& e : p.protect) bound += e.state == ProtectedPath::State::Bound;
    o << "  protected  " << p.protect.size() << " names in the write paths (" << bound
      << " present: read-only; the others cannot be created: the jail's create helper performs creating calls): "
         "see \"protected\" below\n";
  }
  if (p.best_effort.empty())
    o << "  may skip   nothing: a layer that cannot be applied stops the launch\n";
  else
    o << "  may skip   " << join(p.best_effort, ", ") << " (best_effort: named on stderr at start when left out)\n";
  o << "\n";
}

void render_protect(std::ostringstream& o, const Plan& p) {
  if (p.protect.empty()) {
    o << "\nprotected    none (no write path, or [filesystem] unprotect drops every name)\n";
    return;
  }
  o << "\nprotected    names a host tool runs or loads later, in the write paths ([filesystem] protect, "
       "protect_home; nested repositories to depth "
    << p.protect_scan.depth << ": " << p.protect_scan.repos << " found, " << p.protect_scan.entries
    << " entries read in " << static_cast<long>(p.protect_scan.ms + 0.5) << " ms"
    << (p.protect_scan.truncated ? ", stopped at the budget" : "") << ")\n";
  for (const auto& e : p.protect) {
    const char* state = "";
    switch (e.state) {
      case ProtectedPath::State::Bound: state = "read-only"; break;
      case ProtectedPath::State::Absent:
      case ProtectedPath::State::Anywhere: state = "refused  "; break;
      case ProtectedPath::State::Link: state = "link     "; break;
      case ProtectedPath::State::Covered: state = "covered  "; break;
    }
    o << "  " << state << " " << e.path << "\n        why: " << e.name << " in the " << e.why << "; " << e.how << "\n";
  }
}

}  // namespace

std::string render_plan(const Plan& p) {
  std::ostringstream o;
  render_summary(o, p);
  o << "profile      " << p.profile_name << "\n";
  for (const auto& s : p.profile_sources) o << "  from       " << s << "\n";
  o << "identity     ";
  if (p.id.root_mode)
    o << "root launch: no user namespace; the server runs as uid " << p.id.uid << " gid " << p.id.gid << " ("
      << p.id.user_name << ") on the host, supplementary groups dropped\n";
  else
    o << "rootless: user namespace mapping uid " << p.id.uid << " and gid " << p.id.gid
      << " to themselves (nothing else mapped)\n";
  o << "namespaces   " << (p.id.root_mode ? "" : "user ") << "mount pid ipc uts cgroup"
    << (p.network.mode == NetMode::Host ? "" : " net") << "\n";
  if (!p.exe.empty()) {
    o << "command      " << shell_join(p.argv) << "\n";
    o << "  executes   " << p.exe << "\n";
  } else {
    o << "command      (none given: add COMMAND to see the command's own files)\n";
  }
  if (p.pins.empty()) {
    o << "pins         none ([pin] is empty; `mcp-jail pin` records the server's files)\n";
  } else {
    o << "pins         sha256 checked before anything starts (by run, probe and this check); a mismatch refuses "
         "the launch with exit 125\n";
    for (const auto& f : p.pins.files) o << "  file       " << f.path << "  " << f.sha256 << "  (" << f.loc.str() << ")\n";
    for (const auto& t : p.pins.trees) {
      o << "  tree       " << t.path << "  " << t.sha256 << "  (" << t.loc.str() << ")";
      if (t.files) o << "  " << *t.files << " files";
      for (const auto& x : t.exclude) o << "  excluding " << x;
      o << "\n";
    }
  }
  o << "\nfilesystem   (applied in this order on a fresh tmpfs root; nosuid,nodev everywhere; writable mounts noexec unless marked exec)\n";
  int i = 0;
  for (const auto& m : p.mounts) {
    char num[16];
    std::snprintf(num, sizeof num, "%3d ", ++i);
    o << num;
    switch (m.kind) {
      case MountKind::Bind:
        o << (m.writable ? "rw    " : m.layer ? "layer " : "ro    ") << m.target;
        if (m.source != m.target) o << "  <- " << m.source;
        if (!m.is_dir) o << "  (file)";
        if (m.writable) o << (m.exec ? "  exec" : "  noexec");
        if (m.layer) o << "  (overlay: the host's tree read-only below, writes kept in the jail's memory)";
        if (m.idmap_owner)
          o << "  idmapped: files of uid " << m.idmap_owner->first << " gid " << m.idmap_owner->second
            << " appear as the jail's " << p.id.uid << ":" << p.id.gid << ", what it creates is theirs on the host";
        break;
      case MountKind::Tmpfs: o << "tmpfs " << m.target << "  size " << format_size(m.size) << (m.exec ? "  exec" : "  noexec"); break;
      case MountKind::Mask: o << "hide  " << m.target << (m.is_dir ? "  (empty dir, mode 000)" : "  (mode 000 file)"); break;
      case MountKind::Symlink: o << "link  " << m.target << " -> " << m.source; break;
      case MountKind::File: o << "file  " << m.target; break;
      case MountKind::Proc: {
        o << "proc  /proc  read-only:";
        for (int k = 0; mnt::kProcReadOnly[k]; ++k) o << " " << mnt::kProcReadOnly[k];
        o << "; masked:";
        for (int k = 0; mnt::kProcMasked[k]; ++k) o << " " << mnt::kProcMasked[k];
        break;
      }
      case MountKind::Dev: o << "dev   /dev  null zero full random urandom tty shm pts ptmx (+ fd, stdin, stdout, stderr links); read-only"; break;
    }
    o << "\n        why: " << m.why << "\n";
  }
  o << "    then pivot_root into it, detach the old root, remount / read-only\n";
  for (const auto& h : p.hide_skipped) o << "  hide skipped: " << h << "\n";
  render_protect(o, p);
  if (!p.state.dir.empty()) {
    o << "\nstate        " << p.state.dir;
    if (p.state.canonical != p.state.dir) o << "  (on the host: " << p.state.canonical << ")";
    o << "\n  private to this profile; directories owned by uid " << p.id.uid << ", mode 0700, never through a symlink\n";
    for (const auto& m : p.state.missing) o << "  missing    " << m << "  (run creates it)\n";
  }

  o << "\nnetwork      ";
  switch (p.network.mode) {
    case NetMode::None: o << "none: own network namespace, loopback only\n"; break;
    case NetMode::Host: o << "host: the host's network (allow_host_network = true)\n"; break;
    case NetMode::Allowlist: render_allowlist(o, p); break;
  }
  o << "hostname     " << p.hostname << "\n";
  o << "cwd          " << p.cwd << "\n";
  o << "environment  (nothing else is passed)\n";
  for (const auto& e : p.env) {
    const std::string name = e.substr(0, e.find('='));
    const auto cli = p.env_cli.find(name);
    if (cli == p.env_cli.end()) {
      o << "  " << e << "\n";
    } else if (cli->second) {
      // Values passed on with --env NAME are usually credentials from a host
      // config's env block: check's output ends up in logs and issue reports.
      o << "  " << name << "=(" << e.size() - name.size() - 1
        << " characters from the launcher's environment, not shown)  --env " << name << "\n";
    } else {
      o << "  " << e << "  --env\n";
    }
  }
  for (const auto& n : p.env_cli_unset) o << "  --env " << n << ": not set in the launcher's environment, not passed\n";
  o << "privileges   no_new_privs; capabilities: none (effective, permitted, inheritable, ambient, bounding); "
       "securebits locked; new session; fds above 2 closed\n";
  o << "limits       core dumps off";
  if (p.limits.nofile) o << "; nofile " << p.limits.nofile;
  if (p.limits.file_size) o << "; file_size " << format_size(p.limits.file_size);
  if (p.limits.memory) o << "; memory " << format_size(*p.limits.memory);
  if (p.limits.pids) o << "; pids " << *p.limits.pids;
  if (p.limits.cpu) o << "; cpu " << *p.limits.cpu;
  o << "; tmpfs_size " << format_size(p.limits.tmpfs_size);
  if (p.limits.wall_time.count()) o << "; wall_time " << format_duration(p.limits.wall_time) << " (exit 124)";
  o << "\n";
  o << "landlock     " << landlock::describe(p.landlock) << "\n";
  o << "seccomp      " << seccomp::describe(p.seccomp) << "\n";
  if (create::needed(p))
    o << "  creating calls (open with O_CREAT, every openat2, mkdir, mknod, symlink, link, rename) never continue:\n"
         "    the supervisor copies each once and the jail's create helper performs it, relative to the\n"
         "    directory it checked against the protected names that are missing (see \"protected\")\n";
  o << "audit        " << p.audit_log << "\n";
  if (!p.best_effort.empty()) {
    o << "best_effort ";
    for (const auto& b : p.best_effort) o << " " << b;
    o << "  (these layers may be skipped, with an audit event)\n";
  }
  if (!p.notes.empty()) {
    o << "\nnotes\n";
    for (const auto& n : p.notes) o << "  - " << n << "\n";
  }
  return o.str();
}

}  // namespace mcpjail
