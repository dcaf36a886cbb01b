// The DNS filter on real sockets, all on the host's loopback: a client, the
// filter (as the supervisor runs it) and a fake upstream resolver in a
// thread. No privileges; nothing leaves 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "dns_wire.hpp"
#include "mcpjail/dns.hpp"
#include "mcpjail/dns_filter.hpp"

using namespace mcpjail;
using namespace mcpjail::netfilter;
using namespace std::chrono_literals;
using Bytes = dnstest::Bytes;

namespace {

using dnstest::put16;
using dnstest::wire;

Bytes query(std::uint16_t id, const std::string& n, unsigned type) {
  Bytes b;
  for (unsigned v : {unsigned(id), 0x0100u, 1u, 0u, 0u, 0u}) put16(b, v);
  auto q = wire(n);
  b.insert(b.end(), q.begin(), q.end());
  put16(b, type);
  put16(b, 1);
  return b;
}

int rcode(const Bytes& r) { return r.size() >= 4 ? r[3] & 0x0F : -1; }
int ancount(const Bytes& r) { return r.size() >= 8 ? (r[6] << 8) | r[7] : -1; }

// A record answer for the question in `q` (the upstream side).
struct Answer {
  std::vector<std::pair<std::string, Bytes>> a;  // owner, address
  std::uint32_t ttl = 60;
  bool truncate_udp = false;
  bool wrong_id_first = false;
  bool silent = false;
};

Bytes respond(const Bytes& q, const Answer& ans, bool tcp, bool wrong_id) {
  auto p = dns::parse_query(q);
  if (!p.query) return {};
  Bytes r(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(12));
  if (wrong_id) r[1] ^= 0xFF;
  r[2] = 0x81;
  r[3] = 0x80;
  r[10] = r[11] = 0;  // no OPT back
  r.insert(r.end(), p.query->question.wire.begin(), p.query->question.wire.end());
  put16(r, p.query->question.qtype);
  put16(r, 1);
  unsigned n = 0;
  if (ans.truncate_udp && !tcp) {
    r[2] |= 0x02;
  } else {
    for (const auto& [owner, addr] : ans.a) {
      if ((addr.size() == 4) != (p.query->question.qtype == dns::kTypeA)) continue;
      auto o = wire(owner);
      r.insert(r.end(), o.begin(), o.end());
      put16(r, addr.size() == 4 ? 1 : 28);
      put16(r, 1);
      put16(r, ans.ttl >> 16);
      put16(r, ans.ttl & 0xFFFF);
      put16(r, static_cast<unsigned>(addr.size()));
      r.insert(r.end(), addr.begin(), addr.end());
      ++n;
    }
  }
  r[6] = static_cast<std::uint8_t>(n >> 8);
  r[7] = static_cast<std::uint8_t>(n);
  return r;
}

int bound_socket(int type, std::uint16_t* port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(*port);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  if (type == SOCK_STREAM) REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A fake upstream resolver on 127.0.0.1 (UDP and TCP, same port).
class Upstream {
 public:
  explicit Upstream(Answer a) : ans_(std::move(a)) {
    udp_ = bound_socket(SOCK_DGRAM, &port_);
    tcp_ = bound_socket(SOCK_STREAM, &port_);
    th_ = std::thread([this] { run(); });
  }
  ~Upstream() {
    stop_ = true;
    th_.join();
    ::close(udp_);
    ::close(tcp_);
  }
  std::uint16_t port() const { return port_; }
  std::atomic<int> udp_queries{0}, tcp_queries{0};

 private:
  void run() {
    while (!stop_) {
      pollfd fds[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (::poll(fds, 2, 20) <= 0) continue;
      std::uint8_t buf[4096];
      if (fds[0].revents) {
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        const ssize_t n = ::recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
        if (n > 0) {
          ++udp_queries;
          if (ans_.silent) continue;
          const Bytes q(buf, buf + n);
          if (ans_.wrong_id_first) {
            auto bad = respond(q, ans_, false, true);
            ::sendto(udp_, bad.data(), bad.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl);
          }
          auto r = respond(q, ans_, false, false);
          ::sendto(udp_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl);
        }
      }
      if (fds[1].revents) {
        const int c = ::accept(tcp_, nullptr, nullptr);
        if (c < 0) continue;
        ++tcp_queries;
        Bytes in;
        while (in.size() < 2 || in.size() < 2u + ((in[0] << 8) | in[1])) {
          const ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          in.insert(in.end(), buf, buf + n);
        }
        if (in.size() > 2) {
          auto r = respond(Bytes(in.begin() + 2, in.end()), ans_, true, false);
          Bytes framed;
          put16(framed, static_cast<unsigned>(r.size()));
          framed.insert(framed.end(), r.begin(), r.end());
          (void)!::write(c, framed.data(), framed.size());
        }
        ::close(c);
      }
    }
  }
  Answer ans_;
  int udp_ = -1, tcp_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread th_;
};

// The filter with its listening sockets, driven as the supervisor drives it.
struct Rig {
  int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  std::uint16_t port = 0;
  std::vector<SetElement> installed;
  std::vector<nlohmann::json> events;
  DnsFilter::InstallResult install_result = DnsFilter::InstallResult::Ok;
  std::unique_ptr<DnsFilter> filter;

  Rig(std::vector<std::string> allow, std::vector<std::uint16_t> upstream_ports, DnsFilter::Limits limits = {}) {
    std::vector<AllowRule> rules;
    for (const auto& a : allow) rules.push_back(parse_allow(a));
    std::vector<Resolver> ups;
    for (auto p : upstream_ports) ups.push_back(*parse_resolver("127.0.0.1:" + std::to_string(p)));
    filter = std::make_unique<DnsFilter>(
        rules, ups, epoll,
        [this](const std::vector<SetElement>& e, std::string* err) {
          if (install_result != DnsFilter::InstallResult::Ok) {
            *err = "refused by the test";
            return install_result;
          }
          installed.insert(installed.end(), e.begin(), e.end());
          return DnsFilter::InstallResult::Ok;
        },
        [this](const std::string& type, nlohmann::json f) {
          f["event"] = type;
          events.push_back(std::move(f));
        },
        limits);
    const int udp = bound_socket(SOCK_DGRAM, &port);
    const int tcp = bound_socket(SOCK_STREAM, &port);
    filter->set_udp(UniqueFd(udp));
    filter->set_tcp(UniqueFd(tcp));
  }
  ~Rig() {
    filter.reset();
    ::close(epoll);
  }

  void pump(std::chrono::milliseconds ms) {
    epoll_event ev[16];
    const int n = ::epoll_wait(epoll, ev, 16, static_cast<int>(ms.count()));
    for (int i = 0; i < n; ++i)
      filter->on_event(static_cast<std::uint8_t>(ev[i].data.u64 >> 56), ev[i].data.u64 & ((1ULL << 56) - 1), ev[i].events);
    filter->on_timer(std::chrono::steady_clock::now());
  }

  sockaddr_in addr() const {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    return sa;
  }

  // Sends a datagram, pumps the filter until a reply or the timeout.
  Bytes ask(const Bytes& msg, std::chrono::milliseconds timeout = 3000ms) {
    const int c = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    auto sa = addr();
    ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    ::send(c, msg.data(), msg.size(), 0);
    Bytes out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      pump(5ms);
      std::uint8_t buf[65536];
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n >= 0) {
        out.assign(buf, buf + n);
        break;
      }
    }
    ::close(c);
    return out;
  }

  Bytes ask_tcp(const std::vector<Bytes>& msgs, std::size_t replies = 1) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto sa = addr();
    REQUIRE(::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    for (const auto& m : msgs) {
      Bytes framed;
      put16(framed, static_cast<unsigned>(m.size()));
      framed.insert(framed.end(), m.begin(), m.end());
      REQUIRE(::write(c, framed.data(), framed.size()) == static_cast<ssize_t>(framed.size()));
    }
    ::fcntl(c, F_SETFL, O_NONBLOCK);
    Bytes in;
    const auto end = std::chrono::steady_clock::now() + 3s;
    std::size_t got = 0;
    while (std::chrono::steady_clock::now() < end && got < replies) {
      pump(5ms);
      std::uint8_t buf[65536];
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n > 0) in.insert(in.end(), buf, buf + n);
      got = 0;
      for (std::size_t off = 0; in.size() >= off + 2 && in.size() >= off + 2 + ((in[off] << 8) | in[off + 1]);
           off += 2 + ((in[off] << 8) | in[off + 1]))
        ++got;
    }
    ::close(c);
    return in.size() >= 2 ? Bytes(in.begin() + 2, in.end()) : Bytes{};
  }
};

}  // namespace

