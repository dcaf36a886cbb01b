// The jail's nftables table: generated as text (shown by `check`, installed
// with libnftables by the jail's init), and the run-time set updates the
// DNS filter makes (libnftnl + libmnl, from the supervisor).
#include <arpa/inet.h>
#include <dlfcn.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "mcpjail/errors.hpp"
#include "mcpjail/netfilter.hpp"

namespace mcpjail::netfilter {

namespace {

std::string set_text(const std::vector<Cidr>& v) {
  if (v.size() == 1) return v[0].str();
  std::string s = "{ ";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i].str();
  return s + " }";
}

std::vector<Cidr> of_family(const std::vector<Cidr>& v, int family) {
  std::vector<Cidr> out;
  for (const auto& c : v)
    if (c.family == family) out.push_back(c);
  return out;
}

}  // namespace

std::string ruleset(const NetworkPlan& plan, const std::vector<Cidr>& gateways, bool placeholder) {
  std::ostringstream o;
  const char* fam[] = {"ip", "ip6"};
  const int fams[] = {kFamily4, kFamily6};
  o << "table inet " << kTable << " {\n";
  o << "\t# addresses of allowed host names: the DNS filter adds them as it answers, for the answer's TTL\n";
  for (int i = 0; i < 2; ++i)
    o << "\tset names" << (i ? "6" : "4") << " {\n"
      << "\t\ttype " << (i ? "ipv6_addr" : "ipv4_addr") << " . inet_service\n"
      << "\t\tflags timeout\n"
      << "\t\tsize 65536\n"
      << "\t}\n";
  o << "\tchain output {\n"
    << "\t\ttype filter hook output priority filter; policy drop;\n"
    << "\t\toif \"lo\" accept\n"
    << "\t\tct state established,related accept\n"
    << "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } ip6 hoplimit 255 accept\n"
    << "\t\t# the kernel's own multicast listener reports: dropped, not logged\n"
    << "\t\tip6 daddr ff02::/16 icmpv6 type { mld-listener-report, mld2-listener-report } drop\n";
  if (placeholder) {
    o << "\t\tip daddr <the uplink's IPv4 gateway> goto blocked\n"
      << "\t\tip6 daddr <the uplink's IPv6 gateway> goto blocked\n";
  }
  for (int i = 0; i < 2; ++i) {
    auto gw = of_family(gateways, fams[i]);
    if (!gw.empty()) o << "\t\t" << fam[i] << " daddr " << set_text(gw) << " goto blocked\n";
  }
  // Metadata endpoints: closed unless allow_private names the exact address.
  for (const auto& m : metadata_addresses()) {
    bool opened = false;
    for (const auto& p : plan.private_allowed) opened |= p == m;
    if (!opened) o << "\t\t" << (m.family == kFamily4 ? "ip" : "ip6") << " daddr " << m.str() << " goto blocked\n";
  }
  for (int i = 0; i < 2; ++i) {
    auto ok = of_family(plan.private_allowed, fams[i]);
    if (!ok.empty()) o << "\t\t" << fam[i] << " daddr " << set_text(ok) << " goto permit\n";
  }
  for (int i = 0; i < 2; ++i)
    o << "\t\t" << fam[i] << " daddr " << set_text(of_family(denied_ranges(), fams[i])) << " goto blocked\n";
  o << "\t\tgoto permit\n"
    << "\t}\n";
  o << "\tchain permit {\n"
    << "\t\t# DNS only through the jail's own resolver (on loopback)\n"
    << "\t\tmeta l4proto { tcp, udp } th dport 53 goto blocked\n"
    << "\t\tmeta l4proto { tcp, udp } ip daddr . th dport @names4 accept\n"
    << "\t\tmeta l4proto { tcp, udp } ip6 daddr . th dport @names6 accept\n";
  for (const auto& r : plan.rules) {
    if (r.kind != AllowRule::Kind::Address) continue;
    o << "\t\tmeta l4proto { tcp, udp } " << (r.net.family == kFamily4 ? "ip" : "ip6") << " daddr " << r.net.str()
      << " th dport " << r.port << " accept\n";
  }
  o << "\t\tgoto blocked\n"
    << "\t}\n";
  o << "\tchain blocked {\n"
    << "\t\tlimit rate 50/second burst 100 packets log prefix \"mcp-jail blocked \" group " << kLogGroup
    << " snaplen 128\n"
    << "\t\t# a reset fails a connect() at once (an ICMP error can reach the socket while connect() holds it,\n"
    << "\t\t# and then only counts at the next retransmission)\n"
    << "\t\tmeta l4proto tcp reject with tcp reset\n"
    << "\t\treject with icmpx admin-prohibited\n"
    << "\t}\n"
    << "}\n";
  return o.str();
}

