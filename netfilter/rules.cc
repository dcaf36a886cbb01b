// Parsing of the egress allowlist entries (pure).
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "mcpjail/netfilter_rules.hpp"

namespace mcpjail::netfilter {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int> parse_number(std::string_view s, int max) {
  if (!all_digits(s) || s.size() > 5) return std::nullopt;
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v > max) return std::nullopt;
  return v;
}

std::optional<Cidr> parse_address(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string z(s);
  Cidr c;
  if (::inet_pton(AF_INET, z.c_str(), c.addr.data()) == 1) {
    c.family = kFamily4;
    c.prefix = 32;
    return c;
  }
  if (z.find('%') == std::string::npos && ::inet_pton(AF_INET6, z.c_str(), c.addr.data()) == 1) {
    c.family = kFamily6;
    c.prefix = 128;
    return c;
  }
  return std::nullopt;
}

bool host_bits_zero(const Cidr& c) {
  for (int bit = c.prefix; bit < c.bits(); ++bit)
    if (c.addr[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) return false;
  return true;
}

// A DNS name as an allowlist writes it: letters, digits, '-' and '_',
// labels of 1-63 bytes, 253 bytes at most. Returns the lower-case form.
std::string check_name(std::string_view in, const std::string& entry) {
  std::string name(in);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) throw std::invalid_argument("'" + entry + "' has an empty host name");
  if (name.size() > 253) throw std::invalid_argument("host name in '" + entry + "' is longer than 253 bytes");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t start = 0;
  std::string_view last;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    const std::string_view label(name.data() + start, dot - start);
    if (label.empty() || label.size() > 63)
      throw std::invalid_argument("host name in '" + entry + "' has an empty label or one longer than 63 bytes");
    for (char c : label) {
      if (c == '*')
        throw std::invalid_argument("'" + entry + "': a wildcard must be the whole first label, as in *.example.com:443, "
                                    "or the whole name, as in *:443");
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
        throw std::invalid_argument("host name in '" + entry + "' contains '" + std::string(1, c) +
                                    "' (letters, digits, '-' and '_' only)");
    }
    if (label.front() == '-' || label.back() == '-')
      throw std::invalid_argument("host name in '" + entry + "' has a label that starts or ends with '-'");
    last = label;
    start = dot + 1;
  }
  if (all_digits(last))
    throw std::invalid_argument("'" + entry + "' is neither a host name nor an IP address");
  return name;
}

std::string address_text(const Cidr& c) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(c.family == kFamily4 ? AF_INET : AF_INET6, c.addr.data(), buf, sizeof buf);
  return buf;
}

Cidr cidr_of(const char* s) {
  auto c = parse_cidr(s);
  if (!c) throw std::logic_error(std::string("bad built-in range ") + s);
  return *c;
}

}  // namespace

bool Cidr::contains(const Cidr& o) const {
  if (family != o.family || o.prefix < prefix) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    const auto i = static_cast<std::size_t>(bit / 8);
    const int m = 0x80 >> (bit % 8);
    if ((addr[i] & m) != (o.addr[i] & m)) return false;
  }
  return true;
}

bool Cidr::overlaps(const Cidr& o) const { return contains(o) || o.contains(*this); }

Cidr Cidr::network(int len) const {
  Cidr net = *this;
  net.prefix = len;
  for (int bit = len; bit < bits(); ++bit)
    net.addr[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  return net;
}

std::string Cidr::str() const {
  std::string s = address_text(*this);
  if (!host()) s += "/" + std::to_string(prefix);
  return s;
}

std::optional<Cidr> parse_cidr(std::string_view s, std::string* why) {
  auto fail = [&](const std::string& m) -> std::optional<Cidr> {
    if (why) *why = m;
    return std::nullopt;
  };
  std::string_view addr = s, len;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    addr = s.substr(0, slash);
    len = s.substr(slash + 1);
    if (len.empty()) return fail("'" + std::string(s) + "' has no prefix length after '/'");
  }
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
  auto c = parse_address(addr);
  if (!c) return fail("'" + std::string(addr) + "' is not an IPv4 or IPv6 address");
  if (!len.empty()) {
    auto n = parse_number(len, c->bits());
    if (!n) return fail("prefix length in '" + std::string(s) + "' must be 0-" + std::to_string(c->bits()));
    c->prefix = *n;
    if (!host_bits_zero(*c))
      return fail("'" + std::string(s) + "' has host bits set; the network is " + c->network(c->prefix).str());
  }
  return c;
}

