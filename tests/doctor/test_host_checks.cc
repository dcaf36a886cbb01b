// Host checks over captured inputs: each check's failing cases (kernel
// values, file modes, AppArmor state, probe results) and its passing case.
// Pure: no probe runs here.
#include <cerrno>
#include <initializer_list>
#include <catch2/catch.hpp>
#include <string>

#include "mcpjail/host_checks.hpp"

using namespace mcpjail::host;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `c` failed, and what it found and its fix say each of `found` and `fix`.
void check_failed(const Check& c, std::initializer_list<const char*> found, std::initializer_list<const char*> fix) {
  CHECK_FALSE(c.ok);
  for (const char* f : found) CHECK_THAT(c.found, Catch::Contains(f));
  for (const char* f : fix) CHECK_THAT(c.fix, Catch::Contains(f));
}

// `c` passed, and what it found says each of `found`.
void check_passed(const Check& c, std::initializer_list<const char*> found) {
  CHECK(c.ok);
  for (const char* f : found) CHECK_THAT(c.found, Catch::Contains(f));
}

ProbeResult failed(int err, const std::string& step) { return {true, err, step}; }
ProbeResult worked() { return {true, 0, ""}; }

UsernsInputs rootless_userns() {
  UsernsInputs in;
  in.root = false;
  in.max_user_namespaces = 63000;
  in.exe = "/usr/bin/mcp-jail";
  in.uid_map = "         0          0 4294967295\n";
  in.probe = worked();
  return in;
}

TunInputs tun(unsigned mode, uid_t uid) {
  TunInputs in;
  in.exists = true;
  in.is_char = true;
  in.mode = mode;
  in.owner = 0;
  in.group = 0;
  in.owner_name = "root";
  in.group_name = "root";
  in.uid = uid;
  return in;
}

// This test machine's layout: hybrid, memory and pids (and cpu) on v1, v2 at
// /sys/fs/cgroup/unified holding only hugetlb.
CgroupInputs hybrid(bool root) {
  CgroupInputs in;
  in.root = root;
  in.uid = root ? 0 : 1000;
  in.needed = {"memory", "pids"};
  in.v2_mount = "/sys/fs/cgroup/unified";
  in.v2_controllers = {"hugetlb"};
  in.v2_dirs = {{"/sys/fs/cgroup/unified", true, {}, root}};
  in.v1 = {{"/sys/fs/cgroup/memory", {"memory"}, root},
           {"/sys/fs/cgroup/pids", {"pids"}, root},
           {"/sys/fs/cgroup/cpu", {"cpu"}, root}};
  return in;
}

}  // namespace

TEST_CASE("parsers: kernel version, octal mode, the initial uid map") {
  CHECK(kernel_version("6.8.0-31-generic") == std::pair{6, 8});
  CHECK(kernel_version("5.4.0") == std::pair{5, 4});
  CHECK(kernel_version("garbage") == std::pair{0, 0});
  CHECK(octal_mode(0600) == "0600");
  CHECK(octal_mode(020666) == "0666");
  CHECK(initial_uid_map("         0          0 4294967295\n"));
  CHECK_FALSE(initial_uid_map("         0       1000          1\n"));
  CHECK_FALSE(initial_uid_map(""));
}

TEST_CASE("userns: works when the probe worked, and root needs none") {
  CHECK(check_userns(rootless_userns()).ok);
  UsernsInputs root;
  root.root = true;
  check_passed(check_userns(root), {"not needed"});
}

TEST_CASE("userns: user.max_user_namespaces = 0 is named with the sysctl fix") {
  UsernsInputs in = rootless_userns();
  in.max_user_namespaces = 0;
  in.probe = failed(ENOSPC, "unshare(CLONE_NEWUSER)");
  check_failed(check_userns(in), {"user.max_user_namespaces = 0", "No space left on device"},
               {"sysctl -w user.max_user_namespaces=", "run mcp-jail as root"});
}

TEST_CASE("userns: Debian's kernel.unprivileged_userns_clone = 0") {
  UsernsInputs in = rootless_userns();
  in.unprivileged_userns_clone = 0;
  in.probe = failed(EPERM, "unshare(CLONE_NEWUSER)");
  check_failed(check_userns(in), {"kernel.unprivileged_userns_clone = 0"},
               {"sysctl -w kernel.unprivileged_userns_clone=1"});
  // Without a probe the sysctl alone decides.
  in.probe = {};
  CHECK_FALSE(check_userns(in).ok);
}

