// netprobe: network attempts from inside a jail (or, as a control, outside
// one). Every operation prints one line and never fails the program:
//
//   resolve NAME                 getaddrinfo     -> "resolve NAME ok ADDR,ADDR..." | "resolve NAME fail EAI_..."
//   connect HOST PORT            TCP, 3 s        -> "connect HOST PORT ok <greeting>" | "... fail <errno name>"
//   udp ADDR PORT [FROM]         a DNS query datagram (sent from address FROM), 2 s for a reply
//                                                -> "udp ADDR PORT [FROM] ok" | "... fail <errno name|timeout>"
//   udpbind LPORT ADDR PORT      a datagram from local port LPORT (every address) to ADDR:PORT, up to 3
//                                tries of 1 s for the reply; the socket stays open for udpheard
//                                                -> "udpbind LPORT ADDR PORT ok from PEER" | "... fail ..."
//   udpheard MS                  for MS ms, answers every datagram udpbind's sockets receive
//                                                -> "udpheard MS none" | "udpheard MS PEER,PEER..." (senders, once each)
//   dns SERVER NAME TYPE [tcp]   a raw DNS query -> "dns SERVER NAME TYPE [tcp] rcode=N answers=M tc=0|1" | "... fail ..."
//   raw                          socket(AF_INET, SOCK_RAW), socket(AF_PACKET) -> "raw inet ok|fail ERRNO packet ..."
//   nft                          ask nf_tables to delete the jail's table -> "nft ok" | "nft fail ERRNO"
//   unshare                      unshare(CLONE_NEWUSER | CLONE_NEWNET) -> "unshare ok" | "unshare fail ERRNO"
//   sleep MS                     (prints nothing)
//   connects HOST PORT N         N sequential TCP connects (each read to EOF)  -> "connects ... ok N us_per_connect=X"
//   download HOST PORT           read one TCP stream to its end                -> "download ... ok BYTES mb_per_s=X"
//   dnsflood SERVER SUFFIX N     N A queries over UDP, one after the other, for f0.SUFFIX ... f(N-1).SUFFIX
//                                -> "dnsflood ... noerror=A nxdomain=B servfail=C refused=D fail=E ms=F"
//
//   netprobe OP ARGS [; OP ARGS]...   (";" as its own argument separates operations)
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string err_name(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ECONNRESET: return "ECONNRESET";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    default: return "errno" + std::to_string(e);
  }
}

std::string addr_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  if (sa->sa_family == AF_INET6) ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

void resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    const char* n = rc == EAI_NONAME ? "EAI_NONAME" : rc == EAI_AGAIN ? "EAI_AGAIN" : rc == EAI_FAIL ? "EAI_FAIL" : "EAI_OTHER";
    std::printf("resolve %s fail %s\n", name.c_str(), n);
    return;
  }
  std::string list;
  for (addrinfo* a = res; a; a = a->ai_next) {
    if (!list.empty()) list += ',';
    list += addr_text(a->ai_addr);
  }
  ::freeaddrinfo(res);
  std::printf("resolve %s ok %s\n", name.c_str(), list.c_str());
}

// Connects with a deadline; returns 0 or an errno.
int timed_connect(int fd, const sockaddr* sa, socklen_t len, int ms) {
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  if (::connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, ms) <= 0) return ETIMEDOUT;
  int err = 0;
  socklen_t el = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  return err;
}

void connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    std::printf("connect %s %s fail resolve\n", host.c_str(), port.c_str());
    return;
  }
  std::string result = "fail none";
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = "fail " + err_name(errno);
      continue;
    }
    const int e = timed_connect(fd, a->ai_addr, a->ai_addrlen, 3000);
    if (e != 0) {
      result = "fail " + err_name(e);
      ::close(fd);
      continue;
    }
    char buf[256] = {};
    pollfd p{fd, POLLIN, 0};
    std::string greeting;
    if (::poll(&p, 1, 3000) > 0) {
      const ssize_t n = ::read(fd, buf, sizeof buf - 1);
      if (n > 0) greeting.assign(buf, static_cast<std::size_t>(n));
    }
    while (!greeting.empty() && (greeting.back() == '\n' || greeting.back() == '\r')) greeting.pop_back();
    ::close(fd);
    result = "ok " + greeting;
    break;
  }
  ::freeaddrinfo(res);
  std::printf("connect %s %s %s\n", host.c_str(), port.c_str(), result.c_str());
}

bool parse_sockaddr(const std::string& addr, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (::inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *s4;
    return true;
  }
  if (::inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *s6;
    return true;
  }
  return false;
}

std::vector<std::uint8_t> query(const std::string& name, std::uint16_t type) {
  std::vector<std::uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<std::uint8_t>(type >> 8));
  q.push_back(static_cast<std::uint8_t>(type));
  q.push_back(0);
  q.push_back(1);
  return q;
}

void udp(const std::string& addr, const std::string& port, const std::string& from) {
  const std::string key = addr + " " + port + (from.empty() ? "" : " " + from);
  sockaddr_storage ss, src;
  socklen_t len, src_len = 0;
  if (!parse_sockaddr(addr, std::stoi(port), &ss, &len) || (!from.empty() && !parse_sockaddr(from, 0, &src, &src_len))) {
    std::printf("udp %s fail address\n", key.c_str());
    return;
  }
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const auto q = query("probe.test", 1);
  std::string result = "ok";
  if ((src_len && ::bind(fd, reinterpret_cast<sockaddr*>(&src), src_len) != 0) ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::send(fd, q.data(), q.size(), 0) < 0) {
    result = "fail " + err_name(errno);
  } else {
    pollfd p{fd, POLLIN, 0};
    char buf[1500];
    if (::poll(&p, 1, 2000) <= 0) result = "fail timeout";
    else if (::recv(fd, buf, sizeof buf, 0) < 0) result = "fail " + err_name(errno);
  }
  ::close(fd);
  std::printf("udp %s %s\n", key.c_str(), result.c_str());
}

std::vector<int> g_bound;  // udpbind's sockets, for udpheard

void udpbind(const std::string& lport, const std::string& addr, const std::string& port) {
  const std::string key = lport + " " + addr + " " + port;
  sockaddr_storage ss, local;
  socklen_t len, local_len;
  if (!parse_sockaddr(addr, std::stoi(port), &ss, &len) ||
      !parse_sockaddr(ss.ss_family == AF_INET ? "0.0.0.0" : "::", std::stoi(lport), &local, &local_len)) {
    std::printf("udpbind %s fail address\n", key.c_str());
    return;
  }
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  std::string result = "fail timeout";
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), local_len) != 0) result = "fail " + err_name(errno);
  // Three tries, a second each: the uplink may lose the first reply of a
  // flow while it learns the jail's link-layer address.
  for (int attempt = 0; attempt < 3 && result == "fail timeout"; ++attempt) {
    if (::sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      result = "fail " + err_name(errno);
      break;
    }
    pollfd p{fd, POLLIN, 0};
    char buf[1500];
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    if (::poll(&p, 1, 1000) <= 0) continue;
    if (::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len) < 0) result = "fail " + err_name(errno);
    else result = "ok from " + addr_text(reinterpret_cast<sockaddr*>(&peer));
  }
  g_bound.push_back(fd);
  std::printf("udpbind %s %s\n", key.c_str(), result.c_str());
}

