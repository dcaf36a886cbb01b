// Python servers: virtual environments in the command's own files, byte-code,
// and uv's runners (see runtime_python.hpp).
//
// A venv holds the server's packages (lib/pythonX.Y/site-packages) and an
// interpreter that is a symlink (or a copy) of the Python it was made from;
// pyvenv.cfg's `home =` names that Python's bin directory, whose parent
// holds the standard library. The jail sees the venv and that installation
// read-only, at their own paths, and may execute the venv's interpreter.
//
// Which host symlinks are followed: those owned by root only (trust.hpp).
// The venv's path and pyvenv.cfg's home are walked under that rule: a path
// through a link of the user's own (a uv-managed Python's minor-version
// link, ~/.local/bin/NAME of pipx) is refused, and the error names the real
// path to use instead. The venv's bin/python* links are never followed on
// the host to decide what to bind: the bind comes from `home`, checked to
// hold a Python standard library and never to hold $HOME; the jail's kernel
// follows those links among the paths the jail sees, and the planner checks
// beforehand that they lead to a file there (check_followed_in_jail).
#include "mcpjail/plan/runtime_python.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <memory>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/plan/mount_order.hpp"
#include "mcpjail/paths.hpp"

namespace mcpjail::planning {

namespace python {

namespace {

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

std::string base_of(std::string_view p) { return std::string(p.substr(p.rfind('/') + 1)); }

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool lstat_is(const std::string& p, mode_t type) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == type;
}

bool regular_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// lib/pythonX.Y directories of an installation that hold the standard
// library (os.py), by name.
std::vector<std::string> stdlib_dirs(const std::string& prefix) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir((prefix + "/lib").c_str()), ::closedir);
  if (!d) return out;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name.starts_with("python3") && regular_file(prefix + "/lib/" + name + "/os.py")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

PyvenvCfg parse_pyvenv_cfg(std::string_view text) {
  PyvenvCfg cfg;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key = lower(trim(line.substr(0, eq)));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "home") cfg.home = value;
    else if (key == "include-system-site-packages") cfg.include_system_site_packages = lower(value) == "true";
    else if (key == "version" || (key == "version_info" && cfg.version.empty())) cfg.version = value;
  }
  return cfg;
}

bool is_python_name(std::string_view b) {
  if (!b.starts_with("python")) return false;
  b.remove_prefix(6);
  if (b.empty()) return true;
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t s = i;
    while (i < b.size() && std::isdigit(static_cast<unsigned char>(b[i]))) ++i;
    return i > s;
  };
  if (!digits()) return false;
  if (i < b.size() && b[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < b.size() && (b[i] == 't' || b[i] == 'd' || b[i] == 'm')) ++i;  // free-threaded, debug builds
  return i == b.size();
}

PyArgs python_args(const std::vector<std::string>& command) {
  PyArgs out;
  for (std::size_t i = 1; i < command.size(); ++i) {
    const std::string& a = command[i];
    if (a == "--") {
      if (i + 1 < command.size()) out.script = command[i + 1];
      return out;
    }
    if (a == "-" || !a.starts_with("-")) {
      out.script = a;
      return out;
    }
    if (a.starts_with("--")) {
      if (a == "--check-hash-based-pycs") ++i;  // takes a value
      continue;
    }
    // Short options, possibly grouped (-Bu); m, c, W and X take a value,
    // attached or as the next word.
    for (std::size_t k = 1; k < a.size(); ++k) {
      const char o = a[k];
      if (o == 'E' || o == 'I') out.isolated = true;
      if (o == 'm' || o == 'c' || o == 'W' || o == 'X') {
        std::string value = a.substr(k + 1);
        if (value.empty() && i + 1 < command.size()) value = command[++i];
        if (o == 'm') {
          out.module = value;
          return out;
        }
        if (o == 'c') {
          out.code = true;
          return out;
        }
        break;
      }
    }
  }
  return out;
}

std::string install_prefix(const std::string& home) {
  return base_of(home) == "bin" ? parent_of(home) : home;
}