TEST_CASE("dns filter: an allowed name is forwarded and its addresses allowed with bounded TTLs") {
  Answer a;
  a.a = {{"api.example.com", {203, 0, 113, 5}}, {"other.example.net", {192, 0, 2, 66}}};
  a.ttl = 5;
  Upstream up(a);
  Rig rig({"api.example.com:443", "api.example.com:8443"}, {up.port()});
  auto r = rig.ask(query(0x1111, "Api.Example.com", dns::kTypeA));
  REQUIRE(r.size() > 12);
  CHECK(r[0] == 0x11);
  CHECK(rcode(r) == 0);
  auto parsed = dns::parse_response(r);
  REQUIRE(parsed);
  REQUIRE(parsed->answers.size() == 1);  // the record for another name is not passed on
  CHECK(parsed->answers[0].ttl == 5);
  REQUIRE(rig.installed.size() == 2);  // one address, two ports
  CHECK(rig.installed[0].addr.str() == "203.0.113.5");
  CHECK(rig.installed[0].timeout_s == kMinTtl);
  CHECK(rig.installed[1].port == 8443);
  CHECK(rig.events.empty());
  CHECK(up.udp_queries == 1);

  Answer big;
  big.a = {{"api.example.com", {203, 0, 113, 6}}};
  big.ttl = 100000;
  Upstream up2(big);
  Rig rig2({"api.example.com:443"}, {up2.port()});
  parsed = dns::parse_response(rig2.ask(query(2, "api.example.com", dns::kTypeA)));
  REQUIRE(parsed);
  CHECK(parsed->answers.at(0).ttl == kMaxTtl);
  CHECK(rig2.installed.at(0).timeout_s == kMaxTtl);
}

