// `mcp-jail wrap`: route the stdio servers of an MCP host configuration
// (Claude Desktop, Cursor, VS Code) through `mcp-jail run`.
//
// Shapes recognised (all that are present are rewritten):
//   {"mcpServers": {NAME: ENTRY}}            Claude Desktop, Cursor, Claude Code .mcp.json
//   {"servers": {NAME: ENTRY}, "inputs": []} VS Code .vscode/mcp.json
//   {"mcp": {"servers": {NAME: ENTRY}}}      VS Code settings.json
// The file may be JSONC (// and /* */ comments, trailing commas), as VS Code
// writes it. Only the "command" and "args" of a rewritten entry change; every
// other byte of the file (comments, key order, indentation, line ends, env,
// cwd, keys wrap does not know) is kept, so the diff is one or two lines per
// server; a comment inside a rewritten "args" array goes with the array.
//
// A stdio ENTRY {command, args?, env?, cwd?, ...} becomes
//   "command": "<this mcp-jail binary>",
//   "args": ["run", PROFILE, [--var NAME=VALUE | --write DIR]..., [--env NAME]..., "--", <command>, <args>...]
// ("--" is written although `run` does not need it: it keeps a command whose
// name starts with "-" the server's, and shows where mcp-jail's part ends)
// with one `--env NAME` per key of "env", in file order: the host puts the
// block's variables in mcp-jail's environment, and mcp-jail passes exactly
// those names on (the jail's environment is an allowlist). "env" itself is
// kept as it is; its values never appear in the arguments. A key that is not
// a variable name (letters, digits, _) is left out, with a remark.
//
// An entry is stdio when its "type" (or Cline's "transportType") is "stdio",
// or when it has neither of those and no "url"/"serverUrl" but a "command".
// Left untouched, and reported:
//   - not stdio: "type" http, sse, streamable-http, ..., or a "url";
//   - already wrapped: the command's file name is "mcp-jail" (any mcp-jail
//     binary) and the first argument is "run" - so wrapping twice changes nothing.
//     The report names the "env" keys that neither an --env of the entry nor
//     its profile's [env] pass passes on (an entry wrapped before wrap wrote
//     --env, or by hand), when the profile can be inspected; the entry's
//     arguments are read as `run` reads them (mcpjail/frontends/cli.hpp);
//   - container launchers (command docker, podman, nerdctl): the server runs in
//     the container runtime's sandbox, started through a daemon socket that a
//     jail does not (and must not) reach;
//   - entries wrap cannot read: not an object, no string "command", "args" not
//     an array of strings.
//
// Profile choice, per server (unless --profile NAME is given for all):
//   The catalog (frontends/wrap/catalog.cc) first: a row names a server's
//   packages in each form ("@modelcontextprotocol/server-github",
//   "mcp-server-time", the module "mcp_server_time"), matched as whole
//   words with any version or path around them ("...@1.2.3", "...==0.6",
//   "/x/node_modules/@modelcontextprotocol/server-NAME/dist/index.js"); the
//   first argument (in command-line order) that names a row decides. A row
//   with a built-in profile gets it, its path arguments filling the
//   profile's variables (filesystem: WORKSPACE; git: REPO from --repository).
//   Else, a built-in profile NAME (other than "base") matches a server whose
//   command or arguments name "@modelcontextprotocol/server-NAME",
//   "mcp-server-NAME" or "mcp_server_NAME".
// Profiles wrap writes (with options.config_path; without it, "base"): a
//   row without a built-in profile (or whose profile this build lacks) and a
//   server the catalog does not know get a profile of their own, extending
//   base. A row's: its network allowlist, [env] pass of its variables, its
//   path arguments. An unknown server's: no network; its directory
//   arguments (also --opt=DIR) writable, file arguments read-only; "env"
//   values that are paths read-only, or writable (a directory; a file's
//   directory) when the name holds DATA, DIR, DB, MEMORY, STATE, ...; never
//   /, a top-level directory, the home directory or above, and a directory
//   holding the server's program only read-only. The report says which and
//   why, and the `mcp-jail learn` line that refines it.
//   Its place: CONFIGDIR/STEM.mcp-jail/FILE.toml (STEM: the configuration's
//   file name without .json), unless a directory a server of the
//   configuration may write (a --write, a WORKSPACE, a written profile's
//   write path; a host variable could be any) holds it; then
//   CONFIG_HOME/mcp-jail/wrap/STEM-HASH/FILE.toml; neither: not wrapped.
//   Its name (so its ${PROFILE_STATE}, npx's cache) is the entry's with a
//   hash of the configuration's path, the section and the entry. Its first
//   line records the sha256 of the rest: a file holding exactly the text is
//   Unchanged, one wrap wrote and nobody edited is rewritten (Update), any
//   other is Kept (remarked on); a path that is no regular file: not wrapped.
// Variables: a profile that needs ${WORKSPACE} (filesystem does) gets the
//   server's directories. For the filesystem server (matched as above) these
//   are the arguments after the (last) one naming the package that do not start
//   with "-": the first is `--var WORKSPACE=DIR`, each further one `--write DIR`.
//   A profile that needs ${REPO} (git does) gets a git server's repository:
//   the value of --repository or -r after the argument naming mcp-server-git
//   (mcp_server_git), as `--var REPO=DIR`.
//   For any other server (and a git server without either), its "cwd" when
//   that is absolute.
//   A leading "~" is expanded with HOME; a relative directory is taken
//   relative to the entry's "cwd" when that is absolute; a value starting with
//   "${" is left for the host to substitute (VS Code's ${workspaceFolder}).
//   When the chosen profile still needs a variable wrap cannot tell, the
//   server falls back to "base" (automatic choice) or is left untouched
//   (--profile), and the report says which variable. (What a profile needs is
//   found by loading it: without variables, then with WORKSPACE, then with
//   REPO.)
// "envFile" (Cursor): a file of NAME=VALUE lines (dotenv: # comments,
//   "export NAME=...") the host loads into the server's environment; its
//   names get `--env NAME` like "env" keys (values are never read into the
//   arguments). A relative path is taken from the configuration's directory;
//   one wrap cannot read (a host variable in it, missing) is remarked on.
// A variable the profile sets to a path (memory: MEMORY_FILE_PATH, into its
//   state directory) that the entry's "env" sets to a path of its own: the
//   entry's file is kept, `--write DIR --env NAME` with DIR the file's
//   directory (servers replace such files by renaming a new one over them),
//   unless DIR is /, a top-level directory, or the home directory or above
//   it; then the profile's value stays, remarked on.
// Remarks in the report, for wrapped servers: "env" keys that cannot be
//   passed (not variable names), an unreadable "envFile", and npx/uvx-style runners,
//   which download the server at start-up and so cannot start under a profile
//   with network "none".
#pragma once
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail {

namespace cli {
struct Arguments;
}

struct WrapOptions {
  std::string jail_path;  // absolute path written as "command"
  std::string profile;    // --profile NAME: for every server; empty: choose per server
  // --profile SERVER=NAME: for the entries called SERVER (in any section);
  // wins over `profile`. A SERVER that names no entry is a WrapError.
  std::map<std::string, std::string> server_profiles;
  // Where an entry's relative "envFile" is found (the configuration's
  // directory). Empty: wrap looks at no file of the host's ("envFile" is
  // only remarked on, path-valued env entries are not followed).
  std::string env_file_dir;
  std::string home;       // expands a leading ~ in directory arguments; empty: none
  // The configuration's own path (symbolic links resolved) and the user's
  // configuration directory (${XDG_CONFIG_HOME:-$HOME/.config}). With
  // config_path set, a server the catalog has no built-in profile for gets
  // a profile written for it (WrapResult::profiles); empty: it gets base.
  std::string config_path;
  std::string config_home;
};

// A profile wrap writes for a server (see "Profiles wrap writes" above).
struct GeneratedProfile {
  enum class State {
    New,        // to be written
    Update,     // wrap wrote it before, unedited, and would now write other text: to be rewritten
    Unchanged,  // holds exactly this text already
    Kept,       // edited since wrap wrote it, or not written by wrap: left as it is
  };
  std::string path;  // absolute
  std::string text;  // what wrap writes (for Kept: what it would have written)
  State state = State::New;
  std::string server;  // the entry it is for
};

enum class WrapAction {
  Wrapped,         // now runs through mcp-jail
  AlreadyWrapped,  // command is mcp-jail already
  NotStdio,        // http / sse / url
  Skipped,         // container launcher, malformed entry, or missing variable
};

struct ServerReport {
  std::string section;  // "mcpServers", "servers" or "mcp.servers"
  std::string name;
  WrapAction action = WrapAction::Skipped;
  std::string profile;                // Wrapped: the profile used
  std::vector<std::string> jail_args; // Wrapped: the arguments between "run PROFILE" and "--"
  std::string note;                   // why; for Wrapped, what to look at (one remark a line)
};

struct WrapResult {
  std::string text;  // the rewritten configuration (== input when nothing changed)
  bool changed = false;
  std::vector<ServerReport> servers;
  std::vector<GeneratedProfile> profiles;  // written before the configuration
};

// A configuration wrap refuses. line/column are 1-based (column in characters)
// for a syntax error, 0 otherwise.
class WrapError : public std::runtime_error {
 public:
  WrapError(const std::string& message, std::size_t line = 0, std::size_t column = 0)
      : std::runtime_error(message), line_(line), column_(column) {}
  std::size_t line() const { return line_; }
  std::size_t column() const { return column_; }

 private:
  std::size_t line_, column_;
};

// Configurations larger than this are refused before parsing.
inline constexpr std::size_t kMaxConfigBytes = 8 << 20;

// Rewrites a configuration held in memory. Pure apart from reading a profile
// file named by options.profile, the files of options.env_file_dir, and (with
// options.config_path) looking at the paths of the servers' arguments and
// env and reading the profiles wrap wrote before. Throws WrapError.
WrapResult wrap_config(std::string_view text, const WrapOptions& options);

// `mcp-jail unwrap` puts each wrapped entry back: one whose command's file
// name is "mcp-jail" and whose arguments are `run ...`. What it ran is read
// as `run` reads its arguments: the server's command and arguments. Only its
// "command" and "args" change; every other byte of the file (edits made since
// wrap included) stays. `earlier` are configurations the file was before
// (wrap's backups): when one holds the same entry (section, position, name)
// running exactly that command line unwrapped, its own text of "command" and
// "args" is put back byte for byte (so unwrap after wrap gives the file back
// as it was, a missing "args" too); otherwise the values are written in the
// entry's current layout. Entries not wrapped are left alone. Throws
// WrapError for a file wrap would refuse, and for a wrapped entry edited by
// hand so that its arguments are no `run` command line (naming the entry).
enum class UnwrapAction {
  Restored,    // runs its own command again
  NotWrapped,  // left as it is
};

struct UnwrapReport {
  std::string section;
  std::string name;
  UnwrapAction action = UnwrapAction::NotWrapped;
  std::string note;
};

struct UnwrapResult {
  std::string text;
  bool changed = false;
  std::vector<UnwrapReport> servers;
};

UnwrapResult unwrap_config(std::string_view text, const std::vector<std::string>& earlier);

// A unified diff of two texts, line by line, with 3 lines of context;
// empty when they are equal.
std::string unified_diff(std::string_view before, std::string_view after, const std::string& from_name,
                         const std::string& to_name);

// `mcp-jail wrap CONFIG.json [--dry-run] [--profile NAME]`: rewrites the file
// (a backup first) or prints the diff. Returns the exit status.
int wrap_command(const cli::Arguments& args);

// `mcp-jail unwrap CONFIG.json [--dry-run]`: the backups wrap wrote beside the
// file (REAL.mcp-jail[.STAMP].bak) are the earlier configurations; the file is
// rewritten (a backup first) or the diff printed. Returns the exit status.
int unwrap_command(const cli::Arguments& args);

}  // namespace mcpjail
