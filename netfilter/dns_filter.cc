// The jail's filtering DNS resolver (see dns_filter.hpp).
#include "mcpjail/dns_filter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace mcpjail::netfilter {

namespace {

constexpr std::size_t kMaxTcpQuery = 4096;        // a query is small; more is abuse
constexpr std::size_t kMaxConnOut = 256 * 1024;   // unread replies per TCP client
constexpr int kUdpBatch = 64;                      // datagrams per wake-up
constexpr double kErrorLinesPerSecond = 1.0 / 60;  // stderr lines about failed set updates
constexpr std::size_t kMaxCachedRecords = 512;     // over all cached answers
constexpr std::size_t kMaxRecordsPerEntry = 64;    // a larger answer is not cached

std::uint16_t random16() {
  static std::uint16_t pool[128];
  static std::size_t left = 0;
  if (left == 0) {
    if (::getrandom(pool, sizeof pool, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof pool)) {
      static std::mt19937 fallback{std::random_device{}()};
      for (auto& v : pool) v = static_cast<std::uint16_t>(fallback());
    }
    left = std::size(pool);
  }
  return pool[--left];
}

socklen_t to_sockaddr(const Resolver& r, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof *ss);
  if (r.addr.family == kFamily4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(r.port);
    std::memcpy(&sin->sin_addr, r.addr.addr.data(), 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(r.port);
  std::memcpy(&sin6->sin6_addr, r.addr.addr.data(), 16);
  return sizeof *sin6;
}

bool same_question(const dns::Question& a, const dns::Question& b) {
  return a.name == b.name && a.qtype == b.qtype && a.qclass == b.qclass;
}

std::uint64_t tag_of(std::uint8_t tag, std::uint64_t id) { return (static_cast<std::uint64_t>(tag) << 56) | id; }

void append_frame(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& msg) {
  out.push_back(static_cast<std::uint8_t>(msg.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(msg.size()));
  out.insert(out.end(), msg.begin(), msg.end());
}

}  // namespace

DnsFilter::DnsFilter(std::vector<AllowRule> rules, std::vector<Resolver> upstreams, int epoll_fd, InstallFn install,
                     AuditFn audit, Limits limits)
    : rules_(std::move(rules)),
      upstreams_(std::move(upstreams)),
      epoll_(epoll_fd),
      install_(std::move(install)),
      audit_(std::move(audit)),
      limits_(limits),
      closed_([](const Cidr& c) { return answer_closed(c, {}); }),
      budget_(limits.upstream_per_second, limits.upstream_burst),
      refused_limit_(limits.refused_per_second, limits.refused_burst, Clock::duration::zero()),
      budget_events_(limits.limit_events_per_second, 1, Clock::duration::zero()),
      full_events_(limits.limit_events_per_second, 1, Clock::duration::zero()),
      error_lines_(kErrorLinesPerSecond, 3, std::chrono::minutes(1)) {}

DnsFilter::~DnsFilter() = default;

void DnsFilter::watch(int fd, std::uint8_t tag, std::uint64_t id, std::uint32_t events, bool modify) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag_of(tag, id);
  ::epoll_ctl(epoll_, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
}

void DnsFilter::set_udp(UniqueFd fd) {
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  udp_ = std::move(fd);
  watch(udp_.get(), kTagUdp, 0, EPOLLIN);
}

void DnsFilter::set_tcp(UniqueFd fd) {
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  tcp_ = std::move(fd);
  watch(tcp_.get(), kTagTcpListen, 0, EPOLLIN);
}

void DnsFilter::on_event(std::uint8_t tag, std::uint64_t id, std::uint32_t events) {
  switch (tag) {
    case kTagUdp: read_udp(); break;
    case kTagTcpListen: accept_tcp(); break;
    case kTagTcpClient: on_conn(id, events); break;
    case kTagUpstream: on_upstream(id, events); break;
    default: break;
  }
}

// ---- clients ----------------------------------------------------------------------

void DnsFilter::read_udp() {
  std::uint8_t buf[2048];
  for (int i = 0; i < kUdpBatch && udp_; ++i) {
    Client c;
    c.peer_len = sizeof c.peer;
    const ssize_t n = ::recvfrom(udp_.get(), buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&c.peer), &c.peer_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN, or an ICMP error of an earlier reply
    }
    if (static_cast<std::size_t>(n) > sizeof buf) {  // oversized: not a query we answer
      ++stats_.dropped;
      continue;
    }
    handle_query({buf, static_cast<std::size_t>(n)}, c);
  }
}

void DnsFilter::accept_tcp() {
  for (int i = 0; i < 16 && tcp_; ++i) {
    UniqueFd fd(::accept4(tcp_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    if (conns_.size() >= limits_.max_tcp_clients) {
      ++stats_.dropped;
      continue;  // closed at once
    }
    const std::uint64_t id = next_id_++;
    Conn& c = conns_[id];
    c.fd = std::move(fd);
    c.idle_deadline = Clock::now() + limits_.tcp_idle;
    watch(c.fd.get(), kTagTcpClient, id, EPOLLIN);
  }
}

void DnsFilter::close_conn(std::uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  conns_.erase(it);  // replies still pending for it are dropped when they arrive
}

void DnsFilter::flush_conn(std::uint64_t id, Conn& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      close_conn(id);
      return;
    }
    c.out_off += static_cast<std::size_t>(n);
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  if (c.read_closed && c.out.empty() && c.pending == 0) {
    close_conn(id);
    return;
  }
  // Held back (too many queries in flight): stop reading until replies went out.
  const bool read = !c.read_closed && c.pending < limits_.max_tcp_pending;
  watch(c.fd.get(), kTagTcpClient, id, (read ? EPOLLIN : 0u) | (c.out.empty() ? 0u : EPOLLOUT), true);
}

void DnsFilter::on_conn(std::uint64_t id, std::uint32_t events) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  c.idle_deadline = Clock::now() + limits_.tcp_idle;
  if (events & EPOLLIN) {
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      c.read_closed = true;
    } else if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) return close_conn(id);
    } else {
      c.in.insert(c.in.end(), buf, buf + n);
    }
  } else if (events & (EPOLLHUP | EPOLLERR)) {
    return close_conn(id);
  }
  // Complete frames: a 2-byte length, then the message.
  std::size_t off = 0;
  while (c.in.size() - off >= 2 && c.pending < limits_.max_tcp_pending) {
    const std::size_t len = (static_cast<std::size_t>(c.in[off]) << 8) | c.in[off + 1];
    if (len < dns::kHeaderSize || len > kMaxTcpQuery) return close_conn(id);
    if (c.in.size() - off < 2 + len) break;
    const std::vector<std::uint8_t> msg(c.in.begin() + static_cast<std::ptrdiff_t>(off + 2),
                                        c.in.begin() + static_cast<std::ptrdiff_t>(off + 2 + len));
    off += 2 + len;
    Client cl;
    cl.tcp = true;
    cl.conn = id;
    handle_query(msg, cl);
    if (conns_.find(id) == conns_.end()) return;  // closed while answering
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(off));
  if (c.in.size() > 2 + kMaxTcpQuery) return close_conn(id);
  flush_conn(id, c);
}

