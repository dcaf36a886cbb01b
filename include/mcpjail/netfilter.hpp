// network = "allowlist": the jail's uplink, its nftables table, the filtering
// DNS resolver and drop logging (netfilter/).
//
//   supervisor (host side)                     jail init (inside the namespaces)
//   ----------------------                     ---------------------------------
//   clone, id maps, cgroup
//   Uplink::spawn: pasta attached to the
//     jail's netns                ─── "go" ──▶ mounts, then prepare_jail_network():
//                                                lo up, install the nft table (gate
//                                                shut), open the DNS listener (UDP+TCP
//                                                on loopback, port 53) and two netlink
//                     ◀─────── SCM_RIGHTS ──────────  sockets (nft set updates, NFLOG), send
//   Uplink::wait_ready: pasta has                  them to the supervisor
//     configured the tap device   ─── "go" ──▶ close_uplink_gateways(): read the
//                                                gateway(s) of the routes, add them
//   Egress::adopt (the sockets above)              to the gateway sets; then the server
//   Egress::process (poll loop): DNS filter,
//     set updates (the gate opens once the host's addresses are in), NFLOG → audit events
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mcpjail/netfilter_rules.hpp"
#include "mcpjail/plan.hpp"
#include "mcpjail/rate_limit.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::netfilter {

inline constexpr const char* kTable = "mcpjail";  // table inet mcpjail
inline constexpr std::uint16_t kLogGroup = 17;    // NFLOG group inside the jail's namespace
inline constexpr const char* kLearnedPrefix = "mcp-jail learned ";  // the record-mode accept rule's log prefix
inline constexpr const char* kResolverAddress = "127.0.0.1";  // the jail's DNS filter, port 53
inline constexpr const char* kUplinkName = "uplink0";

// DNS answers put addresses into the set for their TTL, bounded to this range.
inline constexpr std::uint32_t kMinTtl = 30;
inline constexpr std::uint32_t kMaxTtl = 3600;

// The table's sets: addresses . ports of allowed names (IPv4, IPv6), at most
// kNamesSetSize elements each; the host's own addresses; the uplink's
// gateways; and the gate, empty until the host's addresses are in place.
inline constexpr const char* kNamesSet[2] = {"names4", "names6"};
inline constexpr std::uint32_t kNamesSetSize = 65536;
inline constexpr const char* kHostSet[2] = {"host4", "host6"};
inline constexpr const char* kGatewaySet[2] = {"gateway4", "gateway6"};
inline constexpr const char* kReadySet = "ready";

// Sockets the jail's init hands to the supervisor (channel::Report::code).
enum class JailSocket : int { DnsUdp = 1, DnsTcp = 2, NftSet = 3, Nflog = 4 };

// ---- nftables -------------------------------------------------------------

// The table for `plan`, as nft(8) text. It does not depend on the uplink:
// the jail's init installs it while pasta starts, and adds the uplink's
// gateways to their sets (always denied) once pasta has configured them.
std::string ruleset(const NetworkPlan& plan);

// libnftables (with libxtables, libjansson and libgmp: four shared
// libraries, most of the launcher's start-up relocations and resident pages)
// is needed only to install the table, so the launcher does not link it: the
// jail's init of a network = "allowlist" launch loads it with dlopen() while
// pasta starts, before its root changes (so from the host's files). The
// supervisor and other launches never map it.
class NftLibrary {
 public:
  // Throws LaunchError("network", ...) when libnftables.so.1 is not
  // installed or lacks a function install_ruleset() needs.
  static std::unique_ptr<NftLibrary> load();
  ~NftLibrary();  // unloads it
  NftLibrary(const NftLibrary&) = delete;
  NftLibrary& operator=(const NftLibrary&) = delete;

 private:
  explicit NftLibrary(void* handle) : handle_(handle) {}
  void* handle_;
};

// Installs `text` (from ruleset()) in the calling process's network
// namespace, with libnftables (loaded by NftLibrary::load()).
void install_ruleset(const std::string& text);

