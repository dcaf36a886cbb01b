// The seccomp program of a launch, from the supervisor to the kernel:
//   supervisor  compile(): the program built at build time for the plan's
//               base (prebuilt()), or compile_with_libseccomp() now, after
//               clone() and while the jail builds its root; send_program()
//               over the channel's report socket;
//   server      receive_program(), then install() as the last step before
//               execve (launcher/jail.cc).
#include "mcpjail/seccomp.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "mcpjail/channel.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/seccomp_internal.hpp"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace mcpjail::seccomp {

namespace {

// The message send_program() sends: this header, then the instructions.
struct WireHeader {
  std::uint32_t magic;
  std::uint32_t count;     // instructions that follow
  std::uint32_t listener;  // 1: load with a notification listener
  std::uint32_t reserved;
};
constexpr std::uint32_t kWireMagic = 0x4d4a5346;  // "MJSF"

}  // namespace

Program compile(const SeccompPlan& plan) {
  if (const auto* pre = prebuilt(plan))
    return Program{std::vector<sock_filter>(pre->code, pre->code + pre->count), pre->listener};
  return compile_with_libseccomp(plan);
}

const PrebuiltProgram* prebuilt(const SeccompPlan& plan) {
  // Only the bases as they are: profile allow/deny lists change the program,
  // and the programs were built with the watch on, with and without the
  // memfd_create the supervisor performs for rootless launches (prebuild.cc).
  if (!plan.allow.empty() || !plan.deny.empty() || !plan.watch || plan.learn) return nullptr;
  // Built by the libseccomp this process runs with, or not used at all.
  const scmp_version* v = seccomp_version();
  if (!v || v->major != kPrebuiltLibseccomp[0] || v->minor != kPrebuiltLibseccomp[1] ||
      v->micro != kPrebuiltLibseccomp[2])
    return nullptr;
  for (std::size_t i = 0; i < kPrebuiltCount; ++i) {
    const PrebuiltProgram& p = kPrebuilt[i];
    if (plan.base == p.base && plan.action == p.action && plan.seal_memfd == p.seal_memfd) return &p;
  }
  return nullptr;
}

bool send_program(int sock, const Program& program) {
  if (program.code.empty() || program.code.size() > BPF_MAXINSNS) fail("no program to send");
  WireHeader h{kWireMagic, static_cast<std::uint32_t>(program.code.size()), program.listener ? 1u : 0u, 0};
  const iovec iov[2] = {{&h, sizeof h},
                        {const_cast<sock_filter*>(program.code.data()), program.code.size() * sizeof(sock_filter)}};
  const ssize_t n = channel::send_message(sock, iov, 2);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;  // the jail has ended
  if (n < 0) fail(errno_text("sending the compiled filter to the jail", errno));
  if (static_cast<std::size_t>(n) != sizeof h + iov[1].iov_len) fail("the compiled filter was sent in part");
  return true;
}

Program receive_program(int sock) {
  std::vector<unsigned char> buf(sizeof(WireHeader) + BPF_MAXINSNS * sizeof(sock_filter));
  bool truncated = false;
  const ssize_t n = channel::receive_message(sock, buf.data(), buf.size(), &truncated);
  if (n < 0) fail(errno_text("receiving the compiled filter from the supervisor", errno));
  if (n == 0) fail("the supervisor closed the channel before the compiled filter arrived");
  WireHeader h{};
  if (static_cast<std::size_t>(n) < sizeof h || truncated)
    fail("a malformed message arrived instead of the compiled filter");
  std::memcpy(&h, buf.data(), sizeof h);
  if (h.magic != kWireMagic || h.count == 0 || h.count > BPF_MAXINSNS || h.listener > 1 ||
      static_cast<std::size_t>(n) != sizeof h + h.count * sizeof(sock_filter))
    fail("a malformed message arrived instead of the compiled filter");
  Program p;
  p.code.resize(h.count);
  std::memcpy(p.code.data(), buf.data() + sizeof h, h.count * sizeof(sock_filter));
  p.listener = h.listener == 1;
  return p;
}

UniqueFd install(const Program& program) {
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (nnp != 1) fail("no_new_privs is not set; it must be set before the seccomp filter is loaded");
  if (program.code.empty()) fail("empty filter program");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.code.size());
  prog.filter = const_cast<sock_filter*>(program.code.data());

  unsigned long flags = 0;
  if (program.listener)
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
    // Kernels before 5.19. Without the flag a signal can interrupt a pending
    // notification (the call is then restarted); nothing is lost.
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  }
  if (rc < 0) {
    int err = errno;
    if (err == EBUSY)
      fail("the process already has a seccomp filter with a notification listener "
           "(mcp-jail inside a jail that reports through a supervisor?)");
    fail(errno_text("loading the seccomp filter", err));
  }
  return program.listener ? UniqueFd(static_cast<int>(rc)) : UniqueFd();
}

UniqueFd install(const SeccompPlan& plan) { return install(compile(plan)); }

}  // namespace mcpjail::seccomp
