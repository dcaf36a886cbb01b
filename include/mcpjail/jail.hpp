// The jail side of a launch: everything that happens inside the new
// namespaces, in one fixed order (see jail.cc), ending in execve.
#pragma once
#include <cstdint>
#include <string>

#include "mcpjail/plan.hpp"

namespace mcpjail::jail {

// Messages from the jail to the supervisor over a SOCK_SEQPACKET socket.
enum class ReportKind : std::int32_t {
  Error = 1,     // a layer failed; `code` is the exit status (125/126/127)
  Listener = 2,  // the seccomp notification fd is attached (SCM_RIGHTS)
  Skipped = 3,   // a best-effort layer was skipped; `text` says what
  NetSocket = 4, // network = allowlist: a socket from inside the jail's netns (SCM_RIGHTS);
                 // `code` is a netfilter::JailSocket
};
struct Report {
  ReportKind kind = ReportKind::Error;
  std::int32_t code = 0;
  char layer[32] = {};
  char text[2000] = {};
};

struct Channels {
  int go = -1;      // read end: one byte once ids are mapped and the cgroup is set
  int report = -1;  // SOCK_SEQPACKET to the supervisor
};

// The jail's first process (pid 1 of its pid namespace). Builds the jail,
// starts the server as pid 2, then reaps and forwards signals until the
// server exits, and exits with its status (128+N for signal N).
[[noreturn]] void init_main(const Plan& plan, const Channels& ch);

// Sends a report; `fd` is attached when >= 0.
void send_report(int sock, const Report& r, int fd = -1);

}  // namespace mcpjail::jail
