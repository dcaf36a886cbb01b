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
#include <optional>
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

std::string ruleset(const NetworkPlan& plan) {
  std::ostringstream o;
  const char* fam[] = {"ip", "ip6"};
  const int fams[] = {kFamily4, kFamily6};
  o << "table inet " << kTable << " {\n";
  o << "\t# addresses of allowed host names: the DNS filter adds them as it answers, for the answer's TTL\n";
  for (int i = 0; i < 2; ++i)
    o << "\tset " << kNamesSet[i] << " {\n"
      << "\t\ttype " << (i ? "ipv6_addr" : "ipv4_addr") << " . inet_service\n"
      << "\t\tflags timeout\n"
      << "\t\tsize " << kNamesSetSize << "\n"
      << "\t}\n";
  // Two sets of plain addresses, IPv4 and IPv6, under a comment.
  const auto address_sets = [&o](const char* const names[2], const char* comment) {
    o << comment;
    for (int i = 0; i < 2; ++i)
      o << "\tset " << names[i] << " {\n"
        << "\t\ttype " << (i ? "ipv6_addr" : "ipv4_addr") << "\n"
        << "\t}\n";
  };
  address_sets(kHostSet,
               "\t# this host's own addresses (the uplink would reach them from the host itself): the supervisor\n"
               "\t# reads them at launch and follows their changes while the jail runs\n");
  address_sets(kGatewaySet,
               "\t# the uplink's gateways (pasta would carry what the jail sends there to the host itself): the\n"
               "\t# jail's init adds them once pasta has configured the namespace, before the server starts\n");
  o << "\t# empty until the supervisor has filled " << kHostSet[0] << " and " << kHostSet[1]
    << " (it adds mark 0 in the same transaction)\n"
    << "\tset " << kReadySet << " {\n"
    << "\t\ttype mark\n"
    << "\t}\n";
  // Inbound: only what belongs to a flow the jail started (and passed the
  // output chain with). pasta carries a jail's UDP flow through a host socket
  // bound to the flow's source port on every address, and passes in whatever
  // reaches that socket, from any sender; without this chain the jail's
  // answer would count as "established" and leave unchecked.
  o << "\tchain input {\n"
    << "\t\ttype filter hook input priority filter; policy drop;\n"
    << "\t\tiif \"lo\" accept\n"
    << "\t\tct state established,related accept\n"
    << "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept\n"
    << "\t\t# anything else starts outside: dropped, not logged (the audit log records the jail's own attempts)\n"
    << "\t}\n";
  o << "\tchain output {\n"
    << "\t\ttype filter hook output priority filter; policy drop;\n"
    << "\t\toif \"lo\" accept\n"
    << "\t\tct state established,related accept\n"
    << "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } ip6 hoplimit 255 accept\n"
    << "\t\t# the kernel's own multicast listener reports: dropped, not logged\n"
    << "\t\tip6 daddr ff02::/16 icmpv6 type { mld-listener-report, mld2-listener-report } drop\n"
    << "\t\t# nothing leaves before the host's own addresses are in place\n"
    << "\t\tmeta mark != @" << kReadySet << " goto blocked\n";
  o << "\t\tip daddr @" << kGatewaySet[0] << " goto blocked\n"
    << "\t\tip6 daddr @" << kGatewaySet[1] << " goto blocked\n";
  // allow_private entries that contain a host address are left out of the
  // host sets by the supervisor (host_address_opened()).
  o << "\t\tip daddr @" << kHostSet[0] << " goto blocked\n"
    << "\t\tip6 daddr @" << kHostSet[1] << " goto blocked\n";
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
  if (plan.record)
    o << "\t\t# mcp-jail learn --network: every public address on any port, each new connection logged\n"
      << "\t\tmeta l4proto { tcp, udp } ct state new limit rate 200/second burst 400 packets log prefix \""
      << kLearnedPrefix << "\" group " << kLogGroup << " snaplen 128\n"
      << "\t\tmeta l4proto { tcp, udp } accept\n";
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

// One message of a transaction: elements added to or deleted from one set.
struct SetOp {
  int type = NFT_MSG_NEWSETELEM;  // or NFT_MSG_DELSETELEM
  const char* set = nullptr;
  struct Key {
    std::uint8_t bytes[20] = {};
    std::uint32_t len = 0;
    std::uint64_t timeout_ms = 0;  // 0: none (a set without timeouts)
  };
  std::vector<Key> keys;
};

// The key of an element: the address, and for the name sets the port (each
// field of an "addr . inet_service" key padded to 4 bytes).
SetOp::Key key_of(const Cidr& addr, std::optional<std::uint16_t> port, std::uint64_t timeout_ms) {
  SetOp::Key k;
  const std::size_t alen = addr.bytes();
  std::memcpy(k.bytes, addr.addr.data(), alen);
  k.len = static_cast<std::uint32_t>(alen);
  if (port) {
    const std::uint16_t p = htons(*port);
    std::memcpy(k.bytes + alen, &p, 2);
    k.len += 4;
  }
  k.timeout_ms = timeout_ms;
  return k;
}

// Sends `ops` as one nf_tables transaction (all or nothing) and reads the
// acknowledgements. 0, or the kernel's errno (*err says what).
int run_transaction(SetWriter::Impl& impl, const std::vector<SetOp>& ops, std::string* err) {
  std::size_t keys = 0;
  for (const auto& op : ops) keys += op.keys.size();
  if (keys == 0) return 0;
  // Room for the batch markers and every element (key, timeout, attribute headers).
  std::vector<char> buf(1024 + ops.size() * 256 + keys * 128);
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  std::uint32_t& seq = impl.seq;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  std::vector<std::uint32_t> expect;
  for (const auto& op : ops) {
    if (op.keys.empty()) continue;
    std::unique_ptr<nftnl_set, SetFree> set(nftnl_set_alloc());
    if (!set) {
      mnl_nlmsg_batch_stop(batch);
      *err = "out of memory";
      return ENOMEM;
    }
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, kTable);
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, op.set);
    for (const auto& k : op.keys) {
      nftnl_set_elem* el = nftnl_set_elem_alloc();
      if (!el) {
        mnl_nlmsg_batch_stop(batch);
        *err = "out of memory";
        return ENOMEM;
      }
      nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, k.bytes, k.len);
      if (k.timeout_ms) nftnl_set_elem_set_u64(el, NFTNL_SET_ELEM_TIMEOUT, k.timeout_ms);
      nftnl_set_elem_add(set.get(), el);
    }
    // No NLM_F_EXCL: an element already there is no error (and gets the new timeout).
    const std::uint16_t flags = op.type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE | NLM_F_ACK : NLM_F_ACK;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)),
                                          static_cast<std::uint16_t>(op.type), NFPROTO_INET, flags, seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    expect.push_back(seq++);
    mnl_nlmsg_batch_next(batch);
  }
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  const ssize_t sent = mnl_socket_sendto(impl.nl, mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
  mnl_nlmsg_batch_stop(batch);
  if (sent < 0) {
    const int e = errno;
    *err = errno_text("send to nf_tables", e);
    return e;
  }
  // nf_tables handles a batch inside sendmsg(): the acknowledgements are
  // queued by now, so reading them never waits. An error aborts the whole
  // transaction; read on to the last acknowledgement all the same, so that
  // none is left for the next one.
  char ack[8192];
  std::size_t acked = 0;
  int failed = 0;
  while (acked < expect.size()) {
    const ssize_t n = ::recv(impl.fd, ack, sizeof ack, MSG_DONTWAIT);
    if (n < 0) {
      if (failed) break;  // after an error the kernel may not acknowledge the rest
      const int e = errno;
      *err = e == EAGAIN ? "nf_tables did not acknowledge the update" : errno_text("receive from nf_tables", e);
      return e == EAGAIN ? EIO : e;
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(ack); mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (e->error != 0 && !failed) {
        failed = -e->error;
        *err = "nf_tables refused the set update: " + std::string(std::strerror(failed));
      }
      ++acked;
    }
  }
  return failed;
}

}  // namespace

