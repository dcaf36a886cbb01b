// Network pass: the mode, and for an allowlist its rules parsed and checked
// against the private and local ranges, and the upstream resolvers.
#include <algorithm>
#include <fstream>
#include <iterator>

#include "mcpjail/netfilter.hpp"
#include "mcpjail/plan/passes.hpp"

namespace mcpjail::planning {

NetworkPlan plan_network(Context& c) {
  NetworkPlan n;
  const auto& pn = c.profile.network;
  n.mode = pn.mode;
  n.allow = pn.allow;
  n.allow_private = pn.allow_private;
  n.dns = pn.dns;
  if (pn.mode == NetMode::Host && !pn.allow_host_network)
    c.error(pn.mode_loc, "network.mode = \"host\" shares the host's network with the server; it is refused "
                         "unless the profile also sets network.allow_host_network = true");
  if (pn.mode != NetMode::Allowlist) {
    if (!pn.allow.empty() || !pn.allow_private.empty() || !pn.dns.empty())
      c.note(std::string("network.allow, allow_private and dns apply to network.mode = \"allowlist\" only; "
                         "they are ignored with mode \"") +
             (pn.mode == NetMode::None ? "none" : "host") + "\"");
    return n;
  }
  if (netfilter::Uplink::binary().empty())
    c.note("pasta (package passt) is not installed: `run` refuses network = \"allowlist\" until it is");
  auto loc = [](const std::vector<SourceLoc>& v, std::size_t i) { return i < v.size() ? v[i] : SourceLoc{"network"}; };
  // allow_private: exemptions from the private-range deny, nothing more
  // (the loader has checked each entry).
  for (const auto& a : pn.allow_private)
    if (auto cidr = netfilter::parse_cidr(a)) n.private_allowed.push_back(*cidr);
  bool names = false;
  std::string every_name;  // the *:PORT entries
  for (std::size_t i = 0; i < pn.allow.size(); ++i) {
    netfilter::AllowRule r;
    try {
      r = netfilter::parse_allow(pn.allow[i]);
    } catch (const std::invalid_argument&) {
      continue;  // reported by the loader
    }
    if (r.kind == netfilter::AllowRule::Kind::Address) {
      if (auto d = netfilter::denied_range_of(r.net)) {
        // A metadata address opens only when allow_private names it exactly.
        const bool metadata = d->host();
        const bool opened = std::any_of(n.private_allowed.begin(), n.private_allowed.end(),
                                        [&](const netfilter::Cidr& p) { return metadata ? p == *d : p.contains(r.net); });
        if (!opened) {
          c.error(loc(pn.allow_loc, i), "'network.allow' entry '" + r.text + "' is in " + d->str() +
                                            ", a private or local range that stays closed unless network.allow_private "
                                            "lists it (add \"" + r.net.str() + "\" there)");
          continue;
        }
      } else {
        for (const auto& d : netfilter::denied_ranges())
          if (r.net.contains(d)) {
            c.note("network.allow " + r.text + " spans private and local ranges; they stay closed");
            break;
          }
      }
    } else {
      names = true;
      if (r.kind == netfilter::AllowRule::Kind::Any) every_name += (every_name.empty() ? "" : ", ") + r.str();
    }
    n.rules.push_back(std::move(r));
  }
  if (!every_name.empty())
    c.note("network.allow " + every_name + ": every name is answered, so the server can reach any public "
           "address a name points to on these ports, and its DNS queries leave the jail; private, local "
           "and metadata ranges stay closed");
  if (!pn.dns.empty()) {
    for (const auto& d : pn.dns)
      if (auto r = netfilter::parse_resolver(d)) n.resolvers.push_back(*r);
    n.resolvers_from = "profile";
  } else {
    std::ifstream in("/etc/resolv.conf");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    n.resolvers = netfilter::resolvers_from_resolv_conf(text);
    n.resolvers_from = "/etc/resolv.conf";
  }
  if (names && n.resolvers.empty())
    c.error(pn.mode_loc, "network.allow names hosts, but there is no upstream resolver: the host's /etc/resolv.conf "
                         "lists no usable nameserver; set network.dns");
  return n;
}

}  // namespace mcpjail::planning