TEST_CASE("dns filter: other names are REFUSED and audited and never forwarded") {
  Upstream up(Answer{});
  DnsFilter::Limits l;
  l.refused_burst = 5;
  l.refused_per_second = 1;
  Rig rig({"*.example.com:443"}, {up.port()}, l);
  auto r = rig.ask(query(3, "evil.test", dns::kTypeA));
  CHECK(rcode(r) == 5);
  REQUIRE(rig.events.size() == 1);
  CHECK(rig.events[0]["event"] == "dns_refused");
  CHECK(rig.events[0]["name"] == "evil.test");
  CHECK(rig.events[0]["type"] == "A");
  CHECK(rcode(rig.ask(query(4, "example.com", dns::kTypeAaaa))) == 5);  // the apex is not covered
  // A flood is answered, but audited at a bounded rate; the rest is counted.
  for (int i = 0; i < 40; ++i) CHECK(rcode(rig.ask(query(5, "x" + std::to_string(i) + ".evil.test", 16))) == 5);
  CHECK(rig.events.size() <= 8);
  rig.events.clear();
  std::this_thread::sleep_for(1100ms);
  rig.ask(query(6, "last.evil.test", 1));
  REQUIRE(rig.events.size() == 1);
  CHECK(rig.events[0]["suppressed"].get<int>() >= 30);
  CHECK(up.udp_queries == 0);
  CHECK(rig.installed.empty());
}

TEST_CASE("dns filter: with *:PORT every name is forwarded and its addresses allowed on those ports only") {
  Answer a;
  a.a = {{"www.example.org", {203, 0, 113, 7}}, {"intranet", {10, 1, 2, 3}}};
  Upstream up(a);
  Rig rig({"*:80", "*:443"}, {up.port()});
  auto parsed = dns::parse_response(rig.ask(query(0x2222, "www.example.org", dns::kTypeA)));
  REQUIRE(parsed);
  REQUIRE(parsed->answers.size() == 1);
  REQUIRE(rig.installed.size() == 2);
  CHECK(rig.installed[0].addr.str() == "203.0.113.7");
  CHECK(rig.installed[0].port == 80);
  CHECK(rig.installed[1].port == 443);
  // A private answer is passed on, but never enters the set (the table's
  // private-range deny, ahead of the set, keeps it closed as well).
  parsed = dns::parse_response(rig.ask(query(0x2223, "intranet", dns::kTypeA)));
  REQUIRE(parsed);
  CHECK(parsed->answers.size() == 1);
  CHECK(rig.installed.size() == 2);
  CHECK(rig.filter->stats().closed == 1);
  // Only A and AAAA leave the jail: other types get no data and are not forwarded.
  auto r = rig.ask(query(0x2224, "tunnel.example.org", 16 /* TXT */));
  CHECK(rcode(r) == 0);
  CHECK(ancount(r) == 0);
  CHECK(up.udp_queries == 2);
  CHECK(rig.events.empty());
  // The root is not a name.
  CHECK(rcode(rig.ask(query(0x2225, "", dns::kTypeA))) == 5);
}