void udpheard(int ms) {
  std::vector<std::string> senders;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    std::vector<pollfd> ps;
    for (int fd : g_bound) ps.push_back({fd, POLLIN, 0});
    if (::poll(ps.data(), ps.size(), static_cast<int>(left)) <= 0) continue;
    for (const auto& p : ps) {
      if (!(p.revents & POLLIN)) continue;
      char buf[1500];
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      if (::recvfrom(p.fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), &peer_len) < 0) continue;
      ::sendto(p.fd, "secret", 6, 0, reinterpret_cast<sockaddr*>(&peer), peer_len);  // what a jailed server would answer
      const std::string who = addr_text(reinterpret_cast<sockaddr*>(&peer));
      if (std::find(senders.begin(), senders.end(), who) == senders.end()) senders.push_back(who);
    }
  }
  std::string list;
  for (const auto& w : senders) list += (list.empty() ? "" : ",") + w;
  std::printf("udpheard %d %s\n", ms, list.empty() ? "none" : list.c_str());
}

void dns(const std::string& server, const std::string& name, const std::string& type, bool tcp) {
  std::uint16_t t = type == "A" ? 1 : type == "AAAA" ? 28 : type == "TXT" ? 16 : type == "MX" ? 15 : static_cast<std::uint16_t>(std::stoi(type));
  sockaddr_storage ss;
  socklen_t len;
  if (!parse_sockaddr(server, 53, &ss, &len)) {
    std::printf("dns %s %s %s%s fail address\n", server.c_str(), name.c_str(), type.c_str(), tcp ? " tcp" : "");
    return;
  }
  const int fd = ::socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  auto q = query(name, t);
  std::vector<std::uint8_t> reply;
  std::string fail;
  if (tcp) {
    const int e = timed_connect(fd, reinterpret_cast<sockaddr*>(&ss), len, 3000);
    ::fcntl(fd, F_SETFL, 0);
    std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(q.size() >> 8), static_cast<std::uint8_t>(q.size())};
    framed.insert(framed.end(), q.begin(), q.end());
    if (e != 0) fail = err_name(e);
    else if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) < 0) fail = err_name(errno);
    else {
      std::uint8_t buf[65537];
      std::size_t got = 0;
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, 3000) > 0) {
        const ssize_t n = ::read(fd, buf + got, sizeof buf - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        if (got >= 2 && got >= 2u + ((buf[0] << 8) | buf[1])) break;
      }
      if (got >= 2) reply.assign(buf + 2, buf + got);
      else fail = "timeout";
    }
  } else if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::send(fd, q.data(), q.size(), 0) < 0) {
    fail = err_name(errno);
  } else {
    pollfd p{fd, POLLIN, 0};
    std::uint8_t buf[4096];
    if (::poll(&p, 1, 3000) <= 0) fail = "timeout";
    else {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0) fail = err_name(errno);
      else reply.assign(buf, buf + n);
    }
  }
  ::close(fd);
  if (!fail.empty() || reply.size() < 12) {
    std::printf("dns %s %s %s%s fail %s\n", server.c_str(), name.c_str(), type.c_str(), tcp ? " tcp" : "",
                fail.empty() ? "short" : fail.c_str());
    return;
  }
  std::printf("dns %s %s %s%s rcode=%d answers=%d tc=%d\n", server.c_str(), name.c_str(), type.c_str(),
              tcp ? " tcp" : "", reply[3] & 0x0F,
              (reply[6] << 8) | reply[7], (reply[2] & 0x02) ? 1 : 0);
}

// One UDP query; the reply's rcode, or -1 (no reply in 2 s, or an error).
int one_query(const sockaddr_storage& ss, socklen_t len, const std::string& name) {
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const auto q = query(name, 1);
  int rc = -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0 && ::send(fd, q.data(), q.size(), 0) >= 0) {
    pollfd p{fd, POLLIN, 0};
    std::uint8_t buf[4096];
    if (::poll(&p, 1, 2000) > 0) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n >= 12) rc = buf[3] & 0x0F;
    }
  }
  ::close(fd);
  return rc;
}