SetWriter::Result SetWriter::add(const std::vector<SetElement>& elements, std::string* err) {
  std::vector<SetOp> ops(2);
  for (int i = 0; i < 2; ++i) ops[static_cast<std::size_t>(i)].set = kNamesSet[i];
  for (const auto& e : elements)
    ops[e.addr.family == kFamily4 ? 0 : 1].keys.push_back(
        key_of(e.addr, e.port, static_cast<std::uint64_t>(e.timeout_s) * 1000));
  const int rc = run_transaction(*impl_, ops, err);
  if (rc == 0) return Result::Ok;
  // nft_add_set_elem(): a set at its size refuses another element with ENFILE.
  return rc == ENFILE ? Result::Full : Result::Failed;
}

bool SetWriter::update_host(const std::vector<Cidr>& add, const std::vector<Cidr>& remove, bool open,
                            std::string* err) {
  std::vector<SetOp> ops;
  for (int i = 0; i < 2; ++i) {
    SetOp del;
    del.type = NFT_MSG_DELSETELEM;
    del.set = kHostSet[i];
    for (const auto& c : remove)
      if ((c.family == kFamily4) == (i == 0)) del.keys.push_back(key_of(c, std::nullopt, 0));
    ops.push_back(std::move(del));
  }
  for (int i = 0; i < 2; ++i) {
    SetOp ins;
    ins.set = kHostSet[i];
    for (const auto& c : add)
      if ((c.family == kFamily4) == (i == 0)) ins.keys.push_back(key_of(c, std::nullopt, 0));
    ops.push_back(std::move(ins));
  }
  if (open) {
    SetOp gate;
    gate.set = kReadySet;
    gate.keys.push_back(SetOp::Key{{}, 4, 0});  // mark 0: every packet of the jail
    ops.push_back(std::move(gate));
  }
  return run_transaction(*impl_, ops, err) == 0;
}

bool SetWriter::add_gateways(const std::vector<Cidr>& gateways, std::string* err) {
  std::vector<SetOp> ops(2);
  for (int i = 0; i < 2; ++i) ops[static_cast<std::size_t>(i)].set = kGatewaySet[i];
  for (const auto& g : gateways) ops[g.family == kFamily4 ? 0 : 1].keys.push_back(key_of(g, std::nullopt, 0));
  return run_transaction(*impl_, ops, err) == 0;
}

bool SetWriter::close_gate(std::string* err) {
  SetOp gate;
  gate.type = NFT_MSG_DELSETELEM;
  gate.set = kReadySet;
  gate.keys.push_back(SetOp::Key{{}, 4, 0});
  return run_transaction(*impl_, {gate}, err) == 0;
}

}  // namespace mcpjail::netfilter
