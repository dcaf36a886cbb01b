// Host checks, the verdicts: each check_* is a pure function of the inputs
// a reader captured (host_inputs.cc), so every failing case is unit-tested
// without changing the host. See host_checks.hpp.
#include "mcpjail/host_checks.hpp"

#include <pwd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "host_checks_internal.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail::host {

using detail::trim;
using detail::words;

namespace {

std::string user_text(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return "uid " + std::to_string(uid) + " (" + pw->pw_name + ")";
  return "uid " + std::to_string(uid);
}

}  // namespace

// ---- probes ------------------------------------------------------------------

std::string ProbeResult::text() const {
  if (!ran) return "not probed";
  if (err == 0) return "ok";
  if (err < 0) return step;
  return errno_text(step, err);
}

// ---- small parsers --------------------------------------------------------------

std::pair<int, int> kernel_version(const std::string& release) {
  int a = 0, b = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &a, &b) != 2) return {0, 0};
  return {a, b};
}

std::string octal_mode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

bool initial_uid_map(const std::string& uid_map) {
  const auto w = words(uid_map);
  return w.size() == 3 && w[0] == "0" && w[1] == "0" && w[2] == "4294967295";
}

// ---- user namespaces -----------------------------------------------------------

Check check_userns(const UsernsInputs& in) {
  Check c{"user namespaces", false, "", ""};
  if (in.root) {
    c.ok = true;
    c.found = "not needed: as root, mcp-jail builds the jail without a user namespace and runs the server as an "
              "unprivileged uid";
    return c;
  }
  const bool confined_by_ours = in.apparmor_label.rfind("mcp-jail", 0) == 0;
  if (in.probe.ok()) {
    c.ok = true;
    c.found = "unprivileged user namespaces work: a probe created one, mapped its uid and mounted a tmpfs in it";
    if (in.apparmor_restrict.value_or(0) != 0 && confined_by_ours)
      c.found += " (AppArmor restricts them on this host; the mcp-jail profile allows them)";
    return c;
  }
  std::vector<std::string> found, fix;
  const std::string probe = in.probe.ran ? "; the probe failed: " + in.probe.text() : "";
  if (in.max_user_namespaces && *in.max_user_namespaces == 0) {
    found.push_back("user.max_user_namespaces = 0: the kernel allows no user namespaces");
    fix.push_back("sysctl -w user.max_user_namespaces=15000 (and the same line in /etc/sysctl.d/ to keep it)");
  }
  if (in.unprivileged_userns_clone && *in.unprivileged_userns_clone == 0) {
    found.push_back("kernel.unprivileged_userns_clone = 0 (Debian's switch): only root may create user namespaces");
    fix.push_back("sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)");
  }
  if (in.apparmor_restrict.value_or(0) != 0 && !confined_by_ours) {
    found.push_back("kernel.apparmor_restrict_unprivileged_userns = " + std::to_string(*in.apparmor_restrict) +
                    " (Ubuntu 23.10 and later): a program without an AppArmor profile that allows `userns` loses every "
                    "capability in the namespaces it creates; this process runs as AppArmor label '" +
                    (in.apparmor_label.empty() ? std::string("unconfined") : in.apparmor_label) + "' (" + in.exe + ")");
    fix.push_back("install the AppArmor profile that comes with mcp-jail (the .deb puts it in /etc/apparmor.d/mcp-jail; "
                  "from source: packaging/apparmor/mcp-jail.in, with the path of your mcp-jail binary) and load it: "
                  "apparmor_parser -r /etc/apparmor.d/mcp-jail");
    fix.push_back("or allow it for every program: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
  } else if (in.apparmor_restrict.value_or(0) != 0 && confined_by_ours && in.probe.ran) {
    found.push_back("AppArmor restricts user namespaces and this process runs under the mcp-jail profile ('" +
                    in.apparmor_label + "'), yet creating one failed");
    fix.push_back("check that the loaded profile has the `userns,` rule (apparmor_parser -r /etc/apparmor.d/mcp-jail)");
  }
  if (found.empty() && !in.uid_map.empty() && !initial_uid_map(in.uid_map) && in.probe.ran) {
    found.push_back("this process already runs inside a user namespace (uid_map: " + trim(in.uid_map) +
                    "), as in an unprivileged container, and that container does not let it nest another");
    fix.push_back("allow nested user namespaces in the container (for Docker or Podman: a seccomp profile that allows "
                  "unshare/clone with CLONE_NEWUSER, and no AppArmor profile that denies it), or run mcp-jail on the "
                  "host");
  }
  if (found.empty() && !in.probe.ran) {
    c.ok = true;
    c.found = "no setting forbids unprivileged user namespaces (not probed)";
    return c;
  }
  if (found.empty()) {
    found.push_back("creating an unprivileged user namespace failed");
    fix.push_back("find what refuses it (a seccomp filter of a container, an LSM, a kernel without CONFIG_USER_NS)");
  }
  fix.push_back("or run mcp-jail as root (it then uses no user namespace)");
  c.found = join(found, "; ") + probe;
  c.fix = join(fix, "; ");
  return c;
}

// ---- Landlock --------------------------------------------------------------------

Check check_landlock(const LandlockInputs& in) {
  Check c{"landlock", false, "", ""};
  const std::string kernel = "Linux " + (in.kernel.empty() ? std::string("?") : in.kernel);
  if (in.abi <= 0) {
    std::string why = in.err == ENOSYS       ? "the kernel is built without Landlock (CONFIG_SECURITY_LANDLOCK)"
                      : in.err == EOPNOTSUPP ? "Landlock is built in but not enabled at boot"
                                             : errno_text("landlock_create_ruleset", in.err);
    c.found = kernel + " has no Landlock: " + why;
    c.fix = in.err == EOPNOTSUPP
                ? "add landlock to the lsm= kernel parameter (e.g. lsm=landlock,lockdown,yama,integrity,apparmor) and "
                  "reboot"
                : "run on a kernel with Landlock (CONFIG_SECURITY_LANDLOCK=y; Linux 6.12 or later has everything "
                  "mcp-jail uses)";
  } else if (!in.missing.empty()) {
    c.found = kernel + " has Landlock ABI " + std::to_string(in.abi) + ", without " + join(in.missing, ", ");
    c.fix = "run on Linux 6.12 or later (Landlock ABI 6)";
  } else {
    c.ok = true;
    c.found = kernel + ", Landlock ABI " + std::to_string(in.abi);
    return c;
  }
  c.fix += in.best_effort ? " (the profile runs without it: \"landlock\" is in best_effort)"
                          : "; or add \"landlock\" to the profile's best_effort to run without what is missing";
  return c;
}

// ---- seccomp --------------------------------------------------------------------

Check check_seccomp(const SeccompInputs& in) {
  Check c{"seccomp", false, "", ""};
  const auto kv = kernel_version(in.kernel);
  if (!in.sysctl_present) {
    c.found = "the kernel has no seccomp filters (no /proc/sys/kernel/seccomp)";
    c.fix = "run on a kernel built with CONFIG_SECCOMP_FILTER";
    return c;
  }
  if (!contains(words(in.actions_avail), "user_notif")) {
    c.found = "seccomp has no user notification (actions: " + trim(in.actions_avail) +
              "); mcp-jail's supervisor answers the jail's denied and watched calls through it";
    c.fix = "run on Linux 5.5 or later";
    return c;
  }
  if (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 5))) {
    c.found = "Linux " + in.kernel + " lacks SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)";
    c.fix = "run on Linux 5.5 or later";
    return c;
  }
  if (in.probe.ran && !in.probe.ok()) {
    if (in.probe.err == EBUSY) {
      c.found = "this process already runs under a seccomp filter with a notification listener (Seccomp: " +
                in.status_seccomp + "), as inside another sandbox that supervises system calls; a second listener is "
                                    "refused (EBUSY)";
      c.fix = "run mcp-jail outside that sandbox, or have the outer sandbox filter without a listener";
    } else {
      c.found = "loading a filter with a notification listener failed: " + in.probe.text();
      c.fix = "find what refuses seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) here (an outer "
              "sandbox's filter?)";
    }
    return c;
  }
  c.ok = true;
  c.found = std::string("filters with user notification") + (in.probe.ran ? " (a probe loaded one)" : "") +
            (in.status_seccomp == "2" ? "; this process is already filtered (Seccomp: 2), the jail's filter stacks on it"
                                      : "");
  return c;
}