std::optional<std::string> uv_advice(const std::vector<std::string>& command) {
  if (command.empty()) return std::nullopt;
  const std::string b = base_of(command[0]);
  std::size_t from = 1;  // where uvx's own arguments start
  if (b == "uv") {
    // uv [OPTIONS] run ... | uv [OPTIONS] tool run ... (options may take
    // values: the first "run" or "tool" is the subcommand)
    std::size_t i = 1;
    while (i < command.size() && command[i] != "run" && command[i] != "tool" && command[i] != "--") ++i;
    if (i < command.size() && command[i] == "run")
      return std::string(
          "uv run syncs the project's environment, downloading what it lacks, when it starts, which mcp-jail does not "
          "run (the jail has no writable cache for it). Once, outside the jail, run `uv sync` in the project (it makes "
          "PROJECT/.venv), then start the server from that venv, which mcp-jail binds read-only with its Python: "
          "mcp-jail run PROFILE -- PROJECT/.venv/bin/SCRIPT (or PROJECT/.venv/bin/python -m MODULE)");
    if (i + 1 >= command.size() || command[i] != "tool" || command[i + 1] != "run") return std::nullopt;
    from = i + 2;
  } else if (b != "uvx") {
    return std::nullopt;
  }
  std::string package;
  for (std::size_t i = from; i < command.size() && package.empty(); ++i) {
    const std::string& a = command[i];
    if (a == "--from" && i + 1 < command.size()) package = command[i + 1];
    else if (a.starts_with("--from=")) package = a.substr(7);
    else if (!a.starts_with("-")) package = a;
  }
  // "pkg@1.2", "pkg==1.2", "pkg[extra]": the name
  const auto end = package.find_first_of("@=<>~![ ");
  if (end != std::string::npos && end > 0) package.resize(end);
  if (package.empty()) package = "PACKAGE";
  return "uvx downloads and installs the server when it starts, which mcp-jail does not run (the jail has no writable "
         "cache for it, and a download at every start is code nobody reviewed). Install it once, outside the jail: "
         "`uv tool install " + package + "` (or `pipx install " + package + "`, or `python3 -m venv DIR && DIR/bin/pip "
         "install " + package + "`), then run its script from that venv, which mcp-jail binds read-only with its "
         "Python: mcp-jail run PROFILE -- ~/.local/share/uv/tools/" + package + "/bin/SCRIPT (pipx: "
         "~/.local/share/pipx/venvs/" + package + "/bin/SCRIPT; a venv: DIR/bin/SCRIPT, or DIR/bin/python -m MODULE)";
}

std::string venv_of_bin(const std::string& path) {
  if (path.empty() || path[0] != '/') return {};
  const std::string bin = parent_of(path);
  if (base_of(bin) != "bin" || bin == "/bin") return {};
  const std::string venv = parent_of(bin);
  return regular_file(venv + "/pyvenv.cfg") ? venv : std::string();
}

bool command_is_python(const Invocation& inv) {
  if (inv.command.empty() || inv.command[0].empty()) return false;
  const std::string& cmd = inv.command[0];
  if (is_python_name(base_of(cmd))) return true;
  std::string file;
  if (cmd.find('/') != std::string::npos) {
    file = cmd[0] == '/' ? cmd : lexical_path(inv.load.pwd, cmd);
  } else {
    auto it = inv.host_env.find("PATH");
    file = exec::search_path(cmd, it != inv.host_env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin",
                             {.relative_entries = true})
               .path;
    if (!file.empty() && file[0] != '/') file = lexical_path(inv.load.pwd, file);
  }
  if (file.empty()) return false;
  if (!venv_of_bin(file).empty()) return true;
  char real[PATH_MAX];
  if (::realpath(file.c_str(), real) && !venv_of_bin(real).empty()) return true;
  const auto sb = exec::parse_shebang(exec::read_head(file));
  if (!sb || sb->interpreter.empty()) return false;
  if (is_python_name(base_of(sb->interpreter))) return true;
  if (base_of(sb->interpreter) == "env") {
    const exec::EnvCommand e = exec::env_of_shebang(*sb);
    return e.error.empty() && is_python_name(base_of(e.program));
  }
  return false;
}

