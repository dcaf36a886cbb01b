// Allowlist entries, the nftables ruleset text and network planning: pure,
// no privileges.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/plan.hpp"

using namespace mcpjail;
using namespace mcpjail::netfilter;

namespace {

std::string error_of(const std::string& entry) {
  try {
    parse_allow(entry);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

Plan plan_of(const std::string& network) {
  Invocation i;
  i.uid = ::getuid();
  i.euid = ::geteuid();
  i.gid = ::getgid();
  i.load.home = "/tmp";
  i.load.pwd = "/tmp";
  i.host_env = {{"PATH", "/usr/bin:/bin"}};
  i.command = {"/bin/true"};
  const std::string text = "version = 1\nname = \"t\"\n[network]\nmode = \"allowlist\"\n" + network;
  return make_plan(load_profile_text(text, "t.toml", "/tmp", i.load), i);
}

std::vector<Diagnostic> diags_of(const std::string& network) {
  try {
    plan_of(network);
  } catch (const ProfileError& e) {
    return e.diagnostics();
  }
  return {};
}

}  // namespace

TEST_CASE("allow entries: host names and wildcards and addresses and networks") {
  auto r = parse_allow("API.GitHub.com.:443");
  CHECK(r.kind == AllowRule::Kind::Host);
  CHECK(r.name == "api.github.com");
  CHECK(r.port == 443);
  CHECK(r.str() == "api.github.com:443");

  r = parse_allow("*.githubusercontent.com:443");
  CHECK(r.kind == AllowRule::Kind::Wildcard);
  CHECK(r.name == "githubusercontent.com");
  CHECK(r.str() == "*.githubusercontent.com:443");

  r = parse_allow("203.0.113.0/24:8080");
  CHECK(r.kind == AllowRule::Kind::Address);
  CHECK(r.net.family == kFamily4);
  CHECK(r.net.prefix == 24);
  CHECK(r.str() == "203.0.113.0/24:8080");

  r = parse_allow("192.0.2.7:22");
  CHECK(r.net.host());
  CHECK(r.str() == "192.0.2.7:22");

  for (const char* v6 : {"[2001:db8::1]:443", "2001:db8::1:443"}) {
    r = parse_allow(v6);
    CHECK(r.kind == AllowRule::Kind::Address);
    CHECK(r.net.family == kFamily6);
    CHECK(r.net.host());
    CHECK(r.str() == "[2001:db8::1]:443");
  }
  for (const char* v6net : {"[2001:db8::]/32:443", "[2001:db8::/32]:443", "2001:db8::/32:443"}) {
    r = parse_allow(v6net);
    CHECK(r.net.prefix == 32);
    CHECK(r.str() == "[2001:db8::]/32:443");
  }
}

TEST_CASE("allow entries: what is refused and why") {
  CHECK_THAT(error_of("example.com"), Catch::Contains("HOST:PORT"));
  CHECK_THAT(error_of("example.com:0"), Catch::Contains("port 1-65535"));
  CHECK_THAT(error_of("example.com:65536"), Catch::Contains("port 1-65535"));
  CHECK_THAT(error_of("example.com:https"), Catch::Contains("port 1-65535"));
  CHECK_THAT(error_of(":443"), Catch::Contains("HOST:PORT"));
  CHECK_THAT(error_of("foo*.example.com:443"), Catch::Contains("whole first label"));
  CHECK_THAT(error_of("a.*.example.com:443"), Catch::Contains("whole first label"));
  CHECK_THAT(error_of("*.com:443"), Catch::Contains("too broad"));
  CHECK_THAT(error_of("**:443"), Catch::Contains("whole first label"));
  CHECK_THAT(error_of("*a:443"), Catch::Contains("*:443"));
  CHECK_THAT(error_of("*.:443"), Catch::Contains("empty host name"));
  CHECK_THAT(error_of("*:0"), Catch::Contains("port 1-65535"));
  CHECK_THAT(error_of("*"), Catch::Contains("*:PORT"));
  CHECK_THAT(error_of("exa mple.com:443"), Catch::Contains("HOST:PORT"));
  CHECK_THAT(error_of("ex!ample.com:443"), Catch::Contains("'!'"));
  CHECK_THAT(error_of("-bad.example.com:443"), Catch::Contains("'-'"));
  CHECK_THAT(error_of("a..b:443"), Catch::Contains("empty label"));
  CHECK_THAT(error_of(std::string(64, 'a') + ".com:443"), Catch::Contains("63"));
  CHECK_THAT(error_of("1.2.3:443"), Catch::Contains("neither a host name nor an IP"));
  CHECK_THAT(error_of("10.0.0.1/8:443"), Catch::Contains("host bits set; the network is 10.0.0.0/8"));
  CHECK_THAT(error_of("10.0.0.0/33:443"), Catch::Contains("0-32"));
  CHECK_THAT(error_of("[10.0.0.1]:443"), Catch::Contains("brackets are for IPv6"));
  CHECK_THAT(error_of("[2001:db8::1]443"), Catch::Contains("HOST:PORT"));
}

TEST_CASE("wildcards match names below the domain at any depth but never the domain itself") {
  const auto w = parse_allow("*.example.com:443");
  CHECK(name_matches(w, "a.example.com"));
  CHECK(name_matches(w, "a.b.c.example.com"));
  CHECK_FALSE(name_matches(w, "example.com"));
  CHECK_FALSE(name_matches(w, "evilexample.com"));
  CHECK_FALSE(name_matches(w, "example.com.evil.net"));
  CHECK_FALSE(name_matches(w, ".example.com"));
  const auto h = parse_allow("api.example.com:443");
  CHECK(name_matches(h, "api.example.com"));
  CHECK_FALSE(name_matches(h, "x.api.example.com"));
  // A label holding a dot is escaped by the DNS parser and can never match.
  CHECK_FALSE(name_matches(w, "a\\046b.example.co"));

  const std::vector<AllowRule> rules = {parse_allow("api.example.com:443"), parse_allow("*.example.com:8443"),
                                        parse_allow("api.example.com:443"), parse_allow("192.0.2.1:443")};
  CHECK(ports_for_name(rules, "api.example.com") == std::vector<std::uint16_t>{443, 8443});
  CHECK(ports_for_name(rules, "www.example.com") == std::vector<std::uint16_t>{8443});
  CHECK(ports_for_name(rules, "example.com").empty());
  CHECK(ports_for_name(rules, "192.0.2.1").empty());
}

TEST_CASE("every name: *:PORT matches any name but the root, on its port only") {
  const auto any = parse_allow("*:443");
  CHECK(any.kind == AllowRule::Kind::Any);
  CHECK(any.name.empty());
  CHECK(any.port == 443);
  CHECK(any.str() == "*:443");
  CHECK(name_matches(any, "example.com"));
  CHECK(name_matches(any, "a.b.c.example.org"));
  CHECK(name_matches(any, "localhost"));  // what it answers still meets the private-range deny
  CHECK_FALSE(name_matches(any, ""));     // the root
  const std::vector<AllowRule> rules = {parse_allow("*:80"), parse_allow("*:443"), parse_allow("api.example.com:8443")};
  CHECK(ports_for_name(rules, "www.example.net") == std::vector<std::uint16_t>{80, 443});
  CHECK(ports_for_name(rules, "api.example.com") == std::vector<std::uint16_t>{80, 443, 8443});
  CHECK(ports_for_name(rules, "").empty());
}

TEST_CASE("resolvers: addresses and ports and the host's resolv.conf") {
  CHECK(parse_resolver("192.0.2.53")->str() == "192.0.2.53");
  CHECK(parse_resolver("192.0.2.53:5353")->port == 5353);
  CHECK(parse_resolver("2001:db8::53")->addr.family == kFamily6);
  CHECK(parse_resolver("[2001:db8::53]:5353")->str() == "[2001:db8::53]:5353");
  std::string why;
  CHECK_FALSE(parse_resolver("dns.google", &why));
  CHECK_THAT(why, Catch::Contains("IP address"));
  CHECK_FALSE(parse_resolver("192.0.2.53:0"));
  const auto rs = resolvers_from_resolv_conf(
      "# comment\nsearch example.com\nnameserver 127.0.0.53\n  nameserver\t2001:db8::1 # x\nnameserver fe80::1%eth0\n"
      "nameserverx 1.1.1.1\nnameserver bogus\n");
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].str() == "127.0.0.53");
  CHECK(rs[1].str() == "2001:db8::1");
}

