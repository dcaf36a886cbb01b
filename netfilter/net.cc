#include "mcpjail/net.hpp"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <memory>
#include <string>

#include "mcpjail/errors.hpp"

namespace mcpjail::net {

namespace {
struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkFree {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
[[noreturn]] void fail(const std::string& what, int nlerr) {
  throw LaunchError("network", what + ": " + nl_geterror(nlerr));
}
}  // namespace

void bring_up_loopback() {
  std::unique_ptr<nl_sock, SockFree> sk(nl_socket_alloc());
  if (!sk) throw LaunchError("network", "cannot allocate a netlink socket");
  if (int e = nl_connect(sk.get(), NETLINK_ROUTE); e < 0) fail("connect to rtnetlink", e);
  rtnl_link* raw = nullptr;
  if (int e = rtnl_link_get_kernel(sk.get(), 0, "lo", &raw); e < 0) fail("find the loopback link", e);
  std::unique_ptr<rtnl_link, LinkFree> lo(raw);
  std::unique_ptr<rtnl_link, LinkFree> change(rtnl_link_alloc());
  if (!change) throw LaunchError("network", "cannot allocate a link change");
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int e = rtnl_link_change(sk.get(), lo.get(), change.get(), 0); e < 0) fail("bring loopback up", e);
}

}  // namespace mcpjail::net
