// Plan -> OCI runtime bundle (config.json and rootfs/), for runc.
//
// The bundle's root is rootfs/, mounted read-only: it holds only mount
// points, the symlinks of merged-/usr hosts and the generated files
// (/etc/hosts, resolv.conf, passwd, group), as the jail's own root tmpfs
// does. Each step of plan.mounts becomes an OCI mount, in the plan's order:
//   Bind     a recursive bind, read-only all the way down ("rro") unless
//            writable; nosuid and nodev; writable ones also noexec
//   Tmpfs    tmpfs with the planned size, nosuid, nodev, noexec
//   Mask     a directory: an empty read-only tmpfs with mode 000; a file: the
//            bundle's empty mode-000 file bound read-only (the jail's masks)
//   Symlink  a symlink in rootfs/
//   File     a file in rootfs/, or, inside a mounted directory, a bundle
//            file bound read-only over the path
//   Proc     proc, with the jail's masked and read-only entries as
//            linux.maskedPaths and linux.readonlyPaths
//   Dev      a read-only tmpfs with the runtime's default device nodes
//            (null, zero, full, random, urandom, tty), devpts and shm
// Mount points are created in rootfs/ when nothing is mounted above them;
// inside a mounted tmpfs the runtime creates them; inside a bound host
// directory they must exist (the bundle never has the runtime change a host
// directory).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "export.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/mounts.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/text.hpp"
#include "mcpjail/units.hpp"

namespace mcpjail::exporter {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& what) { throw LaunchError("export", what); }

constexpr std::uint64_t kCpuPeriodUs = 100000;  // as the jail's cgroups
constexpr std::uint64_t kCpuMinQuotaUs = 1000;

class OciBuilder {
 public:
  OciBuilder(const Plan& plan, std::string dir) : plan_(plan), dir_(std::move(dir)) {}

  OciBundle run() {
    if (plan_.exe.empty() || plan_.argv.empty()) fail("no command to export: give the server's command after --");
    if (plan_.id.uid == 0 || plan_.id.gid == 0)
      fail("the plan runs the server as uid/gid 0; the bundle never does (set exec.user to an unprivileged user)");
    check_writable_trees();
    add_dir("rootfs");
    collect_exec_paths();
    for (const auto& s : plan_.mounts) step(s);
    config();
    gaps();
    out_.entries = std::move(entries_);
    return std::move(out_);
  }

 private:
  // The server can change what lies below a writable bind's host directory,
  // between two starts as well. The jail checks every bind source again,
  // without following symlinks, each time it is built; runc follows symlinks
  // in bind sources. So a bind whose source lies below a writable one (a
  // server could turn a directory above it into a symlink to any host path)
  // and a bundle the server could rewrite are refused.
  void check_writable_trees() const {
    for (const auto& w : plan_.mounts) {
      if (w.kind != MountKind::Bind || !w.writable) continue;
      if (path_is_under(dir_, w.source))
        fail("the bundle directory " + dir_ + " lies inside the write path " + w.target + " (" + w.source +
             "): the server could rewrite its own bundle; choose a directory outside every write path");
      for (const auto& s : plan_.mounts) {
        if (s.kind != MountKind::Bind || &s == &w || s.source == w.source || !path_is_under(s.source, w.source)) continue;
        fail("the bind of " + s.target + " comes from " + s.source + ", inside the writable " + w.source +
             ": runc follows symlinks in bind sources at every start, so a server that replaced a directory above it "
             "with a symlink would have another host path bound there (the jail checks each source again at every "
             "launch). Move " + s.target + " out of " + w.target + " in the profile, or use `mcp-jail run`");
      }
    }
  }

  // ---- rootfs/ ----------------------------------------------------------

  void add_dir(const std::string& rel) {
    if (!made_.insert(rel).second) return;
    entries_.push_back({BundleEntry::Kind::Dir, rel, "", 0755});
  }

