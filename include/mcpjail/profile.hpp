// Profile: the parsed, validated and variable-expanded contents of a profile
// file and everything it extends. Loading is pure apart from reading files.
// Which key fills which member, and how `extends` combines it, is the schema's
// (mcpjail/profile_schema.hpp).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/errors.hpp"

namespace mcpjail {

// A path from the profile. `optional` paths may be missing on the host
// (written with a leading "-", as systemd does, or as { path = "...", optional = true }).
struct PathRule {
  std::string path;
  bool optional = false;
  SourceLoc loc;
};

// [pin]: sha256 pins of the server's own files, recorded by `mcp-jail pin`
// and checked by `run` before anything starts.
struct PinFile {
  std::string path;    // canonical absolute host path
  std::string sha256;  // 64 lowercase hex digits
  SourceLoc loc;
};
struct PinTree {
  std::string path;                  // canonical absolute host directory
  std::string sha256;                // of the tree's manifest (mcp-jail-profile(5))
  std::optional<std::uint64_t> files;  // regular files when pinned (informational)
  std::vector<std::string> exclude;  // relative paths left out, with all they hold
  SourceLoc loc;
};
struct Pins {
  std::vector<PinFile> files;
  std::vector<PinTree> trees;
  bool empty() const { return files.empty() && trees.empty(); }
};

enum class NetMode { None, Allowlist, Host };
enum class SeccompAction { Errno, Kill, Log };

struct Profile {
  int version = 1;
  std::string name;
  std::string description;
  std::vector<std::string> sources;      // files loaded, base first
  std::vector<std::string> best_effort;  // layers allowed to be skipped: "landlock", "limits"
  SourceLoc best_effort_loc;

  struct Exec {
    std::vector<PathRule> allow;
    std::optional<std::string> cwd;
    SourceLoc cwd_loc;
    std::optional<std::string> user;  // root mode only: name, uid or uid:gid
    SourceLoc user_loc;
    std::optional<std::string> hostname;
  } exec;

  struct Env {
    std::vector<std::string> pass;  // names; a trailing '*' matches a prefix
    std::map<std::string, std::string> set;
    // The server's HOME: a directory private to the launch, or kept in
    // ${PROFILE_STATE}/home between launches. Never the launcher's HOME.
    enum class Home { Private, State };
    Home home = Home::Private;
  } env;

  struct Filesystem {
    std::vector<PathRule> read, write, tmpfs, hide;
    // Trees whose files may be executed or mapped executable although they
    // are inside a writable mount (writable mounts are noexec otherwise).
    std::vector<PathRule> exec;
    // Protected names (launcher/plan/protect.cc): relative paths that stay
    // read-only inside every write path, or cannot be created there;
    // protect_home only in write paths that are home directories. unprotect
    // drops names of both ("*": all of them, and the nested repositories).
    std::vector<std::string> protect, protect_home, unprotect;
  } filesystem;

  struct Network {
    NetMode mode = NetMode::None;
    SourceLoc mode_loc;
    bool allow_host_network = false;
    std::vector<std::string> allow, allow_private, dns;
    std::vector<SourceLoc> allow_loc;  // one per `allow` entry, same order
  } network;

  struct Limits {
    std::optional<std::uint64_t> memory, pids, nofile, file_size, tmpfs_size;
    std::optional<double> cpu;
    std::chrono::milliseconds wall_time{0};
    SourceLoc cgroup_loc;  // where the first cgroup-backed limit was set
  } limits;

  struct Seccomp {
    std::string base = "default";
    std::vector<std::string> deny, allow;
    SeccompAction action = SeccompAction::Errno;
  } seccomp;

  struct Audit {
    std::string log = "stderr";  // stderr | none | absolute path
  } audit;

  Pins pin;
  // ${PROFILE_STATE}: the directory private to this profile for state kept
  // between runs, ${XDG_STATE_HOME:-$HOME/.local/state}/mcp-jail/<name>, where
  // <name> is the name of the top-level profile (not of what it extends).
  // Empty when it cannot be formed; state_error then says why.
  std::string state_dir;
  std::string state_error;
  bool state_used = false;  // ${PROFILE_STATE} appears in the profile or a profile it extends
};

// Inputs for variable expansion: ${HOME}, ${PWD}, ${PROFILE_DIR},
// ${PROFILE_STATE}, ~ and --var.
struct LoadOptions {
  std::string home;
  std::string pwd;
  std::string state_home;  // $XDG_STATE_HOME when set and absolute; empty: ${HOME}/.local/state
  std::map<std::string, std::string> vars;  // from --var NAME=VALUE
};

// True when `name` can name a state directory: 1-64 letters, digits, '.',
// '_' or '-', not starting with '.'.
bool valid_state_name(std::string_view name);

struct BuiltinProfile {
  const char* name;
  const char* text;
};
const std::vector<BuiltinProfile>& builtin_profiles();

// True when `spec` names a profile file rather than a built-in profile.
bool is_profile_path(std::string_view spec);

// An environment variable name as profiles and --env take them: letters,
// digits and '_', not starting with a digit.
bool is_env_name(std::string_view name);

// Loads a built-in profile by name, or a file by path. Throws ProfileError.
Profile load_profile(const std::string& spec, const LoadOptions& opts);

// Loads profile text held in memory (tests, fuzzing). `display_name` appears
// in error locations; `profile_dir` is ${PROFILE_DIR} (empty: undefined).
Profile load_profile_text(std::string_view text, const std::string& display_name,
                          const std::string& profile_dir, const LoadOptions& opts);

// The `description` of a profile text, without loading it (no variables needed).
std::string profile_description(std::string_view text);

// Profiles larger than this are refused before parsing.
inline constexpr std::size_t kMaxProfileBytes = 1 << 20;

}  // namespace mcpjail
