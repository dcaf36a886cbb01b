// Command pass: the command's own files. The executable; for a `#!` script
// its interpreter and the program a `#!/usr/bin/env` line names (found by
// the exec resolver on the server's PATH, as env will find it in the jail);
// for an interpreter followed by a script, the script's project; for a
// Python virtual environment's console script or interpreter, the venv and
// its Python installation (runtime_python.cc). Returned as
// binds for the filesystem (add_auto_binds) and files for Landlock.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcpjail/exec_resolve.hpp"
#include "mcpjail/plan/passes.hpp"
#include "mcpjail/plan/runtime_python.hpp"

namespace mcpjail::planning {

namespace {

constexpr int kProjectSearchLevels = 4;

std::string parent_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

std::string base_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

bool regular_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_interpreter(const std::string& name) {
  static const char* const names[] = {"node", "nodejs", "python", "python3", "ruby", "perl", "deno", "bun", "tsx", "ts-node", "php"};
  for (const char* n : names)
    if (name == n) return true;
  return name.starts_with("python3.");
}

class Resolver {
 public:
  Resolver(Context& c, const TrustPolicy& trust) : c_(c), trust_(trust) {}

  CommandPlan run(const std::string& jail_path) {
    const auto& command = c_.inv.command;
    if (command.empty()) {
      if (!c_.inv.require_command) return {};
      throw LaunchError("command", "no command given after --");
    }
    const std::string& cmd = command[0];
    if (cmd.empty()) throw LaunchError("command", "the command after -- is an empty string");
    const std::string found = cmd.find('/') != std::string::npos ? absolute(cmd) : in_launcher_path(cmd);
    out_.argv = command;
    std::string exe_canonical;
    if (const std::string venv = venv_interpreter(found); !venv.empty()) {
      // A venv's interpreter (VENV/bin/python -m MODULE, VENV/bin/python
      // script.py): run through the venv's link, which the jail follows.
      exe_canonical = add_venv(venv, found, "the command " + found);
      out_.exe = exe_canonical;
    } else {
      auto exe = resolve_file(found, "command", kExitNotFound);
      if (exe.type != ObjType::File) throw LaunchError("command", found + " is not a regular file", kExitCannotExecute);
      if (::faccessat(exe.fd.get(), "", X_OK, AT_EMPTY_PATH) != 0 && ::access(exe.canonical.c_str(), X_OK) != 0)
        throw LaunchError("command", found + ": not executable", kExitCannotExecute);
      exe_canonical = exe.canonical;
      out_.exe = exe.canonical;
      add(exe.canonical, false, "command executable");
      out_.exec_files.push_back(exe.canonical);
    }

    // A script with a #! line: its interpreter, and the script's project.
    if (auto sb = exec::parse_shebang(exec::read_head(exe_canonical)); sb && !sb->interpreter.empty()) {
      const std::string of = "interpreter of " + exe_canonical;
      if (const std::string venv = venv_interpreter(sb->interpreter); !venv.empty()) {
        // A venv's console script (#!VENV/bin/python): the venv is its project.
        add_venv(venv, sb->interpreter, "the console script " + exe_canonical);
      } else {
        auto interp = resolve_file(sb->interpreter, of, kExitCannotExecute);
        add(interp.canonical, false, of);
        out_.exec_files.push_back(interp.canonical);
        if (base_of(sb->interpreter) == "env" || base_of(interp.canonical) == "env") {
          const std::string prog = env_program(exe_canonical, *sb, jail_path);
          if (!prog.empty()) {
            auto real = resolve_file(prog, of, kExitCannotExecute);
            add(real.canonical, false, of);
            out_.exec_files.push_back(real.canonical);
          }
        }
        // A script in a venv's bin that starts its Python some other way
        // (pip's "#!/bin/sh" form for long paths).
        if (const std::string venv = python::venv_of_bin(exe_canonical); !venv.empty())
          add_venv(venv, "", "the console script " + exe_canonical);
        else
          add_script_project(exe_canonical);
      }
    }
    // An interpreter followed by a script path.
    if (is_interpreter(base_of(cmd)) || is_interpreter(base_of(exe_canonical))) {
      for (std::size_t i = 1; i < command.size(); ++i) {
        const std::string& a = command[i];
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
        auto w = safe_walk(c_.root(), normalize_absolute(path, nullptr).value_or(path), trust_);
        if (!w.error.empty()) throw LaunchError("command", "script " + a + ": " + w.error, kExitCannotExecute);
        if (w.type == ObjType::File) {
          out_.script = w.canonical;
          add_script_project(w.canonical);
        }
        break;
      }
    }
    return std::move(out_);
  }

 private:
  void add(const std::string& canonical, bool is_dir, std::string why) {
    out_.binds.push_back({canonical, is_dir, std::move(why)});
  }

