// `mcp-jail probe`, outside the jail: canaries a hostile server would go for
// (a secret in $HOME, an environment variable, an inherited fd, listeners on
// the host's loopback and in the abstract socket namespace), the battery
// (battery.cc) launched in a jail built from the profile, and the report.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mcpjail/audit.hpp"
#include "mcpjail/errors.hpp"
#include "mcpjail/frontends/cli.hpp"
#include "mcpjail/frontends/probe.hpp"
#include "mcpjail/launch.hpp"
#include "mcpjail/netfilter.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::probe {

namespace {

using nlohmann::json;

// Listeners the battery must not reach; they count what connects.
class Listeners {
 public:
  Listeners(const std::string& abstract_name) {
    tcp_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (!tcp_ || ::bind(tcp_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(tcp_.get(), 8) != 0 ||
        ::getsockname(tcp_.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw LaunchError("probe", errno_text("cannot listen on 127.0.0.1", errno));
    port_ = ntohs(a.sin_port);
    // On every address as well (IPv4 and IPv6, one port): what reaches one of
    // the host's own addresses arrives here.
    any_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in any{};
    any.sin_family = AF_INET;
    len = sizeof any;
    if (!any_ || ::bind(any_.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 || ::listen(any_.get(), 8) != 0 ||
        ::getsockname(any_.get(), reinterpret_cast<sockaddr*>(&any), &len) != 0)
      throw LaunchError("probe", errno_text("cannot listen on 0.0.0.0", errno));
    any_port_ = ntohs(any.sin_port);
    any6_.reset(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    any6.sin6_port = any.sin_port;
    const int one = 1;
    if (any6_ && (::setsockopt(any6_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0 ||
                  ::bind(any6_.get(), reinterpret_cast<sockaddr*>(&any6), sizeof any6) != 0 || ::listen(any6_.get(), 8) != 0))
      any6_.reset();  // no IPv6 here: the IPv6 attempts find nothing either way
    unix_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un u{};
    u.sun_family = AF_UNIX;
    std::memcpy(u.sun_path + 1, abstract_name.data(), abstract_name.size());
    const socklen_t ulen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
    if (!unix_ || ::bind(unix_.get(), reinterpret_cast<sockaddr*>(&u), ulen) != 0 || ::listen(unix_.get(), 8) != 0)
      throw LaunchError("probe", errno_text("cannot listen on an abstract unix socket", errno));
  }
  int port() const { return port_; }
  int any_port() const { return any_port_; }
  int connections() {
    for (int fd : {tcp_.get(), unix_.get(), any_.get(), any6_.get()}) {
      if (fd < 0) continue;
      int c;
      while ((c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
        ::close(c);
        ++count_;
      }
    }
    return count_;
  }

 private:
  UniqueFd tcp_, unix_, any_, any6_;
  int port_ = 0, any_port_ = 0;
  int count_ = 0;
};

}  // namespace

std::vector<Attempt> parse_results(const std::string& output) {
  std::vector<Attempt> out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      out.push_back({"unparseable output from the battery", "probe", false, line.substr(0, 200)});
      continue;
    }
    out.push_back({j.value("name", "?"), j.value("category", "?"), j.value("contained", false), j.value("detail", "")});
  }
  return out;
}

int probe_command(const cli::Arguments& args) {
  const Invocation original = cli::invocation(args);
  const Profile profile = load_profile(original.profile, original.load);
  Invocation inv = original;
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw LaunchError("probe", errno_text("cannot find the mcp-jail binary", errno));
  const std::string exe(self, static_cast<std::size_t>(n));
  const std::string id = random_hex(6);

  // Canaries: a secret in $HOME, a secret-looking environment variable, an
  // inherited fd, and listeners on the host's loopback and abstract namespace.
  const std::string home = inv.load.home;
  const std::string canary = home + "/.mcpjail-probe-canary-" + id;
  UniqueFd canary_fd(::open(canary.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644));  // not close-on-exec: inherited
  if (!canary_fd) throw LaunchError("probe", errno_text("cannot plant the canary file " + canary, errno));
  struct Cleanup {
    std::string path;
    ~Cleanup() { ::unlink(path.c_str()); }
  } cleanup{canary};
  if (::write(canary_fd.get(), "CANARY-SECRET\n", 14) != 14) throw LaunchError("probe", errno_text("write canary", errno));
  const std::string env_name = "MCPJAIL_PROBE_SECRET_" + id;
  inv.host_env[env_name] = "CANARY-SECRET";
  const std::string abstract_name = "mcpjail-probe-" + id;
  Listeners listeners(abstract_name);

  json host_addrs = json::array();
  for (const auto& a : netfilter::host_addresses()) {
    const auto d = netfilter::denied_range_of(a);
    if (d && (d->str() == "127.0.0.0/8" || d->str() == "::/96" || d->str() == "fe80::/10")) continue;  // loopback, link-local
    if (host_addrs.size() < 8) host_addrs.push_back(a.str());
  }
  const json cfg = {{"id", id},         {"home", home},           {"home_canary", canary},
                    {"host_addrs", host_addrs}, {"any_port", listeners.any_port()},
                    {"env_canary", env_name}, {"abstract", abstract_name}, {"tcp_port", listeners.port()},
                    {"self", exe},      {"net_mode", profile.network.mode == NetMode::Host ? "host"
                                                     : profile.network.mode == NetMode::Allowlist ? "allowlist" : "none"}};
  inv.command = {exe, kInsideCommand, cfg.dump()};
  inv.require_command = true;
  Plan plan = make_plan(profile, inv);
  // The battery is mcp-jail itself: let Landlock run it even when the
  // profile's exec.allow names only the real server.
  if (std::find(plan.landlock.exec_allow.begin(), plan.landlock.exec_allow.end(), plan.exe) == plan.landlock.exec_allow.end())
    plan.landlock.exec_allow.push_back(plan.exe);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw LaunchError("probe", errno_text("pipe", errno));
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) throw LaunchError("probe", errno_text("fork", errno));
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    int status = kExitLauncherError;
    try {
      // Pins are checked against the profile's command line, not the battery's.
      status = launch(plan, {.invocation = original, .audit_log = "none", .summary = false});
    } catch (const LaunchError& e) {
      std::fprintf(stderr, "mcp-jail: %s: %s\n", e.layer().c_str(), e.what());
      status = e.exit_code();
    }
    std::fflush(stdout);
    ::_exit(status);
  }
  ::close(out[1]);
  std::string output;
  char buf[4096];
  ssize_t k;
  while ((k = ::read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<std::size_t>(k));
  ::close(out[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  const int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

  auto attempts = parse_results(output);
  if (attempts.empty()) {
    std::fprintf(stderr, "mcp-jail: probe: the battery did not run (exit status %d); nothing to report\n", status);
    return status == 0 ? kExitLauncherError : status;
  }
  const int reached = listeners.connections();
  attempts.push_back({"host-side listeners received connections", "network", reached == 0,
                      std::to_string(reached) + " connection(s) to the probe's own loopback/abstract listeners"});

  int contained = 0;
  std::printf("mcp-jail probe: profile \"%s\" (%s, the server would run as uid %u)\n", plan.profile_name.c_str(),
              plan.id.root_mode ? "root launch" : "rootless", plan.id.uid);
  for (const auto& a : attempts) {
    contained += a.contained;
    std::printf("  %-13s %-12s %-58s %s\n", a.contained ? "contained" : "NOT CONTAINED", a.category.c_str(),
                a.name.c_str(), a.detail.c_str());
  }
  std::printf("%d of %zu attempts contained%s\n", contained, attempts.size(),
              contained == static_cast<int>(attempts.size()) ? "." : ": this profile leaves the holes marked above.");
  return contained == static_cast<int>(attempts.size()) ? 0 : 1;
}

}  // namespace mcpjail::probe
