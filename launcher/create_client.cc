// The create helper, the supervisor's side (mcpjail/create_helper.hpp): calls
// go out in the order the notifications came, outcomes come back in the same
// order.
#include <sys/socket.h>

#include <cerrno>

#include "mcpjail/channel.hpp"
#include "mcpjail/create_helper.hpp"
#include "create_wire.hpp"

namespace mcpjail::create {

bool Client::submit(const Call& call, const CallFds& fds, std::uint64_t tag) {
  if (!sock_) return false;
  if (!wire::send_call(sock_.get(), call, fds)) {
    // ENAMETOOLONG is the call's; anything else means the helper is gone.
    if (errno != ENAMETOOLONG) sock_.reset();
    return false;
  }
  pending_.push_back(tag);
  return true;
}

std::optional<Client::Done> Client::receive() {
  if (!sock_) return std::nullopt;
  char buf[wire::kOutcomeMax];
  UniqueFd fd[1];
  bool truncated = false;
  const ssize_t n = channel::receive_message(sock_.get(), buf, sizeof buf, fd, &truncated, false);
  if (n < 0 && errno == EAGAIN) return std::nullopt;
  Done d;
  if (n <= 0 || truncated || pending_.empty() ||
      !wire::decode_outcome(buf, static_cast<std::size_t>(n), std::move(fd[0]), &d.outcome)) {
    sock_.reset();  // gone, or not speaking the protocol: nothing it says is trusted any more
    return std::nullopt;
  }
  d.tag = pending_.front();
  pending_.pop_front();
  return d;
}

std::deque<std::uint64_t> Client::abandoned() {
  std::deque<std::uint64_t> out;
  if (!sock_) out.swap(pending_);
  return out;
}

}  // namespace mcpjail::create