  // VENV when `path` is a Python interpreter in a venv's bin, else "".
  static std::string venv_interpreter(const std::string& path) {
    return python::is_python_name(base_of(path)) ? python::venv_of_bin(path) : std::string();
  }

  // The venv rule (runtime_python.hpp): the venv and its installation,
  // read-only; its interpreter may run. Returns that interpreter.
  std::string add_venv(const std::string& venv, const std::string& interpreter, const std::string& role) {
    python::VenvPlan v = python::plan_venv(c_, trust_, venv, interpreter, role);
    for (auto& b : v.binds) out_.binds.push_back(std::move(b));
    out_.exec_files.push_back(v.interpreter);
    out_.followed_in_jail.push_back(v.interpreter);
    out_.project = v.venv;
    return v.interpreter;
  }

  // COMMAND without a slash: the launcher's PATH, as execvp does.
  std::string in_launcher_path(const std::string& name) const {
    auto it = c_.inv.host_env.find("PATH");
    const std::string path = it != c_.inv.host_env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
    const exec::Found f = exec::search_path(name, path, {.relative_entries = true});
    if (!f.path.empty()) return f.path;
    if (f.not_executable)
      throw LaunchError("command", name + ": found in PATH but not executable", kExitCannotExecute);
    throw LaunchError("command", name + ": command not found (PATH=" + path + ")", kExitNotFound);
  }

  // The program `#!/usr/bin/env ...` runs in the jail: env searches the
  // server's PATH. "" when the line names none.
  std::string env_program(const std::string& script, const exec::Shebang& sb, const std::string& jail_path) const {
    const std::string line = script + ": \"#!" + sb.line + "\"";
    const exec::EnvCommand e = exec::env_of_shebang(sb);
    if (!e.error.empty()) throw LaunchError("command", line + " " + e.error, kExitCannotExecute);
    if (e.program.empty() || e.program[0] == '/') return e.program;
    if (e.program.find('/') != std::string::npos)
      throw LaunchError("command", line + ": " + e.program +
                                       " is relative to the server's working directory; name it by its absolute path",
                        kExitCannotExecute);
    const exec::Found f = exec::search_path(e.program, jail_path);
    if (!f.path.empty()) return f.path;
    if (f.not_executable)
      throw LaunchError("command", line + ": " + e.program + " is on the server's PATH but not executable (PATH=" +
                                       jail_path + ")",
                        kExitCannotExecute);
    throw LaunchError("command", line + ": " + e.program + ": command not found on the server's PATH (PATH=" +
                                     jail_path + ")",
                      kExitNotFound);
  }

  // The resolved file, with symlinks followed under the trust policy.
  WalkResult resolve_file(const std::string& path, const std::string& what, int missing_code) const {
    std::string err;
    auto norm = normalize_absolute(path, &err);
    if (!norm) throw LaunchError("command", what + " " + path + ": " + err, missing_code);
    auto w = safe_walk(c_.root(), *norm, trust_);
    if (!w.error.empty()) throw LaunchError("command", what + " " + path + ": " + w.error, kExitCannotExecute);
    if (w.type == ObjType::Missing) throw LaunchError("command", what + " " + path + ": not found", missing_code);
    return w;
  }

  std::string absolute(const std::string& p) const {
    if (p.starts_with("/")) return p;
    return (c_.inv.load.pwd == "/" ? "" : c_.inv.load.pwd) + "/" + p;
  }

  // The "project" of a script: for a script inside node_modules the
  // directory holding the outermost node_modules; else the nearest ancestor
  // holding package.json or pyproject.toml (a few levels up); never / or $HOME.
  void add_script_project(const std::string& script) {
    const std::string home = c_.inv.load.home;
    auto acceptable = [&](const std::string& dir) { return dir != "/" && dir != home && !dir.empty(); };
    if (auto nm = script.find("/node_modules/"); nm != std::string::npos) {
      const std::string dir = nm == 0 ? "/" : script.substr(0, nm);
      if (acceptable(dir)) {
        out_.project = dir;
        return add(dir, true, "script project (holds node_modules of " + script + ")");
      }
    }
    std::string dir = parent_of(script);
    for (int level = 0; level <= kProjectSearchLevels && acceptable(dir); ++level) {
      for (const char* marker : {"package.json", "pyproject.toml"}) {
        if (regular_file(dir + "/" + marker)) {
          out_.project = dir;
          return add(dir, true, std::string("script project (") + marker + " of " + script + ")");
        }
      }
      dir = parent_of(dir);
    }
    const std::string own = parent_of(script);
    if (acceptable(own)) {
      out_.project = own;
      return add(own, true, "script directory of " + script);
    }
    add(script, false, "script " + script);
  }

  Context& c_;
  const TrustPolicy& trust_;
  CommandPlan out_;
};

}  // namespace

CommandPlan resolve_command(Context& c, const TrustPolicy& trust, const std::string& jail_path) {
  return Resolver(c, trust).run(jail_path);
}

}  // namespace mcpjail::planning
