// Reading a creating call from a stopped caller, for the create helper
// (mcpjail/create_helper.hpp): which arguments hold what, per system call;
// the strings copied once from the caller's memory; the caller's working
// directory, directory descriptors and umask, opened or read through /proc.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <string_view>
#include <vector>

#include "mcpjail/paths.hpp"
#include "mcpjail/seccomp.hpp"
#include "mcpjail/seccomp_internal.hpp"

namespace mcpjail::seccomp {

int read_cstring(pid_t pid, std::uint64_t addr, std::size_t max, std::string* out) {
  char buf[PATH_MAX];  // every caller's limit fits (paths, memfd names)
  const std::size_t size = std::min(max + 1, sizeof buf);
  std::size_t got = 0;
  while (got < size) {
    const std::uint64_t at = addr + got;
    const std::size_t chunk = std::min<std::size_t>(4096 - at % 4096, size - got);
    iovec local{buf + got, chunk};
    iovec remote{reinterpret_cast<void*>(at), chunk};
    const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return EFAULT;
    if (const void* z = std::memchr(buf + got, 0, static_cast<std::size_t>(n))) {
      out->assign(buf, static_cast<std::size_t>(static_cast<const char*>(z) - buf));
      return 0;
    }
    got += static_cast<std::size_t>(n);
  }
  return E2BIG;
}

int read_path_string(pid_t pid, std::uint64_t addr, std::string* out) {
  const int e = read_cstring(pid, addr, PATH_MAX - 1, out);
  return e == E2BIG ? ENAMETOOLONG : e;
}

namespace {

using create::Op;

// Where a creating call keeps what the helper needs (argument indices; -1:
// not in this call). `fixed_flags`: creat's implied open flags.
struct Shape {
  const char* syscall;
  Op op;
  int dirfd, path, other_dirfd, other, flags, mode, dev, how;
  std::uint64_t fixed_flags = 0;
};

constexpr Shape kShapes[] = {
    {"open", Op::Open, -1, 0, -1, -1, 1, 2, -1, -1},
    {"creat", Op::Open, -1, 0, -1, -1, -1, 1, -1, -1, O_CREAT | O_WRONLY | O_TRUNC},
    {"openat", Op::Open, 0, 1, -1, -1, 2, 3, -1, -1},
    {"openat2", Op::Open, 0, 1, -1, -1, -1, -1, -1, 2},
    {"mkdir", Op::Mkdir, -1, 0, -1, -1, -1, 1, -1, -1},
    {"mkdirat", Op::Mkdir, 0, 1, -1, -1, -1, 2, -1, -1},
    {"mknod", Op::Mknod, -1, 0, -1, -1, -1, 1, 2, -1},
    {"mknodat", Op::Mknod, 0, 1, -1, -1, -1, 2, 3, -1},
    {"symlink", Op::Symlink, -1, 1, -1, 0, -1, -1, -1, -1},  // `other`: the target
    {"symlinkat", Op::Symlink, 1, 2, -1, 0, -1, -1, -1, -1},
    {"link", Op::Link, -1, 1, -1, 0, -1, -1, -1, -1},
    {"linkat", Op::Link, 2, 3, 0, 1, 4, -1, -1, -1},
    {"rename", Op::Rename, -1, 1, -1, 0, -1, -1, -1, -1},
    {"renameat", Op::Rename, 2, 3, 0, 1, -1, -1, -1, -1},
    {"renameat2", Op::Rename, 2, 3, 0, 1, 4, -1, -1, -1},
};

const Shape* shape_of(std::string_view syscall) {
  for (const auto& s : kShapes)
    if (syscall == s.syscall) return &s;
  return nullptr;
}

// The usual names of a descriptor: /dev/stdin|stdout|stderr, /dev/fd/N,
// /proc/self/fd/N, /proc/thread-self/fd/N, each maybe followed by more
// components (`*rest`). "." and empty components are dropped; ".." is kept
// for the helper to resolve from the descriptor, as the kernel does.
bool names_descriptor(const std::string& path, int* fd, std::string* rest) {
  if (path.empty() || path[0] != '/') return false;
  std::vector<std::string_view> parts;
  std::string_view s = path;
  while (!s.empty()) {
    const auto at = s.find('/');
    const std::string_view c = s.substr(0, at);
    if (!c.empty() && c != ".") parts.push_back(c);
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  std::size_t used = 0;
  auto number = [&](std::string_view t) {
    int v = -1;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    return r.ec == std::errc() && r.ptr == t.data() + t.size() && v >= 0 ? v : -1;
  };
  if (parts.size() >= 2 && parts[0] == "dev" && (parts[1] == "stdin" || parts[1] == "stdout" || parts[1] == "stderr")) {
    *fd = parts[1] == "stdin" ? 0 : parts[1] == "stdout" ? 1 : 2;
    used = 2;
  } else if (parts.size() >= 3 && parts[0] == "dev" && parts[1] == "fd" && number(parts[2]) >= 0) {
    *fd = number(parts[2]);
    used = 3;
  } else if (parts.size() >= 4 && parts[0] == "proc" && (parts[1] == "self" || parts[1] == "thread-self") &&
             parts[2] == "fd" && number(parts[3]) >= 0) {
    *fd = number(parts[3]);
    used = 4;
  } else {
    return false;
  }
  rest->clear();
  for (std::size_t i = used; i < parts.size(); ++i) *rest += (rest->empty() ? "" : "/") + std::string(parts[i]);
  return true;
}

// The caller's descriptor `fd`, as an O_PATH descriptor of the supervisor.
int open_callers_fd(pid_t pid, int fd, UniqueFd* out) {
  if (fd < 0) return EBADF;
  out->reset(::open(("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd)).c_str(), O_PATH | O_CLOEXEC));
  if (*out) return 0;
  return errno == ENOENT ? EBADF : errno;
}

// One path of the call and the directory it is relative to.
int read_path(pid_t pid, const seccomp_data& d, int dirfd_arg, int path_arg, std::string* path, UniqueFd* dir) {
  if (const int e = read_path_string(pid, d.args[path_arg], path)) return e;
  int fd = -1;
  std::string rest;
  if (names_descriptor(*path, &fd, &rest)) {
    *path = rest;
    return open_callers_fd(pid, fd, dir);
  }
  if (!path->empty() && (*path)[0] == '/') return 0;  // absolute: from the jail's root
  const int dirfd = dirfd_arg < 0 ? AT_FDCWD : static_cast<int>(static_cast<std::uint32_t>(d.args[dirfd_arg]));
  if (dirfd == AT_FDCWD) return 0;
  return open_callers_fd(pid, dirfd, dir);
}

// The caller's umask, from /proc/PID/status (its "Umask:" line).
std::uint32_t umask_of(pid_t pid) {
  const std::string status = read_file("/proc/" + std::to_string(pid) + "/status", 4096).value_or("");
  const auto at = status.find("\nUmask:\t");
  if (at == std::string::npos) return 022;
  std::uint32_t v = 022;
  const char* p = status.data() + at + 8;
  std::from_chars(p, status.data() + status.size(), v, 8);
  return v;
}

}  // namespace

bool performable(std::string_view syscall) { return shape_of(syscall) != nullptr; }

int read_creating_call(std::string_view syscall, const seccomp_data& d, pid_t pid, create::Call* call,
                       create::CallFds* fds) {
  const Shape* s = shape_of(syscall);
  if (!s) return ENOSYS;
  call->op = s->op;
  call->flags = s->fixed_flags;
  if (s->flags >= 0) call->flags = s->op == Op::Open ? static_cast<std::uint32_t>(d.args[s->flags]) : d.args[s->flags];
  if (s->mode >= 0) call->mode = static_cast<std::uint32_t>(d.args[s->mode]);
  if (s->dev >= 0) call->dev = d.args[s->dev];
  if (s->how >= 0) {
    // openat2: the open_how is copied once; what is performed is this copy.
    const std::uint64_t size = d.args[3];
    if (size < sizeof(open_how)) return EINVAL;
    open_how how{};
    iovec local{&how, sizeof how};
    iovec remote{reinterpret_cast<void*>(d.args[s->how]), sizeof how};
    if (::process_vm_readv(pid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(sizeof how)) return EFAULT;
    call->flags = how.flags;
    call->mode = how.mode;
    call->resolve = how.resolve;
  }
  if (const int e = read_path(pid, d, s->dirfd, s->path, &call->path, &fds->dir)) return e;
  if (s->op == Op::Symlink) {
    if (const int e = read_path_string(pid, d.args[s->other], &call->other)) return e;
  } else if (s->other >= 0) {
    if (const int e = read_path(pid, d, s->other_dirfd, s->other, &call->other, &fds->other_dir)) return e;
  }
  fds->cwd.reset(::open(("/proc/" + std::to_string(pid) + "/cwd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fds->cwd) return errno == EACCES ? EACCES : ESRCH;
  call->umask = umask_of(pid);
  return 0;
}

}  // namespace mcpjail::seccomp
