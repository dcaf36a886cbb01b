// Pieces of netfilter/ shared between its files (not a public interface).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mcpjail/netfilter.hpp"

namespace mcpjail::netfilter {

// A netlink socket of `protocol` (close-on-exec, with `flags` added), bound
// to the multicast `groups`. Throws LaunchError("network", ...) naming
// `what` ("netlink socket for ...").
UniqueFd bound_netlink_socket(int protocol, std::uint32_t groups, int flags, const std::string& what);

// Jail side: a netlink socket bound to NFLOG `group`, copying packet headers.
UniqueFd open_nflog(std::uint16_t group);
// Supervisor side: blocked packets queued on an NFLOG socket (at most `max`; never blocks).
std::vector<BlockedPacket> read_nflog(int fd, std::size_t max);

// Jail side: the gateways of the namespace's routes (after pasta configured it).
std::vector<Cidr> uplink_gateways();

}  // namespace mcpjail::netfilter