TEST_CASE("dns filter: other types for allowed names get no data and garbage gets nothing") {
  Upstream up(Answer{});
  Rig rig({"api.example.com:443"}, {up.port()});
  auto r = rig.ask(query(7, "api.example.com", 16 /* TXT */));
  CHECK(rcode(r) == 0);
  CHECK(ancount(r) == 0);
  CHECK(up.udp_queries == 0);
  CHECK(rig.ask(Bytes{1, 2, 3}, 200ms).empty());
  Bytes response = query(8, "api.example.com", 1);
  response[2] |= 0x80;
  CHECK(rig.ask(response, 200ms).empty());
  Bytes two = query(9, "api.example.com", 1);
  two[5] = 2;
  CHECK(rcode(rig.ask(two)) == 1);  // FORMERR
}

TEST_CASE("dns filter: upstream failures end in SERVFAIL in bounded time") {
  Answer silent;
  silent.silent = true;
  Upstream up(silent);
  DnsFilter::Limits l;
  l.upstream_timeout = 100ms;
  l.query_deadline = 300ms;
  Rig rig({"api.example.com:443"}, {up.port(), up.port()}, l);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = rig.ask(query(10, "api.example.com", 1));
  CHECK(rcode(r) == 2);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(up.udp_queries == 2);  // each upstream once
  CHECK(rig.installed.empty());

  // Nothing listening on the first upstream: the second one answers.
  std::uint16_t dead = 0;
  const int d = bound_socket(SOCK_DGRAM, &dead);
  ::close(d);
  Answer ok;
  ok.a = {{"api.example.com", {203, 0, 113, 7}}};
  Upstream good(ok);
  Rig rig2({"api.example.com:443"}, {dead, good.port()}, l);
  CHECK(rcode(rig2.ask(query(11, "api.example.com", 1))) == 0);
  CHECK(rig2.installed.size() == 1);

  // The set cannot be updated: the client must not get the address.
  Rig rig3({"api.example.com:443"}, {good.port()}, l);
  rig3.install_result = DnsFilter::InstallResult::Failed;
  r = rig3.ask(query(12, "api.example.com", 1));
  CHECK(rcode(r) == 2);
  CHECK(ancount(r) == 0);
}

TEST_CASE("dns filter: a reply with the wrong id is ignored and truncated upstream replies retry over TCP") {
  Answer a;
  a.wrong_id_first = true;
  a.a = {{"api.example.com", {203, 0, 113, 8}}};
  Upstream up(a);
  Rig rig({"api.example.com:443"}, {up.port()});
  auto r = dns::parse_response(rig.ask(query(13, "api.example.com", 1)));
  REQUIRE(r);
  CHECK(r->answers.size() == 1);

  Answer many;
  many.truncate_udp = true;
  for (int i = 1; i <= 100; ++i) many.a.push_back({"many.example.com", {198, 18, 2, static_cast<std::uint8_t>(i)}});
  Upstream up2(many);
  Rig rig2({"*.example.com:443"}, {up2.port()});
  auto small = rig2.ask(query(14, "many.example.com", 1));
  CHECK(rcode(small) == 0);
  CHECK((small[2] & 0x02) != 0);  // does not fit 512 bytes: TC, the client retries over TCP
  CHECK(rig2.installed.size() == 100);
  CHECK(up2.udp_queries == 1);
  CHECK(up2.tcp_queries == 1);
  auto full = dns::parse_response(rig2.ask_tcp({query(15, "many.example.com", 1)}));
  REQUIRE(full);
  CHECK(full->answers.size() == 100);
}

TEST_CASE("dns filter: TCP clients with several queries on one connection") {
  Answer a;
  a.a = {{"api.example.com", {203, 0, 113, 9}}};
  Upstream up(a);
  Rig rig({"api.example.com:443"}, {up.port()});
  auto r = rig.ask_tcp({query(16, "api.example.com", 1), query(17, "evil.test", 1)}, 2);
  REQUIRE(r.size() > 12);
  CHECK(rig.installed.size() == 1);
  CHECK(rig.events.size() == 1);
}