  // rootfs/<jail path>'s parent directories.
  void rootfs_parents(const std::string& jail_path) {
    std::string rel = "rootfs";
    const auto comps = path_components(jail_path);
    for (std::size_t i = 0; i + 1 < comps.size(); ++i) {
      rel += "/" + comps[i];
      add_dir(rel);
    }
  }

  std::string rootfs_path(const std::string& jail_path) const {
    return jail_path == "/" ? "rootfs" : "rootfs" + jail_path;
  }

  void rootfs_entry(BundleEntry::Kind kind, const std::string& jail_path, std::string content, mode_t mode) {
    rootfs_parents(jail_path);
    const std::string rel = rootfs_path(jail_path);
    if (kind == BundleEntry::Kind::Dir) return add_dir(rel);
    if (!made_.insert(rel).second) fail(jail_path + " is planned twice in the jail's root");
    entries_.push_back({kind, rel, std::move(content), mode});
  }

  // The mount made earlier that holds `target` (deepest), or nullptr when
  // `target` lies on the bundle's own root.
  const MountStep* cover(const std::string& target) const {
    const MountStep* best = nullptr;
    for (const MountStep* m : mounted_)
      if (m->target != target && path_is_under(target, m->target) && (!best || m->target.size() > best->target.size()))
        best = m;
    return best;
  }

