// Executables: what the kernel and env(1) open to run a file. The one
// resolver of `#!` lines, `#!/usr/bin/env` command lines, PATH searches and
// ELF interpreters, used by the planner (the command's interpreter), by
// Landlock (the exec closure of exec.allow) and by the watch (which execs
// the plan allows).
#pragma once
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail::exec {

// A file that cannot be resolved. Callers name their layer (Landlock turns
// it into LaunchError("landlock", ...)).
class ResolveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The search path of execvp() when PATH is unset (glibc: confstr(_CS_PATH)).
inline constexpr const char* kDefaultSearchPath = "/bin:/usr/bin";

// The PATH the server's execvp() searches: PATH in `env` ("NAME=value"
// entries, as Plan::env), or kDefaultSearchPath when it has none.
std::string jail_search_path(const std::vector<std::string>& env);

// A `#!` line as the kernel reads it (binfmt_script): the first line, blanks
// (space, tab) trimmed at both ends; the interpreter up to the first blank;
// the rest, blanks skipped, as at most one argument.
struct Shebang {
  std::string interpreter;  // "" for a line that names none
  std::string arg;          // "" when there is none
  std::string line;         // what follows "#!", trimmed, for messages
};
// nullopt when `head` (the first bytes of a file) does not start with "#!".
std::optional<Shebang> parse_shebang(std::string_view head);

// What env(1) runs with `args`, the words it gets before the script path:
// options (-i, -0, -v, -u NAME, -C DIR, -S STRING, "-", their long forms and
// the signal options; stopping at the first word that is not one, as env's
// getopt does), NAME=VALUE assignments, then the program and its arguments.
// -S splits its string as env does (blanks, '...' and "..." quotes, backslash
// escapes, a # comment) and reads the words it gives as if written there.
struct EnvCommand {
  std::vector<std::string> assignments;  // NAME=VALUE, in order
  std::string program;                   // "" when none is named (env would run the script itself)
  std::vector<std::string> args;
  std::string error;                     // why env cannot run it as written; then nothing else is set
};
EnvCommand parse_env(const std::vector<std::string>& args);
// For a `#!` line whose interpreter is env: its argument, one word, as the
// kernel passes it ("node --flag" is one program name without -S).
EnvCommand env_of_shebang(const Shebang& s);

// How a PATH is searched.
struct PathLookup {
  // The launcher's own search (the command typed on its command line):
  // empty and relative entries count, against the launcher's working
  // directory, as execvp does. Otherwise (a search inside the jail, whose
  // working directory is another) only absolute entries are searched.
  bool relative_entries = false;
  // When set, a candidate it rejects is passed over (e.g. not in the jail).
  std::function<bool(const std::string&)> visible;
};
struct Found {
  std::string path;             // "" when not found
  bool not_executable = false;  // a regular file of that name is on the path, but may not be executed
};
// `name` looked up in the ':'-separated `search_path`, as execvp does: the
// first entry holding a regular file `name` that may be executed
// (access(X_OK), with the caller's ids).
Found search_path(std::string_view name, std::string_view search_path, const PathLookup& how = {});

// The first bytes of `path` that the kernel reads to decide how to run it
// (BINPRM_BUF_SIZE); "" when it cannot be read.
std::string read_head(const std::string& path);

// One file that gets the execute right, and why.
struct ExecFile {
  std::string path;  // as found (absolute; symlinks are followed when it is used)
  std::string why;   // "allowed", "ELF interpreter of /usr/bin/node", ...
};

// The files that must be executable for `files` to run: each file, the ELF
// interpreter (PT_INTERP) of every dynamically linked ELF, and for `#!`
// scripts the interpreter and, for `#!/usr/bin/env ... PROG`, PROG looked up
// in `search_path` (absolute entries only; "" stands for kDefaultSearchPath).
// Nested interpreters are followed to the kernel's own depth. Throws
// ResolveError for a missing file or an unsupported format (only ELF and
// `#!` are supported; binfmt_misc handlers are not).
std::vector<ExecFile> closure(const std::vector<std::string>& files, const std::string& search_path);

// The ELF interpreters (PT_INTERP) that the executable ELF files beneath
// `dir` name, each once: what an exec.allow directory needs besides itself.
// Links are not followed; at most `max_files` files are read (*truncated
// then says so). Unreadable files are passed over.
std::vector<std::string> elf_interpreters_beneath(const std::string& dir, std::size_t max_files, bool* truncated);

}  // namespace mcpjail::exec