std::size_t DnsFilter::reply_limit(const Client& client, const dns::Query& q) const {
  if (client.tcp) return 65535;
  return q.edns ? q.udp_size : 512;
}

void DnsFilter::reply(const Client& client, const std::vector<std::uint8_t>& msg) {
  if (!client.tcp) {
    if (udp_)
      ::sendto(udp_.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&client.peer), client.peer_len);
    return;
  }
  auto it = conns_.find(client.conn);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  if (c.out.size() + msg.size() + 2 > kMaxConnOut) return close_conn(client.conn);
  append_frame(c.out, msg);
  flush_conn(client.conn, c);
}

void DnsFilter::refused_event(const dns::Query& q) {
  ++stats_.refused;
  nlohmann::json f = {{"name", q.question.name.empty() ? "." : q.question.name},
                      {"type", dns::type_name(q.question.qtype)}};
  if (!refused_limit_.admit("")) {
    if (count_) count_("dns_refused", std::move(f));
    return;
  }
  if (q.question.qclass != dns::kClassIn) f["class"] = q.question.qclass;
  if (auto n = refused_limit_.take_suppressed()) f["suppressed"] = n;
  audit_("dns_refused", std::move(f));
}

void DnsFilter::limit_event(RateLimit& limit, const std::string& which, nlohmann::json fields) {
  if (!limit.admit(which)) return;  // counted in the next event's "suppressed"
  fields["which"] = which;
  if (auto n = limit.take_suppressed()) fields["suppressed"] = n;
  audit_("limit", std::move(fields));
}

