// The create helper's messages (create_wire.hpp).
#include "create_wire.hpp"

#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "mcpjail/channel.hpp"

namespace mcpjail::create::wire {

bool send_call(int sock, const Call& call, const CallFds& fds) {
  if (call.path.size() >= PATH_MAX || call.other.size() >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return false;
  }
  CallHeader h;
  h.op = static_cast<std::uint32_t>(call.op);
  h.umask = call.umask;
  h.flags = call.flags;
  h.mode = call.mode;
  h.dev = call.dev;
  h.resolve = call.resolve;
  h.path_len = static_cast<std::uint32_t>(call.path.size());
  h.other_len = static_cast<std::uint32_t>(call.other.size());
  std::vector<int> attached;
  for (const auto* f : {&fds.cwd, &fds.dir, &fds.other_dir})
    if (*f) attached.push_back(f->get());
  h.has_cwd = fds.cwd ? 1 : 0;
  h.has_dir = fds.dir ? 1 : 0;
  h.has_other_dir = fds.other_dir ? 1 : 0;
  iovec iov[3] = {{&h, sizeof h},
                  {const_cast<char*>(call.path.data()), call.path.size()},
                  {const_cast<char*>(call.other.data()), call.other.size()}};
  const ssize_t want = static_cast<ssize_t>(sizeof h + call.path.size() + call.other.size());
  return channel::send_message(sock, iov, 3, std::span<const int>(attached)) == want;
}

bool decode_call(const char* buf, std::size_t n, UniqueFd (&got)[3], Call* call, CallFds* fds) {
  CallHeader h;
  if (n < sizeof h) return false;
  std::memcpy(&h, buf, sizeof h);
  if (n != sizeof h + h.path_len + h.other_len || h.path_len >= PATH_MAX || h.other_len >= PATH_MAX) return false;
  if (h.op < static_cast<std::uint32_t>(Op::Open) || h.op > static_cast<std::uint32_t>(Op::Rename)) return false;
  call->op = static_cast<Op>(h.op);
  call->umask = h.umask;
  call->flags = h.flags;
  call->mode = h.mode;
  call->dev = h.dev;
  call->resolve = h.resolve;
  call->path.assign(buf + sizeof h, h.path_len);
  call->other.assign(buf + sizeof h + h.path_len, h.other_len);
  if (call->path.find('\0') != std::string::npos || call->other.find('\0') != std::string::npos) return false;
  std::size_t k = 0;
  for (auto [has, slot] : {std::pair{h.has_cwd, &fds->cwd}, std::pair{h.has_dir, &fds->dir},
                           std::pair{h.has_other_dir, &fds->other_dir}}) {
    if (!has) continue;
    if (k >= 3 || !got[k]) return false;
    *slot = std::move(got[k++]);
  }
  return true;
}

bool send_outcome(int sock, Outcome& o) {
  OutcomeHeader h;
  h.error = o.error;
  h.refused_len = static_cast<std::uint32_t>(std::min<std::size_t>(o.refused.size(), PATH_MAX - 1));
  iovec iov[2] = {{&h, sizeof h}, {o.refused.data(), h.refused_len}};
  const int fd = o.error == 0 && o.fd ? o.fd.get() : -1;
  const ssize_t n = channel::send_message(sock, iov, 2, fd);
  o.fd.reset();
  return n >= 0;
}

bool decode_outcome(const char* buf, std::size_t n, UniqueFd fd, Outcome* o) {
  OutcomeHeader h;
  if (n < sizeof h) return false;
  std::memcpy(&h, buf, sizeof h);
  if (n != sizeof h + h.refused_len || h.error < 0) return false;
  o->error = h.error;
  o->refused.assign(buf + sizeof h, h.refused_len);
  o->fd = std::move(fd);
  return true;
}

}  // namespace mcpjail::create::wire
