// The create helper, the jail's side (mcpjail/create_helper.hpp): performs
// one creating call at a time, each relative to a directory descriptor whose
// identity it checked against the protected names. The messages are in
// create_wire.cc, the supervisor's side in create_client.cc.
#include "mcpjail/create_helper.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "mcpjail/channel.hpp"
#include "create_wire.hpp"

namespace mcpjail::create {

bool needed(const Plan& plan) {
  return std::any_of(plan.protect.begin(), plan.protect.end(), protect::refused_at_launch);
}

namespace {

constexpr int kMaxLinks = 40;  // as the kernel's MAXSYMLINKS

// A created path cut into the directory it is created in and its last
// component. `slash`: the path ended in '/' (only a directory can be made
// so; the kernel answers the rest).
struct Parts {
  std::string dir;   // "" for the base directory itself
  std::string name;  // never empty; "." or ".." for paths that create nothing
  bool slash = false;
};

Parts cut(std::string p) {
  Parts out;
  while (p.size() > 1 && p.back() == '/') {
    p.pop_back();
    out.slash = true;
  }
  if (p == "/") return {"/", ".", out.slash};
  const auto at = p.rfind('/');
  if (at == std::string::npos) {
    out.name = p;
  } else {
    out.dir = at == 0 ? "/" : p.substr(0, at);
    out.name = p.substr(at + 1);
  }
  return out;
}

bool creates_nothing(const Parts& p) { return p.name == "." || p.name == ".."; }

int open2(int base, const std::string& path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) {
  if (resolve == 0) return ::openat(base, path.c_str(), static_cast<int>(flags), static_cast<mode_t>(mode));
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, base, path.c_str(), &how, sizeof how));
}

// The directory a name is created in, as an O_PATH descriptor: `dir`
// resolved from `base` (absolute from the root) as the kernel would.
UniqueFd open_parent(int base, const std::string& dir, std::uint64_t resolve) {
  const std::string d = dir.empty() ? "." : dir;
  return UniqueFd(open2(base, d, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, resolve));
}

Outcome failed(int err) {
  Outcome o;
  o.error = err ? err : EIO;
  return o;
}

// The parent is checked, by identity, against the names that must not be created.
bool refuse(const protect::Guard& guard, int parent, const std::string& name, Outcome* o) {
  struct stat st {};
  if (::fstat(parent, &st) != 0) {
    *o = failed(errno);
    return true;
  }
  const std::string r = guard.refused_at(st.st_dev, st.st_ino, name);
  if (r.empty()) return false;
  o->error = EACCES;
  o->refused = r;
  return true;
}

std::string self_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Outcome do_open(const Call& c, const CallFds& fds, const protect::Guard& guard) {
  const int first = fds.dir ? fds.dir.get() : AT_FDCWD;
  Outcome o;
  auto take = [&](int fd) {
    if (fd < 0) return failed(errno);
    o.fd.reset(fd);
    return std::move(o);
  };
  // Calls that cannot create a name go to the kernel whole: without O_CREAT,
  // O_PATH (ignores O_CREAT), O_TMPFILE (an unnamed file).
  if (!(c.flags & O_CREAT) || (c.flags & O_PATH) || (c.flags & __O_TMPFILE))
    return take(open2(first, c.path, c.flags | O_CLOEXEC, c.mode, c.resolve));
  // A descriptor named as a path (/dev/stdout, /proc/self/fd/N): reopened.
  if (c.path.empty()) {
    if (!fds.dir) return failed(ENOENT);
    return take(::open(self_fd(fds.dir.get()).c_str(), static_cast<int>(c.flags | O_CLOEXEC), static_cast<mode_t>(c.mode)));
  }
  UniqueFd held;  // the directory a followed link lies in
  int base = first;
  std::string path = c.path;
  for (int links = 0; links <= kMaxLinks; ++links) {
    const Parts p = cut(path);
    // Only a directory can be named with a trailing '/', and open() never
    // makes one: nothing to create, the kernel answers.
    if (p.slash || creates_nothing(p)) return take(open2(base, path, c.flags | O_CLOEXEC, c.mode, c.resolve));
    UniqueFd parent = open_parent(base, p.dir, c.resolve);
    if (!parent) return failed(errno);
    if (refuse(guard, parent.get(), p.name, &o)) return o;
    const int fd = open2(parent.get(), p.name, c.flags | O_NOFOLLOW | O_CLOEXEC, c.mode, c.resolve);
    if (fd >= 0 || errno != ELOOP || (c.flags & O_NOFOLLOW) || c.resolve != 0) return take(fd);
    // The last component is a symbolic link: open(O_CREAT) would create its
    // target. Followed here, one link at a time, each step checked.
    char buf[PATH_MAX];
    const ssize_t n = ::readlinkat(parent.get(), p.name.c_str(), buf, sizeof buf);
    if (n < 0) return failed(errno == EINVAL ? ELOOP : errno);  // replaced meanwhile
    if (n == 0 || n >= static_cast<ssize_t>(sizeof buf)) return failed(n == 0 ? ENOENT : ENAMETOOLONG);
    path.assign(buf, static_cast<std::size_t>(n));
    held = std::move(parent);
    base = path[0] == '/' ? AT_FDCWD : held.get();
  }
  return failed(ELOOP);
}