TEST_CASE("private and local ranges with metadata addresses opened only when named exactly") {
  CHECK(denied_range_of(*parse_cidr("10.1.2.3"))->str() == "10.0.0.0/8");
  CHECK(denied_range_of(*parse_cidr("100.64.1.0/24"))->str() == "100.64.0.0/10");
  CHECK(denied_range_of(*parse_cidr("169.254.169.254"))->str() == "169.254.169.254");
  // IPv6 forms that carry an IPv4 address a NAT64 or 6to4 gateway translates
  CHECK(denied_range_of(*parse_cidr("64:ff9b::a9fe:a9fe"))->str() == "64:ff9b::/96");
  CHECK(denied_range_of(*parse_cidr("64:ff9b:1::a00:5"))->str() == "64:ff9b:1::/48");
  CHECK(denied_range_of(*parse_cidr("2002:a00:5::1"))->str() == "2002::/16");
  CHECK(denied_range_of(*parse_cidr("192.0.0.170"))->str() == "192.0.0.0/24");
  CHECK_FALSE(denied_range_of(*parse_cidr("2001:db8::1")));
  CHECK(denied_range_of(*parse_cidr("fd00:ec2::254"))->str() == "fd00:ec2::254");
  CHECK(denied_range_of(*parse_cidr("fe80::1"))->str() == "fe80::/10");
  CHECK(denied_range_of(*parse_cidr("::1"))->str() == "::/96");
  CHECK(denied_range_of(*parse_cidr("::"))->str() == "::/96");
  CHECK(denied_range_of(*parse_cidr("::10.0.0.5"))->str() == "::/96");  // IPv4-compatible
  CHECK(denied_range_of(*parse_cidr("::ffff:10.0.0.5"))->str() == "::ffff:0.0.0.0/96");
  CHECK(denied_range_of(*parse_cidr("224.0.0.251")));
  CHECK_FALSE(denied_range_of(*parse_cidr("198.18.1.10")));
  CHECK_FALSE(denied_range_of(*parse_cidr("2001:db8::1")));
  CHECK_FALSE(denied_range_of(*parse_cidr("0.0.0.0/0")));  // spans them, but is not inside one
}