// One address the DNS filter lets through, on one port, for `timeout_s`.
struct SetElement {
  Cidr addr;  // a single address
  std::uint16_t port = 0;
  std::uint32_t timeout_s = 0;
};

// Updates the table's sets over a netlink socket the jail opened in its
// namespace (the supervisor is outside it). Each call is one nf_tables
// transaction: all of it or nothing.
class SetWriter {
 public:
  explicit SetWriter(UniqueFd netlink);
  ~SetWriter();
  SetWriter(const SetWriter&) = delete;
  SetWriter& operator=(const SetWriter&) = delete;

  enum class Result { Ok, Full, Failed };
  // Adds elements to the name sets; refreshes the timeout of an element
  // that is already there. Full: a set is at kNamesSetSize. Failed: any
  // other refusal (`err` says which).
  Result add(const std::vector<SetElement>& elements, std::string* err);
  // The host's own addresses: `remove` out of, `add` into the host sets, and
  // with `open` the gate opened, in one transaction. False, with `err`, when
  // the kernel refused it.
  bool update_host(const std::vector<Cidr>& add, const std::vector<Cidr>& remove, bool open, std::string* err);
  // The uplink's gateways into their sets (the jail's init, once).
  bool add_gateways(const std::vector<Cidr>& gateways, std::string* err);
  // Shuts the gate again: nothing but loopback leaves the jail.
  bool close_gate(std::string* err);

  struct Impl;  // nft.cc

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- the host's own addresses ------------------------------------------------

// Every address of the calling process's network namespace (the
// supervisor's, which is where pasta opens the jail's connections), all
// interfaces, IPv4 and IPv6, loopback included, with the other addresses
// they make local to the host (IPv4 broadcast, IPv6 subnet-router anycast);
// sorted, each once.
// Throws LaunchError("network", ...) when rtnetlink cannot be read.
std::vector<Cidr> host_addresses();

// The same, followed: an rtnetlink socket subscribed to address changes
// (opened before the first read, so that no change in between is lost).
class HostAddresses {
 public:
  HostAddresses();  // throws LaunchError("network", ...)
  // Readable when changes are queued; poll it with POLLIN.
  int fd() const { return events_.get(); }
  const std::vector<Cidr>& addresses() const { return addrs_; }
  // Reads the queued changes (never blocks); true when addresses() changed.
  // When the kernel dropped notices (the socket overran), reads them all anew.
  bool update();

  // One address of one interface, and what it makes local to the host: the
  // address, its IPv4 broadcast address, its IPv6 subnet-router anycast.
  struct Entry {
    int index = 0;
    Cidr address;
    std::vector<Cidr> closes;
  };

