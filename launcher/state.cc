// The profile's private state directory. The planner has resolved where it
// is (the state home's trusted symlinks followed); here every component from
// / down is opened relative to its parent with O_NOFOLLOW, so nothing placed
// in the directory by a server (which may write it) can redirect the
// launcher: a symlink is refused, never followed.
#include "mcpjail/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "mcpjail/errors.hpp"
#include "mcpjail/paths.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail {

namespace {

[[noreturn]] void refuse(const std::string& msg) { throw LaunchError("state", msg); }

std::string owner_text(uid_t uid) { return "uid " + std::to_string(uid); }

struct Owner {
  uid_t uid;
  gid_t gid;
  bool chown;        // give what is created to uid:gid (root launching for an unprivileged jail)
  bool allow_root;   // an existing directory owned by root is acceptable too
};

// Opens directory `name` below `parent` (whose path is `path`'s parent),
// creating it with mode 0700 when missing; refuses what is not a plain
// directory of the expected owner, or is writable by group or others.
UniqueFd ensure_dir(int parent, const std::string& name, const std::string& path, const Owner& who) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st {};
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) refuse(errno_text("stat " + path, errno));
      if (::mkdirat(parent, name.c_str(), 0700) != 0) {
        if (errno == EEXIST) continue;  // created meanwhile: look again
        refuse(errno_text("create " + path, errno) + "; create it yourself (mkdir -m 0700 " + path + ")");
      }
      UniqueFd fd(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) refuse(errno_text("open " + path + " after creating it", errno));
      if (who.chown && ::fchownat(fd.get(), "", who.uid, who.gid, AT_EMPTY_PATH) != 0)
        refuse(errno_text("chown " + path + " to " + std::to_string(who.uid) + ":" + std::to_string(who.gid), errno));
      return fd;
    }
    if (S_ISLNK(st.st_mode))
      refuse(path + " is a symlink; a state directory is never reached through one (a server that can write the "
                    "state directory could have placed it). Fix: remove it (rm " + path + ") and run again");
    if (!S_ISDIR(st.st_mode)) refuse(path + " exists but is not a directory. Fix: move it away and run again");
    if (st.st_uid != who.uid && !(who.allow_root && st.st_uid == 0))
      refuse(path + " is owned by " + owner_text(st.st_uid) + ", not by " + owner_text(who.uid) +
             " (the user the jail runs as). Fix: chown -R " + std::to_string(who.uid) + ":" + std::to_string(who.gid) +
             " " + path + ", or remove it");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      refuse(path + " is writable by group or others (mode " + std::to_string((st.st_mode >> 6) & 7) +
             std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
             "), so another user could change what the jail finds there. Fix: chmod go-w " + path);
    UniqueFd fd(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) refuse(errno_text("open " + path, errno));
    struct stat again {};
    if (::fstat(fd.get(), &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino)
      refuse(path + " changed while it was being checked");
    return fd;
  }
  refuse(path + " keeps changing while it is being created");
}

}  // namespace

std::string xdg_state_home(const std::map<std::string, std::string>& env) {
  // XDG base directories: a relative value is invalid and ignored.
  const auto it = env.find("XDG_STATE_HOME");
  if (it == env.end() || !it->second.starts_with("/")) return "";
  return normalize_absolute(it->second, nullptr).value_or("");
}

std::string state_home(const LoadOptions& load) {
  if (!load.state_home.empty()) return load.state_home;
  if (load.home.empty()) return "";
  return (load.home == "/" ? "" : load.home) + "/.local/state";
}

void prepare_state(const Plan& plan) {
  const StatePlan& st = plan.state;
  if (st.dir.empty()) return;
  const uid_t me = ::geteuid();
  const gid_t my_gid = ::getegid();
  const Identity& id = plan.id;

  // The state home: made like `mkdir -p` (mode 0700) where missing; it must
  // belong to the invoking user (or root).
  UniqueFd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) refuse(errno_text("open /", errno));
  std::string path;
  const auto home = path_components(st.home_canonical);
  for (std::size_t i = 0; i < home.size(); ++i) {
    path += "/" + home[i];
    const bool last = i + 1 == home.size();
    struct stat sb {};
    if (::fstatat(cur.get(), home[i].c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 && !last) {
      if (S_ISLNK(sb.st_mode)) refuse(path + " became a symlink after the launch was planned; run again");
      if (!S_ISDIR(sb.st_mode)) refuse(path + " is not a directory");
      UniqueFd next(::openat(cur.get(), home[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) refuse(errno_text("open " + path, errno));
      cur = std::move(next);
      continue;
    }
    // Missing parents and the state home itself: created by, and owned by, the invoking user.
    cur = ensure_dir(cur.get(), home[i], path, Owner{me, my_gid, false, true});
  }

  // <state home>/mcp-jail: the invoking user's.
  path = (st.home_canonical == "/" ? "" : st.home_canonical) + "/mcp-jail";
  cur = ensure_dir(cur.get(), "mcp-jail", path, Owner{me, my_gid, false, false});

  // The profile's own directory and what the jail binds below it: the jail's
  // user's. Rootless, that is the invoking user; as root, the jail's
  // unprivileged uid, so the server can write its own state.
  const Owner jail{id.uid, id.gid, id.root_mode, false};
  path += "/" + st.name;
  UniqueFd root = ensure_dir(cur.get(), st.name, path, jail);
  for (const auto& rel : st.paths) {
    UniqueFd at(::fcntl(root.get(), F_DUPFD_CLOEXEC, 3));
    if (!at) refuse(errno_text("dup", errno));
    std::string p = path;
    const auto comps = path_components(rel);
    for (std::size_t i = 0; i < comps.size(); ++i) {
      p += "/" + comps[i];
      struct stat sb {};
      // A file the profile lists (not created: only directories are) is
      // checked like a directory, minus the type.
      if (i + 1 == comps.size() && ::fstatat(at.get(), comps[i].c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
          !S_ISDIR(sb.st_mode)) {
        if (S_ISLNK(sb.st_mode)) refuse(p + " is a symlink; the state directory never holds one the launcher follows. "
                                        "Fix: remove it (rm " + p + ")");
        if (sb.st_uid != jail.uid)
          refuse(p + " is owned by " + owner_text(sb.st_uid) + ", not by " + owner_text(jail.uid) + ". Fix: chown " +
                 std::to_string(jail.uid) + ":" + std::to_string(jail.gid) + " " + p);
        break;
      }
      at = ensure_dir(at.get(), comps[i], p, jail);
    }
  }
}

}  // namespace mcpjail
