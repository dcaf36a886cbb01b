// networld: the listeners of the network tests' world, run inside a network
// namespace the test created (never on the host's network). Every connection
// and datagram it receives is logged, so a test can tell that a blocked
// attempt never arrived.
//
//   networld [--log FILE] [--ttl SECONDS] SPEC...
//     tcp:ADDR:PORT      accept, write "hello ADDR:PORT\n", close
//     udp:ADDR:PORT      answer every datagram with "pong"
//     dns:ADDR:PORT      a tiny authoritative server (UDP and TCP) for the rr/cname/bulk names
//     rr:NAME=ADDR       an A or AAAA record
//     cname:NAME=TARGET  a CNAME record
//     bulk:NAME=N        N A records 198.18.2.1 ... (large answers: truncation over UDP)
//     blob:ADDR:PORT:MB  accept, send MB megabytes, close (throughput; forks per connection, not logged)
//   ADDR is IPv4 or [IPv6]. Prints "ready" on stdout once every socket is bound.
//   Log lines: "tcp ADDR:PORT PEER", "udp ADDR:PORT PEER", "dns NAME TYPE PEER".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

enum class Kind { Tcp, Udp, DnsUdp, DnsTcp, DnsConn, Blob };
struct Sock {
  int fd;
  Kind kind;
  std::string label;
  std::vector<std::uint8_t> buf;
  long long blob = 0;
};

FILE* g_log = nullptr;
std::uint32_t g_ttl = 60;
std::map<std::string, std::vector<std::vector<std::uint8_t>>> g_a, g_aaaa;
std::map<std::string, std::string> g_cname;

void log_line(const std::string& s) {
  if (!g_log) return;
  std::fprintf(g_log, "%s\n", s.c_str());
  std::fflush(g_log);
}

std::string peer_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

int bind_socket(const std::string& spec, int type) {
  // ADDR:PORT or [ADDR]:PORT
  const auto colon = spec.rfind(':');
  std::string addr = spec.substr(0, colon);
  const int port = std::stoi(spec.substr(colon + 1));
  if (!addr.empty() && addr.front() == '[') addr = addr.substr(1, addr.size() - 2);
  sockaddr_storage ss{};
  socklen_t len;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *s4;
  } else if (::inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *s6;
  } else {
    std::fprintf(stderr, "networld: bad address %s\n", spec.c_str());
    std::exit(2);
  }
  const int fd = ::socket(ss.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || (type == SOCK_STREAM && ::listen(fd, 64) != 0)) {
    std::fprintf(stderr, "networld: bind %s: %s\n", spec.c_str(), std::strerror(errno));
    std::exit(2);
  }
  return fd;
}

void put16(std::vector<std::uint8_t>& o, unsigned v) {
  o.push_back(static_cast<std::uint8_t>(v >> 8));
  o.push_back(static_cast<std::uint8_t>(v));
}