TEST_CASE("dns filter: closed answers never enter the sets, the host's own addresses included") {
  Answer a;
  a.a = {{"mixed.example.com", {203, 0, 113, 10}},
         {"mixed.example.com", {10, 1, 2, 3}},
         {"mixed.example.com", {169, 254, 169, 254}},
         {"mixed.example.com", {198, 18, 3, 2}},
         {"mixed.example.com", Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 5}},        // ::10.0.0.5
         {"mixed.example.com", Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5}},  // ::ffff:10.0.0.5
         {"mixed.example.com", Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}}};
  Upstream up(a);
  Rig rig({"*.example.com:443"}, {up.port()});
  const Cidr host = *parse_cidr("198.18.3.2");
  rig.filter->set_closed([&](const Cidr& c) { return answer_closed(c, {}) || c == host; });
  auto r4 = dns::parse_response(rig.ask(query(0x3001, "mixed.example.com", dns::kTypeA)));
  REQUIRE(r4);
  CHECK(r4->answers.size() == 4);  // the client sees what was answered
  auto r6 = dns::parse_response(rig.ask(query(0x3002, "mixed.example.com", dns::kTypeAaaa)));
  REQUIRE(r6);
  CHECK(r6->answers.size() == 3);
  REQUIRE(rig.installed.size() == 2);  // only the public ones
  CHECK(rig.installed[0].addr.str() == "203.0.113.10");
  CHECK(rig.installed[1].addr.str() == "2001:db8::7");
  CHECK(rig.filter->stats().closed == 5);
}

TEST_CASE("dns filter: record mode answers every name, adds no set element, records the open addresses") {
  Answer a;
  a.a = {{"any.example.org", {203, 0, 113, 20}},
         {"any.example.org", {10, 1, 2, 3}},
         {"any.example.org", {169, 254, 169, 254}},
         {"other.example.net", {198, 18, 4, 4}}};
  Upstream up(a);
  Rig rig({}, {up.port()});
  // Off (what `run` does with no allow entries): refused, never forwarded.
  CHECK(rcode(rig.ask(query(0x5001, "any.example.org", dns::kTypeA))) == 5);
  CHECK(up.udp_queries == 0);
  rig.events.clear();
  rig.filter->set_record(true);
  const auto r = rig.ask(query(0x5002, "any.example.org", dns::kTypeA));
  CHECK(rcode(r) == 0);
  auto parsed = dns::parse_response(r);
  REQUIRE(parsed);
  CHECK(parsed->answers.size() == 3);  // the client sees what was answered; the table closes the rest
  CHECK(rcode(rig.ask(query(0x5003, "other.example.net", dns::kTypeA))) == 0);
  CHECK(rig.installed.empty());
  REQUIRE(rig.events.size() == 2);
  CHECK(rig.events[0]["event"] == "dns_learned");
  CHECK(rig.events[0]["name"] == "any.example.org");
  CHECK(rig.events[0]["addresses"] == nlohmann::json::array({"203.0.113.20"}));  // private and metadata left out
  CHECK(rig.events[1]["name"] == "other.example.net");
  CHECK(rig.events[1]["addresses"] == nlohmann::json::array({"198.18.4.4"}));
}