std::string AllowRule::str() const {
  switch (kind) {
    case Kind::Host: return name + ":" + std::to_string(port);
    case Kind::Wildcard: return "*." + name + ":" + std::to_string(port);
    case Kind::Any: return "*:" + std::to_string(port);
    case Kind::Address:
      if (net.family == kFamily6) return "[" + address_text(net) + "]" + (net.host() ? "" : "/" + std::to_string(net.prefix)) + ":" + std::to_string(port);
      return net.str() + ":" + std::to_string(port);
  }
  return text;
}

AllowRule parse_allow(std::string_view entry) {
  const std::string e(entry);
  AllowRule r;
  r.text = e;
  const std::string form = "'" + e + "' must be HOST:PORT, *.DOMAIN:PORT, *:PORT, IP:PORT or CIDR:PORT (port 1-65535)";
  for (char c : e)
    if (std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c))) throw std::invalid_argument(form);
  std::string_view host, port;
  if (!e.empty() && e.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument(form);
    std::string_view rest = entry.substr(close + 1);
    std::string_view len;
    if (!rest.empty() && rest.front() == '/') {
      const auto colon = rest.find(':');
      if (colon == std::string_view::npos) throw std::invalid_argument(form);
      len = rest.substr(0, colon);
      rest = rest.substr(colon);
    }
    if (rest.size() < 2 || rest.front() != ':') throw std::invalid_argument(form);
    port = rest.substr(1);
    std::string inner(entry.substr(1, close - 1));
    inner += len;
    std::string why;
    auto c = parse_cidr(inner, &why);
    if (!c || c->family != kFamily6) throw std::invalid_argument(c ? "'" + e + "': brackets are for IPv6 addresses" : "'" + e + "': " + why);
    r.kind = AllowRule::Kind::Address;
    r.net = *c;
  } else {
    const auto colon = entry.rfind(':');
    if (colon == std::string_view::npos || colon == 0) throw std::invalid_argument(form);
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
    const bool looks_ip = host.find(':') != std::string_view::npos || host.find('/') != std::string_view::npos ||
                          parse_address(host).has_value();
    if (looks_ip) {
      std::string why;
      auto c = parse_cidr(host, &why);
      if (!c) throw std::invalid_argument("'" + e + "': " + why);
      r.kind = AllowRule::Kind::Address;
      r.net = *c;
    } else if (host == "*") {
      r.kind = AllowRule::Kind::Any;
    } else if (host.substr(0, 2) == "*.") {
      r.kind = AllowRule::Kind::Wildcard;
      r.name = check_name(host.substr(2), e);
      if (r.name.find('.') == std::string::npos)
        throw std::invalid_argument("'" + e + "': a wildcard over a whole top-level domain is too broad; name the domain, as in *.example.com "
                                    "(*:PORT allows every name)");
    } else {
      r.kind = AllowRule::Kind::Host;
      r.name = check_name(host, e);
    }
  }
  const auto p = parse_number(port, 65535);
  if (!p || *p == 0) throw std::invalid_argument(form);
  r.port = static_cast<std::uint16_t>(*p);
  return r;
}

bool name_matches(const AllowRule& rule, std::string_view name) {
  switch (rule.kind) {
    case AllowRule::Kind::Host: return name == rule.name;
    case AllowRule::Kind::Wildcard:
      return name.size() > rule.name.size() + 1 && name.substr(name.size() - rule.name.size()) == rule.name &&
             name[name.size() - rule.name.size() - 1] == '.';
    case AllowRule::Kind::Any: return !name.empty();
    case AllowRule::Kind::Address: return false;
  }
  return false;
}

std::vector<std::uint16_t> ports_for_name(const std::vector<AllowRule>& rules, std::string_view name) {
  std::vector<std::uint16_t> ports;
  for (const auto& r : rules)
    if (name_matches(r, name)) ports.push_back(r.port);
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::string Resolver::str() const {
  if (port == 53) return addr.str();
  if (addr.family == kFamily6) return "[" + addr.str() + "]:" + std::to_string(port);
  return addr.str() + ":" + std::to_string(port);
}

std::optional<Resolver> parse_resolver(std::string_view s, std::string* why) {
  auto fail = [&](const std::string& m) -> std::optional<Resolver> {
    if (why) *why = m;
    return std::nullopt;
  };
  const std::string form = "'" + std::string(s) + "' must be an IP address, IP:PORT or [IPv6]:PORT";
  Resolver r;
  std::string_view addr = s, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return fail(form);
    addr = s.substr(1, close - 1);
    const auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.size() < 2 || rest.front() != ':') return fail(form);
      port = rest.substr(1);
    }
  } else if (!parse_address(s)) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || s.find(':') != colon) return fail(form);
    addr = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  auto a = parse_address(addr);
  if (!a) return fail(form);
  r.addr = *a;
  if (!port.empty()) {
    auto p = parse_number(port, 65535);
    if (!p || *p == 0) return fail(form);
    r.port = static_cast<std::uint16_t>(*p);
  }
  return r;
}