// ---- cgroups ----------------------------------------------------------------------

Check check_cgroups(const CgroupInputs& in) {
  Check c{"cgroups", false, "", ""};
  if (in.needed.empty()) {
    c.ok = true;
    c.found = "no memory, pids or cpu limit to apply";
    return c;
  }
  std::vector<std::string> found, bad, v2need;
  bool v1_denied = false, v2_denied = false, missing = false;
  for (const auto& ctl : in.needed) {
    if (!in.v2_mount.empty() && contains(in.v2_controllers, ctl)) {
      v2need.push_back(ctl);
      continue;
    }
    const CgroupV1Hierarchy* h = nullptr;
    for (const auto& x : in.v1)
      if (contains(x.controllers, ctl)) h = &x;
    if (!h) {
      missing = true;
      bad.push_back(ctl);
      found.push_back(ctl + ": no such controller, neither in cgroup v2" +
                      (in.v2_mount.empty() ? std::string() : " (" + in.v2_mount + ")") + " nor as a v1 hierarchy");
      continue;
    }
    if (in.root || h->writable) {
      found.push_back(ctl + ": cgroup v1 at " + h->mount);
    } else {
      v1_denied = true;
      bad.push_back(ctl);
      found.push_back(ctl + ": cgroup v1 at " + h->mount + ", owned by root and not delegated to " + user_text(in.uid));
    }
  }
  if (!v2need.empty()) {
    bool usable = in.root;
    std::string where;
    for (const auto& d : in.v2_dirs) {
      if (usable) break;
      bool all = true;
      for (const auto& ctl : v2need) all &= contains(d.subtree, ctl);
      if (d.writable && all) {
        usable = true;
        where = d.path;
      }
    }
    if (in.root) where = in.v2_dirs.empty() ? in.v2_mount : in.v2_dirs.front().path;
    if (usable) {
      found.push_back(join(v2need, ", ") + ": cgroup v2, below " + where);
    } else {
      v2_denied = true;
      for (const auto& x : v2need) bad.push_back(x);
      found.push_back(join(v2need, ", ") + ": cgroup v2 at " + in.v2_mount + ", but no cgroup from " +
                      (in.v2_dirs.empty() ? std::string("this process's") : in.v2_dirs.front().path) +
                      " up that this user may write has them enabled for its children (not delegated)");
    }
  }
  if (!in.v2_mount.empty() && !v2need.empty() && v2need.size() < in.needed.size())
    found.push_back("hybrid hierarchy: cgroup v2 at " + in.v2_mount + " has only " +
                    (in.v2_controllers.empty() ? std::string("no controllers") : join(in.v2_controllers, ",")));
  else if (!in.v2_mount.empty() && v2need.empty() && !in.v1.empty())
    found.push_back("hybrid hierarchy: cgroup v2 at " + in.v2_mount + " holds " +
                    (in.v2_controllers.empty() ? std::string("no controllers") : join(in.v2_controllers, ",")));
  c.found = join(found, "; ");
  if (bad.empty()) {
    c.ok = true;
    return c;
  }
  std::vector<std::string> fix;
  if (missing) fix.push_back("enable the missing controller in the kernel (e.g. cgroup_enable=memory on the boot command line)");
  if (v1_denied)
    fix.push_back("run mcp-jail as root (cgroup v1 cannot be delegated safely); or boot with the unified hierarchy "
                  "(systemd.unified_cgroup_hierarchy=1) and start mcp-jail from a delegated scope");
  if (v2_denied)
    fix.push_back("start mcp-jail from a delegated cgroup: systemd-run --user --scope -p Delegate=yes mcp-jail run ...; "
                  "or run it as root");
  fix.push_back(std::string("or remove ") + join(bad, "/") + " from [limits]" +
                (in.best_effort ? " (the profile runs without them: \"limits\" is in best_effort)"
                                : ", or add \"limits\" to best_effort to run without them"));
  c.fix = join(fix, "; ");
  return c;
}

