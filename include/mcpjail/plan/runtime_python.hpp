// Python servers (launcher/plan/runtime_python.cc): virtual environments in
// the command's own files, byte-code, and the runners that download a server
// at start (uvx, `uv run`), which mcp-jail does not run.
//
// A venv is found by its pyvenv.cfg, for a command that is the venv's
// console script (VENV/bin/NAME, `#!VENV/bin/python`), its interpreter
// (VENV/bin/python -m MODULE, VENV/bin/python script.py), or reached through
// a symlink to either (pipx: ~/.local/bin/NAME -> .../pipx/venvs/NAME/bin/NAME).
// The venv is bound read-only, with the installation its `home =` names, and
// its interpreter may execute.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning::python {

// ---- pure ----

// pyvenv.cfg as CPython's site.py reads it: "key = value" lines, keys
// trimmed and compared in lower case, values trimmed; other lines ignored.
struct PyvenvCfg {
  std::string home;                           // the directory of the interpreter the venv was made from
  bool include_system_site_packages = false;  // "true" in any letter case
  std::string version;                        // "version" (venv) or "version_info" (uv); "" when absent
};
PyvenvCfg parse_pyvenv_cfg(std::string_view text);

// python, python3, python3.11, python3.13t: a name a Python interpreter goes by.
bool is_python_name(std::string_view base);

// What follows a Python interpreter (command[0]) on its command line.
struct PyArgs {
  std::string module;  // -m MODULE
  std::string script;  // the script path, as written
  bool code = false;   // -c CODE
  bool isolated = false;  // -E or -I: PYTHON* variables are ignored
};
PyArgs python_args(const std::vector<std::string>& command);

// The directory of a Python installation, from the directory of its
// interpreter (pyvenv.cfg's home): its parent when that is named bin.
std::string install_prefix(const std::string& home);

// For `uvx PKG`, `uv run`, `uv tool run`: what to do instead (they download
// the server at start); nullopt for any other command.
std::optional<std::string> uv_advice(const std::vector<std::string>& command);

// ---- on the host ----

// VENV when `path` is VENV/bin/NAME and VENV/pyvenv.cfg is a regular file
// (lexical: `path` is not resolved); "" otherwise.
std::string venv_of_bin(const std::string& path);

// Whether the command, as the launcher finds it (PATH, working directory),
// is Python: an interpreter by name, a file of a venv's bin, or a script
// whose #! line runs Python (directly or through env). Informational: it
// decides the byte-code setting, nothing that is bound.
bool command_is_python(const Invocation& inv);

// ---- the planner's venv rule (command.cc) ----

struct VenvPlan {
  std::string venv;         // canonical
  std::string interpreter;  // VENV/bin/NAME: what runs it (a symlink the jail follows)
  std::vector<AutoBind> binds;
};
// The venv `venv` (lexical) whose interpreter `interpreter` (VENV/bin/NAME,
// "" for its python3) runs the command; `role` says how the command uses it.
// LaunchError("command", 126) when the venv cannot be used, saying why.
VenvPlan plan_venv(Context& c, const TrustPolicy& trust, const std::string& venv, const std::string& interpreter,
                   const std::string& role);

// After the mounts are ordered: each of `paths` (files the jail executes
// through symlinks it follows itself) leads, link by link, to a file the
// jail sees. LaunchError("command", 126) naming the first link that leaves
// the jail's view.
void check_followed_in_jail(const std::vector<MountStep>& mounts, const std::vector<std::string>& paths);

}  // namespace mcpjail::planning::python

namespace mcpjail::planning {
// The runtime adapters (runtime.hpp): Python (byte-code is not written) and
// uv's runners (refused, with what to do instead).
const Runtime& python_runtime();
const Runtime& uv_runtime();
}  // namespace mcpjail::planning
