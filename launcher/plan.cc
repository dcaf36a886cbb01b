// Planning: Profile + command line -> Plan. Reads the host filesystem to
// resolve paths (symlink-safe) but changes nothing.
#include "mcpjail/plan.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "mcpjail/mounts.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/state.hpp"
#include "mcpjail/units.hpp"

extern char** environ;

namespace mcpjail {

namespace {

constexpr int kProjectSearchLevels = 4;

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= p.size()) {
    auto j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

std::string base_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

bool regular_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

class Planner {
 public:
  Planner(const Profile& pr, const Invocation& inv) : pr_(pr), inv_(inv) {}

  Plan run() {
    plan_.profile_name = pr_.name;
    plan_.profile_sources = pr_.sources;
    plan_identity();
    npx_ = command_is_npx();
    root_fd_.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd_) throw LaunchError("filesystem", errno_text("open /", errno));
    plan_state();
    plan_filesystem();
    if (!diags_.empty()) throw ProfileError(std::move(diags_));
    plan_command();
    plan_special_mounts();
    order_mounts();
    plan_hides();
    plan_env();
    plan_cwd();
    plan_network();
    plan_rest();
    plan_landlock();
    if (!diags_.empty()) throw ProfileError(std::move(diags_));
    return std::move(plan_);
  }

 private:
  void error(const SourceLoc& loc, std::string msg) { diags_.push_back({loc, std::move(msg)}); }

  void plan_identity() {
    Identity& id = plan_.id;
    id.invoking_uid = inv_.uid;
    id.root_mode = inv_.euid == 0;
    if (id.root_mode && inv_.uid != 0)
      throw LaunchError("identity", "mcp-jail runs with euid 0 but uid " + std::to_string(inv_.uid) +
                                        "; it must not be installed setuid. Run it as root or as a normal user.");
    if (!id.root_mode) {
      id.uid = inv_.uid;
      id.gid = inv_.gid;
      if (const passwd* pw = ::getpwuid(id.uid)) id.user_name = pw->pw_name;
      else id.user_name = "user";
      if (pr_.exec.user)
        plan_.notes.push_back("exec.user = \"" + *pr_.exec.user +
                              "\" is not applied: a rootless launch runs as the invoking user (uid " +
                              std::to_string(id.uid) + ")");
      return;
    }
    const std::string spec = pr_.exec.user.value_or("nobody");
    const SourceLoc loc = pr_.exec.user ? pr_.exec.user_loc : SourceLoc{"default exec.user"};
    std::string user = spec, group_name;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
      user = spec.substr(0, colon);
      group_name = spec.substr(colon + 1);
    }
    auto numeric = [](const std::string& s) {
      return !s.empty() && s.size() < 11 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    };
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
      error(loc, "exec.user: no user named '" + user + "' on this host (use a name, a uid or uid:gid)");
      return;
    }
    if (!group_name.empty()) {
      if (numeric(group_name)) id.gid = static_cast<gid_t>(std::stoul(group_name));
      else if (const struct group* gr = ::getgrnam(group_name.c_str())) id.gid = gr->gr_gid;
      else error(loc, "exec.user: no group named '" + group_name + "'");
    }
    if (id.uid == 0 || id.gid == 0)
      error(loc, "exec.user resolves to uid/gid 0; the jail never runs as root (pick an unprivileged user such as "
                 "\"nobody\" or a uid like \"1001\")");
  }

  // ---- state directory ----------------------------------------------------

  void plan_state() {
    if (!pr_.state_used && !npx_) return;
    if (pr_.state_dir.empty())
      throw LaunchError("state", std::string(npx_ ? "npx needs a package cache private to the profile, in " : "") +
                                     "${PROFILE_STATE}, which is undefined: " + pr_.state_error);
    auto& st = plan_.state;
    st.dir = pr_.state_dir;
    st.name = base_of(st.dir);
    const std::string home = state_home(inv_.load);
    if (home.empty() || st.dir != (home == "/" ? "" : home) + "/mcp-jail/" + st.name)
      throw LaunchError("state", "${PROFILE_STATE} " + st.dir + " is not in the state home of this launch (" +
                                     (home.empty() ? "none" : home) + "): the profile was loaded for another user");
    // The state home is the user's own (~/.local/state): symlinks owned by
    // the user or root are followed there, never below it.
    auto w = safe_walk(root_fd_.get(), home, TrustPolicy{inv_.uid, {}});
    if (!w.error.empty()) throw LaunchError("state", "state home " + home + ": " + w.error);
    if (w.type != ObjType::Missing && w.type != ObjType::Directory)
      throw LaunchError("state", "state home " + home + " is not a directory");
    st.home_canonical = w.canonical;
    st.canonical = (w.canonical == "/" ? "" : w.canonical) + "/mcp-jail/" + st.name;
    auto root = safe_walk(root_fd_.get(), st.canonical, TrustPolicy{inv_.uid, {}});
    if (root.error.empty() && root.type == ObjType::Missing) st.missing.push_back(st.dir);
  }

  // A path below ${PROFILE_STATE}: bound from the state directory itself
  // (no symlinks anywhere below the state home), created by `run` when
  // missing. False when `r` is not such a path.
  bool add_state_bind(const PathRule& r, bool writable, const std::string& what) {
    auto& st = plan_.state;
    if (st.dir.empty() || !path_is_under(r.path, st.dir)) return false;
    const std::string rel = r.path.size() > st.dir.size() ? r.path.substr(st.dir.size() + 1) : "";
    const std::string source = st.canonical + (rel.empty() ? "" : "/" + rel);
    auto w = safe_walk(root_fd_.get(), r.path, policy_);
    if (!w.error.empty()) {
      error(r.loc, r.path + ": " + w.error);
      return true;
    }
    if (w.canonical != source) {
      error(r.loc, r.path + " resolves to " + w.canonical + " through a symlink; nothing below the state home (" +
                       st.home_canonical + ") may be a symlink: remove it");
      return true;
    }
    if (!rel.empty() && std::find(st.paths.begin(), st.paths.end(), rel) == st.paths.end()) st.paths.push_back(rel);
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = r.path;
    s.source = source;
    s.writable = writable;
    s.is_dir = w.type != ObjType::File && w.type != ObjType::Other;
    s.why = what + " (" + r.loc.str() + "), in the profile's state directory";
    if (w.type == ObjType::Missing) {
      if (std::find(st.missing.begin(), st.missing.end(), r.path) == st.missing.end()) st.missing.push_back(r.path);
      s.why += "; run creates it";
    }
    binds_.push_back({std::move(s), r.path});
    return true;
  }

  // A directory below ${PROFILE_STATE} that must exist at launch without a
  // mount of its own (it lies inside a bound one): `run` creates it.
  void require_state_dir(const std::string& rel) {
    auto& st = plan_.state;
    if (std::find(st.paths.begin(), st.paths.end(), rel) == st.paths.end()) st.paths.push_back(rel);
    auto w = safe_walk(root_fd_.get(), st.dir + "/" + rel, policy_);
    if (w.error.empty() && w.type == ObjType::Missing) st.missing.push_back(st.dir + "/" + rel);
  }

  // ---- npx ---------------------------------------------------------------
  //
  // `npx -y @scope/server` (npm's npx-cli.js) fetches a package into npm's
  // cache and runs its bin through `sh -c`. In the jail its cache is
  // ${PROFILE_STATE}/npm, private to the profile, so one server cannot
  // change the packages another one runs; with network "none" it runs
  // offline from that cache, filled beforehand outside the jail.

  bool command_is_npx() const {
    if (inv_.command.empty()) return false;
    const std::string b = base_of(inv_.command[0]);
    return b == "npx" || b == "npx-cli.js";
  }

  std::string npx_cache() const { return plan_.state.dir + "/npm"; }

  void plan_npx_filesystem() {
    add_state_bind(PathRule{npx_cache(), false, SourceLoc{"the command is npx"}}, true, "npm package cache");
    // npx installs each package into _npx/<hash>/node_modules and runs its
    // bin from there: Landlock needs the directory to exist at launch.
    require_state_dir("npm/_npx");
  }

  // npm reads its settings from npm_config_* in any letter case.
  void plan_npx_env(std::map<std::string, std::string>& env) const {
    std::map<std::string, std::string> npm = {
        {"npm_config_cache", npx_cache()},
        {"npm_config_update_notifier", "false"},  // no registry request of its own
        {"npm_config_fund", "false"},
        {"npm_config_audit", "false"},
        {"npm_config_yes", "true"},  // never prompt: stdin is the MCP pipe
    };
    if (pr_.network.mode == NetMode::None) npm["npm_config_offline"] = "true";
    else npm["npm_config_prefer_offline"] = "true";
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    for (auto it = env.begin(); it != env.end();)
      it = lower(it->first).starts_with("npm_config_") ? env.erase(it) : std::next(it);
    for (auto& [k, v] : npm) env[k] = v;
  }

  // ---- filesystem rules -------------------------------------------------

  struct Candidate {
    MountStep step;
    std::string listed;  // the path as listed (lexical)
  };

  void add_bind(const PathRule& r, bool writable, const std::string& what) {
    const std::string why = what + " (" + r.loc.str() + ")";
    if (r.path.starts_with("/proc") && path_is_under(r.path, "/proc")) {
      error(r.loc, r.path + ": /proc is provided by mcp-jail (a fresh procfs for the jail); do not list it");
      return;
    }
    if (path_is_under(r.path, "/dev")) {
      error(r.loc, r.path + ": /dev is provided by mcp-jail (null, zero, full, random, urandom, tty, shm, pts); do not list it");
      return;
    }
    if (writable && r.path == "/") {
      error(r.loc, "the whole host root cannot be writable");
      return;
    }
    if (add_state_bind(r, writable, what)) return;
    auto w = safe_walk(root_fd_.get(), r.path, policy_);
    if (!w.error.empty()) {
      error(r.loc, r.path + ": " + w.error);
      return;
    }
    if (w.type == ObjType::Missing) {
      if (r.optional) {
        plan_.notes.push_back(r.path + " (optional, " + what + ") does not exist; skipped");
        return;
      }
      error(r.loc, r.path + " does not exist" + (w.canonical != r.path ? " (resolves to " + w.canonical + ")" : "") +
                       "; create it, or mark it optional with a leading '-' (\"-" + r.path + "\")");
      return;
    }
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = r.path;
    s.source = w.canonical;
    s.writable = writable;
    s.is_dir = w.type == ObjType::Directory;
    s.why = why;
    binds_.push_back({std::move(s), r.path});
  }

  void plan_filesystem() {
    const auto& fs = pr_.filesystem;
    // Symlinks inside paths the jail can write are never followed.
    policy_.trusted_uid = inv_.uid;
    std::vector<PathRule> writes = fs.write;
    for (const auto& p : inv_.extra_write) writes.push_back(PathRule{p, false, SourceLoc{"--write " + p}});
    for (const auto& w : writes) policy_.untrusted_trees.push_back(w.path);
    // The jail may write the state directory (whatever the profile lists).
    if (!plan_.state.dir.empty()) {
      policy_.untrusted_trees.push_back(plan_.state.dir);
      policy_.untrusted_trees.push_back(plan_.state.canonical);
    }
    for (const auto& w : writes) {
      auto r = safe_walk(root_fd_.get(), w.path, TrustPolicy{inv_.uid, {}});
      if (r.error.empty() && r.canonical != w.path) policy_.untrusted_trees.push_back(r.canonical);
    }
    for (const auto& r : fs.read) add_bind(r, false, "filesystem.read");
    for (const auto& p : inv_.extra_read) add_bind(PathRule{p, false, SourceLoc{"--read " + p}}, false, "--read");
    for (const auto& r : writes) add_bind(r, true, r.loc.line ? "filesystem.write" : "--write");
    if (npx_) plan_npx_filesystem();
    for (const auto& r : fs.tmpfs) {
      if (path_is_under(r.path, "/proc") || path_is_under(r.path, "/dev") || r.path == "/") {
        error(r.loc, r.path + ": cannot hold a tmpfs (/, /proc and /dev are provided by mcp-jail)");
        continue;
      }
      MountStep s;
      s.kind = MountKind::Tmpfs;
      s.target = r.path;
      s.writable = true;
      s.size = pr_.limits.tmpfs_size.value_or(kDefaultTmpfsSize);
      s.why = "filesystem.tmpfs (" + r.loc.str() + ")";
      binds_.push_back({std::move(s), r.path});
    }
  }

  // Is `host_path` visible at the same path inside the jail through a bind?
  const MountStep* covering(const std::string& host_path) const {
    const MountStep* best = nullptr;
    for (const auto& c : binds_) {
      const auto& s = c.step;
      if (s.kind != MountKind::Bind || s.source != s.target) continue;
      if (path_is_under(host_path, s.source) && (!best || s.target.size() > best->target.size())) best = &s;
    }
    return best;
  }

  void add_auto(const std::string& canonical, bool is_dir, const std::string& why) {
    if (const MountStep* c = covering(canonical)) {
      plan_.notes.push_back(why + ": " + canonical + " already visible (" + c->why + ")");
      return;
    }
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = canonical;
    s.source = canonical;
    s.is_dir = is_dir;
    s.why = why;
    binds_.push_back({s, canonical});
  }

  // Resolves a command name the way execvp does, with the launcher's PATH.
  std::string find_in_path(const std::string& name) const {
    auto it = inv_.host_env.find("PATH");
    const std::string path = it != inv_.host_env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
    bool denied = false;
    std::size_t i = 0;
    while (i <= path.size()) {
      auto j = path.find(':', i);
      if (j == std::string::npos) j = path.size();
      std::string dir = path.substr(i, j - i);
      if (dir.empty()) dir = ".";
      const std::string cand = dir + "/" + name;
      if (regular_file(cand)) {
        if (::access(cand.c_str(), X_OK) == 0) return cand;
        denied = true;
      }
      i = j + 1;
    }
    if (denied)
      throw LaunchError("command", name + ": found in PATH but not executable", kExitCannotExecute);
    throw LaunchError("command", name + ": command not found (PATH=" + path + ")", kExitNotFound);
  }

  // The resolved file, with symlinks followed under the trust policy.
  WalkResult resolve_file(const std::string& path, const std::string& what, int missing_code) {
    std::string err;
    auto norm = normalize_absolute(path, &err);
    if (!norm) throw LaunchError("command", what + " " + path + ": " + err, missing_code);
    auto w = safe_walk(root_fd_.get(), *norm, policy_);
    if (!w.error.empty()) throw LaunchError("command", what + " " + path + ": " + w.error, kExitCannotExecute);
    if (w.type == ObjType::Missing) throw LaunchError("command", what + " " + path + ": not found", missing_code);
    return w;
  }

  std::string absolute(const std::string& p) const {
    if (p.starts_with("/")) return p;
    return (inv_.load.pwd == "/" ? "" : inv_.load.pwd) + "/" + p;
  }

  // The "project" of a script: for a script inside node_modules the
  // directory holding the outermost node_modules; else the nearest ancestor
  // holding package.json or pyproject.toml (a few levels up); never / or $HOME.
  void add_script_project(const std::string& script) {
    const std::string home = inv_.load.home;
    auto acceptable = [&](const std::string& dir) { return dir != "/" && dir != home && !dir.empty(); };
    if (auto nm = script.find("/node_modules/"); nm != std::string::npos) {
      const std::string dir = nm == 0 ? "/" : script.substr(0, nm);
      if (acceptable(dir)) {
        plan_.project = dir;
        return add_auto(dir, true, "script project (holds node_modules of " + script + ")");
      }
    }
    std::string dir = parent_of(script);
    for (int level = 0; level <= kProjectSearchLevels && acceptable(dir); ++level) {
      for (const char* marker : {"package.json", "pyproject.toml"}) {
        if (regular_file(dir + "/" + marker)) {
          plan_.project = dir;
          return add_auto(dir, true, std::string("script project (") + marker + " of " + script + ")");
        }
      }
      dir = parent_of(dir);
    }
    const std::string own = parent_of(script);
    if (acceptable(own)) {
      plan_.project = own;
      return add_auto(own, true, "script directory of " + script);
    }
    add_auto(script, false, "script " + script);
  }

  static bool is_interpreter(const std::string& name) {
    static const char* const names[] = {"node", "nodejs", "python", "python3", "ruby", "perl", "deno", "bun", "tsx", "ts-node", "php"};
    for (const char* n : names)
      if (name == n) return true;
    if (name.starts_with("python3.")) return true;
    return false;
  }

  void plan_command() {
    if (inv_.command.empty()) {
      if (!inv_.require_command) return;
      throw LaunchError("command", "no command given after --");
    }
    const std::string& cmd = inv_.command[0];
    if (cmd.empty()) throw LaunchError("command", "the command after -- is an empty string");
    const std::string found = cmd.find('/') != std::string::npos ? absolute(cmd) : find_in_path(cmd);
    auto exe = resolve_file(found, "command", kExitNotFound);
    if (exe.type != ObjType::File) throw LaunchError("command", found + " is not a regular file", kExitCannotExecute);
    if (::faccessat(exe.fd.get(), "", X_OK, AT_EMPTY_PATH) != 0 && ::access(exe.canonical.c_str(), X_OK) != 0)
      throw LaunchError("command", found + ": not executable", kExitCannotExecute);
    plan_.exe = exe.canonical;
    plan_.argv = inv_.command;
    add_auto(exe.canonical, false, "command executable");
    exec_files_.push_back(exe.canonical);

    // A script with a #! line: its interpreter, and the script's project.
    std::string interp_name = base_of(exe.canonical);
    std::ifstream in(exe.canonical, std::ios::binary);
    char head[256] = {};
    in.read(head, sizeof head - 1);
    if (in.gcount() > 2 && head[0] == '#' && head[1] == '!') {
      std::string line(head + 2, static_cast<std::size_t>(in.gcount() - 2));
      line = line.substr(0, line.find('\n'));
      std::vector<std::string> words;
      std::size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) words.push_back(line.substr(i, j - i));
        i = j;
      }
      if (!words.empty()) {
        auto interp = resolve_file(words[0], "interpreter of " + exe.canonical, kExitCannotExecute);
        add_auto(interp.canonical, false, "interpreter of " + exe.canonical);
        exec_files_.push_back(interp.canonical);
        interp_name = base_of(interp.canonical);
        if (interp_name == "env") {
          std::size_t k = 1;
          while (k < words.size() && words[k].starts_with("-")) ++k;
          if (k < words.size()) {
            auto real = resolve_file(find_in_path(words[k]), "interpreter of " + exe.canonical, kExitCannotExecute);
            add_auto(real.canonical, false, "interpreter of " + exe.canonical);
            exec_files_.push_back(real.canonical);
          }
        }
        add_script_project(exe.canonical);
      }
    }
    // An interpreter followed by a script path.
    if (is_interpreter(base_of(cmd)) || is_interpreter(base_of(exe.canonical))) {
      for (std::size_t i = 1; i < inv_.command.size(); ++i) {
        const std::string& a = inv_.command[i];
        if (a.starts_with("-")) {
          if (a == "-m" || a == "-c" || a == "-e" || a == "--eval" || a == "-p" || a == "--print") break;
          // options whose value is the next argument (node, python)
          static const char* const with_value[] = {"-r", "--require", "--import", "--loader", "--experimental-loader",
                                                   "--env-file", "-W", "-X", "--conditions", "-C", "--input-type"};
          for (const char* o : with_value)
            if (a == o) ++i;
          continue;
        }
        const std::string path = absolute(a);
        if (!regular_file(path)) break;
        auto w = safe_walk(root_fd_.get(), normalize_absolute(path, nullptr).value_or(path), policy_);
        if (!w.error.empty()) throw LaunchError("command", "script " + a + ": " + w.error, kExitCannotExecute);
        if (w.type == ObjType::File) {
          plan_.script = w.canonical;
          add_script_project(w.canonical);
        }
        break;
      }
    }
  }

  void plan_special_mounts() {
    MountStep proc;
    proc.kind = MountKind::Proc;
    proc.target = "/proc";
    proc.why = "fresh procfs for the jail's pid namespace";
    special_.push_back(proc);
    MountStep dev;
    dev.kind = MountKind::Dev;
    dev.target = "/dev";
    dev.size = 64 << 10;
    dev.why = "minimal /dev";
    special_.push_back(dev);
    auto file = [&](const std::string& target, std::string content, const std::string& why) {
      MountStep s;
      s.kind = MountKind::File;
      s.target = target;
      s.is_dir = false;
      s.content = std::move(content);
      s.why = why;
      files_.push_back(std::move(s));
    };
    const std::string host = pr_.exec.hostname.value_or("mcp-jail");
    file("/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + host + "\n",
         "generated: loopback names only");
    std::string resolv;
    if (pr_.network.mode == NetMode::Host) {
      std::ifstream in("/etc/resolv.conf");  // follows a symlink into /run, as it should
      resolv.assign(std::istreambuf_iterator<char>(in), {});
      file("/etc/resolv.conf", resolv, "generated: copy of the host's resolver configuration (network = host)");
    } else if (pr_.network.mode == NetMode::Allowlist) {
      file("/etc/resolv.conf",
           std::string("# the jail's filtering resolver (network = allowlist): it answers allowed names only\n"
                       "nameserver ") + netfilter::kResolverAddress + "\noptions timeout:2 attempts:2\n",
           "generated: the jail's DNS filter");
    } else {
      file("/etc/resolv.conf", "# no resolver in this jail (network = none)\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
           "generated: no name resolution");
    }
    const Identity& id = plan_.id;
    std::string passwd = "root:x:0:0:root:/root:/usr/sbin/nologin\n";
    std::string group = "root:x:0:\n";
    if (id.uid != 65534) {
      passwd += id.user_name + ":x:" + std::to_string(id.uid) + ":" + std::to_string(id.gid) + "::" +
                (inv_.host_env.count("HOME") ? inv_.host_env.at("HOME") : std::string("/")) + ":/usr/sbin/nologin\n";
    }
    passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    if (id.gid != 65534) group += id.user_name + ":x:" + std::to_string(id.gid) + ":\n";
    group += "nogroup:x:65534:\n";
    file("/etc/passwd", passwd, "generated: root, the jail's user, nobody");
    file("/etc/group", group, "generated: root, the jail's group, nogroup");
  }

  static bool component_less(const std::string& a, const std::string& b) {
    return split_path(a) < split_path(b);
  }

  void order_mounts() {
    // Duplicates and conflicts.
    std::vector<Candidate> uniq;
    for (auto& c : binds_) {
      auto same = std::find_if(uniq.begin(), uniq.end(), [&](const Candidate& u) { return u.step.target == c.step.target; });
      if (same == uniq.end()) {
        uniq.push_back(std::move(c));
        continue;
      }
      const auto& a = same->step;
      const auto& b = c.step;
      if (a.kind == b.kind && a.writable == b.writable && a.source == b.source) continue;
      error(SourceLoc{b.why}, b.target + " is listed twice with different meanings: " + a.why + " and " + b.why);
    }
    std::stable_sort(uniq.begin(), uniq.end(),
                     [](const Candidate& a, const Candidate& b) { return component_less(a.step.target, b.step.target); });
    binds_ = std::move(uniq);
    // A listed path that is itself a symlink to another visible path becomes
    // a symlink in the jail (merged /usr: /lib -> /usr/lib), so paths resolve
    // as on the host.
    for (auto& c : binds_) {
      auto& s = c.step;
      if (s.kind != MountKind::Bind || s.target == s.source || !is_symlink(c.listed)) continue;
      const bool has_children = std::any_of(binds_.begin(), binds_.end(), [&](const Candidate& o) {
        return o.step.target != s.target && path_is_under(o.step.target, s.target);
      });
      const MountStep* cov = nullptr;
      for (const auto& o : binds_)
        if (&o.step != &s && o.step.kind == MountKind::Bind && o.step.source == o.step.target &&
            path_is_under(s.source, o.step.source))
          cov = &o.step;
      if (has_children || !cov || s.writable) continue;
      s.kind = MountKind::Symlink;
      s.why += ", a symlink to a path already visible";
    }
    // Steps that change nothing are dropped: a symlink (or an identical
    // bind) below a bind of the same host directory is already there.
    auto redundant = [&](const MountStep& s) {
      if (s.kind != MountKind::Symlink && !(s.kind == MountKind::Bind && s.source == s.target)) return false;
      const MountStep* parent = nullptr;
      for (const auto& o : binds_)
        if (&o.step != &s && o.step.target != s.target && path_is_under(s.target, o.step.target) &&
            (!parent || o.step.target.size() > parent->target.size()))
          parent = &o.step;
      return parent && parent->kind == MountKind::Bind && parent->source == parent->target &&
             (s.kind == MountKind::Symlink || parent->writable == s.writable);
    };
    for (auto& c : binds_)
      if (!redundant(c.step)) plan_.mounts.push_back(c.step);
    for (auto& s : special_) plan_.mounts.push_back(s);
    for (auto& s : files_) plan_.mounts.push_back(s);
  }

  // Which bind/tmpfs makes jail path `p` visible, if any (deepest wins).
  const MountStep* visible_through(const std::string& p) const {
    const MountStep* best = nullptr;
    for (const auto& s : plan_.mounts) {
      if (s.kind != MountKind::Bind && s.kind != MountKind::Tmpfs) continue;
      if (path_is_under(p, s.target) && (!best || s.target.size() >= best->target.size())) best = &s;
    }
    return best;
  }

  void plan_hides() {
    for (const auto& h : pr_.filesystem.hide) {
      const MountStep* via = visible_through(h.path);
      if (!via) {
        plan_.hide_skipped.push_back(h.path + ": not visible in the jail");
        continue;
      }
      if (via->kind == MountKind::Tmpfs) {
        plan_.hide_skipped.push_back(h.path + ": inside a fresh tmpfs (empty at start)");
        continue;
      }
      const std::string host = via->source + h.path.substr(via->target.size());
      struct stat st {};
      if (::lstat(host.c_str(), &st) != 0) {
        plan_.hide_skipped.push_back(h.path + ": does not exist (nothing to hide)");
        continue;
      }
      if (S_ISLNK(st.st_mode)) {
        error(h.loc, "hide path " + h.path + " is a symlink; list the path it points to");
        continue;
      }
      MountStep s;
      s.kind = MountKind::Mask;
      s.target = h.path;
      s.is_dir = S_ISDIR(st.st_mode);
      s.why = "filesystem.hide (" + h.loc.str() + ")";
      plan_.mounts.push_back(std::move(s));
    }
  }

  void plan_env() {
    std::map<std::string, std::string> env;
    for (const auto& name : pr_.env.pass) {
      if (name.ends_with('*')) {
        const std::string prefix = name.substr(0, name.size() - 1);
        for (const auto& [k, v] : inv_.host_env)
          if (k.starts_with(prefix)) env[k] = v;
      } else if (auto it = inv_.host_env.find(name); it != inv_.host_env.end()) {
        env[name] = it->second;
      }
    }
    if (npx_) plan_npx_env(env);
    for (const auto& [k, v] : pr_.env.set) env[k] = v;
    // --env, last: the launch's own choice over the profile's. NAME alone
    // passes the launcher's value and changes nothing when it has none.
    for (const auto& a : inv_.env_args) {
      std::erase(plan_.env_cli_unset, a.name);
      if (a.value) {
        env[a.name] = *a.value;
        plan_.env_cli[a.name] = false;
      } else if (auto it = inv_.host_env.find(a.name); it != inv_.host_env.end()) {
        env[a.name] = it->second;
        plan_.env_cli[a.name] = true;
      } else if (!plan_.env_cli.count(a.name)) {
        plan_.env_cli_unset.push_back(a.name);
      }
    }
    for (const auto& [k, v] : env) plan_.env.push_back(k + "=" + v);
    for (const auto& [k, v] : inv_.host_env)  // std::map: sorted
      if (!env.count(k)) plan_.env_dropped.push_back(k);
  }

  // Is host path `p` at the same path in the jail (through a bind, not
  // shadowed by a tmpfs or a mask)?
  bool jail_visible(const std::string& p) const {
    const MountStep* via = visible_through(p);
    if (!via || via->kind != MountKind::Bind || via->source != via->target) return false;
    for (const auto& s : plan_.mounts)
      if (s.kind == MountKind::Mask && path_is_under(p, s.target)) return false;
    return true;
  }

  void plan_cwd() {
    if (pr_.exec.cwd) {
      if (!jail_visible(*pr_.exec.cwd))
        error(pr_.exec.cwd_loc, "exec.cwd " + *pr_.exec.cwd + " is not visible in the jail; list it in filesystem.read or write");
      plan_.cwd = *pr_.exec.cwd;
      return;
    }
    plan_.cwd = jail_visible(inv_.load.pwd) ? inv_.load.pwd : "/";
    if (plan_.cwd == "/" && inv_.load.pwd != "/")
      plan_.notes.push_back("working directory " + inv_.load.pwd + " is not visible in the jail; the server starts in /");
  }

  void plan_network() {
    auto& n = plan_.network;
    const auto& pn = pr_.network;
    n.mode = pn.mode;
    n.allow = pn.allow;
    n.allow_private = pn.allow_private;
    n.dns = pn.dns;
    if (pn.mode == NetMode::Host && !pn.allow_host_network)
      error(pn.mode_loc, "network.mode = \"host\" shares the host's network with the server; it is refused "
                         "unless the profile also sets network.allow_host_network = true");
    if (pn.mode != NetMode::Allowlist) {
      if (!pn.allow.empty() || !pn.allow_private.empty() || !pn.dns.empty())
        plan_.notes.push_back(std::string("network.allow, allow_private and dns apply to network.mode = \"allowlist\" only; "
                                          "they are ignored with mode \"") +
                              (pn.mode == NetMode::None ? "none" : "host") + "\"");
      return;
    }
    if (netfilter::Uplink::binary().empty())
      plan_.notes.push_back("pasta (package passt) is not installed: `run` refuses network = \"allowlist\" until it is");
    auto loc = [](const std::vector<SourceLoc>& v, std::size_t i) { return i < v.size() ? v[i] : SourceLoc{"network"}; };
    // allow_private: exemptions from the private-range deny, nothing more
    // (the loader has checked each entry).
    for (const auto& a : pn.allow_private)
      if (auto c = netfilter::parse_cidr(a)) n.private_allowed.push_back(*c);
    bool names = false;
    std::string every_name;  // the *:PORT entries
    for (std::size_t i = 0; i < pn.allow.size(); ++i) {
      netfilter::AllowRule r;
      try {
        r = netfilter::parse_allow(pn.allow[i]);
      } catch (const std::invalid_argument&) {
        continue;  // reported by the loader
      }
      if (r.kind == netfilter::AllowRule::Kind::Address) {
        if (auto d = netfilter::denied_range_of(r.net)) {
          // A metadata address opens only when allow_private names it exactly.
          const bool metadata = d->host();
          const bool opened = std::any_of(n.private_allowed.begin(), n.private_allowed.end(),
                                          [&](const netfilter::Cidr& p) { return metadata ? p == *d : p.contains(r.net); });
          if (!opened) {
            error(loc(pn.allow_loc, i), "'network.allow' entry '" + r.text + "' is in " + d->str() +
                                            ", a private or local range that stays closed unless network.allow_private "
                                            "lists it (add \"" + r.net.str() + "\" there)");
            continue;
          }
        } else {
          for (const auto& d : netfilter::denied_ranges())
            if (r.net.contains(d)) {
              plan_.notes.push_back("network.allow " + r.text + " spans private and local ranges; they stay closed");
              break;
            }
        }
      } else {
        names = true;
        if (r.kind == netfilter::AllowRule::Kind::Any) every_name += (every_name.empty() ? "" : ", ") + r.str();
      }
      n.rules.push_back(std::move(r));
    }
    if (!every_name.empty())
      plan_.notes.push_back("network.allow " + every_name + ": every name is answered, so the server can reach any public "
                            "address a name points to on these ports, and its DNS queries leave the jail; private, local "
                            "and metadata ranges stay closed");
    if (!pn.dns.empty()) {
      for (const auto& d : pn.dns)
        if (auto r = netfilter::parse_resolver(d)) n.resolvers.push_back(*r);
      n.resolvers_from = "profile";
    } else {
      std::ifstream in("/etc/resolv.conf");
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      n.resolvers = netfilter::resolvers_from_resolv_conf(text);
      n.resolvers_from = "/etc/resolv.conf";
    }
    if (names && n.resolvers.empty())
      error(pn.mode_loc, "network.allow names hosts, but there is no upstream resolver: the host's /etc/resolv.conf "
                         "lists no usable nameserver; set network.dns");
  }

  void plan_rest() {
    plan_.hostname = pr_.exec.hostname.value_or("mcp-jail");
    auto& l = plan_.limits;
    l.memory = pr_.limits.memory;
    l.pids = pr_.limits.pids;
    l.cpu = pr_.limits.cpu;
    l.nofile = pr_.limits.nofile.value_or(0);
    l.file_size = pr_.limits.file_size.value_or(0);
    l.tmpfs_size = pr_.limits.tmpfs_size.value_or(kDefaultTmpfsSize);
    l.wall_time = pr_.limits.wall_time;
    plan_.seccomp.base = pr_.seccomp.base;
    plan_.seccomp.deny = pr_.seccomp.deny;
    plan_.seccomp.allow = pr_.seccomp.allow;
    plan_.seccomp.action = pr_.seccomp.action;
    plan_.audit_log = inv_.audit_log.value_or(pr_.audit.log);
    plan_.best_effort = pr_.best_effort;
    plan_pins();
  }

  // The pins travel with the plan; `run` checks them before anything starts.
  void plan_pins() {
    plan_.pins = pr_.pin;
    if (plan_.pins.empty() || plan_.exe.empty()) return;
    const std::string entry = plan_.script.empty() ? plan_.exe : plan_.script;
    const bool covered =
        std::any_of(plan_.pins.files.begin(), plan_.pins.files.end(), [&](const PinFile& f) { return f.path == entry; }) ||
        std::any_of(plan_.pins.trees.begin(), plan_.pins.trees.end(),
                    [&](const PinTree& t) { return path_is_under(entry, t.path); });
    if (!covered)
      plan_.notes.push_back("[pin] does not cover the command's entry point " + entry +
                            " (neither a pinned file nor inside a pinned tree); `mcp-jail pin` records it");
  }

  void plan_landlock() {
    auto& ll = plan_.landlock;
    for (const auto& s : plan_.mounts) {
      switch (s.kind) {
        case MountKind::Bind: ll.rules.push_back({s.target, s.writable, false}); break;
        case MountKind::Tmpfs: ll.rules.push_back({s.target, true, false}); break;
        // /proc and /dev are readable; only the harmless device nodes, shm
        // and the jail's own ptys are writable (device ioctls nowhere else).
        case MountKind::Proc: ll.rules.push_back({"/proc", false, false}); break;
        case MountKind::Dev:
          ll.rules.push_back({"/dev", false, false});
          for (const auto& w : mnt::kDevWritable)
            if (!w.link) ll.rules.push_back({w.path, true, false});
          break;
        case MountKind::File: ll.rules.push_back({s.target, false, false}); break;
        default: break;
      }
    }
    for (const auto& e : plan_.env)
      if (e.starts_with("PATH=")) ll.path_env = e.substr(5);
    if (!pr_.exec.allow.empty()) {
      std::vector<std::string> allowed_canonical;
      for (const auto& a : pr_.exec.allow) {
        if (!jail_visible(a.path)) {
          if (!a.optional) error(a.loc, "exec.allow " + a.path + " is not visible in the jail");
          continue;
        }
        auto w = safe_walk(root_fd_.get(), a.path, policy_);
        const auto& st = plan_.state;
        const bool state_dir = !st.dir.empty() && path_is_under(a.path, st.dir) && a.path != st.dir &&
                               w.error.empty() && w.type == ObjType::Missing;
        if (w.error.empty() && (w.type == ObjType::Directory || state_dir)) {
          // A directory: whatever lies beneath it may be executed.
          if (state_dir) require_state_dir(a.path.substr(st.dir.size() + 1));
          ll.rules.push_back({a.path, false, true, a.optional});
          allowed_canonical.push_back(w.canonical);
          continue;
        }
        ll.exec_allow.push_back(a.path);
        if (w.error.empty() && w.type != ObjType::Missing) allowed_canonical.push_back(w.canonical);
      }
      if (!plan_.exe.empty() &&
          std::none_of(allowed_canonical.begin(), allowed_canonical.end(),
                       [&](const std::string& c) { return path_is_under(plan_.exe, c); }))
        plan_.notes.push_back("the command " + plan_.exe + " is not in exec.allow; Landlock will refuse to run it");
    } else {
      ll.exec_allow = exec_files_;
      if (npx_) {
        // npm runs the package's bin with `sh -c`; the bin is a script
        // inside the profile's cache (node and env come with npx itself).
        const std::string sh = find_in_jail_path("sh", ll.path_env);
        if (sh.empty()) error(SourceLoc{"npx"}, "npx runs packages through sh, which is not on the server's PATH (" + ll.path_env + ")");
        else ll.exec_allow.push_back(sh);
        ll.rules.push_back({npx_cache() + "/_npx", false, true});
      }
    }
    if (npx_) note_npx();
    ll.best_effort = std::find(plan_.best_effort.begin(), plan_.best_effort.end(), "landlock") != plan_.best_effort.end();
  }

  // `name` on the server's PATH, as execvp in the jail finds it.
  std::string find_in_jail_path(const std::string& name, const std::string& path) const {
    std::size_t i = 0;
    while (i <= path.size()) {
      auto j = path.find(':', i);
      if (j == std::string::npos) j = path.size();
      const std::string dir = path.substr(i, j - i);
      i = j + 1;
      if (dir.empty() || dir[0] != '/') continue;
      const std::string cand = dir + "/" + name;
      if (regular_file(cand) && ::access(cand.c_str(), X_OK) == 0 && jail_visible(cand)) return cand;
    }
    return {};
  }

  // How to fill the cache, for `check`.
  void note_npx() {
    std::string spec;
    for (std::size_t i = 1; i < inv_.command.size(); ++i) {
      const std::string& a = inv_.command[i];
      if (a == "--") continue;
      if (a == "-p" || a == "--package") {
        if (i + 1 < inv_.command.size()) spec = inv_.command[++i];
        continue;
      }
      if (a.starts_with("--package=")) {
        spec = a.substr(10);
        continue;
      }
      if (a.starts_with("-")) continue;
      if (spec.empty()) spec = a;
      break;
    }
    if (spec.empty()) spec = "PACKAGE";
    const auto& id = plan_.id;
    std::string n = "npx: the package cache is " + npx_cache() + ", private to this profile; " +
                    (pr_.network.mode == NetMode::None ? "npx runs offline from it (network none), so fill it beforehand, "
                                                         "outside the jail and without install scripts: "
                                                       : "npx prefers it to the registry; to fill it beforehand: ") +
                    "npm_config_cache=" + npx_cache() + " npm exec --yes --ignore-scripts --package=" + spec + " -- true";
    if (id.root_mode)
      n += "; then chown -R " + std::to_string(id.uid) + ":" + std::to_string(id.gid) + " " + plan_.state.dir +
           " (the server runs as uid " + std::to_string(id.uid) + ", and npm writes its cache)";
    plan_.notes.push_back(std::move(n));
  }

  const Profile& pr_;
  const Invocation& inv_;
  Plan plan_;
  UniqueFd root_fd_;
  TrustPolicy policy_;
  std::vector<Candidate> binds_;
  std::vector<MountStep> special_, files_;
  std::vector<std::string> exec_files_;
  bool npx_ = false;  // the command is npm's npx
  std::vector<Diagnostic> diags_;
};

}  // namespace