void dnsflood(const std::string& server, const std::string& suffix, int n) {
  sockaddr_storage ss;
  socklen_t len;
  if (!parse_sockaddr(server, 53, &ss, &len)) {
    std::printf("dnsflood %s %s %d fail address\n", server.c_str(), suffix.c_str(), n);
    return;
  }
  int counts[6] = {};  // noerror, nxdomain, servfail, refused, fail, other
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const int rc = one_query(ss, len, "f" + std::to_string(i) + "." + suffix);
    ++counts[rc == 0 ? 0 : rc == 3 ? 1 : rc == 2 ? 2 : rc == 5 ? 3 : rc < 0 ? 4 : 5];
  }
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("dnsflood %s %s %d noerror=%d nxdomain=%d servfail=%d refused=%d fail=%d ms=%lld\n", server.c_str(),
              suffix.c_str(), n, counts[0], counts[1], counts[2], counts[3], counts[4], ms);
}

void raw() {
  int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  std::string r = fd >= 0 ? "ok" : "fail " + err_name(errno);
  if (fd >= 0) ::close(fd);
  fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  std::string p = fd >= 0 ? "ok" : "fail " + err_name(errno);
  if (fd >= 0) ::close(fd);
  std::printf("raw inet %s packet %s\n", r.c_str(), p.c_str());
}

// One connection to a numeric address, read to EOF; returns bytes or -errno.
long long one_stream(const sockaddr* sa, socklen_t len) {
  const int fd = ::socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int e = timed_connect(fd, sa, len, 3000);
  if (e != 0) {
    ::close(fd);
    return -e;
  }
  ::fcntl(fd, F_SETFL, 0);
  static char buf[1 << 20];
  long long total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    total += n;
  }
  ::close(fd);
  return total;
}

bool resolve_one(const std::string& host, const std::string& port, sockaddr_storage* ss, socklen_t* len) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return false;
  std::memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return true;
}

void connects(const std::string& host, const std::string& port, int n) {
  sockaddr_storage ss;
  socklen_t len;
  if (!resolve_one(host, port, &ss, &len)) {
    std::printf("connects %s %s %d fail resolve\n", host.c_str(), port.c_str(), n);
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const long long r = one_stream(reinterpret_cast<sockaddr*>(&ss), len);
    if (r < 0) {
      std::printf("connects %s %s %d fail %s\n", host.c_str(), port.c_str(), n, err_name(static_cast<int>(-r)).c_str());
      return;
    }
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  std::printf("connects %s %s %d ok %d us_per_connect=%.1f\n", host.c_str(), port.c_str(), n, n, us);
}

void download(const std::string& host, const std::string& port) {
  sockaddr_storage ss;
  socklen_t len;
  if (!resolve_one(host, port, &ss, &len)) {
    std::printf("download %s %s fail resolve\n", host.c_str(), port.c_str());
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const long long r = one_stream(reinterpret_cast<sockaddr*>(&ss), len);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r < 0) std::printf("download %s %s fail %s\n", host.c_str(), port.c_str(), err_name(static_cast<int>(-r)).c_str());
  else std::printf("download %s %s ok %lld mb_per_s=%.1f\n", host.c_str(), port.c_str(), r, r / s / 1e6);
}

void put_msg(std::vector<std::uint8_t>& buf, std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
             std::uint16_t res_id, const std::vector<std::uint8_t>& attrs) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + attrs.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  h.nlmsg_seq = seq;
  nfgenmsg g{};
  g.nfgen_family = NFPROTO_INET;
  g.version = NFNETLINK_V0;
  g.res_id = htons(res_id);
  const auto* hp = reinterpret_cast<const std::uint8_t*>(&h);
  buf.insert(buf.end(), hp, hp + NLMSG_HDRLEN);
  const auto* gp = reinterpret_cast<const std::uint8_t*>(&g);
  buf.insert(buf.end(), gp, gp + sizeof g);
  buf.resize(buf.size() + NLMSG_ALIGN(sizeof g) - sizeof g);
  buf.insert(buf.end(), attrs.begin(), attrs.end());
}

