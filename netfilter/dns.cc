// DNS message parsing and building (RFC 1035, EDNS per RFC 6891), the
// small subset the jail's filtering resolver needs. See dns.hpp for the
// rules the parser keeps.
#include "mcpjail/dns.hpp"

#include <algorithm>
#include <cstdio>

namespace mcpjail::dns {

namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint16_t get16(Bytes m, std::size_t at) {
  return static_cast<std::uint16_t>((m[at] << 8) | m[at + 1]);
}
std::uint32_t get32(Bytes m, std::size_t at) {
  return (static_cast<std::uint32_t>(m[at]) << 24) | (static_cast<std::uint32_t>(m[at + 1]) << 16) |
         (static_cast<std::uint32_t>(m[at + 2]) << 8) | m[at + 3];
}
void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

std::uint8_t lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + 32) : c; }

void append_label_text(std::string& out, Bytes label) {
  for (std::uint8_t raw : label) {
    const std::uint8_t c = lower(raw);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      out.push_back(static_cast<char>(c));
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", static_cast<unsigned>(c));
      out += esc;
    }
  }
}

// Reads a name at `pos`. Compression pointers (when allowed) must point
// strictly before the segment they interrupt and past the header, so every
// jump goes backwards and the walk ends. `end` is the position after the
// name where it was written (after the first pointer, if any).
bool read_name(Bytes m, std::size_t pos, bool allow_compression, std::size_t* end, std::vector<std::uint8_t>* wire,
               std::string* text) {
  std::size_t p = pos, segment = pos, after = 0;
  bool jumped = false;
  wire->clear();
  text->clear();
  for (;;) {
    if (p >= m.size()) return false;
    const std::uint8_t len = m[p];
    if ((len & 0xC0) == 0xC0) {
      if (!allow_compression || p + 1 >= m.size()) return false;
      const std::size_t target = (static_cast<std::size_t>(len & 0x3F) << 8) | m[p + 1];
      if (target >= segment || target < kHeaderSize) return false;
      if (!jumped) after = p + 2;
      jumped = true;
      segment = p = target;
      continue;
    }
    if (len & 0xC0) return false;  // extended label types (RFC 6891 deprecated them)
    if (len == 0) {
      wire->push_back(0);
      ++p;
      break;
    }
    if (p + 1 + len > m.size() || wire->size() + 1 + len + 1 > kMaxNameWire) return false;
    wire->push_back(len);
    wire->insert(wire->end(), m.begin() + static_cast<std::ptrdiff_t>(p + 1),
                 m.begin() + static_cast<std::ptrdiff_t>(p + 1 + len));
    if (!text->empty()) text->push_back('.');
    append_label_text(*text, m.subspan(p + 1, len));
    p += 1 + static_cast<std::size_t>(len);
  }
  *end = jumped ? after : p;
  return true;
}

bool same_name(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](std::uint8_t x, std::uint8_t y) {
           return lower(x) == lower(y);
         });
}

void put_header(std::vector<std::uint8_t>& out, std::uint16_t id, std::uint16_t flags, std::uint16_t qd,
                std::uint16_t an, std::uint16_t ns, std::uint16_t ar) {
  put16(out, id);
  put16(out, flags);
  put16(out, qd);
  put16(out, an);
  put16(out, ns);
  put16(out, ar);
}

void put_opt(std::vector<std::uint8_t>& out) {
  out.push_back(0);  // root
  put16(out, kTypeOpt);
  put16(out, static_cast<std::uint16_t>(kMaxUdpPayload));
  put32(out, 0);
  put16(out, 0);
}

constexpr std::size_t kOptSize = 11;

}  // namespace

