// Drop logging: the `blocked` chain logs to an NFLOG group in the jail's
// namespace; the jail's init binds a netlink socket to it, the supervisor
// reads it and turns each packet into a net_block audit event.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "mcpjail/errors.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_internal.hpp"

namespace mcpjail::netfilter {

namespace {

// Sends one NFULNL_MSG_CONFIG and waits for its acknowledgement (blocking:
// the jail's init, during setup, talking to its own kernel).
void nflog_config(int fd, std::uint16_t group, std::uint32_t seq, void (*fill)(nlmsghdr*)) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(group);
  fill(nlh);
  if (::send(fd, nlh, nlh->nlmsg_len, 0) < 0) throw LaunchError("network", errno_text("configure NFLOG", errno));
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) throw LaunchError("network", errno_text("configure NFLOG", errno));
  int len = static_cast<int>(n);
  for (auto* r = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(r, len); r = mnl_nlmsg_next(r, &len)) {
    if (r->nlmsg_type != NLMSG_ERROR || r->nlmsg_seq != seq) continue;
    const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(r));
    if (e->error != 0)
      throw LaunchError("network", "configure NFLOG group " + std::to_string(group) + ": " + std::strerror(-e->error) +
                                       " (the kernel needs nfnetlink_log)");
    return;
  }
  throw LaunchError("network", "configure NFLOG: no acknowledgement");
}

}  // namespace

UniqueFd bound_netlink_socket(int protocol, std::uint32_t groups, int flags, const std::string& what) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, protocol));
  if (!fd) throw LaunchError("network", errno_text(what, errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw LaunchError("network", errno_text("bind the " + what, errno));
  return fd;
}

UniqueFd open_nflog(std::uint16_t group) {
  UniqueFd fd = bound_netlink_socket(NETLINK_NETFILTER, 0, 0, "netlink socket for NFLOG");
  nflog_config(fd.get(), group, 1, [](nlmsghdr* nlh) {
    nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
  });
  nflog_config(fd.get(), group, 2, [](nlmsghdr* nlh) {
    nfulnl_msg_config_mode mode{};
    mode.copy_range = htonl(128);
    mode.copy_mode = NFULNL_COPY_PACKET;
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
  });
  // Deliver each packet at once (the default batches up to 100 or 1 s).
  nflog_config(fd.get(), group, 3, [](nlmsghdr* nlh) {
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
    mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(10));
  });
  // Enough room that a burst (the kernel rule allows 100) is not lost.
  const int rcvbuf = 256 * 1024;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  return fd;
}

std::optional<BlockedPacket> decode_packet(std::span<const std::uint8_t> p) {
  if (p.empty()) return std::nullopt;
  BlockedPacket b;
  std::size_t l4 = 0;
  int proto = -1;
  char text[INET6_ADDRSTRLEN] = {};
  const int version = p[0] >> 4;
  if (version == 4) {
    if (p.size() < 20) return std::nullopt;
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0F) * 4;
    if (ihl < 20 || ihl > p.size()) return std::nullopt;
    proto = p[9];
    ::inet_ntop(AF_INET, p.data() + 16, text, sizeof text);
    const bool first_fragment = ((p[6] & 0x1F) | p[7]) == 0;
    l4 = first_fragment ? ihl : 0;
  } else if (version == 6) {
    if (p.size() < 40) return std::nullopt;
    proto = p[6];
    ::inet_ntop(AF_INET6, p.data() + 24, text, sizeof text);
    l4 = 40;
  } else {
    return std::nullopt;
  }
  b.address = text;
  switch (proto) {
    case IPPROTO_TCP: b.protocol = "tcp"; break;
    case IPPROTO_UDP: b.protocol = "udp"; break;
    case IPPROTO_ICMP: b.protocol = "icmp"; break;
    case IPPROTO_ICMPV6: b.protocol = "icmpv6"; break;
    default: b.protocol = std::to_string(proto); break;
  }
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4 && l4 + 4 <= p.size())
    b.port = static_cast<std::uint16_t>((p[l4 + 2] << 8) | p[l4 + 3]);
  return b;
}

std::vector<BlockedPacket> read_nflog(int fd, std::size_t max) {
  std::vector<BlockedPacket> out;
  char buf[16384];
  while (out.size() < max) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == ENOBUFS) continue;  // ENOBUFS: the kernel dropped some; read on
      break;
    }
    if (n == 0) break;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue;
      if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg)) continue;
      const nlattr* payload = nullptr;
      bool learned = false;
      char* tail = static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh));
      for (auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
           mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<char*>(attr))); attr = mnl_attr_next(attr))
      {
        if (mnl_attr_get_type(attr) == NFULA_PAYLOAD) payload = attr;
        if (mnl_attr_get_type(attr) == NFULA_PREFIX) {
          const std::string_view prefix(static_cast<const char*>(mnl_attr_get_payload(attr)),
                                        ::strnlen(static_cast<const char*>(mnl_attr_get_payload(attr)),
                                                  mnl_attr_get_payload_len(attr)));
          learned = prefix == kLearnedPrefix;
        }
      }
      if (!payload) continue;
      const auto* data = static_cast<const std::uint8_t*>(mnl_attr_get_payload(payload));
      if (auto b = decode_packet({data, mnl_attr_get_payload_len(payload)})) {
        b->learned = learned;
        out.push_back(std::move(*b));
      }
    }
  }
  return out;
}

}  // namespace mcpjail::netfilter
