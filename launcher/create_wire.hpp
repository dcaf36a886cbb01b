// The messages between the supervisor and the create helper
// (mcpjail/create_helper.hpp), over a SOCK_SEQPACKET socketpair:
//   call     a fixed header, the path and the other path (lengths in the
//            header); attached, in order: the caller's working directory,
//            then the directory of `path` and of `other` when the header
//            says they are there
//   outcome  the errno (0: done) and the refused protected path; the new
//            descriptor attached for an open that succeeded
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>

#include "mcpjail/create_helper.hpp"

namespace mcpjail::create::wire {

struct CallHeader {
  std::uint32_t op = 0, umask = 0;
  std::uint64_t flags = 0, mode = 0, dev = 0, resolve = 0;
  std::uint32_t path_len = 0, other_len = 0;
  std::uint8_t has_cwd = 0, has_dir = 0, has_other_dir = 0, pad = 0;
};

struct OutcomeHeader {
  std::int32_t error = 0;
  std::uint32_t refused_len = 0;
};

inline constexpr std::size_t kCallMax = sizeof(CallHeader) + 2 * PATH_MAX;
inline constexpr std::size_t kOutcomeMax = sizeof(OutcomeHeader) + PATH_MAX;

// Supervisor: sends `call` with its descriptors. False on failure (errno set).
bool send_call(int sock, const Call& call, const CallFds& fds);
// Helper: a received message and its descriptors (up to three, in order)
// into `call` and `fds`. False when malformed.
bool decode_call(const char* buf, std::size_t n, UniqueFd (&got)[3], Call* call, CallFds* fds);
// Helper: sends the outcome. False when the supervisor is gone.
bool send_outcome(int sock, Outcome& o);
// Supervisor: a received outcome. False when malformed.
bool decode_outcome(const char* buf, std::size_t n, UniqueFd fd, Outcome* o);

}  // namespace mcpjail::create::wire
