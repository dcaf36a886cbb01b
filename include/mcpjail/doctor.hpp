// Front-ends over the host checks and the command table:
//   mcp-jail doctor [PROFILE] [--json] [--var K=V]... [--write P]...
//   mcp-jail completion bash|zsh   (not listed in --help; used by the build)
#pragma once
#include <string>
#include <vector>

namespace mcpjail {

// `args` are the words after "doctor". Exit status: 0 when the profile can
// run here for this user, 1 when not, 125 for a usage or profile error.
int doctor_main(const std::vector<std::string>& args);

// ---- shell completion ----------------------------------------------------------

// One subcommand as completion sees it.
struct CompletionCommand {
  std::string name;                  // "run"
  std::vector<std::string> options;  // "--var", "--read", ...
  bool takes_profile = false;        // the first word after it is a PROFILE
  bool takes_file = false;           // ... or a file (wrap CONFIG.json)
};

// The subcommands of this mcp-jail and their options.
std::vector<CompletionCommand> completion_table();

// Completion scripts for `table`, with `profiles` as the built-in profile names.
std::string bash_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles);
std::string zsh_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles);

// `args` are the words after "completion": "bash" or "zsh". Prints the script.
int completion_main(const std::vector<std::string>& args);

}  // namespace mcpjail