TEST_CASE("userns: Ubuntu's AppArmor restriction without the mcp-jail profile points at the shipped profile") {
  UsernsInputs in = rootless_userns();
  in.apparmor_restrict = 1;
  in.apparmor_label = "unconfined";
  in.exe = "/home/u/build/mcp-jail";
  in.probe = failed(EPERM, "mount a tmpfs in the new namespace");
  check_failed(check_userns(in),
               {"kernel.apparmor_restrict_unprivileged_userns = 1", "'unconfined'", "/home/u/build/mcp-jail"},
               {"/etc/apparmor.d/mcp-jail", "apparmor_parser -r /etc/apparmor.d/mcp-jail",
                "kernel.apparmor_restrict_unprivileged_userns=0"});
}

TEST_CASE("userns: the AppArmor restriction with the mcp-jail profile loaded passes") {
  UsernsInputs in = rootless_userns();
  in.apparmor_restrict = 1;
  in.apparmor_label = "mcp-jail (unconfined)";
  check_passed(check_userns(in), {"the mcp-jail profile allows them"});
  // Confined by it, and still refused: the profile lacks the rule.
  in.probe = failed(EPERM, "mount a tmpfs in the new namespace");
  const Check bad = check_userns(in);
  CHECK_FALSE(bad.ok);
  CHECK(has(bad.fix, "userns,"));
}

TEST_CASE("userns: inside a container that refuses nested user namespaces") {
  UsernsInputs in = rootless_userns();
  in.uid_map = "         0     100000      65536\n";
  in.probe = failed(EPERM, "unshare(CLONE_NEWUSER)");
  check_failed(check_userns(in), {"already runs inside a user namespace"}, {"container"});
}

TEST_CASE("landlock: no Landlock, disabled at boot, too old an ABI") {
  LandlockInputs in;
  in.kernel = "5.10.0";
  in.err = ENOSYS;
  check_failed(check_landlock(in), {"built without Landlock"}, {"best_effort"});

  in.err = EOPNOTSUPP;
  check_failed(check_landlock(in), {}, {"lsm="});

  in.abi = 3;
  in.err = 0;
  in.missing = {"ioctl on devices (Landlock ABI 5)", "signal scoping (Landlock ABI 6)"};
  check_failed(check_landlock(in), {"Landlock ABI 3, without ioctl on devices"}, {"6.12"});

  in.abi = 7;
  in.missing.clear();
  CHECK(check_landlock(in).ok);
}

TEST_CASE("seccomp: no filters, no user notification, an outer listener, an old kernel") {
  SeccompInputs in;
  in.kernel = "6.1.0";
  in.sysctl_present = false;
  CHECK_FALSE(check_seccomp(in).ok);

  in.sysctl_present = true;
  in.actions_avail = "kill_process kill_thread trap errno trace log allow";
  check_failed(check_seccomp(in), {"no user notification"}, {});

  in.actions_avail = "kill_process kill_thread trap errno user_notif trace log allow";
  in.status_seccomp = "2";
  in.probe = failed(EBUSY, "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)");
  check_failed(check_seccomp(in), {"notification listener"}, {"outside that sandbox"});

  in.probe = worked();
  in.kernel = "5.4.0";
  CHECK_FALSE(check_seccomp(in).ok);

  in.kernel = "6.18.0";
  check_passed(check_seccomp(in), {"stacks on it"});
}

TEST_CASE("cgroups: hybrid host, memory and pids on v1: rootless fails and says why, root passes") {
  check_failed(
      check_cgroups(hybrid(false)),
      {"memory: cgroup v1 at /sys/fs/cgroup/memory, owned by root and not delegated to uid 1000",
       "pids: cgroup v1 at /sys/fs/cgroup/pids", "hybrid hierarchy: cgroup v2 at /sys/fs/cgroup/unified holds hugetlb"},
      {"run mcp-jail as root", "remove memory/pids from [limits]", "best_effort"});

  check_passed(check_cgroups(hybrid(true)), {"memory: cgroup v1 at /sys/fs/cgroup/memory"});

  CgroupInputs none = hybrid(false);
  none.needed.clear();
  CHECK(check_cgroups(none).ok);
}

TEST_CASE("cgroups: v2 without delegation fails, a delegated subtree passes, a missing controller fails") {
  CgroupInputs in;
  in.uid = 1000;
  in.needed = {"memory", "pids"};
  in.v2_mount = "/sys/fs/cgroup";
  in.v2_controllers = {"cpu", "memory", "pids"};
  in.v2_dirs = {{"/sys/fs/cgroup/user.slice/session-1.scope", true, {}, false},
                {"/sys/fs/cgroup/user.slice", false, {"memory", "pids"}, false},
                {"/sys/fs/cgroup", false, {"cpu", "memory", "pids"}, false}};
  check_failed(check_cgroups(in), {"not delegated"}, {"systemd-run --user --scope -p Delegate=yes"});

  in.v2_dirs = {{"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope", true, {}, true},
                {"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice", false, {"memory", "pids"}, true}};
  check_passed(check_cgroups(in), {"below /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice"});

  in.needed = {"cpu"};
  in.v2_controllers = {"memory", "pids"};
  in.v1.clear();
  check_failed(check_cgroups(in), {"cpu: no such controller"}, {});
}