void put_name(std::vector<std::uint8_t>& o, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    o.push_back(static_cast<std::uint8_t>(dot - start));
    o.insert(o.end(), name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  o.push_back(0);
}

// Answers a query; empty when it is not one.
std::vector<std::uint8_t> answer(const std::uint8_t* q, std::size_t n, bool tcp, const std::string& peer) {
  if (n < 12 || (q[2] & 0x80)) return {};
  std::size_t p = 12;
  std::string name;
  while (p < n && q[p] != 0) {
    const std::size_t l = q[p];
    if (l > 63 || p + 1 + l > n) return {};
    if (!name.empty()) name += '.';
    for (std::size_t i = 0; i < l; ++i) name += static_cast<char>(std::tolower(q[p + 1 + i]));
    p += 1 + l;
  }
  if (p + 5 > n) return {};
  const std::size_t qend = p + 5;
  const unsigned qtype = (q[p + 1] << 8) | q[p + 2];
  std::size_t limit = tcp ? 65535 : 512;
  // An OPT record in the additional section: the client's payload size.
  if (((q[10] << 8) | q[11]) >= 1 && qend + 11 <= n && q[qend] == 0 && ((q[qend + 1] << 8) | q[qend + 2]) == 41)
    limit = tcp ? 65535 : std::max<std::size_t>(512, (q[qend + 3] << 8) | q[qend + 4]);
  log_line("dns " + name + " " + std::to_string(qtype) + " " + peer);

  std::vector<std::vector<std::uint8_t>> rrs;
  std::string cur = name;
  bool known = g_a.count(cur) || g_aaaa.count(cur) || g_cname.count(cur);
  for (int hops = 0; hops < 8 && g_cname.count(cur); ++hops) {
    std::vector<std::uint8_t> rr;
    put_name(rr, cur);
    put16(rr, 5);
    put16(rr, 1);
    put16(rr, g_ttl >> 16);
    put16(rr, g_ttl & 0xFFFF);
    std::vector<std::uint8_t> target;
    put_name(target, g_cname[cur]);
    put16(rr, static_cast<unsigned>(target.size()));
    rr.insert(rr.end(), target.begin(), target.end());
    rrs.push_back(rr);
    cur = g_cname[cur];
  }
  const auto& table = qtype == 28 ? g_aaaa : g_a;
  if ((qtype == 1 || qtype == 28) && table.count(cur))
    for (const auto& addr : table.at(cur)) {
      std::vector<std::uint8_t> rr;
      put_name(rr, cur);
      put16(rr, qtype);
      put16(rr, 1);
      put16(rr, g_ttl >> 16);
      put16(rr, g_ttl & 0xFFFF);
      put16(rr, static_cast<unsigned>(addr.size()));
      rr.insert(rr.end(), addr.begin(), addr.end());
      rrs.push_back(rr);
    }
  std::vector<std::uint8_t> out(q, q + qend);
  out[2] = static_cast<std::uint8_t>(0x84 | (q[2] & 0x01));  // QR, AA, RD copied
  out[3] = known ? 0 : 3;
  out[10] = out[11] = 0;
  std::size_t size = out.size();
  for (const auto& rr : rrs) size += rr.size();
  if (size > limit) {
    out[2] |= 0x02;  // TC, no answers
    out[6] = out[7] = 0;
    return out;
  }
  out[6] = static_cast<std::uint8_t>(rrs.size() >> 8);
  out[7] = static_cast<std::uint8_t>(rrs.size());
  for (const auto& rr : rrs) out.insert(out.end(), rr.begin(), rr.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGCHLD, SIG_IGN);  // blob senders reap themselves
  std::vector<Sock> socks;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--log" && i + 1 < argc) {
      g_log = std::fopen(argv[++i], "a");
      continue;
    }
    if (a == "--ttl" && i + 1 < argc) {
      g_ttl = static_cast<std::uint32_t>(std::stoul(argv[++i]));
      continue;
    }
    const auto colon = a.find(':');
    const std::string kind = a.substr(0, colon), rest = a.substr(colon + 1);
    if (kind == "tcp") socks.push_back({bind_socket(rest, SOCK_STREAM), Kind::Tcp, rest, {}});
    else if (kind == "udp") socks.push_back({bind_socket(rest, SOCK_DGRAM), Kind::Udp, rest, {}});
    else if (kind == "blob") {
      const auto c = rest.rfind(':');
      socks.push_back({bind_socket(rest.substr(0, c), SOCK_STREAM), Kind::Blob, rest.substr(0, c), {},
                       std::stoll(rest.substr(c + 1)) << 20});
    }
    else if (kind == "dns") {
      socks.push_back({bind_socket(rest, SOCK_DGRAM), Kind::DnsUdp, rest, {}});
      socks.push_back({bind_socket(rest, SOCK_STREAM), Kind::DnsTcp, rest, {}});
    } else if (kind == "rr" || kind == "cname" || kind == "bulk") {
      const auto eq = rest.find('=');
      const std::string name = rest.substr(0, eq), value = rest.substr(eq + 1);
      if (kind == "cname") {
        g_cname[name] = value;
      } else if (kind == "bulk") {
        for (int k = 1; k <= std::stoi(value); ++k) g_a[name].push_back({198, 18, 2, static_cast<std::uint8_t>(k)});
      } else {
        std::uint8_t buf[16];
        if (::inet_pton(AF_INET, value.c_str(), buf) == 1) g_a[name].emplace_back(buf, buf + 4);
        else if (::inet_pton(AF_INET6, value.c_str(), buf) == 1) g_aaaa[name].emplace_back(buf, buf + 16);
      }
    } else {
      std::fprintf(stderr, "networld: unknown spec %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& s : socks) fds.push_back({s.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    std::vector<Sock> added;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Sock& s = socks[i];
      sockaddr_storage ss{};
      socklen_t sl = sizeof ss;
      std::uint8_t buf[4096];
      switch (s.kind) {
        case Kind::Tcp: {
          const int c = ::accept4(s.fd, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_CLOEXEC);
          if (c < 0) break;
          log_line("tcp " + s.label + " " + peer_text(ss));
          const std::string hello = "hello " + s.label + "\n";
          (void)!::write(c, hello.data(), hello.size());
          ::close(c);
          break;
        }
        case Kind::Blob: {
          const int c = ::accept4(s.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) break;
          if (::fork() == 0) {
            static char block[1 << 16];
            for (long long left = s.blob; left > 0;) {
              const ssize_t n = ::write(c, block, static_cast<std::size_t>(std::min<long long>(left, sizeof block)));
              if (n <= 0) break;
              left -= n;
            }
            ::_exit(0);
          }
          ::close(c);
          break;
        }
        case Kind::Udp: {
          const ssize_t n = ::recvfrom(s.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
          if (n < 0) break;
          log_line("udp " + s.label + " " + peer_text(ss));
          ::sendto(s.fd, "pong", 4, 0, reinterpret_cast<sockaddr*>(&ss), sl);
          break;
        }
        case Kind::DnsUdp: {
          const ssize_t n = ::recvfrom(s.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
          if (n < 0) break;
          auto out = answer(buf, static_cast<std::size_t>(n), false, peer_text(ss));
          if (!out.empty()) ::sendto(s.fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl);
          break;
        }
        case Kind::DnsTcp: {
          const int c = ::accept4(s.fd, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (c >= 0) added.push_back({c, Kind::DnsConn, peer_text(ss), {}});
          break;
        }
        case Kind::DnsConn: {
          const ssize_t n = ::read(s.fd, buf, sizeof buf);
          if (n <= 0) {
            ::close(s.fd);
            s.fd = -1;
            break;
          }
          s.buf.insert(s.buf.end(), buf, buf + n);
          while (s.buf.size() >= 2 && s.buf.size() >= 2u + ((s.buf[0] << 8) | s.buf[1])) {
            const std::size_t len = (s.buf[0] << 8) | s.buf[1];
            auto out = answer(s.buf.data() + 2, len, true, s.label);
            s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(2 + len));
            if (out.empty()) continue;
            std::vector<std::uint8_t> framed;
            put16(framed, static_cast<unsigned>(out.size()));
            framed.insert(framed.end(), out.begin(), out.end());
            ::fcntl(s.fd, F_SETFL, 0);
            (void)!::write(s.fd, framed.data(), framed.size());
            ::fcntl(s.fd, F_SETFL, O_NONBLOCK);
          }
          break;
        }
      }
    }
    std::erase_if(socks, [](const Sock& s) { return s.fd < 0; });
    socks.insert(socks.end(), added.begin(), added.end());
  }
}