TEST_CASE("dns filter: the cache answers repeats without asking upstream, for the bounded TTL") {
  Answer a;
  a.a = {{"api.example.com", {203, 0, 113, 11}}};
  a.ttl = 120;
  Upstream up(a);
  Rig rig({"api.example.com:443", "*.example.net:443"}, {up.port()});
  auto first = dns::parse_response(rig.ask(query(0x4001, "api.example.com", dns::kTypeA)));
  REQUIRE(first);
  REQUIRE(first->answers.size() == 1);
  CHECK(first->answers[0].ttl == 120);
  for (std::uint16_t id = 0x4002; id < 0x4007; ++id) {
    auto again = dns::parse_response(rig.ask(query(id, id % 2 ? "API.example.com" : "api.example.com", dns::kTypeA)));
    REQUIRE(again);
    CHECK(again->id == id);
    REQUIRE(again->answers.size() == 1);
    CHECK(again->answers[0].rdata == Bytes({203, 0, 113, 11}));
    CHECK(again->answers[0].ttl <= 120);
  }
  // over TCP too
  auto tcp = dns::parse_response(rig.ask_tcp({query(0x4008, "api.example.com", dns::kTypeA)}));
  REQUIRE(tcp);
  CHECK(tcp->answers.size() == 1);
  CHECK(up.udp_queries == 1);
  CHECK(up.tcp_queries == 0);
  CHECK(rig.filter->stats().cached == 6);
  // each hit puts the answer's address into the set again, with the answer's own timeout
  REQUIRE(rig.installed.size() == 7);
  for (const auto& e : rig.installed) {
    CHECK(e.addr.str() == "203.0.113.11");
    CHECK(e.timeout_s == 120);
  }
  // another type is another question
  rig.ask(query(0x4009, "api.example.com", dns::kTypeAaaa));
  CHECK(up.udp_queries == 2);
  // an answer with no address is kept as well (the fake upstream has records for one name only)
  CHECK(rcode(rig.ask(query(0x400a, "gone.example.net", dns::kTypeA))) == 0);
  CHECK(rcode(rig.ask(query(0x400b, "gone.example.net", dns::kTypeA))) == 0);
  CHECK(up.udp_queries == 3);
  // A hit whose addresses cannot be put back into the set fails, and is forgotten.
  rig.install_result = DnsFilter::InstallResult::Failed;
  CHECK(rcode(rig.ask(query(0x400c, "api.example.com", dns::kTypeA))) == 2);
  rig.install_result = DnsFilter::InstallResult::Ok;
  CHECK(rcode(rig.ask(query(0x400d, "api.example.com", dns::kTypeA))) == 0);
  CHECK(up.udp_queries == 4);

  // A cache of one entry keeps the latest answer only.
  DnsFilter::Limits small;
  small.cache_entries = 1;
  Rig rig2({"*.example.com:443"}, {up.port()}, small);
  rig2.ask(query(1, "api.example.com", dns::kTypeA));
  rig2.ask(query(2, "b.example.com", dns::kTypeA));
  rig2.ask(query(3, "api.example.com", dns::kTypeA));
  CHECK(up.udp_queries == 7);
}

TEST_CASE("dns filter: the upstream budget holds a flood, says so once, and cached names still resolve") {
  Answer a;
  a.a = {{"api.example.com", {203, 0, 113, 12}}};
  Upstream up(a);
  DnsFilter::Limits l;
  l.upstream_burst = 5;
  l.upstream_per_second = 0.01;
  Rig rig({"*.example.com:443"}, {up.port()}, l);
  CHECK(rcode(rig.ask(query(1, "api.example.com", dns::kTypeA))) == 0);
  int servfail = 0;
  for (int i = 0; i < 30; ++i) {
    const auto r = rig.ask(query(static_cast<std::uint16_t>(100 + i), "x" + std::to_string(i) + ".example.com", 1));
    servfail += rcode(r) == 2;
  }
  CHECK(up.udp_queries == 5);  // the burst, nothing more
  CHECK(servfail == 26);
  CHECK(rig.filter->stats().over_budget == 26);
  // the name already answered still resolves, from the cache
  auto cached = dns::parse_response(rig.ask(query(2, "api.example.com", dns::kTypeA)));
  REQUIRE(cached);
  CHECK(cached->answers.size() == 1);
  CHECK(up.udp_queries == 5);
  // one audit event, not one per query
  int limits = 0;
  for (const auto& e : rig.events)
    if (e["event"] == "limit") {
      ++limits;
      CHECK(e["which"] == "dns_queries");
      CHECK(e["name"] == "x4.example.com");
      CHECK(e["burst"] == 5.0);
    }
  CHECK(limits == 1);
}

TEST_CASE("dns filter: a full set fails the query with one rate-limited limit event") {
  Answer a;
  for (int i = 1; i <= 3; ++i) a.a.push_back({"api.example.com", {203, 0, 113, static_cast<std::uint8_t>(i)}});
  Upstream up(a);
  Rig rig({"*.example.com:443"}, {up.port()});
  rig.install_result = DnsFilter::InstallResult::Full;
  for (int i = 0; i < 20; ++i) {
    const auto r = rig.ask(query(static_cast<std::uint16_t>(i), "api.example.com", 1));
    CHECK(rcode(r) == 2);
    CHECK(ancount(r) == 0);
  }
  CHECK(up.udp_queries == 20);
  REQUIRE(rig.events.size() == 1);
  CHECK(rig.events[0]["event"] == "limit");
  CHECK(rig.events[0]["which"] == "allowed_addresses");
  CHECK(rig.events[0]["size"] == kNamesSetSize);
  // nothing of a failed answer was cached
  rig.install_result = DnsFilter::InstallResult::Ok;
  CHECK(ancount(rig.ask(query(99, "api.example.com", 1))) == 3);
  CHECK(rig.installed.size() == 3);
  CHECK(up.udp_queries == 21);
}
