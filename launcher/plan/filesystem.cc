// Filesystem pass: the paths the profile, the command line and the runtime
// adapters bind, and the tmpfs mounts, as mount candidates (ordered later:
// mount_order.cc). Every path is resolved with the symlink-safe walk.
#include "mcpjail/trust.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

namespace {

class Binder {
 public:
  Binder(Context& c, const TrustPolicy& trust, const StatePlan& state) : c_(c), trust_(trust), state_(state) {}

  void add(const PathRule& r, bool writable, const std::string& what) {
    if (r.path.starts_with("/proc") && path_is_under(r.path, "/proc")) {
      c_.error(r.loc, r.path + ": /proc is provided by mcp-jail (a fresh procfs for the jail); do not list it");
      return;
    }
    if (path_is_under(r.path, "/dev")) {
      c_.error(r.loc, r.path + ": /dev is provided by mcp-jail (null, zero, full, random, urandom, tty, shm, pts); do not list it");
      return;
    }
    if (writable && r.path == "/") {
      c_.error(r.loc, "the whole host root cannot be writable");
      return;
    }
    if (add_state(r, writable, what)) return;
    auto w = safe_walk(c_.root(), r.path, trust_);
    if (!w.error.empty()) {
      c_.error(r.loc, r.path + ": " + w.error);
      return;
    }
    if (w.type == ObjType::Missing) {
      if (r.optional) {
        c_.note(r.path + " (optional, " + what + ") does not exist; skipped");
        return;
      }
      c_.error(r.loc, r.path + " does not exist" + (w.canonical != r.path ? " (resolves to " + w.canonical + ")" : "") +
                          "; create it, or mark it optional with a leading '-' (\"-" + r.path + "\")");
      return;
    }
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = r.path;
    s.source = w.canonical;
    s.writable = writable;
    s.is_dir = w.type == ObjType::Directory;
    s.why = what + " (" + r.loc.str() + ")";
    push(std::move(s));
  }

  // A path below ${PROFILE_STATE}: bound from the state directory itself
  // (no symlinks anywhere below the state home), created by `run` when
  // missing. False when `r` is not such a path.
  bool add_state(const PathRule& r, bool writable, const std::string& what) {
    if (state_.dir.empty() || !path_is_under(r.path, state_.dir)) return false;
    const std::string rel = r.path.size() > state_.dir.size() ? r.path.substr(state_.dir.size() + 1) : "";
    const std::string source = state_.canonical + (rel.empty() ? "" : "/" + rel);
    auto w = safe_walk(c_.root(), r.path, trust_);
    if (!w.error.empty()) {
      c_.error(r.loc, r.path + ": " + w.error);
      return true;
    }
    if (w.canonical != source) {
      c_.error(r.loc, r.path + " resolves to " + w.canonical + " through a symlink; nothing below the state home (" +
                          state_.home_canonical + ") may be a symlink: remove it");
      return true;
    }
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = r.path;
    s.source = source;
    s.writable = writable;
    s.is_dir = w.type != ObjType::File && w.type != ObjType::Other;
    s.why = what + " (" + r.loc.str() + "), in the profile's state directory";
    const bool missing = w.type == ObjType::Missing;
    if (missing) s.why += "; run creates it";
    out.state_uses.push_back({r.path, missing});
    push(std::move(s));
    return true;
  }

  void add_tmpfs(const PathRule& r) {
    if (path_is_under(r.path, "/proc") || path_is_under(r.path, "/dev") || r.path == "/") {
      c_.error(r.loc, r.path + ": cannot hold a tmpfs (/, /proc and /dev are provided by mcp-jail)");
      return;
    }
    MountStep s;
    s.kind = MountKind::Tmpfs;
    s.target = r.path;
    s.writable = true;
    s.size = c_.profile.limits.tmpfs_size.value_or(kDefaultTmpfsSize);
    s.why = "filesystem.tmpfs (" + r.loc.str() + ")";
    out.candidates.push_back({std::move(s), false});
  }

  FilesystemBinds out;