QueryParse parse_query(Bytes m) {
  QueryParse r;
  if (m.size() < kHeaderSize) return r;
  r.id = get16(m, 0);
  const std::uint8_t f1 = m[2], f2 = m[3];
  if (f1 & 0x80) return r;  // a response: never answer one (no loops, no reflection)
  r.answerable = true;
  r.opcode = static_cast<std::uint8_t>((f1 >> 3) & 0x0F);
  if (r.opcode != 0) {
    r.rcode = Rcode::NotImp;
    return r;
  }
  const std::uint16_t qd = get16(m, 4), an = get16(m, 6), ns = get16(m, 8), ar = get16(m, 10);
  if (qd != 1 || an != 0 || ns != 0 || ar > 2) return r;  // FORMERR
  Query q;
  q.id = r.id;
  q.rd = f1 & 0x01;
  q.cd = f2 & 0x10;
  std::size_t p = kHeaderSize;
  if (!read_name(m, p, false, &p, &q.question.wire, &q.question.name)) return r;
  if (p + 4 > m.size()) return r;
  q.question.qtype = get16(m, p);
  q.question.qclass = get16(m, p + 2);
  p += 4;
  for (std::uint16_t i = 0; i < ar; ++i) {
    std::vector<std::uint8_t> wire;
    std::string text;
    if (!read_name(m, p, false, &p, &wire, &text) || p + 10 > m.size()) return r;
    const std::uint16_t type = get16(m, p), cls = get16(m, p + 2), rdlen = get16(m, p + 8);
    p += 10;
    if (p + rdlen > m.size()) return r;
    p += rdlen;
    if (type == kTypeOpt) {
      if (q.edns || wire.size() != 1) return r;  // one OPT, owned by the root
      q.edns = true;
      q.udp_size = static_cast<std::uint16_t>(std::clamp<std::size_t>(cls, 512, kMaxUdpPayload));
    }
  }
  if (p != m.size()) return r;  // trailing garbage
  r.query = std::move(q);
  return r;
}

std::optional<Response> parse_response(Bytes m) {
  if (m.size() < kHeaderSize) return std::nullopt;
  const std::uint8_t f1 = m[2], f2 = m[3];
  if (!(f1 & 0x80) || ((f1 >> 3) & 0x0F) != 0) return std::nullopt;
  const std::uint16_t qd = get16(m, 4), an = get16(m, 6);
  if (qd != 1 || an > kMaxRecords) return std::nullopt;
  Response r;
  r.id = get16(m, 0);
  r.truncated = f1 & 0x02;
  r.rcode = static_cast<Rcode>(f2 & 0x0F);
  std::size_t p = kHeaderSize;
  if (!read_name(m, p, true, &p, &r.question.wire, &r.question.name) || p + 4 > m.size()) return std::nullopt;
  r.question.qtype = get16(m, p);
  r.question.qclass = get16(m, p + 2);
  p += 4;
  for (std::uint16_t i = 0; i < an; ++i) {
    Record rec;
    std::size_t q = p;
    if (!read_name(m, q, true, &q, &rec.owner_wire, &rec.owner) || q + 10 > m.size()) {
      if (r.truncated) break;  // a truncated reply may end inside a record
      return std::nullopt;
    }
    rec.type = get16(m, q);
    rec.rclass = get16(m, q + 2);
    rec.ttl = get32(m, q + 4);
    if (rec.ttl & 0x80000000U) rec.ttl = 0;  // RFC 2181 section 8
    const std::uint16_t rdlen = get16(m, q + 8);
    q += 10;
    if (q + rdlen > m.size()) {
      if (r.truncated) break;
      return std::nullopt;
    }
    p = q + rdlen;
    if (rec.rclass != kClassIn) continue;
    if (rec.type == kTypeA || rec.type == kTypeAaaa) {
      if (rdlen != (rec.type == kTypeA ? 4 : 16)) return std::nullopt;
      rec.rdata.assign(m.begin() + static_cast<std::ptrdiff_t>(q), m.begin() + static_cast<std::ptrdiff_t>(q + rdlen));
    } else if (rec.type == kTypeCname) {
      std::size_t end = 0;
      if (!read_name(m, q, true, &end, &rec.rdata, &rec.target) || end != q + rdlen) return std::nullopt;
    } else {
      continue;
    }
    r.answers.push_back(std::move(rec));
  }
  return r;
}