 private:
  void reload();
  void rebuild();
  UniqueFd events_;
  std::vector<Entry> entries_;
  std::vector<Cidr> addrs_;
};

// ---- drop logging -----------------------------------------------------------

struct BlockedPacket {
  std::string address;   // destination
  std::uint16_t port = 0;
  std::string protocol;  // "tcp", "udp", "icmp", "icmpv6" or the protocol number
  bool learned = false;  // logged by the record-mode accept rule (NetworkPlan::record), not a drop
};
// Decodes the IPv4/IPv6 packet of an NFLOG message (the first bytes of it).
std::optional<BlockedPacket> decode_packet(std::span<const std::uint8_t> packet);

// ---- the jail side ------------------------------------------------------------

// Run in the jail's init while it still holds CAP_NET_ADMIN over the new
// network namespace. prepare_jail_network(), while pasta starts: loopback
// up, the nft table in place, the sockets sent to the supervisor over
// `report_sock`. close_uplink_gateways(), once pasta has configured the
// uplink and before the server is forked: the gateways of its routes into
// the gateway sets (none: the launch fails). Both throw
// LaunchError("network", ...).
void prepare_jail_network(const NetworkPlan& plan, int report_sock);
void close_uplink_gateways();

// ---- the supervisor side ------------------------------------------------------

// pasta (passt package) attached to a jail's network namespace: user-mode
// networking through the host's own sockets, rootless or as root. pasta
// runs under a small keeper process (a fork of the supervisor) that holds
// the read end of a pipe from the supervisor and kills pasta when that pipe
// closes: on destruction, and also when the supervisor dies any other way
// (pasta does not keep a parent-death signal).
class Uplink {
 public:
  // Starts pasta for the namespaces of `pid` and waits (at most `timeout`)
  // until it has configured the tap device, addresses and routes there.
  // Throws LaunchError("network", ...).
  static std::unique_ptr<Uplink> start(pid_t pid, bool rootless,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The two halves of start(), for a caller with work to do while pasta
  // starts (it takes tens of ms): spawn() returns at once, wait_ready()
  // waits as start() does. Both throw LaunchError("network", ...).
  static std::unique_ptr<Uplink> spawn(pid_t pid, bool rootless);
  void wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~Uplink();  // stop()
  Uplink(const Uplink&) = delete;
  // Ends pasta: returns once the keeper has killed it (SIGKILL: it runs no
  // more code of its own). The kernel takes a few tens of ms more to tear
  // down its tap device and memory; the keeper waits for that and exits,
  // nobody else does.
  void stop();
  Uplink& operator=(const Uplink&) = delete;
  pid_t pid() const { return pasta_; }  // pasta itself

  // The pasta command line (without the namespace arguments), for `check`.
  static std::vector<std::string> options(bool rootless);
  // Where pasta is installed, or "" when it is not.
  static std::string binary();

 private:
  Uplink() = default;
  pid_t keeper_ = -1, pasta_ = -1;
  UniqueFd life_;   // closing it ends pasta
  UniqueFd ready_;  // pasta writes its pid here once ready (until wait_ready())
  UniqueFd killed_;  // EOF once the keeper has killed pasta (or has ended)
};

class DnsFilter;

// Everything the supervisor runs for an allowlist jail: the uplink, the DNS
// filter, set updates and drop logging, behind one epoll fd for its poll loop.
class Egress {
 public:
  using AuditFn = std::function<void(const std::string& type, nlohmann::json fields)>;
  Egress(const NetworkPlan& plan, AuditFn audit);
  ~Egress();
  Egress(const Egress&) = delete;
  Egress& operator=(const Egress&) = delete;

  // Before the jail goes on: pasta for the child's namespaces, started by
  // start_uplink(), which returns at once; uplink_ready() waits until it is
  // configured.
  void start_uplink(pid_t child, bool rootless);
  void uplink_ready();
  // A socket from the jail (channel::ReportKind::NetSocket, code = JailSocket).
  void adopt(int which, UniqueFd fd);
  // Readable when process() has work; poll it with POLLIN.
  int fd() const { return epoll_.get(); }
  // Handles whatever is ready; never blocks.
  void process();
  // The jail has ended: reads the last drop reports and stops the uplink.
  void finish();
  // Called for each net_block and dns_refused event the rate limits hold
  // back, so that they can still be counted (Audit::count).
  void set_suppressed_counter(AuditFn count);

 private:
  void arm_timer();
  void read_nflog();
  void report_block(const BlockedPacket& p);
  // Brings the table's host sets in line with the host's addresses (less
  // those allow_private opens), and opens the gate the first time.
  bool sync_host_addresses(std::string* err);

  AuditFn audit_, count_;
  std::vector<Cidr> private_allowed_;
  bool record_ = false;                  // NetworkPlan::record
  std::uint64_t learned_events_ = 0;     // net_learned events written
  static constexpr std::uint64_t kMaxLearnedEvents = 10000;
  UniqueFd epoll_, timer_, nflog_;
  std::unique_ptr<Uplink> uplink_;
  std::unique_ptr<SetWriter> sets_;
  std::unique_ptr<HostAddresses> hosts_;
  std::vector<Cidr> host_denied_;  // what the host sets hold
  bool gate_open_ = false;
  std::unique_ptr<DnsFilter> dns_;
  RateLimit block_limit_;  // net_block events; repeats of one destination folded
};

}  // namespace mcpjail::netfilter