 private:
  void push(MountStep s) {
    // What mount ordering needs to know of the host: a listed path that is
    // itself a symlink (it may become one in the jail).
    const bool listed_symlink = s.target != s.source && is_symlink(s.target);
    out.candidates.push_back({std::move(s), listed_symlink});
  }

  Context& c_;
  const TrustPolicy& trust_;
  const StatePlan& state_;
};

}  // namespace

TrustPolicy trust_policy(Context& c, const StatePlan& state) {
  TrustPolicy policy;
  policy.trusted_uid = kTrustedLinkOwner;
  for (const auto& w : c.profile.filesystem.write) policy.untrusted_trees.push_back(w.path);
  for (const auto& p : c.inv.extra_write) policy.untrusted_trees.push_back(p);
  // The jail may write the state directory (whatever the profile lists).
  if (!state.dir.empty()) {
    policy.untrusted_trees.push_back(state.dir);
    policy.untrusted_trees.push_back(state.canonical);
  }
  auto resolved = [&](const std::string& path) {
    auto r = safe_walk(c.root(), path, TrustPolicy{kTrustedLinkOwner, {}});
    if (r.error.empty() && r.canonical != path) policy.untrusted_trees.push_back(r.canonical);
  };
  for (const auto& w : c.profile.filesystem.write) resolved(w.path);
  for (const auto& p : c.inv.extra_write) resolved(p);
  return policy;
}

FilesystemBinds plan_filesystem(Context& c, const TrustPolicy& trust, const StatePlan& state,
                                const std::vector<RuntimeBinds>& runtimes) {
  const auto& fs = c.profile.filesystem;
  Binder b(c, trust, state);
  for (const auto& r : fs.read) b.add(r, false, "filesystem.read");
  for (const auto& p : c.inv.extra_read) b.add(PathRule{p, false, SourceLoc{"--read " + p}}, false, "--read");
  for (const auto& r : fs.write) b.add(r, true, r.loc.line ? "filesystem.write" : "--write");
  for (const auto& p : c.inv.extra_write) b.add(PathRule{p, false, SourceLoc{"--write " + p}}, true, "--write");
  for (const auto& rt : runtimes) {
    for (const auto& s : rt.binds) b.add_state(PathRule{s.path, false, SourceLoc{s.origin}}, s.writable, s.why);
    // Directories inside those binds that must exist at launch.
    for (const auto& d : rt.state_dirs) b.out.state_uses.push_back(state_use(c, trust, d));
  }
  for (const auto& r : fs.tmpfs) b.add_tmpfs(r);
  // The server's HOME (env.cc): it exists and is writable.
  const std::string home = server_home(c.profile);
  if (c.profile.env.set.count("HOME")) {
    // env.set chose the server's HOME itself.
  } else if (const MountStep* cov = covering(b.out.candidates, home); cov && home == kPrivateHome) {
    c.error(SourceLoc{"env.home"}, "the server's private HOME " + home + " cannot be made: " + cov->target +
                                     " is bound from the host there (" + cov->why +
                                     "); set env.home = \"state\", or HOME in env.set");
  } else if (home == kPrivateHome) {
    MountStep s;
    s.kind = MountKind::Tmpfs;
    s.target = home;
    s.writable = true;
    s.size = c.profile.limits.tmpfs_size.value_or(kDefaultTmpfsSize);
    s.why = "the server's HOME, private to this launch (env.home)";
    b.out.candidates.push_back({std::move(s), false});
  } else {
    b.add_state(PathRule{home, false, SourceLoc{"env.home"}}, true, "the server's HOME (env.home = \"state\")");
  }
  return std::move(b.out);
}

void add_auto_binds(Context& c, std::vector<MountCandidate>& candidates, const std::vector<AutoBind>& binds) {
  for (const auto& a : binds) {
    if (const MountStep* cov = covering(candidates, a.path)) {
      c.note(a.why + ": " + a.path + " already visible (" + cov->why + ")");
      continue;
    }
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = a.path;
    s.source = a.source.empty() ? a.path : a.source;
    s.is_dir = a.is_dir;
    s.why = a.why;
    const bool listed_symlink = s.source != s.target && is_symlink(s.target);
    candidates.push_back({std::move(s), listed_symlink});
  }
}

}  // namespace mcpjail::planning
