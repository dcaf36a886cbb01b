// The DNS message parser and builder, on hand-made messages (the fuzzer,
// tests/fuzz/fuzz_dns.cc, covers the rest).
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "dns_wire.hpp"
#include "mcpjail/dns.hpp"

using namespace mcpjail;
using Bytes = dnstest::Bytes;

namespace {

using dnstest::put16;
using dnstest::wire;

Bytes header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar) {
  Bytes b;
  for (unsigned v : {id, flags, qd, an, ns, ar}) put16(b, v);
  return b;
}

Bytes query(const std::string& n, unsigned type, bool edns = false, unsigned size = 1232) {
  Bytes b = header(0xbeef, 0x0100, 1, 0, 0, edns ? 1 : 0);
  auto q = wire(n);
  b.insert(b.end(), q.begin(), q.end());
  put16(b, type);
  put16(b, 1);
  if (edns) {
    b.push_back(0);
    put16(b, 41);
    put16(b, size);
    put16(b, 0);
    put16(b, 0);
    put16(b, 0);
  }
  return b;
}

void rr(Bytes& b, const Bytes& owner, unsigned type, unsigned ttl, const Bytes& rdata) {
  b.insert(b.end(), owner.begin(), owner.end());
  put16(b, type);
  put16(b, 1);
  put16(b, ttl >> 16);
  put16(b, ttl & 0xFFFF);
  put16(b, static_cast<unsigned>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

}  // namespace

TEST_CASE("dns: a standard query parses and its name is lower-cased and escaped") {
  auto p = dns::parse_query(query("API.Example.COM", dns::kTypeAaaa, true, 4096));
  REQUIRE(p.query);
  CHECK(p.query->id == 0xbeef);
  CHECK(p.query->rd);
  CHECK(p.query->question.name == "api.example.com");
  CHECK(p.query->question.qtype == dns::kTypeAaaa);
  CHECK(p.query->edns);
  CHECK(p.query->udp_size == dns::kMaxUdpPayload);  // bounded
  CHECK(dns::parse_query(query("x.org", 1, true, 100)).query->udp_size == 512);

  // A label with a dot or odd bytes cannot pose as another name.
  Bytes b = header(1, 0x0100, 1, 0, 0, 0);
  Bytes n = {7, 'a', 'p', 'i', '.', 'c', 'o', 'm', 3, 'n', 'e', 't', 0};
  b.insert(b.end(), n.begin(), n.end());
  put16(b, 1);
  put16(b, 1);
  p = dns::parse_query(b);
  REQUIRE(p.query);
  CHECK(p.query->question.name == "api\\046com.net");
}

TEST_CASE("dns: malformed queries get FORMERR or NOTIMP and responses or runts get nothing") {
  CHECK_FALSE(dns::parse_query(Bytes{1, 2, 3}).answerable);
  Bytes resp = query("a.com", 1);
  resp[2] |= 0x80;
  CHECK_FALSE(dns::parse_query(resp).answerable);  // never answer a response

  Bytes two = query("a.com", 1);
  two[5] = 2;  // QDCOUNT 2
  auto p = dns::parse_query(two);
  CHECK(p.answerable);
  CHECK_FALSE(p.query);
  CHECK(p.rcode == dns::Rcode::FormErr);

  Bytes notify = query("a.com", 1);
  notify[2] = static_cast<std::uint8_t>(4 << 3);
  p = dns::parse_query(notify);
  CHECK(p.rcode == dns::Rcode::NotImp);
  CHECK(p.opcode == 4);
  const auto err = dns::build_error(p.id, p.opcode, p.rcode, nullptr);
  CHECK(err.size() == dns::kHeaderSize);
  CHECK((err[2] & 0x80) != 0);
  CHECK(((err[2] >> 3) & 0x0F) == 4);
  CHECK((err[3] & 0x0F) == 4);

  Bytes trailing = query("a.com", 1);
  trailing.push_back(0);
  CHECK_FALSE(dns::parse_query(trailing).query);

  // No compression in a question.
  Bytes ptr = header(1, 0x0100, 1, 0, 0, 0);
  ptr.push_back(0xC0);
  ptr.push_back(12);
  put16(ptr, 1);
  put16(ptr, 1);
  CHECK_FALSE(dns::parse_query(ptr).query);

  // Names over 255 bytes.
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += std::string(60, 'a') + ".";
  longname += "com";
  CHECK_FALSE(dns::parse_query(query(longname, 1)).query);
}

TEST_CASE("dns: responses with compression where pointers must go backwards") {
  Bytes r = header(7, 0x8180, 1, 3, 0, 0);
  const auto qn = wire("www.example.com");
  r.insert(r.end(), qn.begin(), qn.end());
  put16(r, 1);
  put16(r, 1);
  // www.example.com CNAME edge.example.com (target compressed to "example.com" at 16)
  rr(r, {0xC0, 12}, dns::kTypeCname, 300, {4, 'e', 'd', 'g', 'e', 0xC0, 16});
  const std::size_t edge = r.size() - 7;
  // edge.example.com A 203.0.113.9
  rr(r, {0xC0, static_cast<std::uint8_t>(edge)}, dns::kTypeA, 20, {203, 0, 113, 9});
  // evil.example.com A 192.0.2.66: not on the chain, must be ignored
  rr(r, wire("evil.example.com"), dns::kTypeA, 20, {192, 0, 2, 66});
  auto resp = dns::parse_response(r);
  REQUIRE(resp);
  CHECK(resp->id == 7);
  REQUIRE(resp->answers.size() == 3);
  CHECK(resp->answers[0].target == "edge.example.com");
  CHECK(resp->answers[1].owner == "edge.example.com");

  dns::Question q = resp->question;
  auto chain = dns::answer_chain(*resp, q);
  REQUIRE(chain.addresses.size() == 1);
  CHECK(chain.addresses[0] == Bytes{203, 0, 113, 9});
  CHECK(chain.records.size() == 2);
  CHECK(chain.ttl == 20);

  // The rebuilt reply parses again and keeps the chain.
  dns::Query cq;
  cq.id = 0x4242;
  cq.rd = true;
  cq.question = q;
  auto reply = dns::build_reply(cq, dns::Rcode::NoError, chain.records, 512);
  auto again = dns::parse_response(reply);
  REQUIRE(again);
  CHECK(again->id == 0x4242);
  CHECK(dns::answer_chain(*again, q).addresses.size() == 1);

  // A pointer forward, to itself, or into the header is refused.
  for (std::uint8_t target : {std::uint8_t(40), std::uint8_t(33), std::uint8_t(0)}) {
    Bytes bad = header(7, 0x8180, 1, 1, 0, 0);
    bad.insert(bad.end(), qn.begin(), qn.end());
    put16(bad, 1);
    put16(bad, 1);
    rr(bad, {0xC0, target}, dns::kTypeA, 1, {1, 2, 3, 4});
    CHECK_FALSE(dns::parse_response(bad));
  }
  // A two-pointer loop.
  Bytes loop = header(7, 0x8180, 1, 1, 0, 0);
  loop.insert(loop.end(), qn.begin(), qn.end());
  put16(loop, 1);
  put16(loop, 1);
  const std::size_t a = loop.size();
  loop.push_back(0xC0);
  loop.push_back(static_cast<std::uint8_t>(a + 2));
  loop.push_back(0xC0);
  loop.push_back(static_cast<std::uint8_t>(a));
  CHECK_FALSE(dns::parse_response(loop));

  // An A record with a 5-byte address.
  Bytes fat = header(7, 0x8180, 1, 1, 0, 0);
  fat.insert(fat.end(), qn.begin(), qn.end());
  put16(fat, 1);
  put16(fat, 1);
  rr(fat, {0xC0, 12}, dns::kTypeA, 1, {1, 2, 3, 4, 5});
  CHECK_FALSE(dns::parse_response(fat));

  // A truncated reply may stop inside a record; what came before counts.
  Bytes cut = header(7, 0x8380, 1, 2, 0, 0);
  cut.insert(cut.end(), qn.begin(), qn.end());
  put16(cut, 1);
  put16(cut, 1);
  rr(cut, {0xC0, 12}, dns::kTypeA, 1, {1, 2, 3, 4});
  cut.push_back(0xC0);
  auto partial = dns::parse_response(cut);
  REQUIRE(partial);
  CHECK(partial->truncated);
  CHECK(partial->answers.size() == 1);
}

TEST_CASE("dns: replies that do not fit are truncated with TC and the client's case is echoed") {
  auto p = dns::parse_query(query("MaNy.Example.com", dns::kTypeA));
  REQUIRE(p.query);
  std::vector<dns::Record> answers;
  for (int i = 0; i < 100; ++i) {
    dns::Record rec;
    rec.owner = "many.example.com";
    rec.owner_wire = wire("many.example.com");
    rec.type = dns::kTypeA;
    rec.rclass = dns::kClassIn;
    rec.ttl = 60;
    rec.rdata = {198, 18, 2, static_cast<std::uint8_t>(i)};
    answers.push_back(rec);
  }
  auto small = dns::build_reply(*p.query, dns::Rcode::NoError, answers, 512);
  CHECK(small.size() <= 512);
  CHECK((small[2] & 0x02) != 0);
  auto parsed = dns::parse_response(small);
  REQUIRE(parsed);
  CHECK(parsed->answers.size() > 10);
  CHECK(parsed->answers.size() < 100);
  CHECK(std::string(small.begin() + 13, small.begin() + 17) == "MaNy");
  auto big = dns::build_reply(*p.query, dns::Rcode::NoError, answers, 65535);
  CHECK((big[2] & 0x02) == 0);
  CHECK(dns::parse_response(big)->answers.size() == 100);

  const auto up = dns::build_query(9, p.query->question);
  auto back = dns::parse_query(up);
  REQUIRE(back.query);
  CHECK(back.query->edns);
  CHECK(back.query->question.name == "many.example.com");
  CHECK(std::string(up.begin() + 13, up.begin() + 17) == "many");  // lower case upstream
}
