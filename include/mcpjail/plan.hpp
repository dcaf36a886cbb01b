// Plan: everything a launch will do, as plain data, in order. Built from a
// Profile and the command line by make_plan() (reads the host filesystem to
// resolve paths, changes nothing), printed by `mcp-jail check`, applied by
// the jail and the supervisor.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/profile.hpp"

namespace mcpjail {

enum class MountKind {
  Bind,     // host `source` at `target`, read-only unless `writable`
  Tmpfs,    // empty tmpfs of `size` bytes
  Mask,     // hide whatever is at `target` (inaccessible file or empty directory)
  Symlink,  // a symlink at `target` pointing to `source`
  File,     // a generated read-only file with `content`
  Proc,     // fresh procfs for the jail's pid namespace, sensitive parts masked
  Dev,      // minimal /dev
};

struct MountStep {
  MountKind kind = MountKind::Bind;
  std::string target;   // path inside the jail
  std::string source;   // canonical host path (Bind) or link target (Symlink)
  bool writable = false;
  // Bind/Tmpfs: files beneath may be executed or mapped executable. Writable
  // mounts are noexec unless this is set (filesystem.exec, the npx cache).
  bool exec = false;
  bool is_dir = true;   // Bind/Mask: directory or file
  std::uint64_t size = 0;
  std::string content;  // File
  std::string why;      // where it comes from, for `check`
  // Root launches: a writable bind whose owner is not the jail's user is
  // idmapped (idmap.hpp): files of this uid and gid appear as the jail's.
  std::optional<std::pair<uid_t, gid_t>> idmap_owner;
  // `mcp-jail learn` only (add_throwaway_layer): a read-only Bind of a
  // directory shown through the throw-away layer, an overlay whose lower is
  // the host's tree (never written) and whose upper lives in a tmpfs of the
  // jail: writes succeed there and vanish with the jail. No profile sets it.
  bool layer = false;
};

// Who the server runs as.
struct Identity {
  bool root_mode = false;  // launched by real root: no user namespace, drop to uid/gid
  uid_t uid = 0;           // the jail's uid, equal inside and on the host (never 0)
  gid_t gid = 0;
  uid_t invoking_uid = 0;
  std::string user_name;   // for /etc/passwd inside the jail
};

struct NetworkPlan {
  NetMode mode = NetMode::None;
  std::vector<std::string> allow, allow_private, dns;  // as written in the profile
  // allowlist mode, parsed and checked:
  std::vector<netfilter::AllowRule> rules;         // `allow`
  std::vector<netfilter::Cidr> private_allowed;    // `allow_private`: exempt from the private-range deny
  std::vector<netfilter::Resolver> resolvers;      // upstream of the DNS filter
  std::string resolvers_from;                      // "profile" or the host file they were read from
  // Set by `mcp-jail learn --network` only (no profile key sets it): the DNS
  // filter answers every name and the table accepts public addresses on any
  // port, recording both (dns_learned, net_learned audit events). The denied
  // ranges, metadata addresses and the host's own addresses stay closed.
  bool record = false;
};

// The size of every tmpfs the plan mounts (filesystem.tmpfs, /dev/shm) when
// the profile sets no limits.tmpfs_size.
inline constexpr std::uint64_t kDefaultTmpfsSize = 64ULL << 20;

struct LimitsPlan {
  std::optional<std::uint64_t> memory, pids;
  std::optional<double> cpu;
  std::uint64_t nofile = 0;     // 0: leave as inherited
  std::uint64_t file_size = 0;  // 0: unlimited
  std::uint64_t tmpfs_size = 0;
  std::chrono::milliseconds wall_time{0};
};

struct SeccompPlan {
  std::string base = "default";
  std::vector<std::string> deny, allow;
  SeccompAction action = SeccompAction::Errno;
  // The watch (seccomp_policy.cc, policy::watched()): write-intent file calls
  // and exec go to the supervisor, which logs what the plan does not allow and
  // lets every such call continue (the kernel decides). Observation only.
  bool watch = true;
  // `mcp-jail learn`: the watch also receives every open (reads too), so the
  // supervisor can record what the server reads. Never set by a profile; the
  // learning jail is its protection (read-only view, credentials hidden).
  bool learn = false;
  // Rootless launches, where vm.memfd_noexec cannot be set in the jail:
  // memfd_create goes to the supervisor, which makes the memfd itself with
  // MFD_NOEXEC_SEAL and hands it to the server (policy::performed()). The
  // supervisor turns it off when the kernel has no MFD_NOEXEC_SEAL (before
  // Linux 6.3; memfd_noexec_seal_supported()).
  bool seal_memfd = false;
};

// Landlock mirrors the filesystem rules.
struct LandlockRule {
  std::string path;  // path inside the jail
  bool write = false;
  bool exec = false;
  bool optional = false;  // skip the rule when the path is missing
  // Only list directories beneath (names, not contents): the rule on the
  // jail's root, so that "/" and every directory above a bound path can be
  // listed. The jail's view holds only what the plan mounts.
  bool list = false;
};
struct LandlockPlan {
  std::vector<LandlockRule> rules;
  std::vector<std::string> exec_allow;  // executables (inside the jail) that may be run
  std::vector<std::string> exec_why;    // why each of exec_allow (same order; `check`)
  bool best_effort = false;
  // The server's PATH as its execvp() searches it (exec::jail_search_path):
  // where #!/usr/bin/env finds its program; "" stands for /bin:/usr/bin.
  std::string path_env;
  bool restrict_tcp = false;            // TCP connect/bind only to these ports (ABI >= 4)
  std::vector<std::uint16_t> connect_ports, bind_ports;
};

// The profile's private state directory, ${PROFILE_STATE}, when the profile
// uses it. `run` and `probe` create what is missing (prepare_state in
// state.hpp) before the jail is built; planning and `check` change nothing.
struct StatePlan {
  std::string dir;                   // ${PROFILE_STATE} (also its path inside the jail); empty: not used
  std::string home_canonical;        // the state home on the host, trusted symlinks resolved
  std::string name;                  // dir = <state home>/mcp-jail/<name>
  std::string canonical;             // home_canonical + "/mcp-jail/" + name
  std::vector<std::string> paths;    // bound paths below `dir`, relative ("npm", "npm/_npx"), each once
  std::vector<std::string> missing;  // what does not exist yet (absolute, lexical): created as directories
};

// A protected name in a write path ([filesystem] protect, protect_home,
// nested repositories; launcher/plan/protect.cc, mcpjail/protect.hpp).
struct ProtectedPath {
  enum class State {
    Bound,    // exists: bound read-only over itself (a mount point: no rename, no unlink)
    Absent,   // missing: the supervisor refuses to create `refuse`
    Link,     // `refuse` is a symbolic link: its target, when writable in the jail, is bound read-only
    Covered,  // already read-only or hidden by the profile's own mounts
    Anywhere, // "**/NAME": NAME cannot be created in any directory of the write path `root`
              // (its filesystem: parent_dev); what exists is left to the walk for nested repositories
  };
  State state = State::Absent;
  std::string path;    // inside the jail
  std::string name;    // as the profile lists it
  std::string root;    // the write path, home directory or repository it is relative to
  std::string why;     // why it is protected
  std::string how;     // how it is enforced, for `check`
  // Absent and Link: the first component of `path` that does not exist (or
  // is the link), and the identity of the directory that holds it.
  std::string refuse;
  std::string refuse_host;  // the same on the host
  dev_t parent_dev = 0;
  ino_t parent_ino = 0;
};
// What the launch-time walk for nested repositories read.
struct ProtectScan {
  std::size_t entries = 0;   // directory entries read
  std::size_t repos = 0;     // nested repositories found
  bool truncated = false;    // the entry budget ran out
  int depth = 0;
  double ms = 0;
};

struct Plan {
  std::string profile_name;
  std::vector<std::string> profile_sources;
  Identity id;
  std::vector<MountStep> mounts;          // in the order they are applied
  std::vector<std::string> hide_skipped;  // hide paths with nothing to hide, and why
  std::vector<std::string> mounts_merged; // a path listed more than once the same way, kept once: each, and where from
  NetworkPlan network;
  std::string hostname = "mcp-jail";
  std::vector<std::string> env;           // "NAME=value", exactly what the server gets
  // What --env decided, for `check`: NAME -> true when the value is the
  // launcher's (`--env NAME`), false when the command line set it; and the
  // names of `--env NAME` that the launcher's environment did not have.
  std::map<std::string, bool> env_cli;
  std::vector<std::string> env_cli_unset;
  std::vector<std::string> env_dropped;   // names (never values) of launcher variables not passed, sorted
  std::string cwd = "/";
  std::string exe;                        // absolute path inside the jail, execve'd as is
  std::vector<std::string> argv;          // argv[0] as the user wrote it
  std::string script;                     // the script an interpreter runs (canonical), if any
  std::string project;                    // the script's project directory (canonical), if any
  Pins pins;                              // [pin]: checked before anything starts
  LimitsPlan limits;
  SeccompPlan seccomp;
  LandlockPlan landlock;
  std::string audit_log = "stderr";
  std::vector<std::string> best_effort;
  StatePlan state;
  std::vector<ProtectedPath> protect;     // protected names in the write paths, in order
  ProtectScan protect_scan;
  std::vector<std::string> notes;         // explanations shown by `check`
  std::uint64_t layer_size = 0;           // the throw-away layer's tmpfs (MountStep::layer), bytes
};

// One --env of the command line: NAME (passed from the launcher's
// environment, when set there) or NAME=VALUE (set).
struct EnvArg {
  std::string name;
  std::optional<std::string> value;  // nullopt: from the launcher's environment
  bool operator==(const EnvArg&) const = default;
};
// nullopt, and *why, when the name before any '=' is not a variable name.
std::optional<EnvArg> parse_env_arg(const std::string& arg, std::string* why);

// What the command line and the launching process contribute.
struct Invocation {
  std::string profile;                       // built-in name or path
  LoadOptions load;                          // variables
  std::vector<std::string> extra_read, extra_write;
  std::vector<EnvArg> env_args;              // --env, in order: applied after the profile's [env]
  std::optional<std::string> audit_log;
  std::vector<std::string> command;          // server command and arguments
  bool require_command = true;               // `check` may plan without one
  std::map<std::string, std::string> host_env;
  uid_t uid = 0, euid = 0;
  gid_t gid = 0;
};

// Builds the plan. Throws ProfileError (bad profile entries, with locations)
// or LaunchError (exit code 125, 126 or 127).
Plan make_plan(const Profile& profile, const Invocation& inv);

// `mcp-jail learn`: every read-only bind of a directory that no writable
// bind holds becomes a throw-away layer (MountStep::layer), its Landlock rule
// writable; a mount below a layered tree's source (`mountinfo`: the text of
// /proc/self/mountinfo), which the overlay would not show, is bound
// read-only at its place (writes there fail, EROFS, and are recorded).
// `size`: the bytes the layers may hold together.
void add_throwaway_layer(Plan& plan, const std::string& mountinfo, std::uint64_t size);

// The invocation of this process: uid, environment, cwd, HOME.
Invocation current_invocation();

// The plan as a person reviews it (`mcp-jail check`).
std::string render_plan(const Plan& plan);

}  // namespace mcpjail