TEST_CASE("the denied list follows IANA's special-purpose registries, documentation and benchmarking left open") {
  // not globally reachable, or carrying an IPv4 address for a translator
  for (const char* a : {"0.0.0.0", "192.0.0.9", "192.88.99.1", "255.255.255.255", "240.0.0.1", "100::1",
                        "100:0:0:1::1", "2001::1" /* Teredo */, "2001:2::1", "2001:10::1", "5f00::1", "fec0::1",
                        "ff02::1", "fc00::1"})
    CHECK(denied_range_of(*parse_cidr(a)));
  // documentation and IPv4 benchmarking, and ordinary public addresses
  for (const char* a : {"192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1", "198.19.255.255", "3fff::1",
                        "2001:db8:18::1", "2620:4f:8000::1", "192.31.196.1", "8.8.8.8", "2a00:1450::1", "2001:200::1"})
    CHECK_FALSE(denied_range_of(*parse_cidr(a)));
}

TEST_CASE("answers that stay closed and host addresses that allow_private opens") {
  const std::vector<Cidr> none;
  CHECK(answer_closed(*parse_cidr("10.18.1.10"), none));
  CHECK(answer_closed(*parse_cidr("::10.0.0.5"), none));
  CHECK(answer_closed(*parse_cidr("169.254.169.254"), none));
  CHECK_FALSE(answer_closed(*parse_cidr("198.18.1.10"), none));
  const std::vector<Cidr> opened = {*parse_cidr("10.18.0.0/16"), *parse_cidr("169.254.0.0/16"),
                                    *parse_cidr("198.18.3.2")};
  CHECK_FALSE(answer_closed(*parse_cidr("10.18.1.10"), opened));
  CHECK(answer_closed(*parse_cidr("10.19.1.10"), opened));
  CHECK(answer_closed(*parse_cidr("169.254.169.254"), opened));  // the metadata address: only when named exactly
  CHECK_FALSE(answer_closed(*parse_cidr("169.254.1.1"), opened));
  CHECK(host_address_opened(*parse_cidr("198.18.3.2"), opened));
  CHECK(host_address_opened(*parse_cidr("10.18.0.7"), opened));
  CHECK_FALSE(host_address_opened(*parse_cidr("198.18.3.3"), opened));
  CHECK_FALSE(host_address_opened(*parse_cidr("198.18.3.2"), none));
}