std::vector<Resolver> resolvers_from_resolv_conf(std::string_view text) {
  std::vector<Resolver> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto skip_ws = [&] {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    };
    skip_ws();
    if (line.substr(0, 10) != "nameserver" || line.size() < 11 || (line[10] != ' ' && line[10] != '\t')) continue;
    line.remove_prefix(10);
    skip_ws();
    std::size_t end = 0;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r' && line[end] != '#' && line[end] != ';') ++end;
    const std::string_view word = line.substr(0, end);
    if (word.find('%') != std::string_view::npos) continue;
    if (auto a = parse_address(word)) out.push_back(Resolver{*a, 53});
  }
  return out;
}

const std::vector<Cidr>& denied_ranges() {
  // From IANA's IPv4 and IPv6 Special-Purpose Address Registries (checked
  // against their 2025 editions), with the multicast blocks and the old
  // site-local one. Denied: every block the registries mark as not globally
  // reachable, whole (the few globally reachable anycast addresses inside
  // 192.0.0.0/24 and 2001::/23 included), and the prefixes that carry an
  // IPv4 address a translator on the way may turn into a private one (NAT64,
  // 6to4 and its relay anycast, Teredo inside 2001::/23, IPv4-mapped and
  // IPv4-compatible). Left open on purpose: the documentation blocks
  // (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32,
  // 3fff::/20) and 198.18.0.0/15 (benchmarking): nothing of a host's own
  // network lives there by their definition, examples and test networks use
  // them, and DNS proxies that answer with "fake" addresses (198.18.0.0/15)
  // must keep working. The globally reachable blocks outside those two
  // (AS112, AMT) are ordinary public addresses. mcp-jail-profile(5) lists
  // the same.
  static const std::vector<Cidr> ranges = [] {
    std::vector<Cidr> v;
    for (const char* s : {// IPv4
                          "0.0.0.0/8",        // "this network" (0.0.0.0/32 included)
                          "10.0.0.0/8",       // private
                          "100.64.0.0/10",    // shared address space (CGNAT)
                          "127.0.0.0/8",      // loopback
                          "169.254.0.0/16",   // link-local (cloud metadata)
                          "172.16.0.0/12",    // private
                          "192.0.0.0/24",     // IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
                          "192.88.99.0/24",   // 6to4 relay anycast (deprecated)
                          "192.168.0.0/16",   // private
                          "224.0.0.0/4",      // multicast
                          "240.0.0.0/4",      // reserved, and the limited broadcast 255.255.255.255
                          // IPv6
                          "::/96",            // unspecified, loopback, IPv4-compatible (deprecated)
                          "::ffff:0:0/96",    // IPv4-mapped
                          "64:ff9b::/96",     // NAT64, well-known prefix
                          "64:ff9b:1::/48",   // NAT64, local use
                          "100::/64",         // discard-only
                          "100:0:0:1::/64",   // dummy prefix
                          "2001::/23",        // IETF protocol assignments (Teredo 2001::/32, benchmarking, ORCHID, ...)
                          "2002::/16",        // 6to4
                          "5f00::/16",        // SRv6 segment identifiers
                          "fc00::/7",         // unique local
                          "fe80::/10",        // link-local
                          "fec0::/10",        // site-local (deprecated)
                          "ff00::/8"})        // multicast
      v.push_back(cidr_of(s));
    return v;
  }();
  return ranges;
}

const std::vector<Cidr>& metadata_addresses() {
  static const std::vector<Cidr> addrs = {cidr_of("169.254.169.254"), cidr_of("fd00:ec2::254")};
  return addrs;
}

bool answer_closed(const Cidr& addr, const std::vector<Cidr>& private_allowed) {
  const auto d = denied_range_of(addr);
  if (!d) return false;
  for (const auto& p : private_allowed)
    if (d->host() ? p == *d : p.contains(addr)) return false;  // a metadata address: named exactly
  return true;
}

bool host_address_opened(const Cidr& addr, const std::vector<Cidr>& private_allowed) {
  for (const auto& p : private_allowed)
    if (p.contains(addr)) return true;
  return false;
}

std::optional<Cidr> denied_range_of(const Cidr& net) {
  for (const auto& m : metadata_addresses())
    if (net == m) return m;
  for (const auto& r : denied_ranges())
    if (r.contains(net)) return r;
  return std::nullopt;
}

}  // namespace mcpjail::netfilter
