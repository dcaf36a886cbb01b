// The command line of mcp-jail: one table of commands and their options, as
// data. Every command is parsed from it by the same code (parse(), over
// Boost.Program_options), and its --help, the usage summary and the
// synopsis lines of man/mcp-jail.1 are written from it, in the same words
// (a unit test holds the man page to the table). Shell completions can be
// generated from it as well.
//
// The server's command: for a command that takes one (run, check, pin,
// export), it is the first argument after PROFILE that is not an option of mcp-jail; "--"
// may stand before it, and must when the command's name starts with "-".
// Options may stand before or after PROFILE. Everything from the server's
// command on is the server's: passed on unchanged, never parsed.
#pragma once
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/plan.hpp"

namespace mcpjail::cli {

// What an option's value or an operand is: for completions.
enum class ValueKind {
  None,     // a switch: no value
  Text,     // anything
  Path,     // a file or directory
  File,     // a file
  Profile,  // a built-in profile name or a .toml file
  Var,      // NAME=VALUE
  EnvName,  // NAME or NAME=VALUE of an environment variable
  Audit,    // stderr, none or a file
  Choice,   // one of the words of the operand's name, split at '|' ("oci|k8s")
};

struct OptionSpec {
  std::string_view name;      // long name, without "--"
  char short_name = 0;        // 0: none
  std::string_view value;     // its placeholder, as --help and the man page write it; empty: a switch
  bool repeatable = false;    // may be given more than once; the values are kept in order
  ValueKind kind = ValueKind::None;
  std::string_view help;      // one line for --help
  bool required = false;      // the synopsis writes it without brackets (by its short name when it has
                              // one); the command's handler checks that it was given
};

// Whether a command takes a server's command after its operand.
enum class ServerCommand { None, Optional, Required };

struct CommandSpec {
  std::string_view name;
  std::string_view operand;   // "PROFILE", "CONFIG.json"; empty: none
  ValueKind operand_kind = ValueKind::None;
  ServerCommand server = ServerCommand::None;
  std::span<const OptionSpec* const> options;  // --help (-h) is every command's and not listed
  std::string_view summary;     // one line, for `mcp-jail --help`
  std::string_view description; // a paragraph for `mcp-jail COMMAND --help`
  bool operand_optional = false;  // the operand may be left out ("[PROFILE]")
  std::string_view operand2 = {}; // a second operand after the first ("PROFILE" of export); empty: none
  ValueKind operand2_kind = ValueKind::None;
};

// Every command, in the order the usage summary lists them.
std::span<const CommandSpec> commands();
// The command named `name`, or nullptr.
const CommandSpec* find_command(std::string_view name);
// The command named `name`; it must exist.
const CommandSpec& command(std::string_view name);

// A command line that cannot be parsed: the message, without the usage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A parsed command line.
struct Arguments {
  const CommandSpec* command = nullptr;
  std::string operand;                                       // PROFILE, CONFIG.json; "" when optional and left out
  std::string operand2;                                      // the second operand (export's PROFILE)
  std::map<std::string, std::vector<std::string>> options;  // long name -> values (switches: one "")
  bool help = false;                                         // --help or -h
  bool dashdash = false;                                     // "--" stood before the server's command
  std::vector<std::string> server;                           // the server's command and arguments, unparsed

  bool has(std::string_view name) const { return options.count(std::string(name)) > 0; }
  // The values of a repeatable option, in order; empty when not given.
  const std::vector<std::string>& values(std::string_view name) const;
  // The value of an option given once; "" when not given.
  std::string value(std::string_view name) const;
};

// Parses `args`, the arguments after the command's name. With --help only
// that is checked (help is set). Throws UsageError: an unknown option, a
// missing or unexpected value, an option given twice that may be given
// once, a missing operand or server command, an extra argument.
Arguments parse(const CommandSpec& command, std::span<const std::string> args);

// "mcp-jail run PROFILE [--var NAME=VALUE]... [--] COMMAND [ARG]..."
std::string synopsis(const CommandSpec& command);
// The usage line, the description and the options of one command (--help).
std::string help(const CommandSpec& command);
// Every command's synopsis and a few lines on PROFILE, "--" and exit status.
std::string usage();

// The Invocation of this process with what the command line adds to it:
// --var, --read, --write, --env, --audit-log, the operand as PROFILE and
// the server's command. Throws UsageError for a value that is not allowed.
Invocation invocation(const Arguments& args);

// Parses and runs one mcp-jail command; returns the process exit status.
int main(int argc, char** argv);

}  // namespace mcpjail::cli
