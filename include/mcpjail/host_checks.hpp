// Host checks: what this machine offers the jail, one check per kernel or
// system feature a launch can depend on, each with what was found and the fix.
//
// Each check is a pure function over captured inputs (sysctl values, file
// modes, ids, AppArmor state, the result of a probe), so every verdict is
// unit-tested without the host it describes. The read_* functions capture
// those inputs from this host; where only doing the thing shows whether it
// works (creating a user namespace, opening the tun device inside one), they
// run a probe in a forked child, bounded in time, that leaves nothing behind:
// its namespaces, mounts and devices end with it.
//
// Used by `mcp-jail doctor` and by launch errors that can name their cause
// (netfilter/uplink.cc: the tun device).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mcpjail::host {

struct Check {
  std::string name;   // "user namespaces", "/dev/net/tun", ...
  bool ok = false;
  std::string found;  // what this host has, in a sentence
  std::string fix;    // what to do about it; empty when ok
};

// A probe run in a forked child: 0 when every step worked, else the errno
// of the step that failed (ETIMEDOUT when the child did not finish in time).
struct ProbeResult {
  bool ran = false;
  int err = 0;
  std::string step;  // the step that failed, e.g. "unshare(CLONE_NEWUSER)"
  bool ok() const { return ran && err == 0; }
  // "unshare(CLONE_NEWUSER): Operation not permitted"; err < 0: the step says it all.
  std::string text() const;
};
// Runs `fn` in a child process (dies with its parent, killed after
// `timeout`); `fn` returns the ProbeResult to report.
ProbeResult run_probe(const std::function<ProbeResult()>& fn, std::chrono::milliseconds timeout);

// ---- user namespaces -------------------------------------------------------

struct UsernsInputs {
  bool root = false;                                 // euid 0: root launches use no user namespace
  std::optional<long> max_user_namespaces;           // user.max_user_namespaces
  std::optional<long> unprivileged_userns_clone;     // Debian's kernel.unprivileged_userns_clone
  std::optional<long> apparmor_restrict;             // Ubuntu's kernel.apparmor_restrict_unprivileged_userns
  std::string apparmor_label;                        // this process's AppArmor label ("" when none)
  std::string exe;                                   // this executable's path
  std::string uid_map;                               // /proc/self/uid_map
  ProbeResult probe;                                 // create one, map the uid, mount a tmpfs
};
Check check_userns(const UsernsInputs& in);
UsernsInputs read_userns_inputs(bool probe);

// ---- Landlock --------------------------------------------------------------

struct LandlockInputs {
  int abi = 0;                // landlock_create_ruleset(VERSION); 0: unavailable
  int err = 0;                // its errno when abi == 0
  std::string kernel;         // uname -r
  std::vector<std::string> missing;  // what the profile needs and this ABI lacks
  bool best_effort = false;   // the profile lets the launch go on without it
};
Check check_landlock(const LandlockInputs& in);
// `restrict_tcp` and `best_effort`: from the plan (see landlock::missing_features).
LandlockInputs read_landlock_inputs(bool restrict_tcp, bool best_effort);

// ---- seccomp -----------------------------------------------------------------

struct SeccompInputs {
  bool sysctl_present = false;   // /proc/sys/kernel/seccomp exists (CONFIG_SECCOMP_FILTER)
  std::string actions_avail;     // /proc/sys/kernel/seccomp/actions_avail
  std::string status_seccomp;    // "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter
  std::string kernel;
  ProbeResult probe;             // load a filter with a notification listener
};
Check check_seccomp(const SeccompInputs& in);
SeccompInputs read_seccomp_inputs(bool probe);

// ---- cgroups ---------------------------------------------------------------

