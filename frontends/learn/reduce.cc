// From what a learning launch recorded to the entries of a profile. Pure:
// what it needs of the host comes through Context (unit tests give their own).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcpjail/frontends/learn.hpp"
#include "mcpjail/paths.hpp"

namespace mcpjail::learn {

namespace {

bool under_any(const std::string& p, const std::vector<std::string>& roots) {
  return std::any_of(roots.begin(), roots.end(), [&](const std::string& r) { return path_is_under(p, r); });
}

// `p` cut to its first `n` components ("/a/b/c", 2 -> "/a/b").
std::string first_components(const std::string& p, std::size_t n) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    at = p.find('/', at + 1);
    if (at == std::string::npos) return p;
  }
  return p.substr(0, at);
}

std::size_t depth(const std::string& p) {
  return p == "/" ? 0 : static_cast<std::size_t>(std::count(p.begin(), p.end(), '/'));
}

// Trees of the system a learned profile never makes writable.
constexpr std::string_view kSystemTrees[] = {"/usr", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                             "/libx32", "/proc", "/sys", "/dev", "/run", "/var/lib", "/var/run",
                                             "/var/log", "/var/cache", "/var/spool", "/var/mail", "/opt", "/snap"};

bool system_tree(const std::string& p) {
  return std::any_of(std::begin(kSystemTrees), std::end(kSystemTrees),
                     [&](std::string_view t) { return path_is_under(p, t); });
}

// Paths that never need a line: the jail's own kernel views, and its
// private /tmp (unless the command line names a directory there).
bool jail_only(const std::string& p, const Context& c) {
  if (p.empty() || p[0] != '/') return true;
  if (path_is_under(p, "/proc") || path_is_under(p, "/sys") || path_is_under(p, "/dev")) return true;
  return path_is_under(p, "/tmp") && !under_any(p, c.write_through) && !under_any(p, c.anchors);
}

void add(std::map<std::string, Entry>& to, const std::string& root, const std::string& path, std::uint64_t count) {
  Entry& e = to[root];
  e.value = root;
  e.count += count;
  if (e.example.empty() && path != root) e.example = path;
}