bool DnsFilter::allow(const std::vector<SetElement>& elements, const std::string& name) {
  if (elements.empty()) return true;
  std::string err;
  switch (install_(elements, &err)) {
    case InstallResult::Ok: return true;
    case InstallResult::Full:
      limit_event(full_events_, "allowed_addresses", {{"name", name}, {"size", kNamesSetSize}});
      return false;
    case InstallResult::Failed:
      if (error_lines_.admit(err)) {
        const auto held = error_lines_.take_suppressed();
        std::fprintf(stderr, "mcp-jail: network: the answer for %s could not be allowed: %s%s\n", name.c_str(),
                     err.c_str(), held ? (" (" + std::to_string(held) + " more failures not shown)").c_str() : "");
      }
      return false;
  }
  return false;
}

// ---- cache ------------------------------------------------------------------------

bool DnsFilter::from_cache(const Client& client, const dns::Query& q, std::size_t limit) {
  auto it = cache_.find({q.question.name, q.question.qtype});
  if (it == cache_.end()) return false;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.expires - Clock::now()).count();
  if (left < 1) {
    cached_records_ -= it->second.records.size();
    cache_.erase(it);
    return false;
  }
  // Another answer may have shortened the timeout of a shared address
  // since: the hit refreshes its elements with the answer's own timeout.
  if (!allow(it->second.elements, q.question.name)) {
    cached_records_ -= it->second.records.size();
    cache_.erase(it);
    ++stats_.servfail;
    reply(client, dns::build_reply(q, dns::Rcode::ServFail, {}, limit));
    return true;
  }
  std::vector<dns::Record> records = it->second.records;
  for (auto& r : records) r.ttl = std::min(r.ttl, static_cast<std::uint32_t>(left));
  ++stats_.cached;
  ++stats_.answered;
  reply(client, dns::build_reply(q, it->second.rcode, records, limit));
  return true;
}