VenvPlan plan_venv(Context& c, const TrustPolicy& trust, const std::string& venv, const std::string& interpreter,
                   const std::string& role) {
  const std::string what = "Python virtual environment " + venv + " (" + role + ")";
  auto fail = [&](const std::string& why) { return LaunchError("command", what + ": " + why, kExitCannotExecute); };
  VenvPlan out;

  auto v = safe_walk(c.root(), venv, trust);
  if (!v.error.empty()) throw fail(v.error);
  if (v.type != ObjType::Directory) throw fail("not a directory");
  out.venv = v.canonical;
  const std::string cfg_path = v.canonical + "/pyvenv.cfg";
  auto cw = safe_walk(c.root(), cfg_path, trust);
  if (!cw.error.empty()) throw fail(cw.error);
  if (cw.type != ObjType::File || cw.canonical != cfg_path) throw fail(cfg_path + " is not a regular file");
  const auto text = read_file(cfg_path, 64 * 1024, O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (!text) throw fail(errno_text("cannot read " + cfg_path, errno));
  const PyvenvCfg cfg = parse_pyvenv_cfg(*text);
  const std::string recreate = "; recreate the venv (python3 -m venv --clear " + v.canonical +
                               ") with the Python it should use, and reinstall the server";
  if (cfg.home.empty()) throw fail(cfg_path + " has no `home =` line (the bin directory of the Python it was made from)" + recreate);

  // The installation: home's parent, walked under the trust rule.
  std::string err;
  const auto home = normalize_absolute(cfg.home, &err);
  if (!home) throw fail(cfg_path + ": home = " + cfg.home + ": " + err);
  auto h = safe_walk(c.root(), *home, trust);
  if (!h.error.empty()) {
    // Named here only to say what to do; nothing is bound through it.
    char real[PATH_MAX];
    const std::string fix = ::realpath(home->c_str(), real)
                                ? "; or make the venv from the interpreter's real path (" + std::string(real) +
                                      "/python3 -m venv --clear " + v.canonical + "), and reinstall the server"
                                : "";
    throw fail(cfg_path + ": home = " + cfg.home + ": " + h.error + fix);
  }
  if (h.type == ObjType::Missing)
    throw fail(cfg_path + ": home = " + cfg.home + " does not exist: the Python the venv was made from is gone" + recreate);
  if (h.type != ObjType::Directory) throw fail(cfg_path + ": home = " + cfg.home + " is not a directory");
  const std::string prefix = install_prefix(h.canonical);
  const std::string prefix_as_named = install_prefix(*home);
  const std::string user_home = c.inv.load.home;
  if (prefix == "/" || (!user_home.empty() && path_is_under(user_home, prefix)))
    throw fail(cfg_path + ": home = " + cfg.home + " would make " + prefix +
         " visible, which is / or holds $HOME; a venv's home is the bin directory of a Python installation" + recreate);
  const std::vector<std::string> stdlibs = stdlib_dirs(prefix);
  if (stdlibs.empty())
    throw fail(cfg_path + ": home = " + cfg.home + ": " + prefix +
         " holds no Python standard library (lib/python3.*/os.py), so it is not a Python installation" + recreate);

  const std::string cfg_line = "pyvenv.cfg: home = " + cfg.home;
  out.binds.push_back({v.canonical, true, "Python virtual environment (pyvenv.cfg) of " + role + ", read-only"});
  if (venv != v.canonical)
    out.binds.push_back({venv, true, "Python virtual environment " + venv + ", as " + role + " names it", v.canonical});
  out.binds.push_back({prefix, true, "Python installation of the virtual environment " + v.canonical + " (" + cfg_line + ")"});
  if (prefix_as_named != prefix)
    out.binds.push_back({prefix_as_named, true, "Python installation, as " + cfg_line + " names it", prefix});
  if (cfg.include_system_site_packages) {
    // The installation's own site directories (Debian's too), all inside it.
    std::vector<std::string> sites;
    for (const auto& lib : stdlibs) {
      sites.push_back(prefix + "/lib/" + lib + "/site-packages");
      sites.push_back(prefix + "/local/lib/" + lib + "/dist-packages");
    }
    sites.push_back(prefix + "/lib/python3/dist-packages");
    for (const auto& s : sites)
      if (lstat_is(s, S_IFDIR))
        out.binds.push_back({s, true, "system site packages (include-system-site-packages = true in " + cfg_path + ")"});
  }

  // The interpreter: VENV/bin/NAME, which the jail runs through its links.
  std::string name = interpreter.empty() ? "" : base_of(interpreter);
  if (name.empty())
    for (const char* n : {"python3", "python"})
      if (::access((v.canonical + "/bin/" + n).c_str(), F_OK) == 0 || lstat_is(v.canonical + "/bin/" + n, S_IFLNK)) {
        name = n;
        break;
      }
  if (name.empty()) throw fail("bin/python3 is missing" + recreate);
  out.interpreter = v.canonical + "/bin/" + name;
  struct stat st {};
  if (::lstat(out.interpreter.c_str(), &st) != 0) throw fail(errno_text(out.interpreter, errno) + recreate);
  if (S_ISLNK(st.st_mode)) {
    // Followed here only when every link is root's: then its target, when
    // outside the installation, is bound as well (a Python installation
    // reached through links). Otherwise only the jail follows it.
    // Only an ELF executable is bound so (never any file a link names).
    auto iw = safe_walk(c.root(), out.interpreter, trust);
    if (iw.error.empty() && iw.type == ObjType::File && !path_is_under(iw.canonical, prefix) &&
        !path_is_under(iw.canonical, v.canonical) && ::access(iw.canonical.c_str(), X_OK) == 0 &&
        exec::read_head(iw.canonical).starts_with("\x7f" "ELF"))
      out.binds.push_back({iw.canonical, false, "interpreter of the virtual environment " + v.canonical + " (bin/" + name +
                                                    " -> " + iw.canonical + ")"});
    if (!iw.error.empty())
      c.note(out.interpreter + ": not followed on the host (" + iw.error.substr(0, iw.error.find(';')) +
             "); the jail follows it, and it was checked to lead to a file the jail sees");
  } else if (!S_ISREG(st.st_mode)) {
    throw fail(out.interpreter + " is not a file");
  }
  return out;
}

void check_followed_in_jail(const std::vector<MountStep>& mounts, const std::vector<std::string>& paths) {
  auto link_in_jail = [&](const std::string& p) {
    for (const auto& m : mounts)
      if (m.kind == MountKind::Symlink && m.target == p) return true;
    return jail_visible(mounts, p);
  };
  for (const auto& start : paths) {
    std::string p = start;
    bool done = false;
    for (int hop = 0; hop < 40 && !done; ++hop) {
      // The first component of p that is a symlink on the host.
      const auto comps = path_components(p);
      std::string at, link;
      std::size_t k = 0;
      for (; k < comps.size(); ++k) {
        at += "/" + comps[k];
        if (lstat_is(at, S_IFLNK)) {
          link = at;
          break;
        }
      }
      if (link.empty()) {
        if (!jail_visible(mounts, p))
          throw LaunchError("command",
                            start + " leads to " + p + ", which the jail does not see (a venv whose bin/python and "
                                "pyvenv.cfg's home name different Pythons?); make the venv again from the Python it "
                                "should use, or bind that Python with --read " + install_prefix(parent_of(p)),
                            kExitCannotExecute);
        done = true;
        break;
      }
      if (!link_in_jail(link))
        throw LaunchError("command",
                          start + " goes through the symlink " + link + ", which the jail does not see; make the venv "
                              "again from the Python it should use, by its real path",
                          kExitCannotExecute);
      char buf[PATH_MAX];
      const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
      if (n <= 0) throw LaunchError("command", errno_text("readlink " + link, errno), kExitCannotExecute);
      std::string next = lexical_path(parent_of(link), std::string_view(buf, static_cast<std::size_t>(n)));
      for (std::size_t r = k + 1; r < comps.size(); ++r) next += "/" + comps[r];
      p = next;
    }
    if (!done) throw LaunchError("command", start + ": too many levels of symbolic links", kExitCannotExecute);
  }
}

}  // namespace python

