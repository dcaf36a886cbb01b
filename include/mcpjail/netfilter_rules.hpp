// Egress allowlist rules as data: parsed `[network] allow`, `allow_private`
// and `dns` entries. Pure (no syscalls): used by the profile loader, the
// planner, `mcp-jail check`, the nftables ruleset and the DNS filter.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail::netfilter {

// Families as stored in Cidr::family (4 and 6, not AF_*: plain data).
inline constexpr int kFamily4 = 4;
inline constexpr int kFamily6 = 6;

// An IPv4 or IPv6 network: address bits beyond `prefix` are zero.
struct Cidr {
  int family = 0;                      // kFamily4 or kFamily6
  std::array<std::uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes
  int prefix = 0;                      // 0-32 or 0-128

  std::size_t bytes() const { return family == kFamily4 ? 4 : 16; }
  int bits() const { return static_cast<int>(bytes()) * 8; }
  bool host() const { return prefix == bits(); }
  bool contains(const Cidr& other) const;  // same family and other ⊆ this
  bool overlaps(const Cidr& other) const;
  // The network of this address with `len` prefix bits: the bits beyond them zero.
  Cidr network(int len) const;
  std::string str() const;                 // "10.0.0.0/8", "2001:db8::/32"; no "/N" for a single address
  bool operator==(const Cidr&) const = default;
};

// "192.0.2.1", "192.0.2.0/24", "2001:db8::1", "2001:db8::/32", "[2001:db8::]/32".
// Host bits must be zero ("10.0.0.1/8" is refused: write 10.0.0.0/8).
std::optional<Cidr> parse_cidr(std::string_view s, std::string* why = nullptr);

// One `allow` entry.
struct AllowRule {
  // Any: "*:PORT", every name (for a server that fetches whatever URL it is
  // given); the addresses answered still pass the private-range deny.
  enum class Kind { Host, Wildcard, Address, Any };
  Kind kind = Kind::Host;
  std::string name;   // Host: "api.github.com"; Wildcard: the suffix, "githubusercontent.com"; Any: empty
  Cidr net;           // Address: a single address or a CIDR
  std::uint16_t port = 0;
  std::string text;   // as written, for messages
  std::string str() const;  // canonical form: "api.github.com:443", "*.x.com:443", "*:443", "[2001:db8::]/32:443"
};

// Parses "HOST:PORT", "*.SUFFIX:PORT", "*:PORT", "IP:PORT", "CIDR:PORT", "[IPv6]:PORT",
// "[IPv6/len]:PORT" or "[IPv6]/len:PORT". Names are lower-cased, a trailing
// dot is dropped. Throws std::invalid_argument with a message for a person.
AllowRule parse_allow(std::string_view entry);

// True when `name` (lower case, no trailing dot) is allowed by `rule`.
// A wildcard "*.example.com" matches every name below example.com, at any
// depth, but not example.com itself. "*" matches every name but the root.
bool name_matches(const AllowRule& rule, std::string_view name);

// Ports allowed for `name` by any rule (sorted, unique); empty: not allowed.
std::vector<std::uint16_t> ports_for_name(const std::vector<AllowRule>& rules, std::string_view name);

// An upstream resolver: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53",
// "[2001:db8::53]:5353". Port 53 unless given.
struct Resolver {
  Cidr addr;  // a single address
  std::uint16_t port = 53;
  std::string str() const;
};
std::optional<Resolver> parse_resolver(std::string_view s, std::string* why = nullptr);

// The `nameserver` lines of a resolv.conf text (a scope id "%eth0" is dropped
// with the address: link-local resolvers are not supported).
std::vector<Resolver> resolvers_from_resolv_conf(std::string_view text);

// Ranges the jail never reaches unless `allow_private` lists them: private
// (RFC 1918, ULA), loopback, link-local, CGNAT, multicast, "this network",
// reserved, and the special-purpose blocks of IANA's registries that are not
// globally reachable or carry an IPv4 address (rules.cc says which and why).
// The metadata addresses are kept apart: only an allow_private entry naming
// that exact address opens them.
const std::vector<Cidr>& denied_ranges();
const std::vector<Cidr>& metadata_addresses();  // 169.254.169.254, fd00:ec2::254

// The denied range (or metadata address) that `net` falls inside, if any.
std::optional<Cidr> denied_range_of(const Cidr& net);

// True when a DNS answer's address `addr` (a single address) stays closed
// whatever the answer says: inside a denied range that no `allow_private`
// entry opens (a metadata address only when named exactly). Such addresses
// never enter the jail's sets of allowed addresses.
bool answer_closed(const Cidr& addr, const std::vector<Cidr>& private_allowed);

// The host's own addresses are closed as well (the uplink would carry the
// jail's traffic to them from the host itself), unless an `allow_private`
// entry contains the address: then this is true.
bool host_address_opened(const Cidr& addr, const std::vector<Cidr>& private_allowed);

}  // namespace mcpjail::netfilter