// ---- libnftables, loaded on demand ---------------------------------------------

namespace {

constexpr const char* kNftLibrary = "libnftables.so.1";

// The functions install_ruleset() calls, with the header's own types.
struct NftApi {
  decltype(&::nft_ctx_new) ctx_new = nullptr;
  decltype(&::nft_ctx_free) ctx_free = nullptr;
  decltype(&::nft_ctx_buffer_output) ctx_buffer_output = nullptr;
  decltype(&::nft_ctx_buffer_error) ctx_buffer_error = nullptr;
  decltype(&::nft_ctx_get_error_buffer) ctx_get_error_buffer = nullptr;
  decltype(&::nft_run_cmd_from_buffer) run_cmd_from_buffer = nullptr;
};
NftApi nft_api;  // filled while an NftLibrary is alive

template <typename F>
void resolve(void* handle, F& fn, const char* name) {
  fn = reinterpret_cast<F>(::dlsym(handle, name));
  if (!fn) {
    ::dlclose(handle);
    nft_api = {};
    throw LaunchError("network", std::string(kNftLibrary) + " has no function " + name +
                                     "; install a libnftables of nftables 0.9.3 or later");
  }
}

}  // namespace

std::unique_ptr<NftLibrary> NftLibrary::load() {
  void* h = ::dlopen(kNftLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = ::dlerror();
    throw LaunchError("network", std::string("network = \"allowlist\" needs libnftables to install the jail's "
                                             "nftables table, and it cannot be loaded (") +
                                     (why ? why : kNftLibrary) +
                                     "); install it: Debian and Ubuntu: apt-get install libnftables1; "
                                     "Fedora: dnf install nftables");
  }
  resolve(h, nft_api.ctx_new, "nft_ctx_new");
  resolve(h, nft_api.ctx_free, "nft_ctx_free");
  resolve(h, nft_api.ctx_buffer_output, "nft_ctx_buffer_output");
  resolve(h, nft_api.ctx_buffer_error, "nft_ctx_buffer_error");
  resolve(h, nft_api.ctx_get_error_buffer, "nft_ctx_get_error_buffer");
  resolve(h, nft_api.run_cmd_from_buffer, "nft_run_cmd_from_buffer");
  return std::unique_ptr<NftLibrary>(new NftLibrary(h));
}

NftLibrary::~NftLibrary() {
  nft_api = {};
  ::dlclose(handle_);
}

void install_ruleset(const std::string& text) {
  const NftApi& nft = nft_api;
  if (!nft.ctx_new) throw LaunchError("network", std::string(kNftLibrary) + " was not loaded before the jail started");
  nft_ctx* ctx = nft.ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) throw LaunchError("network", "nftables: cannot create a libnftables context");
  nft.ctx_buffer_output(ctx);
  nft.ctx_buffer_error(ctx);
  const int rc = nft.run_cmd_from_buffer(ctx, text.c_str());
  std::string err = nft.ctx_get_error_buffer(ctx) ? nft.ctx_get_error_buffer(ctx) : "";
  nft.ctx_free(ctx);
  if (rc != 0) {
    while (!err.empty() && err.back() == '\n') err.pop_back();
    throw LaunchError("network", "cannot install the nftables table in the jail's namespace: " +
                                     (err.empty() ? std::string("unknown error") : err) +
                                     " (the kernel needs nf_tables with the inet family, conntrack, "
                                     "nft_reject_inet and nfnetlink_log)");
  }
}

