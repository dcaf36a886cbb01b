#include "mcpjail/paths.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "mcpjail/errors.hpp"

namespace mcpjail {

namespace {

std::string join(const std::vector<std::string>& comps) {
  if (comps.empty()) return "/";
  std::string out;
  for (const auto& c : comps) out += "/" + c;
  return out;
}

// "; list the real path P instead" when `root_fd` is the host's "/" and the
// kernel resolves `path` (for the message only: nothing is opened through it).
std::string real_path_hint(int root_fd, std::string_view path) {
  struct stat a {}, b {};
  if (::fstat(root_fd, &a) != 0 || ::stat("/", &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
    return "; list the real path instead";
  char buf[PATH_MAX];
  const std::string p(path);
  if (!::realpath(p.c_str(), buf)) return "; list the real path instead";
  return std::string("; if that is what you mean, list the real path ") + buf + " instead";
}

}  // namespace

std::vector<std::string> path_components(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    std::size_t j = i;
    while (j < p.size() && p[j] != '/') ++j;
    if (j > i) out.emplace_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::string> normalize_absolute(std::string_view path, std::string* why) {
  auto fail = [&](const char* m) -> std::optional<std::string> {
    if (why) *why = m;
    return std::nullopt;
  };
  if (path.find('\0') != std::string_view::npos) return fail("contains a NUL byte");
  if (path.empty() || path[0] != '/') return fail("must be absolute (start with /, ~ or a ${VARIABLE} that holds one)");
  std::vector<std::string> out;
  for (auto& c : path_components(path)) {
    if (c == ".") continue;
    if (c == "..") return fail("must not contain '..'");
    out.push_back(c);
  }
  return join(out);
}

std::string lexical_path(std::string_view dir, std::string_view rel) {
  std::vector<std::string> parts;
  auto add = [&](std::string_view p) {
    for (auto& c : path_components(p)) {
      if (c == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (c != ".") {
        parts.push_back(std::move(c));
      }
    }
  };
  if (rel.empty() || rel[0] != '/') add(dir);
  add(rel);
  return join(parts);
}

bool path_is_under(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  if (!path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

bool is_symlink(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

UniqueFd open_no_symlinks(int dirfd, std::string_view rel) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH;
  const std::string r(rel);
  return UniqueFd(static_cast<int>(::syscall(SYS_openat2, dirfd, r.c_str(), &how, sizeof how)));
}

WalkResult safe_walk(int root_fd, std::string_view path, const TrustPolicy& policy) {
  WalkResult r;
  std::deque<std::string> todo;
  for (auto& c : path_components(path)) todo.push_back(std::move(c));
  // No symlink on the way (the usual case): the kernel walks it in one call,
  // with the same outcome as the walk below.
  if (!todo.empty() && std::none_of(todo.begin(), todo.end(), [](const std::string& c) { return c == "." || c == ".."; })) {
    std::string rel;
    for (const auto& c : todo) rel += (rel.empty() ? "" : "/") + c;
    if (UniqueFd fd = open_no_symlinks(root_fd, rel)) {
      struct stat st {};
      if (::fstat(fd.get(), &st) == 0) {
        r.canonical = "/" + rel;
        r.type = S_ISDIR(st.st_mode) ? ObjType::Directory : S_ISREG(st.st_mode) ? ObjType::File : ObjType::Other;
        r.fd = std::move(fd);
        return r;
      }
    }
  }
  std::vector<UniqueFd> fds;  // fds[i] is the directory of canon[0..i)
  std::vector<std::string> canon;
  fds.emplace_back(::fcntl(root_fd, F_DUPFD_CLOEXEC, 3));
  if (!fds.back()) {
    r.error = errno_text("dup", errno);
    return r;
  }
  int hops = 0;
  auto finish_missing = [&]() {
    std::vector<std::string> rest(canon);
    rest.insert(rest.end(), todo.begin(), todo.end());
    r.canonical = join(rest);
    r.type = ObjType::Missing;
    return std::move(r);
  };
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!canon.empty()) {
        canon.pop_back();
        fds.pop_back();
      }
      continue;
    }
    UniqueFd next(::openat(fds.back().get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ENOENT) {
        todo.push_front(c);
        return finish_missing();
      }
      r.error = errno_text("cannot open " + join(canon) + (canon.empty() ? "" : "/") + c, errno);
      return r;
    }
    struct stat st {};
    if (::fstat(next.get(), &st) != 0) {
      r.error = errno_text("stat " + c, errno);
      return r;
    }
    if (S_ISLNK(st.st_mode)) {
      const std::string here = join(canon) + (canon.empty() ? "" : "/") + c;
      if (++hops > 40) {
        r.error = "too many levels of symbolic links at " + here;
        return r;
      }
      if (st.st_uid != 0 && st.st_uid != policy.trusted_uid) {
        r.error = "refusing to follow symlink " + here + " owned by uid " + std::to_string(st.st_uid) + " (only links owned by root" +
                  (policy.trusted_uid ? " or uid " + std::to_string(policy.trusted_uid) : std::string()) +
                  " are followed: a jail running as that uid could have planted it)" + real_path_hint(root_fd, path);
        return r;
      }
      for (const auto& t : policy.untrusted_trees) {
        if (path_is_under(here, t) && here != t) {
          r.error = "refusing to follow symlink " + here + " inside the writable path " + t +
                    " (the jail could have planted it)" + real_path_hint(root_fd, path);
          return r;
        }
      }
      char buf[4096];
      const ssize_t n = ::readlinkat(fds.back().get(), c.c_str(), buf, sizeof buf - 1);
      if (n < 0) {
        r.error = errno_text("readlink " + here, errno);
        return r;
      }
      const std::string target(buf, static_cast<std::size_t>(n));
      r.via_symlink = true;
      if (!target.empty() && target[0] == '/') {
        canon.clear();
        fds.resize(1);
      }
      auto tc = path_components(target);
      todo.insert(todo.begin(), tc.begin(), tc.end());
      continue;
    }
    canon.push_back(c);
    if (!todo.empty() && !S_ISDIR(st.st_mode)) {
      r.error = join(canon) + " is not a directory";
      return r;
    }
    fds.push_back(std::move(next));
  }
  r.canonical = join(canon);
  struct stat st {};
  if (::fstat(fds.back().get(), &st) != 0) {
    r.error = errno_text("stat " + r.canonical, errno);
    return r;
  }
  r.type = S_ISDIR(st.st_mode) ? ObjType::Directory : S_ISREG(st.st_mode) ? ObjType::File : ObjType::Other;
  r.fd = std::move(fds.back());
  return r;
}

std::optional<std::string> read_file(const std::string& path, std::size_t limit, int extra_flags, int* err) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags));
  if (!fd) {
    if (err) *err = errno;
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (err) *err = errno;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace mcpjail