Chain answer_chain(const Response& r, const Question& q) {
  Chain c;
  if (r.rcode != Rcode::NoError) return c;
  std::uint32_t ttl = UINT32_MAX;
  std::string current = q.name;
  for (int hops = 0; hops < 16; ++hops) {
    auto it = std::find_if(r.answers.begin(), r.answers.end(),
                           [&](const Record& rec) { return rec.type == kTypeCname && rec.owner == current; });
    if (it == r.answers.end() || q.qtype == kTypeCname) break;
    c.records.push_back(*it);
    ttl = std::min(ttl, it->ttl);
    current = it->target;
  }
  for (const auto& rec : r.answers) {
    if (rec.type != q.qtype || rec.owner != current || (rec.type != kTypeA && rec.type != kTypeAaaa)) continue;
    c.records.push_back(rec);
    c.addresses.push_back(rec.rdata);
    ttl = std::min(ttl, rec.ttl);
  }
  c.ttl = ttl == UINT32_MAX ? 0 : ttl;
  return c;
}

std::vector<std::uint8_t> build_query(std::uint16_t id, const Question& q) {
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + q.wire.size() + 4 + kOptSize);
  put_header(out, id, 0x0100 /* RD */, 1, 0, 0, 1);
  for (std::uint8_t b : q.wire) out.push_back(lower(b));
  put16(out, q.qtype);
  put16(out, q.qclass);
  put_opt(out);
  return out;
}

std::vector<std::uint8_t> build_reply(const Query& q, Rcode rcode, const std::vector<Record>& answers,
                                      std::size_t max_size) {
  std::vector<std::uint8_t> out;
  const std::uint16_t flags = static_cast<std::uint16_t>(0x8000 | 0x0080 /* RA */ | (q.rd ? 0x0100 : 0) |
                                                         (q.cd ? 0x0010 : 0) | static_cast<std::uint8_t>(rcode));
  put_header(out, q.id, flags, 1, 0, 0, q.edns ? 1 : 0);
  out.insert(out.end(), q.question.wire.begin(), q.question.wire.end());
  put16(out, q.question.qtype);
  put16(out, q.question.qclass);
  const std::size_t reserve = q.edns ? kOptSize : 0;
  std::uint16_t count = 0;
  bool truncated = false;
  for (const auto& rec : answers) {
    std::vector<std::uint8_t> rr;
    if (same_name(rec.owner_wire, q.question.wire)) put16(rr, 0xC000 | kHeaderSize);
    else rr.insert(rr.end(), rec.owner_wire.begin(), rec.owner_wire.end());
    put16(rr, rec.type);
    put16(rr, rec.rclass);
    put32(rr, rec.ttl);
    put16(rr, static_cast<std::uint16_t>(rec.rdata.size()));
    rr.insert(rr.end(), rec.rdata.begin(), rec.rdata.end());
    if (out.size() + rr.size() + reserve > max_size) {
      truncated = true;
      break;
    }
    out.insert(out.end(), rr.begin(), rr.end());
    ++count;
  }
  out[6] = static_cast<std::uint8_t>(count >> 8);
  out[7] = static_cast<std::uint8_t>(count);
  if (truncated) out[2] |= 0x02;
  if (q.edns) put_opt(out);
  return out;
}

std::vector<std::uint8_t> build_error(std::uint16_t id, std::uint8_t opcode, Rcode rcode, const Question* q) {
  std::vector<std::uint8_t> out;
  const std::uint16_t flags =
      static_cast<std::uint16_t>(0x8000 | ((opcode & 0x0F) << 11) | 0x0080 | static_cast<std::uint8_t>(rcode));
  put_header(out, id, flags, q ? 1 : 0, 0, 0, 0);
  if (q) {
    out.insert(out.end(), q->wire.begin(), q->wire.end());
    put16(out, q->qtype);
    put16(out, q->qclass);
  }
  return out;
}

std::string type_name(std::uint16_t type) {
  switch (type) {
    case kTypeA: return "A";
    case 2: return "NS";
    case kTypeCname: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case kTypeAaaa: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: return "TYPE" + std::to_string(type);
  }
}

}  // namespace mcpjail::dns