Plan make_plan(const Profile& profile, const Invocation& inv) { return Planner(profile, inv).run(); }

std::optional<EnvArg> parse_env_arg(const std::string& arg, std::string* why) {
  const auto eq = arg.find('=');
  EnvArg a;
  a.name = arg.substr(0, eq);
  if (eq != std::string::npos) a.value = arg.substr(eq + 1);
  if (!is_env_name(a.name)) {
    if (why)
      // The name only: what follows '=' may be a secret.
      *why = "wants NAME or NAME=VALUE, where NAME is a variable name (letters, digits, _; not starting with a "
             "digit), not \"" + a.name + "\"";
    return std::nullopt;
  }
  return a;
}

Invocation current_invocation() {
  Invocation inv;
  inv.uid = ::getuid();
  inv.euid = ::geteuid();
  inv.gid = ::getgid();
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    inv.host_env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (auto it = inv.host_env.find("HOME"); it != inv.host_env.end() && it->second.starts_with("/")) {
    inv.load.home = normalize_absolute(it->second, nullptr).value_or("");
  } else if (const passwd* pw = ::getpwuid(inv.uid)) {
    inv.load.home = pw->pw_dir;
  }
  inv.load.state_home = xdg_state_home(inv.host_env);
  char buf[4096];
  if (::getcwd(buf, sizeof buf)) inv.load.pwd = buf;
  else inv.load.pwd = "/";
  return inv;
}

}  // namespace mcpjail
