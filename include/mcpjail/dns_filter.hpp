// The jail's filtering DNS resolver, run by the supervisor on sockets the
// jail created in its own network namespace (127.0.0.1:53, UDP and TCP).
//
// - A and AAAA questions for allowed names are answered from a small cache
//   or forwarded to the upstream resolvers (UDP; TCP when the reply is
//   truncated). The addresses in the answer (along its CNAME chain, nothing
//   else) go into the nftables sets for the allowed ports, with the answer's
//   TTL bounded to [kMinTtl, kMaxTtl]; only then does the client get its
//   reply, rebuilt from the parsed records (TTLs capped at kMaxTtl).
//   Addresses that stay closed whatever an answer says (private and local
//   ranges, the host's own addresses: set_closed()) are passed on to the
//   client but never enter the sets.
// - The cache keeps an answer as long as its addresses stay in the sets: the
//   answer's TTL bounded the same way; a name with no address (NXDOMAIN, no
//   data) for kMinTtl. Bounded in entries and records. A hit puts the
//   answer's addresses into the sets again, as an upstream answer would.
// - Upstream queries (cache misses) draw on a per-jail budget, a token
//   bucket: when it is spent the client gets SERVFAIL and the audit log a
//   `limit` event (which = "dns_queries"), rate-limited; names in the cache
//   still resolve.
// - Other types for allowed names get an empty NOERROR answer (no data).
// - Every other name gets REFUSED and a `dns_refused` audit event.
// - Never blocks: every socket is non-blocking, pending queries and TCP
//   clients are bounded, every query and connection has a deadline.
#pragma once
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mcpjail/dns.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/rate_limit.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::netfilter {

class DnsFilter {
 public:
  using Clock = std::chrono::steady_clock;
  // Puts addresses into the sets: Ok, Full (a set is at its size), or
  // Failed with `err`.
  using InstallResult = SetWriter::Result;
  using InstallFn = std::function<InstallResult(const std::vector<SetElement>&, std::string* err)>;
  using AuditFn = std::function<void(const std::string& type, nlohmann::json fields)>;
  // True for an answered address that must never enter the sets.
  using ClosedFn = std::function<bool(const Cidr&)>;

  struct Limits {
    std::size_t max_pending = 128;         // upstream queries in flight
    std::size_t max_tcp_clients = 32;
    std::size_t max_tcp_pending = 16;      // per TCP client
    std::chrono::milliseconds upstream_timeout{1500};  // per upstream, then the next one
    std::chrono::milliseconds query_deadline{5000};    // then SERVFAIL
    std::chrono::milliseconds tcp_idle{10000};
    double refused_per_second = 20, refused_burst = 50;  // dns_refused audit events
    std::size_t cache_entries = 256;                      // answers kept (name and type)
    double upstream_per_second = 10, upstream_burst = 100;  // the upstream query budget
    double limit_events_per_second = 0.1;                 // `limit` events (budget spent, set full): 1 in 10 s
  };

  // Tags of the fds the filter puts into `epoll_fd` (epoll_event.data.u64 =
  // tag << 56 | id); the owner passes events with these tags to on_event().
  static constexpr std::uint8_t kTagUdp = 1, kTagTcpListen = 2, kTagTcpClient = 3, kTagUpstream = 4;

  DnsFilter(std::vector<AllowRule> rules, std::vector<Resolver> upstreams, int epoll_fd, InstallFn install,
            AuditFn audit, Limits limits);
  DnsFilter(std::vector<AllowRule> rules, std::vector<Resolver> upstreams, int epoll_fd, InstallFn install,
            AuditFn audit)
      : DnsFilter(std::move(rules), std::move(upstreams), epoll_fd, std::move(install), std::move(audit), Limits{}) {}
  ~DnsFilter();
  DnsFilter(const DnsFilter&) = delete;
  DnsFilter& operator=(const DnsFilter&) = delete;

  // Called for each dns_refused event the rate limit holds back.
  void set_suppressed_counter(AuditFn count) { count_ = std::move(count); }
  // Which answered addresses never enter the sets. Until it is called: the
  // denied ranges and metadata addresses (answer_closed() with no
  // allow_private).
  void set_closed(ClosedFn closed) { closed_ = std::move(closed); }
  // Record mode (NetworkPlan::record, `mcp-jail learn --network` only): every
  // name of class IN is looked up, no set element is added (the table accepts
  // public addresses itself), and each answer from upstream is a
  // "dns_learned" audit event with the addresses that are not closed.
  void set_record(bool record) { record_ = record; }
  void set_udp(UniqueFd fd);
  void set_tcp(UniqueFd fd);
  void on_event(std::uint8_t tag, std::uint64_t id, std::uint32_t events);
  std::optional<Clock::time_point> next_deadline() const;
  void on_timer(Clock::time_point now);

  struct Stats {
    std::uint64_t queries = 0, refused = 0, forwarded = 0, answered = 0, servfail = 0, dropped = 0;
    std::uint64_t cached = 0;      // answered from the cache
    std::uint64_t over_budget = 0; // SERVFAIL because the upstream budget was spent
    std::uint64_t closed = 0;      // answered addresses kept out of the sets
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Client {
    bool tcp = false;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    std::uint64_t conn = 0;
  };
  struct Pending {
    std::uint64_t id = 0;
    dns::Query query;
    Client client;
    std::vector<std::uint16_t> ports;
    std::size_t upstream = 0;
    UniqueFd sock;
    bool over_tcp = false;
    std::uint16_t qid = 0;
    std::vector<std::uint8_t> out, in;
    std::size_t out_off = 0;
    Clock::time_point attempt_deadline, deadline;
  };
  struct CacheEntry {
    dns::Rcode rcode = dns::Rcode::NoError;
    std::vector<dns::Record> records;   // TTLs as answered (capped at kMaxTtl)
    std::vector<SetElement> elements;   // what the answer opened, added again on each hit
    Clock::time_point expires;
  };
  struct Conn {
    UniqueFd fd;
    std::vector<std::uint8_t> in, out;
    std::size_t out_off = 0;
    std::size_t pending = 0;
    bool read_closed = false;
    Clock::time_point idle_deadline;
  };

  void read_udp();
  void accept_tcp();
  void on_conn(std::uint64_t id, std::uint32_t events);
  void close_conn(std::uint64_t id);
  void flush_conn(std::uint64_t id, Conn& c);
  void handle_query(std::span<const std::uint8_t> msg, const Client& client);
  void reply(const Client& client, const std::vector<std::uint8_t>& msg);
  std::size_t reply_limit(const Client& client, const dns::Query& q) const;
  void start_attempt(Pending& p);  // on the current upstream; moves on when that fails at once
  void next_upstream(Pending& p);
  void on_upstream(std::uint64_t id, std::uint32_t events);
  void finish(Pending& p, const dns::Response& r);
  void fail(Pending& p);  // SERVFAIL
  void drop_pending(std::uint64_t id);
  void refused_event(const dns::Query& q);
  bool from_cache(const Client& client, const dns::Query& q, std::size_t limit);
  void store(const dns::Query& q, dns::Rcode rcode, const std::vector<dns::Record>& records,
             const std::vector<SetElement>& elements, std::uint32_t lifetime_s);
  // Puts `elements` into the sets; false (after the event or line it is
  // worth) when that failed.
  bool allow(const std::vector<SetElement>& elements, const std::string& name);
  void limit_event(RateLimit& limit, const std::string& which, nlohmann::json fields);
  void watch(int fd, std::uint8_t tag, std::uint64_t id, std::uint32_t events, bool modify = false);

  std::vector<AllowRule> rules_;
  std::vector<Resolver> upstreams_;
  int epoll_;
  InstallFn install_;
  AuditFn audit_, count_;
  Limits limits_;
  UniqueFd udp_, tcp_;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::uint64_t, Conn> conns_;
  std::vector<std::uint64_t> resume_;  // TCP clients to read on (no longer held back)
  std::uint64_t next_id_ = 1;
  Stats stats_;
  ClosedFn closed_;
  bool record_ = false;
  std::map<std::pair<std::string, std::uint16_t>, CacheEntry> cache_;  // (name, type)
  TokenBucket budget_;
  std::size_t cached_records_ = 0;
  RateLimit refused_limit_, budget_events_, full_events_, error_lines_;
};

}  // namespace mcpjail::netfilter
