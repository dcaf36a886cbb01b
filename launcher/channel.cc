// The jail <-> supervisor channel (channel.hpp): the socketpairs, the "go"
// bytes, the reports and descriptor passing.
#include "mcpjail/channel.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "mcpjail/errors.hpp"

namespace mcpjail::channel {

namespace {

void copy(char* dst, std::size_t n, std::string_view s) {
  const std::size_t len = std::min(s.size(), n - 1);
  std::memcpy(dst, s.data(), len);
  dst[len] = '\0';
}

// One recvmsg(); the attached descriptors go to `fds`, in order (those that
// do not fit are closed by the kernel, and MSG_CTRUNC says so).
ssize_t receive(int sock, void* buf, std::size_t size, int flags, std::span<UniqueFd> fds, int* msg_flags) {
  iovec iov{buf, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  const std::size_t room = std::min(fds.size(), kMaxFds);
  if (room) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * room);
  }
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, flags)) < 0 && errno == EINTR) {
  }
  if (n < 0) return n;
  *msg_flags = msg.msg_flags;
  for (auto& f : fds) f.reset();
  std::size_t k = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (k < room) fds[k++].reset(got);
      else ::close(got);
    }
  }
  return n;
}

}  // namespace

Ends open() {
  int go[2], rep[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0)
    throw LaunchError("supervisor", errno_text("socketpair", errno));
  Ends e;
  e.go_jail.reset(go[0]);
  e.go_supervisor.reset(go[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rep) != 0)
    throw LaunchError("supervisor", errno_text("socketpair", errno));
  e.report_supervisor.reset(rep[0]);
  e.report_jail.reset(rep[1]);
  return e;
}

bool send_go(int go) {
  const char byte = 'g';
  ssize_t n;
  while ((n = ::send(go, &byte, 1, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (n == 1) return true;
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
  throw LaunchError("supervisor", errno_text("start the jail", n < 0 ? errno : EIO));
}

bool wait_go(int go) {
  char byte = 0;
  ssize_t n;
  while ((n = ::read(go, &byte, 1)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

ssize_t send_message(int sock, const iovec* iov, std::size_t count, std::span<const int> fds) {
  if (fds.size() > kMaxFds) {
    errno = EINVAL;
    return -1;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  if (!fds.empty()) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}

ssize_t send_message(int sock, const iovec* iov, std::size_t count, int fd) {
  return fd >= 0 ? send_message(sock, iov, count, std::span<const int>(&fd, 1))
                 : send_message(sock, iov, count, std::span<const int>());
}

ssize_t receive_message(int sock, void* buf, std::size_t size, bool* truncated) {
  int flags = 0;
  const ssize_t n = receive(sock, buf, size, MSG_CMSG_CLOEXEC, {}, &flags);
  *truncated = n >= 0 && (flags & (MSG_TRUNC | MSG_CTRUNC));
  return n;
}

ssize_t receive_message(int sock, void* buf, std::size_t size, std::span<UniqueFd> fds, bool* truncated,
                        bool wait) {
  int flags = 0;
  const ssize_t n = receive(sock, buf, size, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT), fds, &flags);
  *truncated = n >= 0 && (flags & (MSG_TRUNC | MSG_CTRUNC));
  return n;
}

void send_report(int sock, ReportKind kind, std::int32_t code, std::string_view layer, std::string_view text, int fd) {
  Report r;
  r.kind = kind;
  r.code = code;
  copy(r.layer, sizeof r.layer, layer);
  copy(r.text, sizeof r.text, text);
  iovec iov{&r, sizeof r};
  (void)send_message(sock, &iov, 1, fd);
}

Read read_report(int sock, Report* r, UniqueFd* fd) {
  int flags = 0;
  const ssize_t n = receive(sock, r, sizeof *r, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, std::span<UniqueFd>(fd, 1), &flags);
  if (n < 0 && errno == EAGAIN) return Read::Empty;
  if (n < 0 && errno == ECONNRESET) return Read::Reset;
  if (n <= 0) return Read::End;
  if (static_cast<std::size_t>(n) != sizeof *r) {
    fd->reset();
    return Read::Malformed;
  }
  r->layer[sizeof r->layer - 1] = r->text[sizeof r->text - 1] = '\0';
  return Read::Report;
}

}  // namespace mcpjail::channel