std::vector<Entry> collapse(std::map<std::string, Entry> m) {
  // Sorted by path: an ancestor comes before what it holds.
  std::vector<Entry> out;
  for (auto& [k, e] : m) {
    if (!out.empty() && path_is_under(k, out.back().value)) {
      out.back().count += e.count;
      if (out.back().example.empty()) out.back().example = e.example.empty() ? e.value : e.example;
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string count_text(std::uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

Observed parse_events(std::string_view jsonl) {
  Observed o;
  std::istringstream in{std::string(jsonl)};
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (j.value("event", "") == "dns_learned" && j.contains("addresses") && j["addresses"].is_array()) {
      const std::string name = j.value("name", "");
      for (const auto& a : j["addresses"]) {
        if (!a.is_string() || name.empty()) continue;
        auto& names = o.names_of[a.get<std::string>()];
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
      continue;
    }
    if (j.value("event", "") == "net_learned") {
      const std::string proto = j.value("protocol", "");
      const auto port = j.value("port", 0);
      if ((proto == "tcp" || proto == "udp") && port > 0 && port < 65536)
        ++o.connections[proto + " " + j.value("address", "") + " " + std::to_string(port)];
      continue;
    }
    if (j.value("event", "") != "learn") continue;
    const std::string access = j.value("access", "");
    const std::uint64_t count = j.value("count", std::uint64_t{0});
    const std::string path = j.value("path", "");
    if (access == "dropped") o.dropped += count;
    else if (access == "read") o.read[path] += count;
    else if (access == "write") o.write[path] += count;
    else if (access == "exec") o.exec[path] += count;
    else if (access == "syscall") o.syscalls[path] += count;
    else if (access == "stat") o.stat[path] += count;
  }
  return o;
}

bool escape_class(std::string_view s) {
  static constexpr std::string_view kNever[] = {
      // namespaces and mounts
      "unshare", "setns", "clone", "clone3", "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
      "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "open_tree_attr",
      // the kernel's own attack surface
      "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl",
      "add_key", "request_key", "init_module", "finit_module", "delete_module", "create_module", "kexec_load",
      "kexec_file_load", "iopl", "ioperm", "modify_ldt", "vm86", "vm86old", "uselib", "lookup_dcookie", "_sysctl",
      "sysfs", "ustat", "nfsservctl", "quotactl", "quotactl_fd", "syslog", "acct", "swapon", "swapoff", "reboot",
      "vhangup", "personality", "seccomp", "fanotify_init", "lsm_set_self_attr",
      // other processes, other files
      "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise",
      "open_by_handle_at", "name_to_handle_at",
      // the host's clock and names
      "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime", "sethostname", "setdomainname",
      // memory placement across the host
      "mbind", "set_mempolicy", "migrate_pages", "move_pages", "set_mempolicy_home_node",
  };
  if (s.starts_with("syscall_") || s.starts_with("arch_")) return true;  // unknown numbers, other architectures
  return std::find(std::begin(kNever), std::end(kNever), s) != std::end(kNever);
}

std::string read_root(const std::string& path, const Context& c) {
  if (path == "/" || path.empty() || path[0] != '/') return {};
  if (under_any(path, c.secrets)) return {};
  for (const auto& a : c.anchors)
    if (path_is_under(path, a) && !under_any(a, c.secrets) && a != "/" &&
        std::find(c.homes.begin(), c.homes.end(), a) == c.homes.end())
      return a;
  std::string root;
  // The deepest home holding it: two components below a home, three below
  // a dot-directory ($HOME/.config/tool, $HOME/.local/share/tool).
  std::string home;
  for (const auto& h : c.homes)
    if (path_is_under(path, h) && h.size() > home.size()) home = h;
  if (!home.empty()) {
    if (path == home) return {};
    const std::string rel = path.substr(home == "/" ? 0 : home.size());
    const std::size_t base = depth(home);
    std::size_t n = 1;
    if (rel.starts_with("/.")) n = rel.starts_with("/.local/") ? 3 : 2;
    root = first_components(path, base + n);
  } else {
    root = first_components(path, 2);
  }
  if (root == "/" || std::find(c.homes.begin(), c.homes.end(), root) != c.homes.end()) return {};
  // A root holding a credential is too wide: the path itself (or its
  // directory) instead.
  for (const auto& s : c.secrets)
    if (path_is_under(s, root)) {
      if (path_is_under(s, path)) return {};  // a directory holding a credential itself
      root = path;
      break;
    }
  return root;
}

std::string look_root(const std::string& path, const Context& c, const std::vector<std::string>& granted) {
  if (path == "/" || path.empty() || path[0] != '/' || !c.exists(path)) return {};
  if (under_any(path, c.secrets)) return {};
  for (const auto& a : c.anchors)
    if (path_is_under(path, a) && a != "/" && !under_any(a, c.secrets) &&
        std::find(c.homes.begin(), c.homes.end(), a) == c.homes.end())
      return a;  // what the command line names: granted as a whole anyway
  // An ancestor of what is granted or named: a path walk.
  auto below = [&](const std::vector<std::string>& v) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& g) { return path_is_under(g, path); });
  };
  if (below(granted) || below(c.anchors) || below(c.write_through) || below(c.homes) || below(c.secrets)) return {};
  // Deep enough: no shallower than the roots read_root() gives.
  std::string home;
  for (const auto& h : c.homes)
    if (path_is_under(path, h) && h.size() > home.size()) home = h;
  std::size_t need = 2;
  if (!home.empty()) {
    const std::string rel = path.substr(home == "/" ? 0 : home.size());
    need = depth(home) + (rel.starts_with("/.") ? (rel.starts_with("/.local/") ? 3 : 2) : 1);
  }
  if (depth(path) < need) return {};
  return path;
}

Learned reduce(const Observed& o, const Context& c) {
  Learned out;
  std::map<std::string, Entry> reads, writes, execs, calls, refused;
  std::map<std::string, std::uint64_t> not_granted;  // path -> count, for the notes
  auto note_once = [&](const std::string& what, std::uint64_t n) { not_granted[what] += n; };

  for (const auto& [p, n] : o.exec) {
    if (jail_only(p, c) || !c.exists(p)) continue;  // a PATH search, or a file of the jail's own
    if (under_any(p, c.secrets)) {
      note_once("exec " + p + " (a credential)", n);
      continue;
    }
    if (!c.covered_exec(p)) add(execs, p, p, n);
  }
  // An existing directory "written" above another written path is the walk
  // of `mkdir -p` (mkdir of each component, EEXIST): nothing written there.
  auto walk = [&](const std::string& p) {
    if (!c.exists(p) || !c.is_dir(p)) return false;
    return std::any_of(o.write.begin(), o.write.end(),
                       [&](const auto& w) { return w.first != p && path_is_under(w.first, p); });
  };
  for (const auto& [p, n] : o.write) {
    if (jail_only(p, c) || c.covered_write(p) || walk(p)) continue;
    if (under_any(p, c.secrets)) {
      note_once("write " + p + " (a credential)", n);
      continue;
    }
    std::string root;
    for (const auto& w : c.write_through)
      if (path_is_under(p, w)) root = w;
    if (root.empty()) {
      // The directory written in: the nearest one that exists.
      std::string d = p.substr(0, p.rfind('/'));
      if (d.empty()) d = "/";
      while (d != "/" && !c.exists(d)) d = d.substr(0, d.rfind('/')).empty() ? "/" : d.substr(0, d.rfind('/'));
      if (c.exists(p) && c.is_dir(p)) d = p;
      const bool home = std::find(c.homes.begin(), c.homes.end(), d) != c.homes.end();
      const char* why = d == "/"                       ? "/"
                        : depth(d) == 1                ? "a top-level directory"
                        : home                         ? "a home directory"
                        : system_tree(d)               ? "a system tree"
                        : under_any(d, c.secrets)      ? "a credential"
                        : under_any(d, c.own_files)    ? "the server's own files"
                        : nullptr;
      if (why) {
        note_once("write " + p + " (" + why + ")", n);
        continue;
      }
      root = d;
    }
    add(writes, root, p, n);
  }
  out.write = collapse(std::move(writes));
  auto written = [&](const std::string& p) {
    return std::any_of(out.write.begin(), out.write.end(), [&](const Entry& e) { return path_is_under(p, e.value); });
  };
  auto consider_read = [&](const std::string& p, std::uint64_t n) {
    if (jail_only(p, c) || c.covered_read(p) || written(p) || !c.exists(p)) return;
    const std::string root = read_root(p, c);
    if (root.empty()) {
      note_once("read " + p + (under_any(p, c.secrets) ? " (a credential)" : " (too wide to grant)"), n);
      return;
    }
    add(reads, root, p, n);
  };
  for (const auto& [p, n] : o.read) consider_read(p, n);
  for (const auto& [p, n] : o.exec)
    if (execs.count(p)) consider_read(p, 0);  // a program run must be visible too
  out.read = collapse(std::move(reads));
  // Paths only looked at (stat, access, readlink): what a read, write or
  // exec grants already shows them; else the path itself (look_root()).
  {
    std::vector<std::string> granted;
    for (const auto& e : out.read) granted.push_back(e.value);
    for (const auto& e : out.write) granted.push_back(e.value);
    for (const auto& [p, e] : execs) granted.push_back(p);
    std::vector<std::pair<std::string, std::pair<std::string, std::uint64_t>>> candidates;  // root, (path, count)
    for (const auto& [p, n] : o.stat) {
      if (jail_only(p, c) || c.covered_read(p) || written(p) || under_any(p, granted)) continue;
      const std::string root = look_root(p, c, granted);
      if (root.empty() || under_any(root, granted)) continue;
      candidates.push_back({root, {p, n}});
    }
    // A look at a directory above another look is the walk to it.
    std::map<std::string, Entry> looks;
    for (const auto& cand : candidates) {
      const std::string& root = cand.first;  // not a structured binding: lambdas capture it (clang 14)
      if (std::none_of(candidates.begin(), candidates.end(),
                       [&](const auto& o2) { return o2.first != root && path_is_under(o2.first, root); }))
        add(looks, root, cand.second.first, cand.second.second);
    }
    if (!looks.empty()) {
      std::map<std::string, Entry> all;
      for (auto& e : out.read) all[e.value] = std::move(e);
      for (auto& e : collapse(std::move(looks))) {
        e.looked = true;
        all[e.value] = std::move(e);
      }
      out.read = collapse(std::move(all));
    }
  }
  for (auto& [p, e] : execs) out.exec.push_back(e);
  for (const auto& [s, n] : o.syscalls) {
    if (escape_class(s)) add(refused, s, s, n);
    else add(calls, s, s, n);
  }
  for (auto& [s, e] : calls) out.seccomp.push_back(e);
  // Connections: by the names that resolved to their address, else the address.
  std::map<std::string, Entry> net;
  for (const auto& [key, n] : o.connections) {
    std::istringstream f(key);
    std::string proto, address, port;
    f >> proto >> address >> port;
    const std::string example = proto + " " + (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + port;
    auto it = o.names_of.find(address);
    if (it != o.names_of.end() && !it->second.empty()) {
      for (const auto& name : it->second) add(net, name + ":" + port, example, n);
    } else {
      const std::string entry = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + port;
      add(net, entry, example, n);  // no name was looked up for it
    }
  }
  for (auto& [k, e] : net) out.network.push_back(e);
  for (auto& [s, e] : refused) out.refused.push_back(e);
  for (const auto& [what, n] : not_granted) out.notes.push_back("not granted: " + what + ", " + count_text(n, "call"));
  if (o.dropped)
    out.notes.push_back(std::to_string(o.dropped) + " further distinct paths were not recorded (the supervisor's limit)");
  return out;
}

std::vector<Entry> merge(const std::vector<Entry>& earlier, const std::vector<Entry>& now, bool collapse_paths) {
  std::map<std::string, Entry> m;
  for (const auto& e : earlier) m[e.value] = e;
  for (const auto& e : now) {
    auto it = m.find(e.value);
    if (it == m.end()) m[e.value] = e;  // an entry seen before keeps its first evidence
    else if (it->second.looked && !e.looked) it->second = e;  // ... unless it was only looked at then
  }
  if (!collapse_paths) {
    std::vector<Entry> out;
    for (auto& [k, e] : m) out.push_back(std::move(e));
    return out;
  }
  // Collapsing keeps the covering entry's evidence as it is (no sums), so
  // that merging the same session again changes nothing.
  std::vector<Entry> out;
  for (auto& [k, e] : m) {
    if (!out.empty() && path_is_under(k, out.back().value)) continue;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace mcpjail::learn
