// fuzz_dns: arbitrary bytes as a DNS query from the jail, as a reply from an
// upstream resolver, and as a packet in an NFLOG message. Nothing may crash,
// read out of bounds or loop; whatever parses must round-trip through the
// reply builder within the size it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "mcpjail/dns.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_rules.hpp"

using namespace mcpjail;

namespace {

const std::vector<netfilter::AllowRule>& rules() {
  static const std::vector<netfilter::AllowRule> r = {
      netfilter::parse_allow("api.github.com:443"), netfilter::parse_allow("*.example.com:443"),
      netfilter::parse_allow("203.0.113.0/24:8080")};
  return r;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> msg(data, size);

  // As a query from the jail.
  const auto qp = dns::parse_query(msg);
  if (qp.query) {
    const auto& q = *qp.query;
    check(q.question.wire.size() <= dns::kMaxNameWire && !q.question.wire.empty() && q.question.wire.back() == 0);
    check(q.udp_size >= 512 && q.udp_size <= dns::kMaxUdpPayload);
    (void)netfilter::ports_for_name(rules(), q.question.name);
    static const auto any = netfilter::parse_allow("*:80");  // every name but the root
    check(netfilter::name_matches(any, q.question.name) == !q.question.name.empty());
    const auto up = dns::build_query(0x1234, q.question);
    const auto back = dns::parse_query(up);
    check(back.query && back.query->question.name == q.question.name && back.query->question.qtype == q.question.qtype);
    for (std::size_t limit : {std::size_t{512}, std::size_t{q.udp_size}, std::size_t{65535}}) {
      const auto reply = dns::build_reply(q, dns::Rcode::Refused, {}, limit);
      check(reply.size() <= limit);
    }
  } else if (qp.answerable) {
    (void)dns::build_error(qp.id, qp.opcode, qp.rcode, nullptr);
  }

  // As a reply from upstream.
  if (auto r = dns::parse_response(msg)) {
    check(r->answers.size() <= dns::kMaxRecords);
    const auto chain = dns::answer_chain(*r, r->question);
    for (const auto& a : chain.addresses) check(a.size() == 4 || a.size() == 16);
    dns::Query q;
    q.id = r->id;
    q.question = r->question;
    for (std::size_t limit : {std::size_t{512}, std::size_t{1232}, std::size_t{65535}}) {
      const auto reply = dns::build_reply(q, r->rcode, chain.records, limit);
      check(reply.size() <= limit);
      // What we send back must parse as a response with the same question.
      if (auto again = dns::parse_response(reply)) check(again->question.name == r->question.name);
      else check(false);
    }
  }

  // As a packet from NFLOG.
  if (auto b = netfilter::decode_packet(msg)) check(!b->address.empty() && !b->protocol.empty());

  // As profile text for the rule parsers.
  const std::string text(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 300));
  try {
    (void)netfilter::parse_allow(text);
  } catch (const std::invalid_argument&) {
  }
  (void)netfilter::parse_cidr(text);
  (void)netfilter::parse_resolver(text);
  (void)netfilter::resolvers_from_resolv_conf(text);
  return 0;
}