namespace {

class Python final : public Runtime {
 public:
  std::optional<RuntimeBinds> detect(const RuntimeQuery& q) const override {
    if (!q.inv || !python::command_is_python(*q.inv)) return std::nullopt;
    RuntimeBinds r;
    r.runtime = "python";
    // The venv and the installation are read-only in the jail: Python would
    // try to write __pycache__ beside every module it imports, each attempt
    // a blocked write in the launch's summary. It still reads byte-code
    // compiled at install time.
    r.env["PYTHONDONTWRITEBYTECODE"] = "1";
    std::string n = "python: PYTHONDONTWRITEBYTECODE=1, so Python writes no byte-code (__pycache__) into the venv, its "
                    "installation or a write path, and reads what was compiled at install time";
    if (python::python_args(q.command).isolated)
      n += "; the command runs Python with -E or -I, which ignores that variable: drop the option, or add -B";
    r.notes.push_back(std::move(n));
    return r;
  }
};

class Uv final : public Runtime {
 public:
  std::optional<RuntimeBinds> detect(const RuntimeQuery& q) const override {
    if (auto advice = python::uv_advice(q.command)) throw LaunchError("command", *advice, kExitCannotExecute);
    return std::nullopt;
  }
};

}  // namespace

const Runtime& python_runtime() {
  static const Python p;
  return p;
}

const Runtime& uv_runtime() {
  static const Uv u;
  return u;
}

}  // namespace mcpjail::planning