  // Makes sure the runtime finds (or may create) the mount point `target`.
  // runc gives a tmpfs the mode of an existing mount point (over the mode=
  // option): a tmpfs's mount point in rootfs/ has the tmpfs's mode, 1777.
  void mount_point(const MountStep& s, bool is_dir, mode_t mode = 0755) {
    const MountStep* c = cover(s.target);
    if (!c) {
      if (!is_dir) return rootfs_entry(BundleEntry::Kind::File, s.target, "", 0644);
      rootfs_parents(s.target);
      const std::string rel = rootfs_path(s.target);
      if (made_.insert(rel).second) entries_.push_back({BundleEntry::Kind::Dir, rel, "", mode});
      return;
    }
    switch (c->kind) {
      case MountKind::Tmpfs:
      case MountKind::Dev: return;  // the runtime creates it in the fresh tmpfs
      case MountKind::Bind: {
        const std::string host = c->source + s.target.substr(c->target.size());
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0 || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode) != is_dir)
          fail(s.target + " lies inside the bound host directory " + c->target + " (" + c->source + "), where " + host +
               (::lstat(host.c_str(), &st) != 0 ? " does not exist"
                : S_ISLNK(st.st_mode)           ? " is a symlink"
                                                : std::string(" is not a ") + (is_dir ? "directory" : "file")) +
               "; the runtime would have to change the host directory to mount there. List the paths inside " +
               c->target + " that the server needs instead of the whole directory.");
        return;
      }
      default: fail(s.target + " lies inside " + c->target + ", where nothing can be mounted");
    }
  }

  // ---- mounts -------------------------------------------------------------

  // Paths the server executes: the command, exec.allow, Landlock's exec
  // trees. A writable mount holding one stays executable (Landlock, which
  // narrows exec in the jail, has no OCI form).
  void collect_exec_paths() {
    exec_paths_.push_back(plan_.exe);
    for (const auto& e : plan_.landlock.exec_allow) exec_paths_.push_back(e);
    for (const auto& r : plan_.landlock.rules)
      if (r.exec) exec_paths_.push_back(r.path);
  }

  std::vector<std::string> runs_from(const std::string& target) const {
    std::vector<std::string> v;
    for (const auto& p : exec_paths_)
      if (path_is_under(p, target) && std::find(v.begin(), v.end(), p) == v.end()) v.push_back(p);
    return v;
  }

  void add_mount(json m) { mounts_.push_back(std::move(m)); }

  void step(const MountStep& s) {
    switch (s.kind) {
      case MountKind::Bind: {
        mount_point(s, s.is_dir);
        json opts = {"rbind", s.writable ? "rw" : "ro", "nosuid", "nodev", "rnosuid", "rnodev", "rprivate"};
        if (!s.writable) opts.push_back("rro");
        if (s.writable) {
          const auto runs = runs_from(s.target);
          if (runs.empty()) {
            opts.push_back("noexec");
            opts.push_back("rnoexec");
          } else {
            out_.gaps.push_back({"mounts",
                                 "Landlock lets only " + join(runs, ", ") + " run from the writable " + s.target,
                                 s.target + " is mounted without noexec because the server runs " + join(runs, ", ") +
                                     " from it: anything written there can be executed"});
          }
        }
        add_mount({{"destination", s.target}, {"type", "bind"}, {"source", s.source}, {"options", opts}});
        mounted_.push_back(&s);
        break;
      }
      case MountKind::Tmpfs:
        mount_point(s, true, 01777);
        add_mount({{"destination", s.target},
                   {"type", "tmpfs"},
                   {"source", "tmpfs"},
                   {"options", {"nosuid", "nodev", "noexec", "mode=1777", "size=" + std::to_string(s.size)}}});
        mounted_.push_back(&s);
        break;
      case MountKind::Mask:
        mount_point(s, s.is_dir);
        if (s.is_dir) {
          add_mount({{"destination", s.target},
                     {"type", "tmpfs"},
                     {"source", "tmpfs"},
                     {"options", {"ro", "nosuid", "nodev", "noexec", "mode=000", "size=4096"}}});
        } else {
          if (!mask_file_) {
            add_dir("masks");
            entries_.push_back({BundleEntry::Kind::File, "masks/empty", "", 0000});
            mask_file_ = true;
          }
          add_mount({{"destination", s.target},
                     {"type", "bind"},
                     {"source", dir_ + "/masks/empty"},
                     {"options", {"bind", "ro", "nosuid", "nodev", "noexec", "rprivate"}}});
        }
        break;
      case MountKind::Symlink:
        if (const MountStep* c = cover(s.target))
          fail("the symlink " + s.target + " lies inside the mounted " + c->target + "; a bundle can create symlinks "
               "only in its own root");
        rootfs_entry(BundleEntry::Kind::Symlink, s.target, s.source, 0777);
        break;
      case MountKind::File: {
        const MountStep* c = cover(s.target);
        if (!c) {
          rootfs_entry(BundleEntry::Kind::File, s.target, s.content, 0644);
          break;
        }
        mount_point(s, false);
        add_dir("files");
        const std::string rel = "files/" + std::to_string(files_++);
        entries_.push_back({BundleEntry::Kind::File, rel, s.content, 0644});
        add_mount({{"destination", s.target},
                   {"type", "bind"},
                   {"source", dir_ + "/" + rel},
                   {"options", {"bind", "ro", "nosuid", "nodev", "noexec", "rprivate"}}});
        break;
      }
      case MountKind::Proc:
        mount_point(s, true);
        add_mount({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}});
        for (int i = 0; mnt::kProcMasked[i]; ++i) masked_.push_back(std::string("/proc/") + mnt::kProcMasked[i]);
        for (int i = 0; mnt::kProcReadOnly[i]; ++i) readonly_.push_back(std::string("/proc/") + mnt::kProcReadOnly[i]);
        mounted_.push_back(&s);
        break;
      case MountKind::Dev: {
        mount_point(s, true);
        // Not nodev: the runtime creates its default device nodes here. Made
        // read-only by the runtime once they are in place.
        add_mount({{"destination", "/dev"},
                   {"type", "tmpfs"},
                   {"source", "tmpfs"},
                   {"options", {"ro", "nosuid", "noexec", "strictatime", "mode=755",
                                "size=" + std::to_string(s.size ? s.size : 65536)}}});
        add_mount({{"destination", "/dev/pts"},
                   {"type", "devpts"},
                   {"source", "devpts"},
                   {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}});
        const std::uint64_t shm = plan_.limits.tmpfs_size ? plan_.limits.tmpfs_size : (64ULL << 20);
        add_mount({{"destination", "/dev/shm"},
                   {"type", "tmpfs"},
                   {"source", "shm"},
                   {"options", {"nosuid", "nodev", "noexec", "mode=1777", "size=" + std::to_string(shm)}}});
        mounted_.push_back(&s);
        break;
      }
    }
  }

  // ---- config.json --------------------------------------------------------

  void config() {
    json& c = out_.config;
    c["ociVersion"] = "1.0.2";
    json args = json::array({plan_.exe});
    for (std::size_t i = 1; i < plan_.argv.size(); ++i) args.push_back(plan_.argv[i]);
    json rlimits = json::array({{{"type", "RLIMIT_CORE"}, {"hard", 0}, {"soft", 0}}});
    const auto& l = plan_.limits;
    if (l.nofile) rlimits.push_back({{"type", "RLIMIT_NOFILE"}, {"hard", l.nofile}, {"soft", l.nofile}});
    if (l.file_size) rlimits.push_back({{"type", "RLIMIT_FSIZE"}, {"hard", l.file_size}, {"soft", l.file_size}});
    c["process"] = {
        {"terminal", false},
        {"user", {{"uid", plan_.id.uid}, {"gid", plan_.id.gid}, {"additionalGids", json::array()}}},
        {"args", args},
        {"env", plan_.env},
        {"cwd", plan_.cwd},
        {"capabilities",
         {{"bounding", json::array()},
          {"effective", json::array()},
          {"inheritable", json::array()},
          {"permitted", json::array()},
          {"ambient", json::array()}}},
        {"rlimits", rlimits},
        {"noNewPrivileges", true},
    };
    c["root"] = {{"path", "rootfs"}, {"readonly", true}};
    c["hostname"] = plan_.hostname;
    c["mounts"] = mounts_;

    json ns = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}, {{"type", "cgroup"}}});
    if (plan_.network.mode != NetMode::Host) ns.push_back({{"type", "network"}});
    json res = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
    if (l.memory) res["memory"] = {{"limit", *l.memory}, {"swap", *l.memory}};  // memory + swap = memory: no swap
    if (l.pids) res["pids"] = {{"limit", *l.pids}};
    if (l.cpu) {
      auto quota = static_cast<std::uint64_t>(std::llround(*l.cpu * static_cast<double>(kCpuPeriodUs)));
      quota = std::max(quota, kCpuMinQuotaUs);
      res["cpu"] = {{"quota", quota}, {"period", kCpuPeriodUs}};
    }
    auto sc = seccomp_profile(plan_.seccomp);
    for (auto& g : sc.gaps) out_.gaps.push_back(std::move(g));
    c["linux"] = {{"namespaces", ns},
                  {"resources", res},
                  {"seccomp", sc.json},
                  {"maskedPaths", masked_},
                  {"readonlyPaths", readonly_}};
    c["annotations"] = {{"org.mcp-jail.profile", plan_.profile_name}};
  }

  // ---- what the bundle cannot express ---------------------------------------

  void gaps() {
    auto& g = out_.gaps;
    std::string exec = plan_.landlock.exec_allow.empty() ? std::string("the planned executables")
                                                         : join(plan_.landlock.exec_allow, ", ");
    for (const auto& r : plan_.landlock.rules)
      if (r.exec) exec += ", anything below " + r.path;
    g.push_back({"landlock",
                 "Landlock: only " + exec + " may be executed; file access narrowed to the planned paths" +
                     (plan_.landlock.restrict_tcp ? "; TCP connect/bind only to the planned ports" : "") +
                     "; signals and abstract unix sockets scoped to the jail",
                 "no Landlock in the OCI runtime config: any file on a mount without noexec may run (the read-only "
                 "binds such as /usr included); the mounts still decide what is visible and writable, and the pid and "
                 "network namespaces keep signals and abstract sockets inside"});
    g.push_back(memfd_gap("runc 1.1.5 accepts only the sysctls it knows to be namespaced (net.*, kernel IPC, "
                          "fs.mqueue) and refuses vm.memfd_noexec: a program written into a memfd can run; writable "
                          "mounts stay noexec"));
    for (const auto& m : plan_.mounts)
      if (m.idmap_owner)
        g.push_back({"idmap",
                     "the write path " + m.target + " is idmapped: files of uid " + std::to_string(m.idmap_owner->first) +
                         " appear as the server's, and what it creates is theirs on the host",
                     "runc 1.1.5 has no idmapped bind mounts (an OCI mount's uidMappings): the bind keeps its owners, so "
                     "the server's user can write there only what the host's permissions let it"});
    g.push_back(supervisor_gap("nothing observes the server: no audit events; the runtime's and the kernel's own "
                               "logs only"));
    if (auto p = protect_gap(plan_)) g.push_back(std::move(*p));
    g.push_back({"process",
                 "the jail's init (pid 1) forwards signals to the server and reaps orphans; securebits NOROOT and "
                 "NO_SETUID_FIXUP, locked",
                 "the server is pid 1 of its pid namespace: signals it has no handler for are ignored (SIGKILL still "
                 "ends it). No OCI field for securebits: the empty capability sets and noNewPrivileges keep "
                 "capabilities out anyway"});
    g.push_back({"mounts",
                 "masked /proc entries (" + std::string(mnt::kProcMasked[0]) + ", " + mnt::kProcMasked[1] +
                     ", ...) and hidden directories cannot be opened (mode 000)",
                 "runc binds /dev/null over masked /proc files (they read as empty) and mounts an empty read-only tmpfs "
                 "over hidden directories, with the mode of the directory it hides; hidden files cannot be opened, as "
                 "in the jail. The root is the bundle's rootfs/, read-only, which OCI cannot mount nosuid or nodev: it "
                 "holds no setuid file and no device node"});
    if (plan_.limits.wall_time.count() > 0)
      g.push_back({"limits", "wall_time " + format_duration(plan_.limits.wall_time) + ": the supervisor ends the jail",
                   "no OCI field: the server runs until it exits (end it with `runc kill`)"});
    if (plan_.limits.memory)
      g.push_back({"limits", "on cgroup v2 one OOM kill ends the whole jail (memory.oom.group)",
                   "the kernel's OOM killer picks a process inside the container's memory limit"});
    if (auto p = pin_gap(plan_, "nothing is checked: verify the files before starting the bundle (`mcp-jail check` does)"))
      g.push_back(std::move(*p));
    switch (plan_.network.mode) {
      case NetMode::Allowlist: {
        std::vector<std::string> allow;
        for (const auto& r : plan_.network.rules) allow.push_back(r.str());
        g.push_back({"network",
                     "network = \"allowlist\": an uplink with the egress allowlist (" + join(allow, ", ") +
                         "), the jail's DNS filter for the names, private and local ranges denied",
                     "NO NETWORK: a bare OCI bundle has no egress filter nor DNS filter, so the server gets an empty "
                     "network namespace (loopback only). Use `mcp-jail run`, or `export k8s` for a cluster's network "
                     "policies"});
        break;
      }
      case NetMode::Host:
        g.push_back({"network", "network = \"host\" (allow_host_network): the host's network, logged at start",
                     "the host's network namespace is shared as well; nothing logs it"});
        break;
      case NetMode::None: break;
    }
  }

  const Plan& plan_;
  std::string dir_;
  OciBundle out_;
  std::vector<BundleEntry> entries_;
  std::set<std::string> made_;
  std::vector<const MountStep*> mounted_;
  std::vector<std::string> exec_paths_;
  json mounts_ = json::array();
  std::vector<std::string> masked_, readonly_;
  bool mask_file_ = false;
  int files_ = 0;
};

}  // namespace

OciBundle build_oci(const Plan& plan, const std::string& bundle_dir) { return OciBuilder(plan, bundle_dir).run(); }

}  // namespace mcpjail::exporter