TEST_CASE("the nftables table: policy drop with gateway and metadata closed and allow entries open") {
  NetworkPlan n;
  n.mode = NetMode::Allowlist;
  n.rules = {parse_allow("api.example.com:443"), parse_allow("203.0.113.0/24:8080"), parse_allow("[2001:db8::]/32:443")};
  const auto text = ruleset(n);
  CHECK_THAT(text, Catch::Contains("type filter hook output priority filter; policy drop;"));
  CHECK_THAT(text, Catch::Contains("oif \"lo\" accept"));
  // Inbound: loopback and the jail's own flows; nothing that starts outside.
  const auto input = text.substr(text.find("\tchain input {"), text.find("\tchain output {") - text.find("\tchain input {"));
  CHECK_THAT(input, Catch::Contains("type filter hook input priority filter; policy drop;"));
  CHECK_THAT(input, Catch::Contains("iif \"lo\" accept\n\t\tct state established,related accept\n"));
  CHECK_THAT(input, !Catch::Contains("ct state new"));
  // The uplink's gateways: sets the jail's init fills once pasta is up.
  CHECK_THAT(text, Catch::Contains("set gateway4 {\n\t\ttype ipv4_addr\n"));
  CHECK_THAT(text, Catch::Contains("set gateway6 {\n\t\ttype ipv6_addr\n"));
  CHECK_THAT(text, Catch::Contains("ip daddr @gateway4 goto blocked"));
  CHECK_THAT(text, Catch::Contains("ip6 daddr @gateway6 goto blocked"));
  CHECK_THAT(text, Catch::Contains("ip daddr 169.254.169.254 goto blocked"));
  CHECK_THAT(text, Catch::Contains("ip6 daddr fd00:ec2::254 goto blocked"));
  CHECK_THAT(text, Catch::Contains("10.0.0.0/8"));
  CHECK_THAT(text, Catch::Contains("meta l4proto { tcp, udp } th dport 53 goto blocked"));
  CHECK_THAT(text, Catch::Contains("ip daddr . th dport @names4 accept"));
  CHECK_THAT(text, Catch::Contains("ip daddr 203.0.113.0/24 th dport 8080 accept"));
  CHECK_THAT(text, Catch::Contains("ip6 daddr 2001:db8::/32 th dport 443 accept"));
  CHECK_THAT(text, Catch::Contains("log prefix \"mcp-jail blocked \" group 17"));
  CHECK_THAT(text, !Catch::Contains("goto permit\n\t\tip daddr 10.0.0.0"));
  // The gateway comes before anything that could open it.
  CHECK(text.find("ip daddr @gateway4 goto blocked") < text.find("goto permit"));
  CHECK(text.find("ip6 daddr @gateway6 goto blocked") < text.find("goto permit"));
  // The host's own addresses (sets the supervisor fills), and nothing leaves
  // before they are in place.
  CHECK_THAT(text, Catch::Contains("set host4 {\n\t\ttype ipv4_addr\n"));
  CHECK_THAT(text, Catch::Contains("set host6 {\n\t\ttype ipv6_addr\n"));
  CHECK_THAT(text, Catch::Contains("set ready {\n\t\ttype mark\n"));
  CHECK(text.find("meta mark != @ready goto blocked") < text.find("ip daddr @gateway4 goto blocked"));
  CHECK(text.find("ip daddr @host4 goto blocked") < text.find("goto permit"));
  CHECK(text.find("ip6 daddr @host6 goto blocked") < text.find("goto permit"));

  n.private_allowed = {*parse_cidr("10.1.0.0/16"), *parse_cidr("169.254.169.254")};
  const auto opened = ruleset(n);
  CHECK_THAT(opened, Catch::Contains("ip daddr { 10.1.0.0/16, 169.254.169.254 } goto permit"));
  CHECK_THAT(opened, !Catch::Contains("ip daddr 169.254.169.254 goto blocked"));
  CHECK_THAT(opened, Catch::Contains("ip6 daddr fd00:ec2::254 goto blocked"));
  CHECK(opened.find("goto permit") < opened.find("10.0.0.0/8"));
}

TEST_CASE("the nftables table in record mode (learn --network): public addresses on any port, logged, the rest as before") {
  NetworkPlan n;
  n.mode = NetMode::Allowlist;
  const auto plain = ruleset(n);
  CHECK_THAT(plain, !Catch::Contains("mcp-jail learned"));
  n.record = true;
  const auto text = ruleset(n);
  CHECK_THAT(text, Catch::Contains("ct state new limit rate 200/second burst 400 packets log prefix \"mcp-jail learned \" group 17"));
  CHECK_THAT(text, Catch::Contains("meta l4proto { tcp, udp } accept\n\t\tgoto blocked"));
  // Everything that closes comes before: gateway, host, metadata, private ranges, DNS.
  const auto open = text.find("mcp-jail learned");
  for (const char* closed : {"ip daddr @gateway4 goto blocked", "ip daddr @host4 goto blocked", "ip daddr 169.254.169.254 goto blocked",
                             "10.0.0.0/8", "fc00::/7", "th dport 53 goto blocked"})
    CHECK(text.find(closed) < open);
  // Only the record lines differ from the table `run` installs.
  std::string stripped = text;
  const auto from = stripped.find("\t\t# mcp-jail learn --network");
  const auto to = stripped.find("\t\tgoto blocked\n\t}\n\tchain blocked");
  REQUIRE(from < to);
  stripped.erase(from, to - from);
  CHECK(stripped == plain);
}

