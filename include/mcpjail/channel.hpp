// The channel between a jail and its supervisor: two socketpairs that the
// supervisor makes before clone(), and every message that crosses them.
//
//   go      SOCK_STREAM, supervisor -> the jail's init. One byte once the ids
//           are mapped and the cgroup is joined; with network = "allowlist" a
//           second one once the uplink is up. A socket rather than a pipe, so
//           that telling a jail that has already ended gives EPIPE, not
//           SIGPIPE.
//   report  SOCK_SEQPACKET (a message arrives whole or not at all), both ways:
//             jail -> supervisor   Reports (below), each with at most one
//                                  descriptor attached (SCM_RIGHTS);
//             supervisor -> jail   the seccomp program, one message
//                                  (seccomp::send_program, receive_program).
//           Close-on-exec: once init has closed its copy and the server's
//           execve has succeeded, the supervisor reads the end of the channel,
//           which is how it knows that the server started.
#pragma once
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "mcpjail/unique_fd.hpp"

namespace mcpjail::channel {

// ---- The two socketpairs ------------------------------------------------------

// The jail's ends, as its init receives them.
struct JailEnds {
  int go = -1;      // read end of "go"
  int report = -1;  // the jail's end of "report"
};

struct Ends {
  UniqueFd go_jail, go_supervisor;
  UniqueFd report_jail, report_supervisor;
  JailEnds jail() const { return {go_jail.get(), report_jail.get()}; }
};

// Both socketpairs, close-on-exec. Throws LaunchError("supervisor", ...).
Ends open();

// ---- "go" ---------------------------------------------------------------------

// Supervisor: one byte; false when the jail has already ended. Throws
// LaunchError("supervisor", ...) on other failures.
bool send_go(int go);

// Jail: waits for one byte; false when none comes (the supervisor is gone, or
// could not bring the uplink up).
bool wait_go(int go);

// ---- Reports, from the jail to the supervisor -----------------------------------

enum class ReportKind : std::int32_t {
  Error = 1,      // a layer failed; `code` is the exit status (125/126/127)
  Listener = 2,   // the seccomp notification fd is attached
  Skipped = 3,    // a best-effort layer was skipped; `text` says what
  NetSocket = 4,  // network = allowlist: a socket from inside the jail's network
                  // namespace is attached; `code` is a netfilter::JailSocket
  CreateHelper = 5,  // the supervisor's end of the create helper's socket is
                     // attached (mcpjail/create_helper.hpp)
};

struct Report {
  ReportKind kind = ReportKind::Error;
  std::int32_t code = 0;
  char layer[32] = {};
  char text[2000] = {};
};

// Jail: sends a report (`layer` and `text` cut to fit), with `fd` attached
// when >= 0. Failures are ignored: a supervisor that cannot be told has
// ended, and the jail dies with it.
void send_report(int sock, ReportKind kind, std::int32_t code, std::string_view layer, std::string_view text,
                 int fd = -1);

// Supervisor: reads one report, without blocking.
enum class Read {
  Report,     // *r is a report (layer and text NUL-terminated); *fd is what
              // came attached (empty if nothing)
  Malformed,  // a message of another size: dropped, with what came attached
  Empty,      // nothing queued now (EAGAIN)
  Reset,      // ECONNRESET: the jail ended with a message of ours unread (the
              // seccomp program, when it failed before reaching it). Said once;
              // what it sent before is still queued: read on
  End,        // every process of the jail has closed its end (or an error)
};
Read read_report(int sock, Report* r, UniqueFd* fd);

// ---- Single messages, for the other messages of "report" ----------------------

// Sends `iov` as one message (never SIGPIPE; EINTR is retried), with `fd`
// attached when >= 0. Returns the bytes sent, or -1 with errno set.
ssize_t send_message(int sock, const iovec* iov, std::size_t count, int fd = -1);

// The most descriptors one message carries.
inline constexpr std::size_t kMaxFds = 4;

// Sends `iov` as one message with `fds` attached (at most kMaxFds).
ssize_t send_message(int sock, const iovec* iov, std::size_t count, std::span<const int> fds);

// Receives one message into `buf` and blocks until one comes (EINTR is
// retried). Returns what recvmsg() returns (-1 with errno set, 0 at the end of
// the channel); *truncated when the message did not fit or had a descriptor
// attached (which is dropped).
ssize_t receive_message(int sock, void* buf, std::size_t size, bool* truncated);

// The same, keeping up to fds.size() attached descriptors (close-on-exec) in
// `fds`, in order; the others are closed and *truncated is set. `wait` false:
// -1 with EAGAIN when nothing is queued.
ssize_t receive_message(int sock, void* buf, std::size_t size, std::span<UniqueFd> fds, bool* truncated,
                        bool wait = true);

}  // namespace mcpjail::channel
