// The supervisor's part of network = "allowlist": one epoll fd over the DNS
// filter's sockets, the NFLOG socket and a timer.
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "mcpjail/dns_filter.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_internal.hpp"

namespace mcpjail::netfilter {

namespace {
constexpr std::uint8_t kTagNflog = 100, kTagTimer = 101, kTagHost = 102;
constexpr double kBlockPerSecond = 10, kBlockBurst = 30;  // net_block audit events
constexpr auto kFoldWindow = std::chrono::seconds(2);      // repeats of one destination fold into one event

void watch_fd(int epoll, int fd, std::uint8_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(tag) << 56;
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
}
}  // namespace

Egress::Egress(const NetworkPlan& plan, AuditFn audit)
    : audit_(std::move(audit)), private_allowed_(plan.private_allowed), record_(plan.record), block_limit_(kBlockPerSecond, kBlockBurst, kFoldWindow) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!epoll_ || !timer_) throw LaunchError("network", errno_text("epoll for the DNS filter", errno));
  watch_fd(epoll_.get(), timer_.get(), kTagTimer);
  // The host's addresses, followed from now on: the jail's table gets them
  // when its socket arrives (adopt()), before anything leaves the jail.
  hosts_ = std::make_unique<HostAddresses>();
  watch_fd(epoll_.get(), hosts_->fd(), kTagHost);
  dns_ = std::make_unique<DnsFilter>(
      plan.rules, plan.resolvers, epoll_.get(),
      [this](const std::vector<SetElement>& e, std::string* err) {
        if (!sets_) {
          *err = "the jail did not hand over its nftables socket";
          return SetWriter::Result::Failed;
        }
        return sets_->add(e, err);
      },
      [this](const std::string& type, nlohmann::json f) { audit_(type, std::move(f)); });
  dns_->set_record(record_);
  dns_->set_closed([this](const Cidr& c) {
    if (answer_closed(c, private_allowed_)) return true;
    const auto& host = hosts_->addresses();
    return std::find(host.begin(), host.end(), c) != host.end() && !host_address_opened(c, private_allowed_);
  });
}

Egress::~Egress() = default;

void Egress::start_uplink(pid_t child, bool rootless) { uplink_ = Uplink::spawn(child, rootless); }

void Egress::uplink_ready() {
  if (uplink_) uplink_->wait_ready();
}

void Egress::adopt(int which, UniqueFd fd) {
  if (!fd) return;
  switch (static_cast<JailSocket>(which)) {
    case JailSocket::DnsUdp: dns_->set_udp(std::move(fd)); break;
    case JailSocket::DnsTcp: dns_->set_tcp(std::move(fd)); break;
    case JailSocket::NftSet: {
      sets_ = std::make_unique<SetWriter>(std::move(fd));
      std::string err;
      if (!sync_host_addresses(&err))
        throw LaunchError("network", "cannot put this host's own addresses into the jail's nftables table: " + err);
      break;
    }
    case JailSocket::Nflog:
      nflog_ = std::move(fd);
      watch_fd(epoll_.get(), nflog_.get(), kTagNflog);
      break;
  }
  arm_timer();
}

void Egress::process() {
  epoll_event events[64];
  const int n = ::epoll_wait(epoll_.get(), events, 64, 0);
  for (int i = 0; i < n; ++i) {
    const auto tag = static_cast<std::uint8_t>(events[i].data.u64 >> 56);
    const std::uint64_t id = events[i].data.u64 & ((1ULL << 56) - 1);
    if (tag == kTagTimer) {
      std::uint64_t expirations;
      while (::read(timer_.get(), &expirations, sizeof expirations) > 0) {
      }
    } else if (tag == kTagNflog) {
      read_nflog();
    } else if (tag == kTagHost) {
      if (hosts_->update() && sets_) {
        std::string err;
        if (!sync_host_addresses(&err)) {
          // Fail closed: a host address the table may not deny shuts the
          // gate, until a later change brings the sets in line again.
          std::string gate_err;
          const bool shut = sets_->close_gate(&gate_err);
          if (shut) gate_open_ = false;
          std::fprintf(stderr, "mcp-jail: network: cannot follow a change of this host's addresses in the jail's "
                               "table (%s); %s\n",
                       err.c_str(), shut ? "nothing but loopback leaves the jail from now on"
                                         : ("shutting the jail's egress failed as well: " + gate_err).c_str());
        }
      }
    } else {
      dns_->on_event(tag, id, events[i].events);
    }
  }
  dns_->on_timer(std::chrono::steady_clock::now());
  arm_timer();
}

void Egress::set_suppressed_counter(AuditFn count) {
  count_ = count;
  dns_->set_suppressed_counter(std::move(count));
}

void Egress::finish() {
  process();
  if (uplink_) uplink_->stop();
}

void Egress::arm_timer() {
  itimerspec its{};
  if (auto next = dns_->next_deadline()) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*next - std::chrono::steady_clock::now());
    if (left.count() < 1'000'000) left = std::chrono::milliseconds(1);  // 0 would disarm
    its.it_value.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
  }
  ::timerfd_settime(timer_.get(), 0, &its, nullptr);
}

void Egress::read_nflog() {
  for (const auto& p : netfilter::read_nflog(nflog_.get(), 256)) {
    if (!p.learned) {
      report_block(p);
    } else if (record_ && learned_events_ < kMaxLearnedEvents) {  // learn --network: a connection accepted
      ++learned_events_;
      nlohmann::json f = {{"address", p.address}, {"protocol", p.protocol}};
      if (p.protocol == "tcp" || p.protocol == "udp") f["port"] = p.port;
      audit_("net_learned", std::move(f));
    }
  }
}

bool Egress::sync_host_addresses(std::string* err) {
  std::vector<Cidr> want;
  for (const auto& c : hosts_->addresses())
    if (!host_address_opened(c, private_allowed_)) want.push_back(c);
  std::vector<Cidr> add, remove;
  for (const auto& c : want)
    if (std::find(host_denied_.begin(), host_denied_.end(), c) == host_denied_.end()) add.push_back(c);
  for (const auto& c : host_denied_)
    if (std::find(want.begin(), want.end(), c) == want.end()) remove.push_back(c);
  const bool open = !gate_open_;
  if (add.empty() && remove.empty() && !open) return true;
  if (!sets_->update_host(add, remove, open, err)) return false;
  host_denied_ = std::move(want);
  gate_open_ = true;
  return true;
}

void Egress::report_block(const BlockedPacket& p) {
  const std::string key = p.protocol + " " + p.address + " " + std::to_string(p.port);
  nlohmann::json f = {{"address", p.address}, {"protocol", p.protocol}};
  if (p.protocol == "tcp" || p.protocol == "udp") f["port"] = p.port;
  if (!block_limit_.admit(key)) {
    if (count_) count_("net_block", std::move(f));
    return;
  }
  if (auto n = block_limit_.take_suppressed()) f["suppressed"] = n;
  audit_("net_block", std::move(f));
}

}  // namespace mcpjail::netfilter