TEST_CASE("planning the allowlist: parsed rules and resolvers and checks with locations") {
  const auto p = plan_of("allow = [\"api.example.com:443\", \"203.0.113.0/24:8080\"]\ndns = [\"192.0.2.53\"]\n");
  REQUIRE(p.network.rules.size() == 2);
  CHECK(p.network.rules[0].name == "api.example.com");
  REQUIRE(p.network.resolvers.size() == 1);
  CHECK(p.network.resolvers[0].str() == "192.0.2.53");
  CHECK(p.network.resolvers_from == "profile");
  bool resolv = false;
  for (const auto& m : p.mounts)
    if (m.target == "/etc/resolv.conf") {
      resolv = true;
      CHECK_THAT(m.content, Catch::Contains("nameserver 127.0.0.1"));
    }
  CHECK(resolv);
  const auto text = render_plan(p);
  CHECK_THAT(text, Catch::Contains("allow      api.example.com:443"));
  CHECK_THAT(text, Catch::Contains("upstream   192.0.2.53  (from profile)"));
  CHECK_THAT(text, Catch::Contains("policy drop"));

  auto d = diags_of("allow = [\"10.1.2.3:5432\"]\n");
  REQUIRE(d.size() == 1);
  CHECK(d[0].loc.line == 5);
  CHECK(d[0].loc.column == 10);
  CHECK_THAT(d[0].message, Catch::Contains("10.0.0.0/8") && Catch::Contains("allow_private"));
  CHECK(diags_of("allow = [\"10.1.2.3:5432\"]\nallow_private = [\"10.1.0.0/16\"]\n").empty());

  d = diags_of("allow = [\"169.254.169.254:80\"]\nallow_private = [\"169.254.0.0/16\"]\n");
  REQUIRE(d.size() == 1);
  CHECK_THAT(d[0].message, Catch::Contains("169.254.169.254"));
  CHECK(diags_of("allow = [\"169.254.169.254:80\"]\nallow_private = [\"169.254.169.254\"]\n").empty());

  // Every name: allowed, with a note that says what it opens; port 53 stays refused.
  const auto any = plan_of("allow = [\"*:443\"]\ndns = [\"192.0.2.53\"]\n");
  REQUIRE(any.network.rules.size() == 1);
  CHECK(any.network.rules[0].kind == AllowRule::Kind::Any);
  const auto any_text = render_plan(any);
  CHECK_THAT(any_text, Catch::Contains("allow      *:443  (TCP, UDP; every name"));
  CHECK_THAT(any_text, Catch::Contains("network.allow *:443: every name is answered") && Catch::Contains("stay closed"));
  // it is a name rule: the table gets no address rule for it, and closed ranges still come first
  const auto any_table = ruleset(any.network);
  CHECK_THAT(any_table, !Catch::Contains("th dport 443 accept"));
  CHECK(any_table.find("10.0.0.0/8") < any_table.find("@names4"));
  d = diags_of("allow = [\"*:53\"]\n");
  REQUIRE(d.size() == 1);
  CHECK_THAT(d[0].message, Catch::Contains("port 53"));

  d = diags_of("allow = [\"1.1.1.1:53\"]\n");
  REQUIRE(d.size() == 1);
  CHECK_THAT(d[0].message, Catch::Contains("port 53"));

  // Outside the private ranges an allow_private entry opens only this host's
  // own addresses inside it; one that spans private ranges is refused.
  CHECK(diags_of("allow_private = [\"203.0.113.7\", \"2001:db8:18::/64\"]\n").empty());
  d = diags_of("allow_private = [\"0.0.0.0/0\"]\n");
  REQUIRE(d.size() == 1);
  CHECK_THAT(d[0].message, Catch::Contains("spans private and local ranges") && Catch::Contains("10.0.0.0/8"));

  // Syntax errors come from the loader, with their location.
  try {
    plan_of("allow = [\"ok.example.com:443\", \"*.com:443\"]\ndns = [\"resolver.example\"]\n");
    FAIL("accepted");
  } catch (const ProfileError& e) {
    REQUIRE(e.diagnostics().size() == 2);
    CHECK(e.diagnostics()[0].loc.line == 5);
    CHECK_THAT(e.diagnostics()[0].message, Catch::Contains("too broad"));
    CHECK(e.diagnostics()[1].loc.line == 6);
    CHECK_THAT(e.diagnostics()[1].message, Catch::Contains("IP address"));
  }
}
