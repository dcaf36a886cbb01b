// The supervisor's part of network = "allowlist": one epoll fd over the DNS
// filter's sockets, the NFLOG socket and a timer.
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstdio>

#include "mcpjail/dns_filter.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/netfilter_internal.hpp"

namespace mcpjail::netfilter {

namespace {
constexpr std::uint8_t kTagNflog = 100, kTagTimer = 101;
constexpr double kBlockPerSecond = 10, kBlockBurst = 30;  // net_block audit events
constexpr auto kFoldWindow = std::chrono::seconds(2);      // repeats of one destination fold into one event
}  // namespace

Egress::Egress(const NetworkPlan& plan, AuditFn audit)
    : audit_(std::move(audit)), tokens_(kBlockBurst), refill_(std::chrono::steady_clock::now()) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!epoll_ || !timer_) throw LaunchError("network", errno_text("epoll for the DNS filter", errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(kTagTimer) << 56;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev);
  dns_ = std::make_unique<DnsFilter>(
      plan.rules, plan.resolvers, epoll_.get(),
      [this](const std::vector<SetElement>& e, std::string* err) {
        if (e.empty()) return true;
        if (!sets_) {
          *err = "the jail did not hand over its nftables socket";
          return false;
        }
        return sets_->add(e, err);
      },
      [this](const std::string& type, nlohmann::json f) { audit_(type, std::move(f)); });
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
    case JailSocket::NftSet: sets_ = std::make_unique<SetWriter>(std::move(fd)); break;
    case JailSocket::Nflog: {
      nflog_ = std::move(fd);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint64_t>(kTagNflog) << 56;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, nflog_.get(), &ev);
      break;
    }
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
  for (const auto& p : netfilter::read_nflog(nflog_.get(), 256)) report_block(p);
}

void Egress::report_block(const BlockedPacket& p) {
  const auto now = std::chrono::steady_clock::now();
  const std::string key = p.protocol + " " + p.address + " " + std::to_string(p.port);
  nlohmann::json f = {{"address", p.address}, {"protocol", p.protocol}};
  if (p.protocol == "tcp" || p.protocol == "udp") f["port"] = p.port;
  auto suppress = [&] {
    ++suppressed_;
    if (count_) count_("net_block", std::move(f));
  };
  std::erase_if(recent_, [&](const auto& r) { return now - r.second > kFoldWindow; });
  for (const auto& r : recent_)
    if (r.first == key) return suppress();
  tokens_ = std::min(kBlockBurst, tokens_ + std::chrono::duration<double>(now - refill_).count() * kBlockPerSecond);
  refill_ = now;
  if (tokens_ < 1) return suppress();
  tokens_ -= 1;
  if (recent_.size() < 64) recent_.emplace_back(key, now);
  if (suppressed_) f["suppressed"] = std::exchange(suppressed_, 0);
  audit_("net_block", std::move(f));
}

}  // namespace mcpjail::netfilter
