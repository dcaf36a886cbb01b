// The create helper: a process of the jail that performs the server's
// creating calls (open with O_CREAT, mkdir, mknod, symlink, link, rename)
// for the supervisor, so that protected names that do not exist at launch
// (mcpjail/protect.hpp) cannot be created, race-free.
//
// Why a helper. The supervisor sees every creating call (the seccomp watch),
// but a call it lets continue reads its path again from the server's memory:
// a second thread of a server running its own code can swap the path between
// the check and the kernel's use of it. So a creating call never continues
// while there are names to refuse: the supervisor copies the path once, opens
// the caller's working directory and directory descriptors (/proc/PID/cwd,
// /proc/PID/fd/N, O_PATH), and hands all of it to the helper, which resolves
// the directory the name is created in, checks that directory's identity and
// the name against the refused ones, and creates the name relative to that
// same directory descriptor. Nothing the server does afterwards changes what
// was checked. A symbolic link in the last component (open with O_CREAT
// follows it and creates its target) is followed one step at a time, each
// step checked the same way.
//
// Why a process of the jail and not the supervisor. The helper has the jail's
// root, mounts, uid and groups, capabilities (none), no_new_privs and a
// Landlock domain with the server's rules: a call it performs succeeds or
// fails exactly as the server's own would, and files get the owner they
// would get (idmapped write paths included). Its own Landlock domain keeps
// the server from signalling or tracing it; it is not dumpable; it runs no
// code of the server's and reads nothing but the supervisor's requests.
//
// What differs from the kernel's own call, and is said in
// docs/ARCHITECTURE.md: a path of the form /proc/self/fd/N, /proc/thread-self/
// fd/N, /dev/fd/N, /dev/stdin|stdout|stderr (the usual ways to name a
// descriptor) is rewritten by the supervisor to the caller's descriptor; a
// symbolic link that leads to such a name, or a /proc/PID path of another
// process, resolves in the helper's context. openat2 with RESOLVE_* flags
// through a symbolic link in the last component gets ELOOP. The calls are
// performed one at a time: a creating open that blocks (a FIFO without a
// reader) holds the server's other creating calls until it returns.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "mcpjail/plan.hpp"
#include "mcpjail/protect.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::create {

// Whether a launch of `plan` needs the helper: it has protected names to
// refuse (missing at launch, or links).
bool needed(const Plan& plan);

enum class Op : std::uint32_t { Open = 1, Mkdir, Mknod, Symlink, Link, Rename };

// One creating call, as the supervisor read it from the caller.
struct Call {
  Op op = Op::Open;
  std::uint32_t umask = 022;
  std::uint64_t flags = 0;    // Open: open(2) flags; Link: AT_SYMLINK_FOLLOW/AT_EMPTY_PATH; Rename: RENAME_*
  std::uint64_t mode = 0;     // Open, Mkdir, Mknod
  std::uint64_t dev = 0;      // Mknod
  std::uint64_t resolve = 0;  // Open through openat2: RESOLVE_*
  std::string path;           // the name created (relative to `dir`, or absolute)
  std::string other;          // Symlink: the target; Link, Rename: the old path (relative to `other_dir`)
};

// The descriptors that go with a Call. `dir`/`other_dir` empty: the working
// directory (AT_FDCWD).
struct CallFds {
  UniqueFd cwd, dir, other_dir;
};

// What the helper answers.
struct Outcome {
  int error = 0;          // 0, or the errno the call fails with
  UniqueFd fd;            // Open: the new descriptor
  std::string refused;    // the protected path the call would have created (error EACCES)
};

// Performs `call` in the calling process (the helper; unit tests call it
// directly), refusing names `guard` refuses.
Outcome perform(const Call& call, const CallFds& fds, const protect::Guard& guard);

// The helper's loop: one request at a time from `sock` until it closes.
[[noreturn]] void serve(const Plan& plan, int sock);

// ---- The supervisor's side -------------------------------------------------------

// Sends calls to the helper and matches its answers, in order, to the
// notifications they answer.
class Client {
 public:
  void attach(UniqueFd sock) { sock_ = std::move(sock); }
  bool attached() const { return static_cast<bool>(sock_); }
  int fd() const { return sock_.get(); }
  bool busy() const { return !pending_.empty(); }

  // Sends one call. `tag` comes back with its outcome. False when the helper
  // is gone (the caller answers the notification itself).
  bool submit(const Call& call, const CallFds& fds, std::uint64_t tag);

  // The next outcome, once fd() is readable; nullopt when the helper is gone
  // (every pending call is then failed: take them with abandoned()).
  struct Done {
    std::uint64_t tag = 0;
    Outcome outcome;
  };
  std::optional<Done> receive();
  std::deque<std::uint64_t> abandoned();

 private:
  UniqueFd sock_;
  std::deque<std::uint64_t> pending_;
};

}  // namespace mcpjail::create