// The other calls: mkdir, mknod, symlink, link, rename. `act` performs the
// call relative to the checked parent, with the name (and its trailing '/'
// where one was given); `whole` is the same call on the unsplit path, for
// paths that create nothing.
template <typename Act, typename Whole>
Outcome do_named(const Call& c, const CallFds& fds, const protect::Guard& guard, Act act, Whole whole) {
  const int base = fds.dir ? fds.dir.get() : AT_FDCWD;
  if (c.path.empty()) return failed(ENOENT);
  const Parts p = cut(c.path);
  const bool dir_ok = c.op == Op::Mkdir || c.op == Op::Rename;  // a trailing '/' may name a new directory
  if (creates_nothing(p) || (p.slash && !dir_ok)) return whole(base) == 0 ? Outcome{} : failed(errno);
  UniqueFd parent = open_parent(base, p.dir, 0);
  if (!parent) return failed(errno);
  Outcome o;
  if (refuse(guard, parent.get(), p.name, &o)) return o;
  return act(parent.get(), p.slash ? p.name + "/" : p.name) == 0 ? Outcome{} : failed(errno);
}

}  // namespace

Outcome perform(const Call& c, const CallFds& fds, const protect::Guard& guard) {
  const int obase = fds.other_dir ? fds.other_dir.get() : AT_FDCWD;
  const auto mode = static_cast<mode_t>(c.mode);
  switch (c.op) {
    case Op::Open: return do_open(c, fds, guard);
    case Op::Mkdir:
      return do_named(c, fds, guard, [&](int d, const std::string& n) { return ::mkdirat(d, n.c_str(), mode); },
                      [&](int b) { return ::mkdirat(b, c.path.c_str(), mode); });
    case Op::Mknod:
      return do_named(
          c, fds, guard, [&](int d, const std::string& n) { return ::mknodat(d, n.c_str(), mode, static_cast<dev_t>(c.dev)); },
          [&](int b) { return ::mknodat(b, c.path.c_str(), mode, static_cast<dev_t>(c.dev)); });
    case Op::Symlink:
      return do_named(c, fds, guard, [&](int d, const std::string& n) { return ::symlinkat(c.other.c_str(), d, n.c_str()); },
                      [&](int b) { return ::symlinkat(c.other.c_str(), b, c.path.c_str()); });
    case Op::Link: {
      // The old name as the caller named it; a descriptor named as a path
      // (AT_EMPTY_PATH, /proc/self/fd/N) is linked through the helper's own
      // /proc/self/fd, as an O_TMPFILE file is.
      auto link_to = [&](int d, const char* n) {
        if (!c.other.empty()) return ::linkat(obase, c.other.c_str(), d, n, static_cast<int>(c.flags & AT_SYMLINK_FOLLOW));
        if (!fds.other_dir || !(c.flags & (AT_EMPTY_PATH | AT_SYMLINK_FOLLOW))) {
          errno = ENOENT;
          return -1;
        }
        return ::linkat(AT_FDCWD, self_fd(fds.other_dir.get()).c_str(), d, n, AT_SYMLINK_FOLLOW);
      };
      return do_named(c, fds, guard, [&](int d, const std::string& n) { return link_to(d, n.c_str()); },
                      [&](int b) { return link_to(b, c.path.c_str()); });
    }
    case Op::Rename: {
      // RENAME_EXCHANGE also gives the old name new content: its directory
      // and name are checked as well.
      Outcome old_checked;  // RENAME_EXCHANGE: the old name's refusal, or why it could not be checked
      auto rename_to = [&](int d, const char* n) {
        if (c.other.empty()) {
          errno = ENOENT;
          return -1;
        }
        const Parts op = cut(c.other);
        const auto flags = static_cast<unsigned>(c.flags);
        if (creates_nothing(op)) return static_cast<int>(::syscall(SYS_renameat2, obase, c.other.c_str(), d, n, flags));
        UniqueFd oparent = open_parent(obase, op.dir, 0);
        if (!oparent) return -1;
        if ((flags & RENAME_EXCHANGE) && refuse(guard, oparent.get(), op.name, &old_checked)) {
          errno = old_checked.error;
          return -1;
        }
        const std::string oname = op.slash ? op.name + "/" : op.name;
        return static_cast<int>(::syscall(SYS_renameat2, oparent.get(), oname.c_str(), d, n, flags));
      };
      Outcome o = do_named(c, fds, guard, [&](int d, const std::string& n) { return rename_to(d, n.c_str()); },
                           [&](int b) { return rename_to(b, c.path.c_str()); });
      if (o.refused.empty()) o.refused = old_checked.refused;
      return o;
    }
  }
  return failed(EINVAL);
}

[[noreturn]] void serve(const Plan& plan, int sock) {
  const protect::Guard guard(plan);
  std::vector<char> buf(wire::kCallMax);
  for (;;) {
    UniqueFd got[3];
    bool truncated = false;
    const ssize_t n = channel::receive_message(sock, buf.data(), buf.size(), got, &truncated);
    if (n <= 0) ::_exit(0);  // the supervisor is gone
    Call call;
    CallFds fds;
    Outcome o;
    if (truncated || !wire::decode_call(buf.data(), static_cast<std::size_t>(n), got, &call, &fds)) {
      o = failed(EINVAL);
    } else {
      // The caller's working directory and umask, for the call as it made it.
      if (fds.cwd && ::fchdir(fds.cwd.get()) != 0) {
        o = failed(errno);
      } else {
        ::umask(static_cast<mode_t>(call.umask & 0777));
        o = perform(call, fds, guard);
      }
    }
    if (!wire::send_outcome(sock, o)) ::_exit(0);
  }
}

}  // namespace mcpjail::create