TEST_CASE("pasta: missing, not runnable, or too old for --no-map-gw") {
  PastaInputs in;
  check_failed(check_pasta(in), {}, {"apt-get install passt"});

  in.binary = "/usr/bin/pasta";
  check_failed(check_pasta(in), {"could not be run"}, {});

  in.runs = true;
  in.version = "0.0~git20220101";
  in.has_config_net = true;
  check_failed(check_pasta(in), {"--no-map-gw"}, {});

  in.has_no_map_gw = true;
  check_passed(check_pasta(in), {"/usr/bin/pasta, version 0.0~git20220101"});
}

TEST_CASE("tun: mode 0600 keeps a rootless user out, and the check names the device, its mode and the fix") {
  const Check c = check_tun(tun(0600, 1000));
  CHECK_FALSE(c.ok);
  CHECK(c.name == "/dev/net/tun");
  CHECK(has(c.found, "/dev/net/tun is mode 0600, owner root:root"));
  CHECK(has(c.found, "uid 1000"));
  CHECK(has(c.found, "Failed to open tun socket in namespace"));
  CHECK(has(c.fix, "chmod 0666 /dev/net/tun"));
  CHECK(has(c.fix, "KERNEL==\"tun\", MODE=\"0666\""));
  CHECK(has(c.fix, "run mcp-jail as root"));

  // A probe's EACCES says the same.
  TunInputs probed = tun(0600, 1000);
  probed.probe = failed(EACCES, "open /dev/net/tun");
  CHECK(has(check_tun(probed).fix, "chmod 0666"));
}

TEST_CASE("tun: 0666, root, a group member pass, and a missing device and a container's EPERM fail") {
  CHECK(check_tun(tun(0666, 1000)).ok);
  CHECK(check_tun(tun(0600, 0)).ok);
  TunInputs grp = tun(0660, 1000);
  grp.in_group = true;
  CHECK(check_tun(grp).ok);

  TunInputs none;
  none.uid = 1000;
  check_failed(check_tun(none), {}, {"modprobe tun"});

  TunInputs denied = tun(0666, 1000);
  denied.probe = failed(EPERM, "open /dev/net/tun");
  check_failed(check_tun(denied), {"Operation not permitted"}, {"--device /dev/net/tun"});
}

TEST_CASE("nftables: no library, a table refused in the user namespace") {
  NftInputs in;
  in.library_error = "libnftables.so.1: cannot open shared object file";
  check_failed(check_nft(in), {}, {"libnftables1"});

  in.library = true;
  in.probe = failed(-1, "network: cannot install the table: Operation not supported");
  check_failed(check_nft(in), {"of a user namespace failed: network: cannot install the table"}, {"modprobe"});

  in.probe = worked();
  CHECK(check_nft(in).ok);
}

TEST_CASE("idmapped mounts: a write path on a file system without them (root), and rootless needs none") {
  IdmapInputs in;
  in.root = true;
  in.kernel = "6.1.0";
  in.paths = {{"/srv/ws", "ext4", worked()}, {"/mnt/share", "nfs4", failed(EINVAL, "mount_setattr(MOUNT_ATTR_IDMAP)")}};
  Check c = check_idmap(in);
  CHECK_FALSE(c.ok);
  CHECK(has(c.found, "/mnt/share (nfs4): mount_setattr(MOUNT_ATTR_IDMAP): Invalid argument"));
  CHECK_FALSE(has(c.found, "/srv/ws"));

  in.paths.pop_back();
  CHECK(check_idmap(in).ok);
  in.root = false;
  in.paths = {{"/mnt/share", "nfs4", failed(EPERM, "mount_setattr(MOUNT_ATTR_IDMAP)")}};
  CHECK(check_idmap(in).ok);
}

TEST_CASE("overlayfs: not loaded, refused in a user namespace") {
  OverlayInputs in;
  in.kernel = "5.10.0";
  in.probe = failed(ENODEV, "mount overlay");
  check_failed(check_overlay(in), {}, {"modprobe overlay"});

  in.listed = true;
  in.probe = failed(EPERM, "mount overlay");
  check_failed(check_overlay(in), {"< 5.11"}, {});

  in.probe = worked();
  CHECK(check_overlay(in).ok);
}
