// The jail's side of network = "allowlist", run by its init while it still
// holds CAP_NET_ADMIN over the new network namespace (rootless: through the
// user namespace; root: for real). In two steps, so that the table is built
// while pasta starts: prepare_jail_network() before the uplink exists (the
// table, with everything but loopback closed until the supervisor opens its
// gate, and the sockets for the supervisor), close_uplink_gateways() once
// the supervisor says pasta has configured the namespace, before any process
// of the server exists.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "mcpjail/channel.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/net.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_internal.hpp"

namespace mcpjail::netfilter {

namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

UniqueFd dns_socket(int type) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw LaunchError("network", errno_text("DNS filter socket", errno));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  ::inet_pton(AF_INET, kResolverAddress, &sa.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw LaunchError("network", errno_text(std::string("bind the DNS filter to ") + kResolverAddress + ":53", errno));
  if (type == SOCK_STREAM && ::listen(fd.get(), 64) != 0)
    throw LaunchError("network", errno_text("listen on the DNS filter's TCP socket", errno));
  return fd;
}

UniqueFd nft_socket() { return bound_netlink_socket(NETLINK_NETFILTER, 0, 0, "netlink socket for nftables sets"); }

void hand_over(int report_sock, JailSocket which, const UniqueFd& fd) {
  channel::send_report(report_sock, channel::ReportKind::NetSocket, static_cast<int>(which), "network", "", fd.get());
}

}  // namespace

std::vector<Cidr> uplink_gateways() {
  std::unique_ptr<nl_sock, SockFree> sk(nl_socket_alloc());
  if (!sk) throw LaunchError("network", "cannot allocate a netlink socket");
  if (int e = nl_connect(sk.get(), NETLINK_ROUTE); e < 0)
    throw LaunchError("network", std::string("connect to rtnetlink: ") + nl_geterror(e));
  nl_cache* raw = nullptr;
  if (int e = rtnl_route_alloc_cache(sk.get(), AF_UNSPEC, 0, &raw); e < 0)
    throw LaunchError("network", std::string("read the routes of the jail's namespace: ") + nl_geterror(e));
  std::unique_ptr<nl_cache, CacheFree> cache(raw);
  std::vector<Cidr> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* route = reinterpret_cast<rtnl_route*>(o);
    const int n = rtnl_route_get_nnexthops(route);
    for (int i = 0; i < n; ++i) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(route, i);
      nl_addr* gw = nh ? rtnl_route_nh_get_gateway(nh) : nullptr;
      if (!gw) continue;
      Cidr c;
      const int fam = nl_addr_get_family(gw);
      const unsigned len = nl_addr_get_len(gw);
      if (fam == AF_INET && len == 4) c.family = kFamily4, c.prefix = 32;
      else if (fam == AF_INET6 && len == 16) c.family = kFamily6, c.prefix = 128;
      else continue;
      std::memcpy(c.addr.data(), nl_addr_get_binary_addr(gw), len);
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

void prepare_jail_network(const NetworkPlan& plan, int report_sock) {
  net::bring_up_loopback();
  install_ruleset(ruleset(plan));

  UniqueFd udp = dns_socket(SOCK_DGRAM);
  UniqueFd tcp = dns_socket(SOCK_STREAM);
  UniqueFd nft = nft_socket();
  UniqueFd log = open_nflog(kLogGroup);

  // Opened here, while init is privileged in this namespace, the sockets
  // keep working in the supervisor after init has dropped everything. The
  // supervisor reads them from the channel after the uplink is up.
  hand_over(report_sock, JailSocket::NftSet, nft);
  hand_over(report_sock, JailSocket::Nflog, log);
  hand_over(report_sock, JailSocket::DnsUdp, udp);
  hand_over(report_sock, JailSocket::DnsTcp, tcp);
}

void close_uplink_gateways() {
  const auto gateways = uplink_gateways();
  if (gateways.empty())
    throw LaunchError("network", "the jail's uplink has no gateway: pasta did not configure the namespace "
                                 "(does the host have a default route?)");
  SetWriter sets(nft_socket());
  std::string err;
  if (!sets.add_gateways(gateways, &err))
    throw LaunchError("network", "add the uplink's gateways to the nftables table: " + err);
}

}  // namespace mcpjail::netfilter