void DnsFilter::store(const dns::Query& q, dns::Rcode rcode, const std::vector<dns::Record>& records,
                      const std::vector<SetElement>& elements, std::uint32_t lifetime_s) {
  // The entry ends a second before the set elements of its addresses do.
  if (limits_.cache_entries == 0 || lifetime_s < 2 || records.size() > kMaxRecordsPerEntry) return;
  const auto now = Clock::now();
  const std::pair<std::string, std::uint16_t> key{q.question.name, q.question.qtype};
  if (auto old = cache_.find(key); old != cache_.end()) {
    cached_records_ -= old->second.records.size();
    cache_.erase(old);
  }
  std::erase_if(cache_, [&](const auto& e) {
    if (e.second.expires > now) return false;
    cached_records_ -= e.second.records.size();
    return true;
  });
  while (!cache_.empty() &&
         (cache_.size() >= limits_.cache_entries || cached_records_ + records.size() > kMaxCachedRecords)) {
    auto first = std::min_element(cache_.begin(), cache_.end(),
                                  [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    cached_records_ -= first->second.records.size();
    cache_.erase(first);
  }
  cache_[key] = CacheEntry{rcode, records, elements, now + std::chrono::seconds(lifetime_s - 1)};
  cached_records_ += records.size();
}

void DnsFilter::handle_query(std::span<const std::uint8_t> msg, const Client& client) {
  ++stats_.queries;
  auto qp = dns::parse_query(msg);
  if (!qp.answerable) {
    ++stats_.dropped;
    return;
  }
  if (!qp.query) return reply(client, dns::build_error(qp.id, qp.opcode, qp.rcode, nullptr));
  const dns::Query& q = *qp.query;
  const std::size_t limit = reply_limit(client, q);
  auto ports = q.question.qclass == dns::kClassIn ? ports_for_name(rules_, q.question.name)
                                                   : std::vector<std::uint16_t>{};
  if (ports.empty() && !(record_ && q.question.qclass == dns::kClassIn)) {
    refused_event(q);
    return reply(client, dns::build_reply(q, dns::Rcode::Refused, {}, limit));
  }
  if (q.question.qtype != dns::kTypeA && q.question.qtype != dns::kTypeAaaa)
    return reply(client, dns::build_reply(q, dns::Rcode::NoError, {}, limit));  // no data
  Conn* conn = nullptr;
  if (client.tcp) {
    auto it = conns_.find(client.conn);
    if (it == conns_.end()) return;
    conn = &it->second;
  }
  if (from_cache(client, q, limit)) return;
  if (upstreams_.empty() || pending_.size() >= limits_.max_pending) {
    ++stats_.servfail;
    return reply(client, dns::build_reply(q, dns::Rcode::ServFail, {}, limit));
  }
  if (!budget_.take()) {
    ++stats_.over_budget;
    ++stats_.servfail;
    limit_event(budget_events_, "dns_queries",
                {{"name", q.question.name}, {"per_second", budget_.per_second()}, {"burst", budget_.burst()}});
    return reply(client, dns::build_reply(q, dns::Rcode::ServFail, {}, limit));
  }
  const std::uint64_t id = next_id_++;
  Pending& p = pending_[id];
  p.id = id;
  p.query = q;
  p.client = client;
  p.ports = std::move(ports);
  p.deadline = Clock::now() + limits_.query_deadline;
  if (conn) ++conn->pending;
  ++stats_.forwarded;
  start_attempt(p);
}

// ---- upstream -----------------------------------------------------------------------

void DnsFilter::start_attempt(Pending& p) {
  const std::uint64_t id = p.id;
  while (p.upstream < upstreams_.size()) {
    if (p.sock) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, p.sock.get(), nullptr);
    p.sock.reset();
    p.in.clear();
    p.out.clear();
    p.out_off = 0;
    p.qid = random16();
    const Resolver& up = upstreams_[p.upstream];
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(up, &ss);
    p.sock.reset(::socket(ss.ss_family, (p.over_tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const auto query = dns::build_query(p.qid, p.query.question);
    bool ok = static_cast<bool>(p.sock);
    if (ok && ::connect(p.sock.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) ok = false;
    if (ok && !p.over_tcp) {
      ok = ::send(p.sock.get(), query.data(), query.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
           static_cast<ssize_t>(query.size());
      if (ok) watch(p.sock.get(), kTagUpstream, id, EPOLLIN);
    } else if (ok) {
      append_frame(p.out, query);
      watch(p.sock.get(), kTagUpstream, id, EPOLLOUT | EPOLLIN);
    }
    if (ok) {
      p.attempt_deadline = std::min(p.deadline, Clock::now() + limits_.upstream_timeout);
      return;
    }
    ++p.upstream;
    p.over_tcp = false;
  }
  fail(p);
}

void DnsFilter::next_upstream(Pending& p) {
  ++p.upstream;
  p.over_tcp = false;
  start_attempt(p);
}

void DnsFilter::on_upstream(std::uint64_t id, std::uint32_t events) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (!p.over_tcp) {
    std::uint8_t buf[4096];
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = ::recv(p.sock.get(), buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        return next_upstream(p);  // ECONNREFUSED and friends
      }
      const bool cut = static_cast<std::size_t>(n) > sizeof buf;
      auto r = dns::parse_response({buf, std::min(static_cast<std::size_t>(n), sizeof buf)});
      if (!r || r->id != p.qid || !same_question(r->question, p.query.question)) continue;  // not ours
      if (r->truncated || cut) {
        p.over_tcp = true;  // same upstream, over TCP
        return start_attempt(p);
      }
      return finish(p, *r);
    }
    return;
  }
  if (events & EPOLLOUT && p.out_off < p.out.size()) {
    const ssize_t n = ::send(p.sock.get(), p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return next_upstream(p);
    if (n > 0) p.out_off += static_cast<std::size_t>(n);
    if (p.out_off == p.out.size()) watch(p.sock.get(), kTagUpstream, id, EPOLLIN, true);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(p.sock.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return next_upstream(p);
    p.in.insert(p.in.end(), buf, buf + n);
    if (p.in.size() < 2) return;
    const std::size_t len = (static_cast<std::size_t>(p.in[0]) << 8) | p.in[1];
    if (p.in.size() < 2 + len) return;
    auto r = dns::parse_response({p.in.data() + 2, len});
    if (!r || r->id != p.qid || !same_question(r->question, p.query.question)) return next_upstream(p);
    return finish(p, *r);
  }
}

void DnsFilter::finish(Pending& p, const dns::Response& r) {
  const std::size_t limit = reply_limit(p.client, p.query);
  if (r.rcode != dns::Rcode::NoError && r.rcode != dns::Rcode::NxDomain) {
    if (p.upstream + 1 < upstreams_.size()) return next_upstream(p);  // SERVFAIL, REFUSED: ask the next one
    return fail(p);
  }
  dns::Chain chain = dns::answer_chain(r, p.query.question);
  std::vector<SetElement> elements;
  const std::uint32_t timeout = std::clamp(chain.ttl, kMinTtl, kMaxTtl);
  nlohmann::json learned = nlohmann::json::array();
  for (const auto& a : chain.addresses) {
    Cidr c;
    c.family = a.size() == 4 ? kFamily4 : kFamily6;
    c.prefix = c.bits();
    std::copy(a.begin(), a.end(), c.addr.begin());
    // Passed on to the client, but never allowed: the table denies it too.
    if (closed_ && closed_(c)) {
      ++stats_.closed;
      continue;
    }
    for (std::uint16_t port : p.ports) elements.push_back({c, port, timeout});
    if (record_) learned.push_back(c.str());
  }
  if (record_ && !learned.empty()) audit_("dns_learned", {{"name", p.query.question.name}, {"addresses", learned}});
  if (!allow(elements, p.query.question.name)) return fail(p);
  for (auto& rec : chain.records) rec.ttl = std::min(rec.ttl, kMaxTtl);
  store(p.query, r.rcode, chain.records, elements, chain.addresses.empty() ? kMinTtl : timeout);
  ++stats_.answered;
  const Client client = p.client;
  const auto msg = dns::build_reply(p.query, r.rcode, chain.records, limit);
  drop_pending(p.id);
  reply(client, msg);
}

void DnsFilter::fail(Pending& p) {
  ++stats_.servfail;
  const Client client = p.client;
  const auto msg = dns::build_reply(p.query, dns::Rcode::ServFail, {}, reply_limit(p.client, p.query));
  drop_pending(p.id);
  reply(client, msg);
}

void DnsFilter::drop_pending(std::uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  if (it->second.sock) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->second.sock.get(), nullptr);
  if (it->second.client.tcp) {
    auto c = conns_.find(it->second.client.conn);
    if (c != conns_.end() && c->second.pending) {
      if (c->second.pending-- == limits_.max_tcp_pending) resume_.push_back(c->first);  // on_timer reads on
    }
  }
  pending_.erase(it);
}

// ---- time ---------------------------------------------------------------------------

std::optional<DnsFilter::Clock::time_point> DnsFilter::next_deadline() const {
  std::optional<Clock::time_point> next;
  auto consider = [&](Clock::time_point t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, p] : pending_) consider(p.attempt_deadline);
  for (const auto& [id, c] : conns_) consider(c.idle_deadline);
  if (!resume_.empty()) consider(Clock::now());
  return next;
}

void DnsFilter::on_timer(Clock::time_point now) {
  std::vector<std::uint64_t> due;
  for (const auto& [id, p] : pending_)
    if (p.attempt_deadline <= now) due.push_back(id);
  for (auto id : due) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& p = it->second;
    if (p.deadline <= now) fail(p);
    else next_upstream(p);
  }
  std::vector<std::uint64_t> idle;
  for (const auto& [id, c] : conns_)
    if (c.idle_deadline <= now) idle.push_back(id);
  for (auto id : idle) close_conn(id);
  // TCP clients that were held back by max_tcp_pending: their buffered queries, and read on.
  auto resume = std::exchange(resume_, {});
  for (auto id : resume) on_conn(id, 0);
}

}  // namespace mcpjail::netfilter