// ---- pasta -------------------------------------------------------------------------

Check check_pasta(const PastaInputs& in) {
  Check c{"pasta", false, "", ""};
  if (in.binary.empty()) {
    c.found = "pasta (from passt) is not installed; network = \"allowlist\" uses it as the jail's uplink";
    c.fix = "apt-get install passt (Debian, Ubuntu); dnf install passt (Fedora)";
    return c;
  }
  const std::string what = in.binary + (in.version.empty() ? std::string() : ", version " + in.version);
  if (!in.runs) {
    c.found = in.binary + " is installed but could not be run (`pasta --help` printed nothing)";
    c.fix = "check that this user may execute it (and that no sandbox around this process forbids it)";
    return c;
  }
  std::vector<std::string> lacks;
  if (!in.has_no_map_gw) lacks.push_back("--no-map-gw (without it the jail could reach the host's loopback)");
  if (!in.has_config_net) lacks.push_back("--config-net");
  if (!lacks.empty()) {
    c.found = what + " lacks " + join(lacks, " and ");
    c.fix = "install passt 2023-03 or later";
    return c;
  }
  c.ok = true;
  c.found = what;
  return c;
}

// ---- /dev/net/tun ----------------------------------------------------------------------

Check check_tun(const TunInputs& in) {
  Check c{kTunPath, false, "", ""};
  if (!in.exists) {
    c.found = std::string(kTunPath) + " does not exist; pasta needs it for the jail's uplink";
    c.fix = "modprobe tun (as root); in a container, pass the device in (docker run --device /dev/net/tun ...)";
    return c;
  }
  if (!in.is_char) {
    c.found = std::string(kTunPath) + " is not a character device";
    c.fix = "recreate it: mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun";
    return c;
  }
  const std::string owner = (in.owner_name.empty() ? std::to_string(in.owner) : in.owner_name) + ":" +
                            (in.group_name.empty() ? std::to_string(in.group) : in.group_name);
  const std::string desc = std::string(kTunPath) + " is mode " + octal_mode(in.mode) + ", owner " + owner;
  const bool root = in.uid == 0;
  // A rootless pasta opens it inside the jail's user namespace, where its
  // owner is unmapped: only the permission bits for this user count.
  const bool by_mode = root || (in.owner == in.uid && (in.mode & 0600) == 0600) ||
                       (in.in_group && (in.mode & 0060) == 0060) || (in.mode & 0006) == 0006;
  const bool ok = in.probe.ran ? in.probe.ok() : by_mode;
  if (ok) {
    c.ok = true;
    c.found = desc + (root ? ": root opens it" : ": " + user_text(in.uid) + " may open it") +
              (in.probe.ran ? std::string(" (a probe opened it and made a tap device") + (root ? "" : " in a user namespace") + ")"
                            : "");
    return c;
  }
  if (!by_mode || (in.probe.ran && in.probe.err == EACCES)) {
    c.found = desc + ": " + user_text(in.uid) +
              " cannot open it, so pasta run by this user cannot make the jail's uplink (it reports \"Failed to open "
              "tun socket in namespace\") and every rootless network = \"allowlist\" launch stops";
    c.fix = "chmod 0666 " + std::string(kTunPath) +
            " (until the next boot; Debian's default mode), and to keep it a udev rule: echo 'KERNEL==\"tun\", "
            "MODE=\"0666\"' > /etc/udev/rules.d/60-mcp-jail-tun.rules; or run mcp-jail as root";
    return c;
  }
  c.found = desc + ", but opening it failed: " + in.probe.text() +
            (in.probe.err == EPERM ? " (a device cgroup or security module refuses it, as in a container)" : "");
  c.fix = in.probe.err == EPERM ? "allow the tun device (container: --device /dev/net/tun; or run mcp-jail on the host)"
                                : "find what refuses it; or run mcp-jail as root";
  return c;
}

