#!/bin/sh
# The network tests' world: two network namespaces the test owns, nothing
# on the host's own network is touched or reached.
#
#   NAME-h  plays "the host": the launcher (and pasta) run here. lo carries
#           the "host loopback" service, and the host's second addresses
#           198.18.3.2/32 and 2001:db8:18:3::2/128 (pasta copies only the first
#           address into a jail: these are reached through the uplink, from
#           the host itself); veth NAME-h0 198.18.0.2/24, 2001:db8:18::2/64;
#           default routes via the world.
#   NAME-w  "the internet": veth NAME-w0 198.18.0.1/24, 2001:db8:18::1/64 (this
#           is the jail's gateway, with listeners of its own); on its loopback
#           the test hosts:
#             198.18.1.10  2001:db8:18:1::10   the allowed service
#             198.18.1.20  2001:db8:18:1::20   allowed by address
#             198.18.1.53  2001:db8:18:1::53   the DNS server (the jail's upstream)
#             198.18.1.66  2001:db8:18:1::66   "C2": not allowed; also a rogue DNS server
#             198.18.3.10                      a host in a range allowed by address
#             169.254.169.254 fd00:ec2::254    cloud metadata look-alikes
#             10.18.1.10                       a private-range (RFC 1918) host
#             192.0.2.1                        the address `mcp-jail probe` tries as "not allowed"
#
#   world.sh up NAME | down NAME          (root; NAME at most 10 characters)
set -eu
cmd=$1 n=$2
h=$n-h w=$n-w
case "$cmd" in
up)
  ip netns add "$h"
  ip netns add "$w"
  ip link add "$n-h0" netns "$h" type veth peer name "$n-w0" netns "$w"
  ip -n "$h" link set lo up
  ip -n "$w" link set lo up
  ip -n "$h" addr add 198.18.0.2/24 dev "$n-h0"
  ip -n "$h" addr add 2001:db8:18::2/64 dev "$n-h0" nodad
  ip -n "$h" link set "$n-h0" up
  ip -n "$w" addr add 198.18.0.1/24 dev "$n-w0"
  ip -n "$w" addr add 2001:db8:18::1/64 dev "$n-w0" nodad
  ip -n "$w" link set "$n-w0" up
  ip -n "$h" route add default via 198.18.0.1
  ip -n "$h" addr add 198.18.3.2/32 dev lo
  ip -n "$h" addr add 2001:db8:18:3::2/128 dev lo nodad
  ip -n "$h" -6 route add default via 2001:db8:18::1
  for a in 198.18.1.10 198.18.1.20 198.18.1.53 198.18.1.66 198.18.3.10 169.254.169.254 10.18.1.10 192.0.2.1; do
    ip -n "$w" addr add "$a/32" dev lo
  done
  for a in 2001:db8:18:1::10 2001:db8:18:1::20 2001:db8:18:1::53 2001:db8:18:1::66 fd00:ec2::254; do
    ip -n "$w" addr add "$a/128" dev lo nodad
  done
  ;;
down)
  ip netns del "$h" 2>/dev/null || true
  ip netns del "$w" 2>/dev/null || true
  ;;
*)
  echo "usage: world.sh up|down NAME" >&2
  exit 2
  ;;
esac
