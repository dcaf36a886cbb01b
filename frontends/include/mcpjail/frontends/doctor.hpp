// Front-ends over the host checks and the command table:
//   mcp-jail doctor [PROFILE] [--json] [--var NAME=VALUE]... [--write PATH]...
//   mcp-jail completion bash|zsh   (not listed in --help; used by the build)
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mcpjail/frontends/cli.hpp"

namespace mcpjail {

// `mcp-jail doctor`, parsed from the command table (cli/commands.cc). Exit
// status: 0 when the profile can run here for this user, 1 when not, 125
// for a profile error; throws cli::UsageError for a bad --var or --write.
int doctor_command(const cli::Arguments& args);

// ---- shell completion ----------------------------------------------------------

// One subcommand as completion sees it.
struct CompletionCommand {
  std::string name;                  // "run"
  std::vector<std::string> options;  // "--var", "--read", ...
  // The options that take a value ("--write", "-o"), and what completes the
  // value: "file", "profile" or "" (nothing).
  std::vector<std::pair<std::string, std::string>> values;
  int operands = 0;                  // how many operands follow the command (export: 2)
  bool takes_profile = false;        // the first operand is a PROFILE
  bool takes_file = false;           // ... or a file (wrap CONFIG.json)
  std::vector<std::string> choices;  // ... or one of these words (export: oci, k8s)
  bool profile_second = false;       // the second operand is a PROFILE (export oci|k8s PROFILE)
  bool takes_server = false;         // the server's command follows the operands (run, check, pin, export)
};

// The subcommands of this mcp-jail and their options, from the command
// table (cli::commands()).
std::vector<CompletionCommand> completion_table();

// Completion scripts for `table`, with `profiles` as the built-in profile names.
std::string bash_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles);
std::string zsh_completion(const std::vector<CompletionCommand>& table, const std::vector<std::string>& profiles);

// `args` are the words after "completion": "bash" or "zsh". Prints the script.
int completion_main(const std::vector<std::string>& args);

}  // namespace mcpjail