// One candidate cgroup v2 directory, as the launcher walks them
// (launcher/cgroup.cc): this process's own cgroup, then its ancestors.
struct CgroupV2Dir {
  std::string path;
  bool own = false;                     // this process's own cgroup
  std::vector<std::string> subtree;     // cgroup.subtree_control
  bool writable = false;                // mkdir and cgroup.procs writable for this user
};
struct CgroupV1Hierarchy {
  std::string mount;
  std::vector<std::string> controllers;
  bool writable = false;  // <mount>/mcp-jail (or the mount, to create it) writable for this user
};
struct CgroupInputs {
  bool root = false;
  uid_t uid = 0;
  std::vector<std::string> needed;        // memory, pids, cpu: what the profile limits
  bool best_effort = false;               // "limits" in best_effort
  std::string v2_mount;                   // "" when cgroup2 is not mounted
  std::vector<std::string> v2_controllers;
  std::vector<CgroupV2Dir> v2_dirs;       // own cgroup first
  std::vector<CgroupV1Hierarchy> v1;
};
Check check_cgroups(const CgroupInputs& in);
CgroupInputs read_cgroup_inputs(const std::vector<std::string>& needed, bool best_effort);

// ---- pasta -------------------------------------------------------------------

struct PastaInputs {
  std::string binary;        // "" when not installed
  std::string version;       // first line of `pasta --version`, or the passt package's version
  bool runs = false;            // `pasta --help` printed something
  bool has_no_map_gw = false;   // `pasta --help` lists --no-map-gw
  bool has_config_net = false;  // and --config-net
};
Check check_pasta(const PastaInputs& in);
PastaInputs read_pasta_inputs();

// ---- /dev/net/tun --------------------------------------------------------------

struct TunInputs {
  bool exists = false;
  bool is_char = false;
  unsigned mode = 0;            // permission bits
  uid_t owner = 0;
  gid_t group = 0;
  std::string owner_name, group_name;  // "" when unknown
  uid_t uid = 0;                // the invoking user
  bool in_group = false;        // the user is a member of the device's group
  ProbeResult probe;            // open it (and TUNSETIFF) as pasta does, rootless: in a user namespace
};
Check check_tun(const TunInputs& in);
// The device's mode as the launcher sees it (no probe when `probe` is false).
TunInputs read_tun_inputs(bool probe);
inline constexpr const char* kTunPath = "/dev/net/tun";

// ---- nftables in the jail's network namespace ------------------------------------

struct NftInputs {
  bool library = false;  // libnftables.so.1 loads
  std::string library_error;
  ProbeResult probe;     // a table installed in a new network namespace (rootless: and user namespace)
  bool root = false;
};
Check check_nft(const NftInputs& in);
NftInputs read_nft_inputs(bool probe);

// ---- idmapped mounts -----------------------------------------------------------------

struct IdmapPath {
  std::string path;
  std::string fstype;     // from statfs
  ProbeResult probe;      // mount_setattr(MOUNT_ATTR_IDMAP) on a detached clone of it (root)
};
struct IdmapInputs {
  bool root = false;
  std::string kernel;
  std::vector<IdmapPath> paths;
};
Check check_idmap(const IdmapInputs& in);
IdmapInputs read_idmap_inputs(const std::vector<std::string>& paths, bool probe);

// ---- overlayfs in a user namespace ------------------------------------------------------

struct OverlayInputs {
  bool listed = false;    // "overlay" in /proc/filesystems
  std::string kernel;
  ProbeResult probe;      // mount an overlay of tmpfs directories inside a new user namespace
};
Check check_overlay(const OverlayInputs& in);
OverlayInputs read_overlay_inputs(bool probe);

// ---- small parsers, exposed for tests ---------------------------------------------------

// "6.8.0-31-generic" -> {6, 8}; {0, 0} when it cannot be read.
std::pair<int, int> kernel_version(const std::string& release);
// "0600"
std::string octal_mode(unsigned mode);
// Whether /proc/self/uid_map is the initial namespace's identity map.
bool initial_uid_map(const std::string& uid_map);

}  // namespace mcpjail::host
