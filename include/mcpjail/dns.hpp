// A small DNS message parser and builder for the jail's filtering resolver.
//
// Everything it reads is hostile: queries come from the jailed server, and
// replies cross the network. The parser checks every length against the
// message, follows compression pointers only backwards (so it always ends),
// caps names at 255 bytes and record counts at kMaxRecords, and allocates
// nothing in proportion to a claimed count. Pure: no syscalls. Fuzzed by
// tests/fuzz/fuzz_dns.cc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mcpjail::dns {

inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeCname = 5;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kClassIn = 1;

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameWire = 255;
inline constexpr std::size_t kMaxRecords = 256;     // per section; more is refused
inline constexpr std::size_t kMaxUdpPayload = 1232;  // what we advertise and accept from clients (DNS flag day 2020)

enum class Rcode : std::uint8_t { NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5 };

struct Question {
  std::vector<std::uint8_t> wire;  // the name as sent (case kept), uncompressed wire form, ends with 0
  std::string name;                // presentation form, lower case, no trailing dot ("" for the root);
                                   // bytes other than [a-z0-9-_] are escaped as \DDD (a '.' inside a
                                   // label too), so an odd name can never equal an allowlisted one
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
};

// A query from a client.
struct Query {
  std::uint16_t id = 0;
  bool rd = false;
  bool cd = false;
  Question question;
  bool edns = false;
  std::uint16_t udp_size = 512;  // the client's EDNS payload size (bounded to 512..kMaxUdpPayload)
};

// Result of parsing a client's message.
struct QueryParse {
  std::optional<Query> query;     // set when the message is a well-formed standard query
  bool answerable = false;        // false: drop silently (too short to carry an id, or a response)
  std::uint16_t id = 0;           // for an error reply
  Rcode rcode = Rcode::FormErr;   // the error to answer with when !query && answerable
  std::uint8_t opcode = 0;
};
QueryParse parse_query(std::span<const std::uint8_t> msg);

// A resource record of an answer section, decoded.
struct Record {
  std::string owner;                // presentation form, lower case
  std::vector<std::uint8_t> owner_wire;
  std::uint16_t type = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> rdata;  // A: 4 bytes, AAAA: 16 bytes; CNAME: target in uncompressed wire form
  std::string target;               // CNAME: presentation form of the target, lower case
};

struct Response {
  std::uint16_t id = 0;
  Rcode rcode = Rcode::NoError;
  bool truncated = false;
  Question question;
  std::vector<Record> answers;  // only IN-class A, AAAA and CNAME records are kept
};

// Parses a reply from an upstream resolver. nullopt: malformed, not a
// response, an unexpected opcode or question count, or over the limits.
std::optional<Response> parse_response(std::span<const std::uint8_t> msg);

// The records of `r` that answer `q`: the CNAME chain from q's name and the
// A/AAAA records (of q's type) at its end, in chain order. Records for other
// names are dropped. `ttl` is the smallest TTL along the chain.
struct Chain {
  std::vector<Record> records;
  std::vector<std::vector<std::uint8_t>> addresses;  // 4 or 16 bytes each
  std::uint32_t ttl = 0;
};
Chain answer_chain(const Response& r, const Question& q);

// An upstream query for `q` (RD set, one EDNS OPT record of kMaxUdpPayload).
std::vector<std::uint8_t> build_query(std::uint16_t id, const Question& q);

// A reply to `q` with `answers` (TTLs as given). Answers that do not fit in
// `max_size` are left out and TC is set. The question echoes the client's.
std::vector<std::uint8_t> build_reply(const Query& q, Rcode rcode, const std::vector<Record>& answers,
                                      std::size_t max_size);

// A bare error reply (header and, when known, the question).
std::vector<std::uint8_t> build_error(std::uint16_t id, std::uint8_t opcode, Rcode rcode, const Question* q);

// Type name for logs ("A", "AAAA", "TXT", "TYPE65").
std::string type_name(std::uint16_t type);

}  // namespace mcpjail::dns
