// The host's own addresses, read and followed over rtnetlink by the
// supervisor. pasta opens the jail's connections from the host, so an
// address of the host is, for the jail, a way to the host's own services
// (those bound to 0.0.0.0 or ::, or to that address): the table denies them
// (nft.cc, sets host4 and host6) and the DNS filter never allows them.
//
// Plain rtnetlink messages, no libnl: the supervisor keeps this socket for
// the life of the jail, and a cache of libnl objects would only cost memory.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>

#include "mcpjail/errors.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_internal.hpp"

namespace mcpjail::netfilter {

namespace {

constexpr std::size_t kBuffer = 8192;  // NLMSG_GOODSIZE on 4 KiB pages; dumps come in pieces this size

UniqueFd route_socket(std::uint32_t groups, int flags) {
  return bound_netlink_socket(NETLINK_ROUTE, groups, flags, "rtnetlink socket for the host's addresses");
}

// What an RTM_NEWADDR/RTM_DELADDR message makes local to the host:
//  - the address: IFA_LOCAL when present (on point-to-point links
//    IFA_ADDRESS is the peer), else IFA_ADDRESS;
//  - IPv4: the broadcast address (IFA_BROADCAST) when the interface has one;
//    the host receives datagrams sent there;
//  - IPv6, prefixes shorter than /127: the subnet-router anycast address
//    (the prefix with the host bits zero). The kernel joins it while
//    forwarding is on (routers, container and VM hosts) and then answers
//    there like at its own address; forwarding can be switched on at any
//    time without an address event, so it is always closed.
bool decode(const nlmsghdr* nlh, HostAddresses::Entry* out) {
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return false;
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(nlh));
  const std::size_t want = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
  if (!want) return false;
  const void* local = nullptr;
  const void* address = nullptr;
  const void* broadcast = nullptr;
  int len = static_cast<int>(IFA_PAYLOAD(nlh));
  for (const rtattr* a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (RTA_PAYLOAD(a) != want) continue;
    if (a->rta_type == IFA_LOCAL) local = RTA_DATA(a);
    else if (a->rta_type == IFA_ADDRESS) address = RTA_DATA(a);
    else if (a->rta_type == IFA_BROADCAST) broadcast = RTA_DATA(a);
  }
  const void* pick = local ? local : address;
  if (!pick) return false;
  auto host = [&](const void* bytes) {
    Cidr c;
    c.family = want == 4 ? kFamily4 : kFamily6;
    c.prefix = c.bits();
    std::memcpy(c.addr.data(), bytes, want);
    return c;
  };
  *out = HostAddresses::Entry{};
  out->index = static_cast<int>(ifa->ifa_index);
  out->address = host(pick);
  out->closes = {out->address};
  if (want == 4 && broadcast) out->closes.push_back(host(broadcast));
  if (want == 16 && ifa->ifa_prefixlen < 127) {
    Cidr anycast = out->address.network(ifa->ifa_prefixlen);
    anycast.prefix = anycast.bits();  // a single address
    out->closes.push_back(anycast);
  }
  return true;
}

// Every address now.
std::vector<HostAddresses::Entry> dump() {
  UniqueFd fd = route_socket(0, 0);
  const timeval wait{2, 0};  // the kernel answers at once; never hang on it
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  struct {
    nlmsghdr nlh;
    ifaddrmsg ifa;
  } req{};
  req.nlh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
  req.nlh.nlmsg_type = RTM_GETADDR;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nlh.nlmsg_seq = 1;
  req.ifa.ifa_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &req, req.nlh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    throw LaunchError("network", errno_text("ask rtnetlink for the host's addresses", errno));
  std::vector<HostAddresses::Entry> out;
  alignas(nlmsghdr) char buf[kBuffer];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw LaunchError("network", errno_text("read the host's addresses from rtnetlink", errno));
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(nlh, static_cast<unsigned>(len));
         nlh = NLMSG_NEXT(nlh, len)) {
      if (nlh->nlmsg_type == NLMSG_DONE) return out;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
        throw LaunchError("network", errno_text("read the host's addresses from rtnetlink", -e->error));
      }
      HostAddresses::Entry e;
      if (nlh->nlmsg_type == RTM_NEWADDR && decode(nlh, &e)) out.push_back(std::move(e));
    }
  }
}

// Every address the entries close, sorted, once each.
std::vector<Cidr> closed_by(const std::vector<HostAddresses::Entry>& entries) {
  std::vector<Cidr> out;
  for (const auto& e : entries) out.insert(out.end(), e.closes.begin(), e.closes.end());
  std::sort(out.begin(), out.end(), [](const Cidr& a, const Cidr& b) {
    return std::tie(a.family, a.addr) < std::tie(b.family, b.addr);
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::vector<Cidr> host_addresses() { return closed_by(dump()); }

HostAddresses::HostAddresses() {
  events_ = route_socket(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, SOCK_NONBLOCK);
  reload();
}

void HostAddresses::reload() {
  entries_ = dump();
  rebuild();
}

void HostAddresses::rebuild() { addrs_ = closed_by(entries_); }

bool HostAddresses::update() {
  const std::vector<Cidr> before = addrs_;
  alignas(nlmsghdr) char buf[kBuffer];
  bool overrun = false;
  for (;;) {
    const ssize_t n = ::recv(events_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // notices were lost: read everything anew
        overrun = true;
        continue;
      }
      break;  // EAGAIN: all read
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf); NLMSG_OK(nlh, static_cast<unsigned>(len));
         nlh = NLMSG_NEXT(nlh, len)) {
      Entry e;
      if ((nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) || !decode(nlh, &e)) continue;
      auto it = std::find_if(entries_.begin(), entries_.end(),
                             [&](const Entry& x) { return x.index == e.index && x.address == e.address; });
      if (it != entries_.end()) entries_.erase(it);  // a changed address (a new broadcast or prefix) replaces the old
      if (nlh->nlmsg_type == RTM_NEWADDR) entries_.push_back(std::move(e));
    }
  }
  if (overrun) reload();
  else rebuild();
  return addrs_ != before;
}

}  // namespace mcpjail::netfilter
