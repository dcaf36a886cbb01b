// `mcp-jail learn`: runs a server in a learning jail (the host read-only,
// credentials hidden, no network), records what it reads, writes, executes
// and which denied system calls it tries, and writes a profile from that.
//   learn.cc    the command: the learning jail, the launch, the file
//   reduce.cc   observations -> profile entries (pure; unit-tested)
//   output.cc   the profile text, and reading back an earlier learned file
#pragma once
#include <signal.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/frontends/cli.hpp"

namespace mcpjail::learn {

int learn_command(const cli::Arguments& args);

// --exercise (exercise.cc): a forked MCP client on pipes that become this
// process's stdin and stdout (the server inherits them): initialize,
// tools/list, resources/list, prompts/list, then the server's stdin closes.
class Exerciser {
 public:
  Exerciser();  // throws LaunchError("learn", ...)
  ~Exerciser();
  Exerciser(const Exerciser&) = delete;
  Exerciser& operator=(const Exerciser&) = delete;
  // After the launch: waits for the client; true when the server answered
  // initialize.
  bool finish();

 private:
  int pid_ = -1;
  sigset_t old_mask_{};
};

// What one launch recorded ("learn" events of the audit log): path (or
// system call name) -> number of calls.
struct Observed {
  std::map<std::string, std::uint64_t> read, write, exec, syscalls;
  // Paths only looked at (stat, access, readlink, ...): "stat" events.
  std::map<std::string, std::uint64_t> stat;
  std::uint64_t dropped = 0;  // distinct paths beyond what the supervisor keeps
  // learn --network: the names the DNS filter answered, by address, and the
  // connections made ("tcp 192.0.2.1 443" -> count).
  std::map<std::string, std::vector<std::string>> names_of;
  std::map<std::string, std::uint64_t> connections;
};
// The "learn" events of an audit log (JSON lines); other lines are ignored.
Observed parse_events(std::string_view jsonl);

// A line of the profile and its evidence: how many calls, one example.
struct Entry {
  std::string value;
  std::uint64_t count = 0;
  std::string example;  // a path seen below `value` ("" when the same)
  // A read entry for a path the server only looked at (stat, access,
  // readlink): its existence is what it checked. Evidence "existence check".
  bool looked = false;
  bool operator==(const Entry&) const = default;
};

// What the reduction knows about the host and the launch.
struct Context {
  std::vector<std::string> homes;          // $HOME and the user database's homes: never granted whole
  std::vector<std::string> anchors;        // directories named on the command line, the project: a read below one is that root
  std::vector<std::string> write_through;  // paths named on the command line and --write: a write below one is that path
  std::vector<std::string> secrets;        // credentials: never granted, nor anything below them
  std::vector<std::string> own_files;      // the command's own files (its project): never made writable
  // Already visible, writable or executable in the profile being extended
  // with this command (no line needed).
  std::function<bool(const std::string&)> covered_read, covered_write, covered_exec;
  std::function<bool(const std::string&)> exists;  // on the host, now
  std::function<bool(const std::string&)> is_dir;
};

struct Learned {
  std::vector<Entry> read, write, exec, seccomp;
  std::vector<Entry> network;     // [network] allow: "name:port", or "address:port" when no name led there
  std::vector<Entry> refused;     // system calls of the escape classes: reported, never granted
  std::vector<std::string> notes;  // what was seen and not granted, and why
};

// System calls that are never granted, whatever a server tried: namespaces,
// mounts, bpf, ptrace, kernel modules, keyrings, io_uring, ...
bool escape_class(std::string_view syscall);

// The smallest root to grant for reading `path`: the anchor it lies in, a
// directory two levels below a home ($HOME/project, $HOME/.config/tool) or
// below /, or the file itself. "" when none may be granted (/, a home, a
// credential).
std::string read_root(const std::string& path, const Context& c);

// What to grant for a path the server only looked at (stat, access,
// readlink), or "" for nothing: the directory the command line names that
// holds it, else the path itself when it exists and is no shallower than
// the roots read_root() gives (two components below /, one below a home,
// two below its dot-directories, three below ~/.local: never /, a top-level
// directory, a home, ~/.config or a credential, nor a directory holding a
// home or a credential) and is no ancestor of what is granted or named
// anyway (a path walk, as realpath() makes, grants nothing).
std::string look_root(const std::string& path, const Context& c, const std::vector<std::string>& granted);

// Observations -> entries, sorted, collapsed (no entry below another).
Learned reduce(const Observed& o, const Context& c);

// Entries of two sessions: the union, collapsed; an entry both have keeps
// the earlier session's evidence, so an identical session changes nothing.
std::vector<Entry> merge(const std::vector<Entry>& earlier, const std::vector<Entry>& now, bool collapse);

// ---- The file (output.cc) ----------------------------------------------------

inline constexpr std::string_view kMarker = "# Learned by `mcp-jail learn`";

struct ProfileText {
  std::string name, extends, command;
  Learned learned;
  std::vector<std::string> env_pass;                   // --env NAME
  std::vector<std::pair<std::string, std::string>> env_set;  // --env NAME=VALUE
  std::vector<std::string> hide;                      // credentials inside granted roots
};
std::string render(const ProfileText& p);

// An earlier learned file: its entries with their evidence. False (and
// *why) when `text` is not a learned profile.
bool parse_learned(std::string_view text, ProfileText* out, std::string* why);

}  // namespace mcpjail::learn
