// The protected names of every write path (mcpjail/protect.hpp): which
// exist and are bound read-only over themselves, which are missing and are
// refused by the supervisor, and the nested repositories found below each
// write path. Reads the host, changes nothing.
#include "mcpjail/protect.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <deque>
#include <set>

#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail {

namespace planning {

namespace {

using PP = ProtectedPath;

std::string join_path(const std::string& dir, const std::string& rel) {
  if (rel.empty()) return dir;
  return dir == "/" ? "/" + rel : dir + "/" + rel;
}

// A write path of the plan: a writable directory bind.
struct Root {
  std::string target;  // inside the jail
  std::string source;  // on the host (canonical)
};

// Where a relative name stops below a directory, without following links.
struct Probe {
  enum Kind { Exists, Missing, Link, NotDir } kind = Missing;
  std::string rel;      // the part of the name that exists (Exists, NotDir) or the first missing / link component, included
  bool is_dir = false;  // Exists
  dev_t pdev = 0;       // the directory holding the last component of `rel`
  ino_t pino = 0;
};

Probe probe(int dirfd, const std::string& host_dir, const std::string& name) {
  Probe p;
  const auto comps = path_components(name);
  UniqueFd cur(::openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) throw LaunchError("filesystem", errno_text("open " + host_dir, errno));
  for (std::size_t i = 0; i < comps.size(); ++i) {
    p.rel = p.rel.empty() ? comps[i] : p.rel + "/" + comps[i];
    struct stat parent {};
    if (::fstat(cur.get(), &parent) != 0) throw LaunchError("filesystem", errno_text("stat " + host_dir, errno));
    p.pdev = parent.st_dev;
    p.pino = parent.st_ino;
    struct stat st {};
    if (::fstatat(cur.get(), comps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        p.kind = Probe::Missing;
        return p;
      }
      throw LaunchError("filesystem", errno_text("examine the protected name " + join_path(host_dir, p.rel), errno) +
                                          "; fix its permissions or drop the name with [filesystem] unprotect");
    }
    if (S_ISLNK(st.st_mode)) {
      p.kind = Probe::Link;
      return p;
    }
    const bool last = i + 1 == comps.size();
    if (!S_ISDIR(st.st_mode) && !last) {
      p.kind = Probe::NotDir;
      return p;
    }
    if (last) {
      p.kind = Probe::Exists;
      p.is_dir = S_ISDIR(st.st_mode);
      return p;
    }
    UniqueFd next(::openat(cur.get(), comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) throw LaunchError("filesystem", errno_text("open " + join_path(host_dir, p.rel), errno));
    cur = std::move(next);
  }
  return p;
}

class Planner {
 public:
  Planner(Context& c, Plan& plan) : c_(c), plan_(plan) {
    const auto& fs = c.profile.filesystem;
    names_ = protect::effective(fs.protect, fs.unprotect);
    home_names_ = protect::effective(fs.protect_home, fs.unprotect);
    git_names_ = protect::git_dir_names(names_);
    for (const auto& m : plan.mounts)
      if (m.kind == MountKind::Bind && m.writable && m.is_dir) writable_.push_back({m.target, m.source});
    // The profile's state directory is mcp-jail's own (created by run, private
    // to the profile): no host tool runs in it, and it may not exist yet.
    if (!plan.state.dir.empty())
      std::erase_if(writable_, [&](const Root& w) { return path_is_under(w.target, plan.state.dir); });
    // Outermost write paths only: a write path inside another is walked with it.
    for (const auto& w : writable_) {
      const bool inner = std::any_of(writable_.begin(), writable_.end(), [&](const Root& o) {
        return o.target != w.target && path_is_under(w.target, o.target);
      });
      if (!inner && std::none_of(roots_.begin(), roots_.end(), [&](const Root& r) { return r.target == w.target; }))
        roots_.push_back(w);
    }
    // Without a write path no home directory can be reached: the user
    // database (which may load NSS modules) is not read.
    if (!roots_.empty()) homes_ = home_dirs();
  }

  void run() {
    if (names_.empty() && home_names_.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    plan_.protect_scan.depth = protect::kNestedDepth;
    for (const auto& r : roots_) {
      UniqueFd dir = open_root(r);
      for (const auto& n : names_) add_listed(dir.get(), r.source, r.target, n, "write path " + r.target);
      // Home directories: the write path itself or one below it.
      std::set<std::string> done;
      for (const auto& h : homes_) {
        if (!path_is_under(h.path, r.source) || !done.insert(h.path).second) continue;
        const std::string rel = h.path.size() > r.source.size() ? h.path.substr(r.source.size() + (r.source == "/" ? 0 : 1)) : "";
        const std::string jail = join_path(r.target, rel);
        UniqueFd hd = rel.empty() ? UniqueFd(::dup(dir.get())) : open_below(dir.get(), rel);
        if (!hd) continue;  // not a directory any more, or a link: nothing of it is a home
        for (const auto& n : home_names_) add_listed(hd.get(), h.path, jail, n, "home directory " + jail + " (" + h.why + ")");
      }
      if (!git_names_.empty()) nested(dir.get(), r);
    }
    plan_.protect_scan.ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (plan_.protect_scan.truncated)
      c_.note("protected names: the walk for nested repositories stopped after " +
              std::to_string(protect::kNestedEntryBudget) +
              " directory entries; repositories further in are not protected (list their .git directories "
              "in [filesystem] read to make them read-only)");
  }

 private:
  struct Home {
    std::string path;  // canonical, on the host
    std::string why;
  };

  std::vector<Home> home_dirs() const {
    std::vector<Home> out;
    auto add_home = [&](const std::string& p, const std::string& why) {
      char buf[PATH_MAX];
      if (p.empty() || p[0] != '/' || !::realpath(p.c_str(), buf)) return;
      const std::string canon = buf;
      if (canon == "/") return;
      if (std::none_of(out.begin(), out.end(), [&](const Home& h) { return h.path == canon; })) out.push_back({canon, why});
    };
    add_home(c_.inv.load.home, "$HOME");
    ::setpwent();
    while (const passwd* pw = ::getpwent()) {
      const std::string dir = pw->pw_dir ? pw->pw_dir : "";
      // Only those a write path reaches are looked at.
      if (std::any_of(roots_.begin(), roots_.end(), [&](const Root& r) { return path_is_under(dir, r.source); }))
        add_home(dir, std::string("home of ") + pw->pw_name + " in the user database");
    }
    ::endpwent();
    // A write path holding a shell start-up file at its top looks like one.
    for (const auto& r : roots_)
      for (const auto& m : protect::home_markers()) {
        struct stat st {};
        if (::lstat(join_path(r.source, m).c_str(), &st) == 0) {
          add_home(r.source, "holds " + m);
          break;
        }
      }
    return out;
  }

  UniqueFd open_root(const Root& r) const {
    auto walk = safe_walk(c_.root(), r.source, TrustPolicy{0, {"/"}});
    if (!walk.error.empty() || walk.type != ObjType::Directory)
      throw LaunchError("filesystem", "cannot examine the write path " + r.source + " for protected names" +
                                          (walk.error.empty() ? std::string(": not a directory") : ": " + walk.error));
    UniqueFd fd(::openat(walk.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw LaunchError("filesystem", errno_text("open " + r.source, errno));
    return fd;
  }

  // A directory below `dirfd` without following links; invalid when it is not one.
  static UniqueFd open_below(int dirfd, const std::string& rel) {
    UniqueFd cur(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (const auto& comp : path_components(rel)) {
      if (!cur) return cur;
      cur = UniqueFd(::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    return cur;
  }

  // Jail path `p` can be written in the plan as it stands (a writable bind
  // is the deepest mount above it and no hide covers it).
  bool writable_now(const std::string& p) const {
    const MountStep* via = visible_through(plan_.mounts, p);
    if (!via || via->kind != MountKind::Bind || !via->writable) return false;
    return std::none_of(plan_.mounts.begin(), plan_.mounts.end(),
                        [&](const MountStep& s) { return s.kind == MountKind::Mask && path_is_under(p, s.target); });
  }

  // Appends `m`, but before the mounts already placed below its target
  // (the binds of present names there, a write path of the profile's own
  // inside a protected directory such as its state directory): mounted
  // later, it would cover them.
  void place(MountStep m) {
    const auto below = std::find_if(plan_.mounts.begin(), plan_.mounts.end(), [&](const MountStep& o) {
      return o.target != m.target && path_is_under(o.target, m.target);
    });
    plan_.mounts.insert(below, std::move(m));
  }

  void bind(const std::string& target, const std::string& source, bool is_dir, const std::string& why) {
    place({.kind = MountKind::Bind, .target = target, .source = source, .writable = false, .is_dir = is_dir, .why = why});
  }

  // The jail path of a host path inside a write path, or "".
  std::string jail_path_of(const std::string& host) const {
    const Root* best = nullptr;
    for (const auto& w : writable_)
      if (path_is_under(host, w.source) && (!best || w.source.size() > best->source.size())) best = &w;
    if (!best) return {};
    return best->target + host.substr(best->source.size());
  }

  void add(int dirfd, const std::string& host_dir, const std::string& jail_dir, const std::string& name,
           const std::string& where) {
    PP e;
    e.name = name;
    e.root = jail_dir;
    e.path = join_path(jail_dir, name);
    e.why = where;
    if (std::any_of(plan_.protect.begin(), plan_.protect.end(), [&](const PP& o) { return o.path == e.path; })) return;
    const Probe p = probe(dirfd, host_dir, name);
    const std::string jail_at = join_path(jail_dir, p.rel), host_at = join_path(host_dir, p.rel);
    if (p.kind == Probe::Exists || p.kind == Probe::NotDir) {
      if (!writable_now(jail_at)) {
        e.state = PP::State::Covered;
        e.how = "already read-only or hidden by the profile's own mounts";
      } else {
        e.state = PP::State::Bound;
        const bool is_dir = p.kind == Probe::Exists && p.is_dir;
        e.how = p.kind == Probe::NotDir
                    ? "read-only bind over " + jail_at + " (a file where the name needs a directory: it may point elsewhere)"
                    : std::string("read-only bind over the ") + (is_dir ? "directory" : "file") +
                          " (a mount point: no write, rename or unlink)";
        bind(jail_at, host_at, is_dir, "protected name " + name + " in the " + where);
        // The profile's own state directory inside it (.local/state/mcp-jail
        // of a home directory that is a write path) stays as writable as the
        // write path made it.
        const auto& st = plan_.state;
        if (is_dir && !st.dir.empty() && st.dir != jail_at && path_is_under(st.dir, jail_at))
          place({.kind = MountKind::Bind, .target = st.dir, .source = st.canonical, .writable = true, .is_dir = true,
                 .why = "the profile's state directory, inside the protected name " + name + " (run creates it when missing)"});
      }
      plan_.protect.push_back(std::move(e));
      return;
    }
    e.refuse = jail_at;
    e.refuse_host = host_at;
    e.parent_dev = p.pdev;
    e.parent_ino = p.pino;
    pin_parent(jail_at, host_at, name, where);
    if (p.kind == Probe::Missing) {
      e.state = PP::State::Absent;
      e.how = "missing: cannot be created at " + jail_at +
              " (creating calls are performed by the jail's create helper, checked against the directory it holds "
              "open; a name made on the host meanwhile is reported when the launch ends)";
    } else {
      e.state = PP::State::Link;
      e.how = "symbolic link at " + jail_at + ": once removed, it cannot be created again (the create helper)";
      char buf[PATH_MAX];
      if (::realpath(host_at.c_str(), buf)) {
        const std::string target = buf;
        const std::string jail_target = jail_path_of(target);
        struct stat st {};
        if (!jail_target.empty() && writable_now(jail_target) && ::lstat(target.c_str(), &st) == 0) {
          bind(jail_target, target, S_ISDIR(st.st_mode), "protected name " + name + " in the " + where + ": the target of the link");
          e.how += "; its target " + jail_target + " is bound read-only";
        } else {
          e.how += "; its target " + target + " is not writable in the jail";
        }
      } else {
        e.how += "; it points nowhere";
      }
    }
    plan_.protect.push_back(std::move(e));
  }

  // A name as the profile lists it, relative to `jail_dir` (`host_dir` on the host).
  void add_listed(int dirfd, const std::string& host_dir, const std::string& jail_dir, const std::string& listed,
                  const std::string& where) {
    if (protect::anywhere_name(listed).empty()) add(dirfd, host_dir, jail_dir, listed, where);
    else add_anywhere(dirfd, host_dir, jail_dir, listed, where);
  }

  // "**/NAME": refused in every directory below `jail_dir`, by its
  // filesystem; what exists is the walk's (nested repositories).
  void add_anywhere(int dirfd, const std::string& host_dir, const std::string& jail_dir, const std::string& listed,
                    const std::string& where) {
    const std::string path = join_path(jail_dir, listed);
    if (std::any_of(plan_.protect.begin(), plan_.protect.end(), [&](const PP& o) { return o.path == path; })) return;
    struct stat st {};
    if (::fstat(dirfd, &st) != 0) throw LaunchError("filesystem", errno_text("stat " + host_dir, errno));
    PP e;
    e.state = PP::State::Anywhere;
    e.name = listed;
    e.root = jail_dir;
    e.path = path;
    e.why = where;
    e.how = "cannot be created in any directory of the write path (on its filesystem; the create helper): a " +
            std::string(protect::anywhere_name(listed)) +
            " made below it is one git on the host enters, as a submodule the index names or from a shell in that "
            "directory; those that exist are found by the walk for nested repositories";
    e.parent_dev = st.st_dev;
    plan_.protect.push_back(std::move(e));
  }

  // The refusal of a missing name is tied to the identity of the directory
  // it would be created in. Inside a write path that directory could be
  // renamed away and a copy holding the name renamed into its place (or
  // swapped in with RENAME_EXCHANGE): it becomes a mount point (a writable
  // bind over itself), which cannot be renamed, and pin_narrowed_ancestors()
  // does the same for the directories between it and the write path.
  void pin_parent(const std::string& jail_at, const std::string& host_at, const std::string& name, const std::string& where) {
    const auto js = jail_at.rfind('/'), hs = host_at.rfind('/');
    if (js == std::string::npos || js == 0 || hs == std::string::npos || hs == 0) return;
    const std::string jail_dir = jail_at.substr(0, js), host_dir = host_at.substr(0, hs);
    const MountStep* via = visible_through(plan_.mounts, jail_dir);
    if (!via || via->kind != MountKind::Bind || !via->writable || via->target == jail_dir) return;  // a mount point already
    if (std::any_of(plan_.mounts.begin(), plan_.mounts.end(), [&](const MountStep& m) { return m.target == jail_dir; })) return;
    MountStep pin{.kind = MountKind::Bind,
                  .target = jail_dir,
                  .source = host_dir,
                  .writable = true,
                  .exec = via->exec,
                  .is_dir = true,
                  .why = "protected name " + name + " in the " + where +
                         ": keeps the directory it would be created in in place (a mount point cannot be renamed)"};
    place(std::move(pin));
  }

  // Repositories below a write path, to kNestedDepth, within the entry budget.
  void nested(int rootfd, const Root& r) {
    auto& scan = plan_.protect_scan;
    struct Item {
      UniqueFd fd;
      std::string rel;
      int depth;
    };
    std::deque<Item> queue;
    queue.push_back({UniqueFd(::dup(rootfd)), "", 0});
    while (!queue.empty()) {
      Item it = std::move(queue.front());
      queue.pop_front();
      if (!it.fd) continue;
      // A directory whose link count is 2 has no subdirectory (ext4, xfs,
      // tmpfs; btrfs says 1, and is read): only a .git file can be there.
      struct stat dst {};
      if (it.depth > 0 && ::fstat(it.fd.get(), &dst) == 0 && dst.st_nlink == 2) {
        struct stat gst {};
        if (::fstatat(it.fd.get(), ".git", &gst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(gst.st_mode)) {
          ++scan.repos;
          const std::string jail_repo = join_path(r.target, it.rel);
          add(it.fd.get(), join_path(r.source, it.rel), jail_repo, ".git",
              "repository " + jail_repo + " (nested, found at launch): a link to its git directory");
        }
        continue;
      }
      UniqueFd readfd(::dup(it.fd.get()));
      DIR* d = ::fdopendir(readfd.get());
      if (!d) continue;
      (void)readfd.release();
      struct Close {
        DIR* d;
        ~Close() { ::closedir(d); }
      } close_later{d};
      while (const dirent* de = ::readdir(d)) {
        const std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        if (scan.entries >= protect::kNestedEntryBudget) {
          scan.truncated = true;
          return;
        }
        ++scan.entries;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
          struct stat st {};
          if (::fstatat(it.fd.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        const std::string rel = it.rel.empty() ? n : it.rel + "/" + n;
        if (n == ".git" && it.depth > 0) {
          // A nested repository (the write path's own .git is in the list).
          ++scan.repos;
          const std::string host_repo = join_path(r.source, it.rel), jail_repo = join_path(r.target, it.rel);
          const std::string where = "repository " + jail_repo + " (nested, found at launch)";
          if (type == DT_DIR) {
            for (const auto& g : git_names_) add(it.fd.get(), host_repo, jail_repo, ".git/" + g, where);
            modules(it.fd.get(), host_repo, jail_repo, ".git/modules", where, 0);
          } else {
            add(it.fd.get(), host_repo, jail_repo, ".git", where + ": a link to its git directory");
          }
          continue;
        }
        if (n == ".git" && type == DT_DIR) {
          modules(it.fd.get(), r.source, r.target, ".git/modules", "write path " + r.target, 0);
          continue;
        }
        if (type != DT_DIR || it.depth + 1 > protect::kNestedDepth || protect::skip_in_walk(n)) continue;
        UniqueFd sub(::openat(it.fd.get(), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub) queue.push_back({std::move(sub), rel, it.depth + 1});
      }
    }
  }

  // Submodules keep their git directories in .git/modules/NAME (nested for
  // submodules of submodules): a directory holding HEAD is one.
  void modules(int repofd, const std::string& host_repo, const std::string& jail_repo, const std::string& rel,
               const std::string& where, int depth) {
    if (depth > 3) return;
    UniqueFd dir = open_below(repofd, rel);
    if (!dir) return;
    UniqueFd readfd(::dup(dir.get()));
    DIR* d = ::fdopendir(readfd.get());
    if (!d) return;
    (void)readfd.release();
    struct Close {
      DIR* d;
      ~Close() { ::closedir(d); }
    } close_later{d};
    std::vector<std::string> subs;
    while (const dirent* de = ::readdir(d)) {
      const std::string n = de->d_name;
      if (n == "." || n == ".." || plan_.protect_scan.entries >= protect::kNestedEntryBudget) continue;
      ++plan_.protect_scan.entries;
      struct stat st {};
      if (::fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) subs.push_back(n);
    }
    for (const auto& s : subs) {
      const std::string gd = rel + "/" + s;
      struct stat st {};
      if (::fstatat(repofd, (gd + "/HEAD").c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        ++plan_.protect_scan.repos;
        for (const auto& g : git_names_)
          add(repofd, host_repo, jail_repo, gd + "/" + g, where + ", submodule git directory " + gd);
      }
      modules(repofd, host_repo, jail_repo, gd + "/modules", where, depth + 1);
    }
  }

  Context& c_;
  Plan& plan_;
  std::vector<std::string> names_, home_names_, git_names_;
  std::vector<Root> writable_, roots_;
  std::vector<Home> homes_;
};

}  // namespace

void plan_protect(Context& c, Plan& plan) { Planner(c, plan).run(); }

void prune_protect_rules(Plan& plan) {
  // The mounts protection added: the read-only binds (at Bound entries, or a
  // link's target) and the directories pinned above them.
  std::vector<std::string> ours;
  for (const auto& m : plan.mounts)
    if (m.kind == MountKind::Bind && m.why.starts_with("protected name ")) ours.push_back(m.target);
  auto is_ours = [&](const LandlockRule& r) {
    return std::any_of(ours.begin(), ours.end(), [&](const std::string& t) { return path_is_under(t, r.path); }) &&
           std::any_of(plan.protect.begin(), plan.protect.end(),
                       [&](const ProtectedPath& e) { return path_is_under(r.path, e.root); });
  };
  // Redundant below a write rule that grants at least as much: Landlock's
  // rights on a path are the union of the rules on it and its ancestors.
  // Left in, such a rule would also have to be opened as the jail's user,
  // which a root launch with a write path it may not traverse cannot.
  const auto& rules = plan.landlock.rules;
  std::vector<LandlockRule> kept;
  for (const auto& r : rules) {
    // `a`: the rule of a writable bind strictly above (a write path, or a
    // directory pinned in one), granting at least what `r` grants.
    const bool redundant = !r.optional && is_ours(r) && std::any_of(rules.begin(), rules.end(), [&](const LandlockRule& a) {
      return a.path != r.path && path_is_under(r.path, a.path) && a.write && (a.exec || !r.exec) &&
             std::any_of(plan.mounts.begin(), plan.mounts.end(), [&](const MountStep& m) {
               return m.kind == MountKind::Bind && m.writable && m.target == a.path;
             });
    });
    if (!redundant) kept.push_back(r);
  }
  plan.landlock.rules = std::move(kept);
}

}  // namespace planning
}  // namespace mcpjail