// ---- set updates --------------------------------------------------------------

struct SetWriter::Impl {
  mnl_socket* nl = nullptr;  // owns the fd
  int fd = -1;
  std::uint32_t seq = 1;
  ~Impl() {
    if (nl) mnl_socket_close(nl);
  }
};

SetWriter::SetWriter(UniqueFd netlink) : impl_(std::make_unique<Impl>()) {
  impl_->nl = mnl_socket_fdopen(netlink.get());
  if (!impl_->nl) throw LaunchError("network", errno_text("netlink socket for nftables sets", errno));
  impl_->fd = netlink.release();
}

SetWriter::~SetWriter() = default;

namespace {

struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};

bool build_set(nftnl_set* s, const char* name, const std::vector<SetElement>& elements, int family) {
  nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
  nftnl_set_set_str(s, NFTNL_SET_NAME, name);
  bool any = false;
  for (const auto& e : elements) {
    if (e.addr.family != family) continue;
    // The key of an "addr . inet_service" element: each field padded to 4 bytes.
    std::uint8_t key[20] = {};
    const std::size_t alen = e.addr.bytes();
    std::memcpy(key, e.addr.addr.data(), alen);
    const std::uint16_t port = htons(e.port);
    std::memcpy(key + alen, &port, 2);
    nftnl_set_elem* el = nftnl_set_elem_alloc();
    if (!el) return false;
    nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, static_cast<std::uint32_t>(alen + 4));
    nftnl_set_elem_set_u64(el, NFTNL_SET_ELEM_TIMEOUT, static_cast<std::uint64_t>(e.timeout_s) * 1000);
    nftnl_set_elem_add(s, el);
    any = true;
  }
  return any;
}

}  // namespace

bool SetWriter::add(const std::vector<SetElement>& elements, std::string* err) {
  if (elements.empty()) return true;
  // Room for the batch markers and every element (key, timeout, attribute headers).
  std::vector<char> buf(1024 + elements.size() * 128);
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  std::uint32_t& seq = impl_->seq;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  std::vector<std::uint32_t> expect;
  for (int fam : {kFamily4, kFamily6}) {
    std::unique_ptr<nftnl_set, SetFree> set(nftnl_set_alloc());
    if (!set) {
      mnl_nlmsg_batch_stop(batch);
      *err = "out of memory";
      return false;
    }
    if (!build_set(set.get(), fam == kFamily4 ? "names4" : "names6", elements, fam)) continue;
    // No NLM_F_EXCL: an element already there gets the new timeout.
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWSETELEM,
                                          NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    expect.push_back(seq++);
    mnl_nlmsg_batch_next(batch);
  }
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  const ssize_t sent = mnl_socket_sendto(impl_->nl, mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
  mnl_nlmsg_batch_stop(batch);
  if (sent < 0) {
    *err = errno_text("send to nf_tables", errno);
    return false;
  }
  // nf_tables handles a batch inside sendmsg(): the acknowledgements are
  // queued by now, so reading them never waits.
  char ack[8192];
  std::size_t acked = 0;
  while (acked < expect.size()) {
    const ssize_t n = ::recv(impl_->fd, ack, sizeof ack, MSG_DONTWAIT);
    if (n < 0) {
      *err = errno == EAGAIN ? "nf_tables did not acknowledge the update" : errno_text("receive from nf_tables", errno);
      return false;
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(ack); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (e->error != 0) {
        *err = "nf_tables refused the set update: " + std::string(std::strerror(-e->error));
        return false;
      }
      ++acked;
    }
  }
  return true;
}

}  // namespace mcpjail::netfilter