// ---- nftables ---------------------------------------------------------------------------

Check check_nft(const NftInputs& in) {
  Check c{"nftables", false, "", ""};
  if (!in.library) {
    c.found = "libnftables cannot be loaded: " + in.library_error;
    c.fix = "apt-get install libnftables1";
    return c;
  }
  if (in.probe.ran && !in.probe.ok()) {
    c.found = std::string("installing a table in a new network namespace") + (in.root ? "" : " of a user namespace") +
              " failed: " + in.probe.text();
    c.fix = in.root ? "load nf_tables (modprobe nf_tables) or run on a kernel with CONFIG_NF_TABLES"
                    : "as root, load the modules once (modprobe -a nf_tables nft_ct nft_log nf_log_syslog; an "
                      "unprivileged user namespace cannot load modules), and list them in /etc/modules-load.d/; or "
                      "run mcp-jail as root";
    return c;
  }
  c.ok = true;
  c.found = std::string("libnftables loads") +
            (in.probe.ran ? std::string("; a probe installed a table in a new network namespace") +
                                (in.root ? "" : " of a user namespace")
                          : "");
  return c;
}

// ---- idmapped mounts -------------------------------------------------------------------------

Check check_idmap(const IdmapInputs& in) {
  Check c{"idmapped mounts", false, "", ""};
  if (!in.root) {
    c.ok = true;
    c.found = "not used rootless: the jail runs as your uid, so files it writes are yours";
    return c;
  }
  if (in.paths.empty()) {
    c.ok = true;
    c.found = "no write paths";
    return c;
  }
  std::vector<std::string> good, bad;
  for (const auto& p : in.paths) {
    const std::string what = p.path + " (" + (p.fstype.empty() ? std::string("?") : p.fstype) + ")";
    if (!p.probe.ran || p.probe.ok())
      good.push_back(what);
    else
      bad.push_back(what + ": " + p.probe.text());
  }
  if (bad.empty()) {
    c.ok = true;
    c.found = "write paths on file systems that support idmapped mounts: " + join(good, ", ");
    return c;
  }
  const auto kv = kernel_version(in.kernel);
  c.found = "no idmapped mount of " + join(bad, "; ") +
            (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 12)) ? " (Linux " + in.kernel + " < 5.12)" : "");
  c.fix = "idmapped mounts need Linux 5.12+ and a file system that supports them (ext4, xfs, btrfs, f2fs, fat; tmpfs "
          "from 6.3; overlayfs from 5.19); keep write paths on one of those";
  return c;
}

// ---- overlayfs -------------------------------------------------------------------------------

Check check_overlay(const OverlayInputs& in) {
  Check c{"overlayfs in a user namespace", false, "", ""};
  if (in.probe.ok()) {
    c.ok = true;
    c.found = "a probe mounted an overlay inside a new user namespace";
    return c;
  }
  if (!in.listed && (!in.probe.ran || in.probe.err != 0)) {
    c.found = "the kernel has no overlay file system loaded (not in /proc/filesystems)";
    c.fix = "modprobe overlay (as root)";
    return c;
  }
  if (!in.probe.ran) {
    c.ok = true;
    c.found = "overlay is in /proc/filesystems (not probed)";
    return c;
  }
  const auto kv = kernel_version(in.kernel);
  c.found = "mounting overlayfs in a user namespace failed: " + in.probe.text() +
            (kv.first && (kv.first < 5 || (kv.first == 5 && kv.second < 11)) ? " (Linux " + in.kernel + " < 5.11)" : "");
  c.fix = "Linux 5.11 or later mounts overlayfs in user namespaces";
  return c;
}

}  // namespace mcpjail::host
