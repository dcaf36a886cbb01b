// Runtime adapters: what a package runner or language runtime named by the
// command needs in the jail beyond the profile (a package cache private to
// the profile, its settings, the programs it runs). One adapter per runtime,
// each in its own file (runtime_npx.cc, runtime_python.cc); runtimes() lists them. The planner
// asks each one about the command and folds what it returns into its passes:
//   binds, state_dirs     -> the filesystem pass (below ${PROFILE_STATE})
//   env_drop_prefixes, env -> the env pass (over [env] pass, under [env] set and --env)
//   exec_programs, exec_dirs -> Landlock, when exec.allow is empty
//   notes                 -> `check`, after everything else
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/plan.hpp"

namespace mcpjail::planning {

// What an adapter is told about the launch.
struct RuntimeQuery {
  const std::vector<std::string>& command;  // as written after --
  NetMode network;
  // ${PROFILE_STATE} as the profile formed it; "" when it cannot be formed
  // (then a runtime that needs it stops the launch before anything is used).
  const std::string& state_dir;
  const Identity& id;
  // The whole invocation (PATH, working directory), for adapters that look
  // at the command's file; null in tests that give none.
  const Invocation* inv = nullptr;
};

struct RuntimeBinds {
  std::string runtime;       // its name, for messages ("npx")
  std::string state_reason;  // non-empty: the runtime needs ${PROFILE_STATE}, and why
  struct StateBind {
    std::string path;  // absolute, below ${PROFILE_STATE}
    bool writable = false;
    std::string why;     // "npm package cache"
    std::string origin;  // where it comes from, as a profile entry's location would say
  };
  std::vector<StateBind> binds;          // bound from the state directory; `run` creates them when missing
  std::vector<std::string> state_dirs;   // below ${PROFILE_STATE}, inside a bind, that must exist at launch
  std::vector<std::string> env_drop_prefixes;  // passed launcher variables whose names start so, in any letter case, are dropped
  std::map<std::string, std::string> env;      // set in the server's environment
  struct Program {
    std::string name;  // looked up on the server's PATH, among the files visible in the jail
    std::string why;   // "npx runs packages through sh"
  };
  std::vector<Program> exec_programs;    // may be executed (when exec.allow is empty)
  std::vector<std::string> exec_dirs;    // anything beneath may be executed (when exec.allow is empty)
  std::vector<std::string> notes;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // What the runtime needs when the command is one of its own; nullopt otherwise.
  virtual std::optional<RuntimeBinds> detect(const RuntimeQuery& q) const = 0;
};

// Every adapter, in the order they are asked.
const std::vector<const Runtime*>& runtimes();

// The adapters (Python's and uv's: runtime_python.hpp).
const Runtime& npx_runtime();

}  // namespace mcpjail::planning