void nft() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    std::printf("nft fail %s\n", err_name(errno).c_str());
    return;
  }
  // batch begin, delete table inet mcpjail, batch end. The one attribute,
  // NFTA_TABLE_NAME, padded to 4 bytes: sized up front (resizing the vector
  // to its padded length made GCC 12 at -O3 warn falsely, -Warray-bounds).
  const char name[] = "mcpjail";
  constexpr std::uint16_t alen = 4 + sizeof name;
  std::vector<std::uint8_t> attrs(NLMSG_ALIGN(alen), 0);
  attrs[0] = static_cast<std::uint8_t>(alen);
  attrs[1] = static_cast<std::uint8_t>(alen >> 8);
  attrs[2] = NFTA_TABLE_NAME;
  std::memcpy(attrs.data() + 4, name, sizeof name);
  std::vector<std::uint8_t> buf;
  put_msg(buf, NFNL_MSG_BATCH_BEGIN, 0, 1, NFNL_SUBSYS_NFTABLES, {});
  put_msg(buf, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE, NLM_F_ACK, 2, 0, attrs);
  put_msg(buf, NFNL_MSG_BATCH_END, 0, 3, NFNL_SUBSYS_NFTABLES, {});
  std::string result = "ok";
  if (::send(fd, buf.data(), buf.size(), 0) < 0) {
    result = "fail " + err_name(errno);
  } else {
    pollfd p{fd, POLLIN, 0};
    std::uint8_t in[8192];
    if (::poll(&p, 1, 2000) <= 0) {
      result = "fail timeout";
    } else {
      const ssize_t n = ::recv(fd, in, sizeof in, 0);
      if (n >= static_cast<ssize_t>(NLMSG_HDRLEN + sizeof(nlmsgerr))) {
        const auto* h = reinterpret_cast<const nlmsghdr*>(in);
        const auto* e = reinterpret_cast<const nlmsgerr*>(in + NLMSG_HDRLEN);
        if (h->nlmsg_type == NLMSG_ERROR && e->error != 0) result = "fail " + err_name(-e->error);
      }
    }
  }
  ::close(fd);
  std::printf("nft %s\n", result.c_str());
}

void unshare_ns() {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) std::printf("unshare ok\n");
  else std::printf("unshare fail %s\n", err_name(errno).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::vector<std::string>> ops(1);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == ";") ops.emplace_back();
    else ops.back().push_back(argv[i]);
  }
  for (const auto& op : ops) {
    if (op.empty()) continue;
    const std::string& o = op[0];
    if (o == "resolve" && op.size() == 2) resolve(op[1]);
    else if (o == "connect" && op.size() == 3) connect_to(op[1], op[2]);
    else if (o == "udp" && (op.size() == 3 || op.size() == 4)) udp(op[1], op[2], op.size() == 4 ? op[3] : "");
    else if (o == "udpbind" && op.size() == 4) udpbind(op[1], op[2], op[3]);
    else if (o == "udpheard" && op.size() == 2) udpheard(std::stoi(op[1]));
    else if (o == "dns" && (op.size() == 4 || op.size() == 5)) dns(op[1], op[2], op[3], op.size() == 5);
    else if (o == "raw") raw();
    else if (o == "nft") nft();
    else if (o == "connects" && op.size() == 4) connects(op[1], op[2], std::stoi(op[3]));
    else if (o == "download" && op.size() == 3) download(op[1], op[2]);
    else if (o == "dnsflood" && op.size() == 4) dnsflood(op[1], op[2], std::stoi(op[3]));
    else if (o == "unshare") unshare_ns();
    else if (o == "sleep" && op.size() == 2) ::usleep(static_cast<useconds_t>(std::stoi(op[1])) * 1000);
    else std::printf("%s usage\n", o.c_str());
  }
  return 0;
}
