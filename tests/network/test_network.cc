// network = "allowlist" end to end: real jails, as root and rootless, in a
// test world of network namespaces this test creates (tests/network/world.sh).
// The launcher itself runs inside the world's "host" namespace, so every
// address a jail can try, allowed or not, is a listener of this test: a hole
// in the jail would hit our own socket and show up in its log, never the
// outside. Needs root (to build the world), pasta and iproute2; skipped
// (exit 77) otherwise.
#include <dlfcn.h>
#include <link.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "../integration/harness.hpp"
#include "../support/files.hpp"
#include "../support/process.hpp"
#include "../support/skip.hpp"
#include "mcpjail/netfilter.hpp"

using namespace it;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using support::Child;
using support::Io;
using support::lines;
using support::slurp;

// stdin on /dev/null; stdout captured or to /dev/null; stderr the test's own.
Child start(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool capture) {
  support::SpawnOptions o;
  o.in = Io::null();
  o.out = capture ? Io::pipe() : Io::null();
  o.err = Io::inherit();
  return Child(argv, env, std::move(o));
}

// The test world: namespaces NAME-h ("the host") and NAME-w ("the internet"),
// their listeners, and checks that it is up before any probe runs.
class World {
 public:
  World() {
    name_ = "mjt" + std::to_string(::getpid() % 100000);
    char tmpl[] = "/tmp/mcpjail-net-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::chmod(dir_.c_str(), 0755);
    netprobe_ = dir_ + "/netprobe";
    fs::copy_file(NETPROBE_BIN, netprobe_);
    ::chmod(netprobe_.c_str(), 0755);
    sh({WORLD_SH, "down", name_});
    if (sh({WORLD_SH, "up", name_}) != 0) {
      sh({WORLD_SH, "down", name_});
      throw std::runtime_error("cannot build the test world (world.sh up failed)");
    }
    world_ = serve(name_ + "-w", dir_ + "/world.log",
                   {"tcp:198.18.1.10:8443", "tcp:[2001:db8:18:1::10]:8443", "tcp:198.18.1.10:9999",
                    "tcp:198.18.1.20:8443", "tcp:198.18.1.66:8443", "tcp:[2001:db8:18:1::66]:8443",
                    "tcp:198.18.0.1:8443", "tcp:[2001:db8:18::1]:8443", "tcp:169.254.169.254:80",
                    "tcp:169.254.169.254:8443", "tcp:[fd00:ec2::254]:80", "udp:198.18.1.66:53",
                    "udp:198.18.1.66:8443", "dns:198.18.1.53:53", "rr:api.test=198.18.1.10",
                    "rr:api.test=2001:db8:18:1::10", "rr:c2.test=198.18.1.66", "rr:a.svc.test=198.18.1.10",
                    "rr:svc.test=198.18.1.10", "rr:rebind.svc.test=169.254.169.254", "bulk:many.svc.test=100",
                    "cname:alias.svc.test=api.test",
                    // for the built-in fetch profile and `mcp-jail probe`
                    "tcp:198.18.1.10:80", "tcp:198.18.1.10:443", "tcp:198.18.1.66:443", "tcp:10.18.1.10:443",
                    "tcp:192.0.2.1:443", "tcp:198.18.0.1:22", "rr:www.test=198.18.1.10", "rr:intranet.test=10.18.1.10",
                    // the host's own addresses (world.sh) behind allowed names, and answers in closed ranges
                    "tcp:198.18.1.10:8444", "tcp:[2001:db8:18:1::10]:8444", "tcp:198.18.3.10:8444",
                    "rr:self.test=198.18.3.2", "rr:self.test=2001:db8:18:3::2", "rr:compat.svc.test=::10.0.0.5",
                    "rr:intranet.svc.test=10.18.1.10",
                    // allowed UDP peers (a jail's datagrams and their replies)
                    "udp:198.18.1.10:8443", "udp:[2001:db8:18:1::10]:8443"});
    // The host's services: on its loopback, on its first address, and on every address (0.0.0.0 and ::).
    host_ = serve(name_ + "-h", dir_ + "/host.log",
                  {"tcp:127.0.0.1:8443", "tcp:[::1]:8443", "tcp:198.18.0.2:8443", "tcp:0.0.0.0:8444", "tcp:[::]:8444"});
    // Positive controls, from the host namespace without a jail: the world answers.
    const auto c = control({"connect", "198.18.1.10", "8443", ";", "dns", "198.18.1.53", "api.test", "A", ";",
                            "connect", "127.0.0.1", "8443", ";", "connect", "198.18.1.66", "8443"});
    if (c.size() != 4 || c[0] != "connect 198.18.1.10 8443 ok hello 198.18.1.10:8443" ||
        c[1] != "dns 198.18.1.53 api.test A rcode=0 answers=1 tc=0" || c[2].find("ok hello 127.0.0.1:8443") == std::string::npos ||
        c[3].find(" ok hello") == std::string::npos) {
      std::string got;
      for (const auto& l : c) got += l + "\n";
      cleanup();
      throw std::runtime_error("the test world is not up; its positive controls gave:\n" + got);
    }
    baseline_world_ = lines(slurp(dir_ + "/world.log")).size();
    baseline_host_ = lines(slurp(dir_ + "/host.log")).size();
  }
  ~World() { cleanup(); }
  void cleanup() {
    world_.reset();  // killed and reaped
    host_.reset();
    if (!name_.empty()) sh({WORLD_SH, "down", name_});
    name_.clear();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
    dir_.clear();
  }
  const std::string& netprobe() const { return netprobe_; }
  std::string host_ns() const { return "/run/netns/" + name_ + "-h"; }
  std::string world_ns() const { return "/run/netns/" + name_ + "-w"; }
  // netprobe with `ops` (";" between operations) in the namespace `ns`, outside any jail; not waited for.
  Child probe_in(const std::string& ns, const std::vector<std::string>& ops) const {
    std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=" + ns, "--", netprobe_};
    argv.insert(argv.end(), ops.begin(), ops.end());
    return start(argv, {"PATH=/usr/bin:/bin"}, true);
  }
  // ip addr add|del ADDR dev lo in the host namespace.
  int host_address(const std::string& verb, const std::string& addr) const {
    const char* ip = ::access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : ::access("/sbin/ip", X_OK) == 0 ? "/sbin/ip" : "/usr/bin/ip";
    return start({ip, "-n", name_ + "-h", "addr", verb, addr, "dev", "lo"}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, false)
        .wait(10s)
        .status;
  }
  std::size_t world_log_size() const { return world_log().size(); }
  // Forget what the host's listeners logged so far.
  void reset_host_log() { baseline_host_ = lines(slurp(dir_ + "/host.log")).size(); }
  // Log lines written since the controls.
  std::vector<std::string> world_log() const {
    auto l = lines(slurp(dir_ + "/world.log"));
    return {l.begin() + static_cast<std::ptrdiff_t>(std::min(baseline_world_, l.size())), l.end()};
  }
  std::vector<std::string> host_log() const {
    auto l = lines(slurp(dir_ + "/host.log"));
    return {l.begin() + static_cast<std::ptrdiff_t>(std::min(baseline_host_, l.size())), l.end()};
  }

 private:
  static int sh(const std::vector<std::string>& argv) {
    return start({"/bin/sh", argv[0], argv[1], argv[2]}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, false).wait(30s).status;
  }
  std::optional<Child> serve(const std::string& ns, const std::string& log, std::vector<std::string> specs) {
    std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=/run/netns/" + ns, "--", NETWORLD_BIN, "--log", log,
                                     "--ttl", "60"};
    argv.insert(argv.end(), specs.begin(), specs.end());
    Child p = start(argv, {"PATH=/usr/bin:/bin"}, true);
    const auto ready = p.read_line(5s);
    if (ready != "ready") throw std::runtime_error("a test world server did not start in " + ns);
    p.close_stdout();
    return p;
  }
  std::vector<std::string> control(const std::vector<std::string>& ops) const { return lines(probe_in(host_ns(), ops).wait(30s).out); }

  std::string name_, dir_, netprobe_;
  std::optional<Child> world_, host_;  // the listeners
  std::size_t baseline_world_ = 0, baseline_host_ = 0;
};

// Why the network tests cannot run here; "" when they can.
std::string missing_prerequisite() {
  if (::geteuid() != 0) return "network tests need root (they build network namespaces)";
  if (::access("/usr/bin/pasta", X_OK) != 0 || ::access("/usr/bin/nsenter", X_OK) != 0 ||
      support::find_program({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"}).empty())
    return "network tests need pasta (passt), nsenter and ip (iproute2)";
  return "";
}

#define REQUIRE_NETWORK_WORLD()                                             \
  do {                                                                      \
    if (const std::string why = missing_prerequisite(); !why.empty()) SKIP_TEST(why); \
  } while (0)

// A test in the world: built once (the test is skipped where it cannot be),
// then `body` for each launch mode with a scratch directory of its user.
void in_each_mode(const std::function<void(World&, Mode, const TempDir&)>& body) {
  REQUIRE_NETWORK_WORLD();
  World w;
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
    body(w, m, td);
  }
}

// An allowlist profile named `name` extending base, with these lines of
// [network] after its mode.
std::string allowlist_profile(const std::string& name, const std::string& network) {
  return "version = 1\nname = \"" + name + "\"\nextends = \"base\"\n[network]\nmode = \"allowlist\"\n" + network;
}

const std::string kProfile = allowlist_profile("net-it", R"(allow = ["api.test:8443", "*.svc.test:8443", "198.18.1.20/32:8443"]
dns = ["198.18.1.53"]
)");

// The launcher inside the world's host namespace, as `m`'s user.
std::vector<std::string> jail_argv(const World& w, Mode m, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=" + w.host_ns(), "--"};
  auto l = Harness::get().launcher_argv(m, args);
  argv.insert(argv.end(), l.begin(), l.end());
  return argv;
}

struct Launch {
  int status = -1;
  std::map<std::string, std::string> results;  // "connect 1.2.3.4 80" -> "ok hello ..." / "fail ..."
  std::vector<nlohmann::json> audit;
  std::string raw;
};

// Starts the world's netprobe in a jail of `profile` (audit log in `td`) with
// `ops`, each an operation and its words; stdout captured.
Child start_launch(const World& w, Mode m, const TempDir& td, const std::string& profile,
                   const std::vector<std::vector<std::string>>& ops) {
  std::vector<std::string> args = {"run", profile, "--audit-log", td.path() + "/audit.jsonl", "--", w.netprobe()};
  for (const auto& op : ops) {
    args.insert(args.end(), op.begin(), op.end());
    args.push_back(";");
  }
  return start(jail_argv(w, m, args), Harness::get().launcher_env(m, {}), true);
}

std::vector<nlohmann::json> audit_of(const TempDir& td) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines(slurp(td.path() + "/audit.jsonl"))) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The result of each of `ops` in netprobe's output `raw`: each output line
// starts with the operation's words; the rest is the result.
std::map<std::string, std::string> results_of(const std::vector<std::vector<std::string>>& ops, const std::string& raw) {
  std::map<std::string, std::string> results;
  for (const auto& op : ops) {
    std::string key;
    for (const auto& word : op) key += (key.empty() ? "" : " ") + word;
    for (const auto& line : lines(raw))
      if (line.rfind(key + " ", 0) == 0 && !results.count(key)) results[key] = line.substr(key.size() + 1);
      else if (op.size() == 1 && line.rfind(key, 0) == 0 && !results.count(key)) results[key] = line.substr(key.size());
  }
  return results;
}

Launch launch(const World& w, Mode m, const TempDir& td, const std::string& profile,
              const std::vector<std::vector<std::string>>& ops) {
  const auto r = start_launch(w, m, td, profile, ops).wait(120s);
  return {r.status, results_of(ops, r.out), audit_of(td), r.out};
}

bool has_block(const Launch& l, const std::string& addr, int port, const std::string& proto) {
  for (const auto& e : l.audit)
    if (e.value("event", "") == "net_block" && e.value("address", "") == addr && e.value("protocol", "") == proto &&
        (port < 0 || e.value("port", -1) == port))
      return true;
  return false;
}

struct Blocked {
  const char* addr;
  int port;
  const char* proto;
};

// Each of `blocked` has its net_block event in the audit log.
void check_blocked(const Launch& l, std::initializer_list<Blocked> blocked) {
  for (const auto& b : blocked) {
    INFO("net_block " << b.addr << " port " << b.port << " " << b.proto);
    CHECK(has_block(l, b.addr, b.port, b.proto));
  }
}

bool has_refused(const Launch& l, const std::string& name) {
  for (const auto& e : l.audit)
    if (e.value("event", "") == "dns_refused" && e.value("name", "") == name) return true;
  return false;
}

bool starts(const std::map<std::string, std::string>& r, const std::string& key, const std::string& prefix) {
  auto it = r.find(key);
  return it != r.end() && it->second.rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("allowlist: allowed names resolve and connect and everything else is blocked and audited and never arrives") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", kProfile);
    const std::vector<std::vector<std::string>> ops = {
        {"resolve", "api.test"},
        {"connect", "api.test", "8443"},
        {"connect", "198.18.1.10", "8443"},
        {"connect", "2001:db8:18:1::10", "8443"},
        {"connect", "alias.svc.test", "8443"},
        {"resolve", "a.svc.test"},
        {"connect", "198.18.1.20", "8443"},
        {"dns", "127.0.0.1", "many.svc.test", "A", "tcp"},
        {"dns", "127.0.0.1", "api.test", "TXT"},
        {"nft"},
        {"unshare"},
        // blocked from here on
        {"resolve", "c2.test"},
        {"resolve", "svc.test"},
        {"dns", "127.0.0.1", "c2.test", "A"},
        {"connect", "198.18.1.66", "8443"},
        {"connect", "2001:db8:18:1::66", "8443"},
        {"udp", "198.18.1.66", "8443"},
        {"connect", "198.18.1.10", "9999"},
        {"connect", "127.0.0.1", "8443"},
        {"connect", "::1", "8443"},
        {"connect", "198.18.0.2", "8443"},
        {"connect", "198.18.0.1", "8443"},
        {"connect", "2001:db8:18::1", "8443"},
        {"connect", "169.254.169.254", "80"},
        {"connect", "fd00:ec2::254", "80"},
        {"resolve", "rebind.svc.test"},
        {"connect", "rebind.svc.test", "8443"},
        {"udp", "198.18.1.66", "53"},
        {"dns", "198.18.1.53", "api.test", "A"},
        {"raw"},
    };
    const auto l = launch(w, m, td, profile, ops);
    INFO("output:\n" << l.raw);
    REQUIRE(l.status == 0);
    const auto& r = l.results;
    // allowed
    CHECK(r.at("resolve api.test") == "ok 2001:db8:18:1::10,198.18.1.10");
    CHECK(starts(r, "connect api.test 8443", "ok hello "));
    CHECK(r.at("connect 198.18.1.10 8443") == "ok hello 198.18.1.10:8443");
    CHECK(r.at("connect 2001:db8:18:1::10 8443") == "ok hello [2001:db8:18:1::10]:8443");
    CHECK(starts(r, "connect alias.svc.test 8443", "ok hello "));
    CHECK(r.at("resolve a.svc.test") == "ok 198.18.1.10");
    CHECK(r.at("connect 198.18.1.20 8443") == "ok hello 198.18.1.20:8443");
    CHECK(r.at("dns 127.0.0.1 many.svc.test A tcp") == "rcode=0 answers=100 tc=0");
    CHECK(r.at("dns 127.0.0.1 api.test TXT") == "rcode=0 answers=0 tc=0");
    // the server cannot change the table or leave the namespace
    CHECK(starts(r, "nft", "fail E"));
    CHECK(starts(r, "unshare", "fail E"));
    // names: refused
    CHECK(starts(r, "resolve c2.test", "fail EAI_"));
    CHECK(starts(r, "resolve svc.test", "fail EAI_"));  // the wildcard does not cover its apex
    CHECK(r.at("dns 127.0.0.1 c2.test A") == "rcode=5 answers=0 tc=0");
    // addresses and ports: blocked, even by literal address
    for (const char* k : {"connect 198.18.1.66 8443", "connect 2001:db8:18:1::66 8443", "connect 198.18.1.10 9999",
                          "connect 198.18.0.1 8443", "connect 2001:db8:18::1 8443", "connect 169.254.169.254 80",
                          "connect fd00:ec2::254 80", "connect rebind.svc.test 8443"})
      CHECK(starts(r, k, "fail E"));
    CHECK(starts(r, "udp 198.18.1.66 8443", "fail E"));
    // the host's loopback and the host's own address are the jail's own: nothing there
    CHECK(r.at("connect 127.0.0.1 8443") == "fail ECONNREFUSED");
    CHECK(r.at("connect ::1 8443") == "fail ECONNREFUSED");
    CHECK(r.at("connect 198.18.0.2 8443") == "fail ECONNREFUSED");
    // an allowed name that points into a closed range resolves, but does not connect
    CHECK(r.at("resolve rebind.svc.test") == "ok 169.254.169.254");
    // DNS to any other resolver
    CHECK(starts(r, "udp 198.18.1.66 53", "fail E"));
    CHECK(starts(r, "dns 198.18.1.53 api.test A", "fail E"));
    CHECK(starts(r, "raw", "inet fail E"));
    CHECK(l.raw.find("packet fail E") != std::string::npos);

    // What reached the world: only allowed connections, and DNS only for allowed names.
    for (const auto& line : w.world_log()) {
      INFO(line);
      const bool allowed = line.rfind("tcp 198.18.1.10:8443 ", 0) == 0 || line.rfind("tcp [2001:db8:18:1::10]:8443 ", 0) == 0 ||
                           line.rfind("tcp 198.18.1.20:8443 ", 0) == 0 || line.rfind("dns api.test ", 0) == 0 ||
                           line.rfind("dns alias.svc.test ", 0) == 0 || line.rfind("dns a.svc.test ", 0) == 0 ||
                           line.rfind("dns many.svc.test ", 0) == 0 || line.rfind("dns rebind.svc.test ", 0) == 0;
      CHECK(allowed);
    }
    CHECK(w.host_log().empty());

    // The blocked attempts are in the audit log.
    check_blocked(l, {{"198.18.1.66", 8443, "tcp"}, {"2001:db8:18:1::66", 8443, "tcp"}, {"198.18.1.66", 8443, "udp"},
                      {"198.18.1.10", 9999, "tcp"}, {"198.18.0.1", 8443, "tcp"}, {"2001:db8:18::1", 8443, "tcp"},
                      {"169.254.169.254", 80, "tcp"}, {"169.254.169.254", 8443, "tcp"}, {"fd00:ec2::254", 80, "tcp"},
                      {"198.18.1.66", 53, "udp"}, {"198.18.1.53", 53, "udp"}});
    CHECK(has_refused(l, "c2.test"));
    CHECK(has_refused(l, "svc.test"));
    bool started = false;
    for (const auto& e : l.audit)
      if (e.value("event", "") == "start") {
        started = true;
        CHECK(e["layers"].dump().find("egress-allowlist") != std::string::npos);
      }
    CHECK(started);
  });
}

TEST_CASE("allowlist: pasta lives exactly as long as the jail") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    // The uplinks of this world's jails: pasta runs in the world's host
    // namespace (other test runs on the machine have uplinks of their own).
    auto uplinks = [&w] {
      std::vector<pid_t> out;
      struct stat ns{};
      if (::stat(w.host_ns().c_str(), &ns) != 0) return out;
      for (pid_t p : support::processes_matching("--ns-ifname uplink0")) {
        struct stat s{};
        if (::stat(("/proc/" + std::to_string(p) + "/ns/net").c_str(), &s) == 0 && s.st_dev == ns.st_dev &&
            s.st_ino == ns.st_ino)
          out.push_back(p);
      }
      return out;
    };
    const std::string profile = td.file("net.toml", kProfile);
    REQUIRE(uplinks().empty());
    // A normal end: the launcher returns only once pasta has been killed
    // (SIGKILL is pending on any pasta still listed: it runs no more code of
    // its own), and the kernel's teardown of it ends soon after.
    auto l = launch(w, m, td, profile, {{"connect", "api.test", "8443"}});
    CHECK(starts(l.results, "connect api.test 8443", "ok hello "));
    for (pid_t p : uplinks()) {
      INFO("pasta " << p << " still listed after the launcher returned");
      std::string pending;
      for (const auto& line : support::lines(support::slurp("/proc/" + std::to_string(p) + "/status")))
        if (line.rfind("ShdPnd:", 0) == 0) pending = line.substr(7);
      // Gone meanwhile (nothing to read) is fine; otherwise SIGKILL (bit 9) is pending.
      if (!pending.empty()) CHECK((std::strtoull(pending.c_str(), nullptr, 16) & (1ULL << (SIGKILL - 1))) != 0);
    }
    bool ended = false;
    for (int i = 0; i < 40 && !ended; ++i) {
      ended = uplinks().empty();
      if (!ended) std::this_thread::sleep_for(50ms);
    }
    CHECK(ended);

    // Nothing the launcher started keeps its stdout or stderr once it has
    // exited (pasta's keeper waits out pasta's teardown, tens of ms, after
    // the launcher): a caller reading them to their end does not wait.
    {
      int o[2], e[2];
      REQUIRE(::pipe2(o, O_CLOEXEC) == 0);
      REQUIRE(::pipe2(e, O_CLOEXEC) == 0);
      mcpjail::UniqueFd out_r(o[0]), err_r(e[0]);
      support::SpawnOptions so;
      so.in = support::Io::null();
      so.out = support::Io::to(o[1]);
      so.err = support::Io::to(e[1]);
      const pid_t pid = support::spawn(jail_argv(w, m, {"run", profile, "--audit-log", "none", "--", w.netprobe(),
                                                        "connect", "api.test", "8443"}),
                                       Harness::get().launcher_env(m, {}), so);
      ::close(o[1]);
      ::close(e[1]);
      int st = 0;
      REQUIRE(::waitpid(pid, &st, 0) == pid);
      // Every other process with a descriptor of the pipe (both ends have
      // the same name in /proc; this process holds only the read end).
      auto holders = [](int fd) {
        namespace fs = std::filesystem;
        const std::string self = std::to_string(::getpid());
        std::error_code ec;
        const fs::path pipe = fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
        std::vector<std::string> out;
        for (const auto& entry : fs::directory_iterator("/proc", ec)) {
          const std::string pid_s = entry.path().filename();
          if (pid_s == self || pid_s.find_first_not_of("0123456789") != std::string::npos) continue;
          for (const auto& f : fs::directory_iterator(entry.path() / "fd", ec))
            if (fs::read_symlink(f.path(), ec) == pipe)
              out.push_back(pid_s + " " + support::slurp((entry.path() / "comm").string()));
        }
        return out;
      };
      const auto out_holders = holders(out_r.get());
      const auto err_holders = holders(err_r.get());
      CHECK(support::decode_status(st) == 0);
      std::string said;
      char buf[4096];
      for (ssize_t k; (k = ::read(out_r.get(), buf, sizeof buf)) > 0;) said.append(buf, static_cast<std::size_t>(k));
      CHECK_THAT(said, Catch::Contains("connect api.test 8443 ok hello "));  // the positive control
      std::string held;
      for (const auto& h : out_holders) held += "stdout: " + h;
      for (const auto& h : err_holders) held += "stderr: " + h;
      INFO("held after the launcher exited:\n" << held);
      CHECK(out_holders.empty());
      CHECK(err_holders.empty());
    }

    // The launcher killed outright: pasta goes at once all the same.
    std::vector<std::string> args = {"run", profile, "--audit-log", "none", "--", w.netprobe(),
                                     "connect", "api.test", "8443", ";", "sleep", "60000"};
    Child p = start(jail_argv(w, m, args), Harness::get().launcher_env(m, {}), true);
    const std::string first = p.read_line(20s).value_or("");
    CHECK(first.rfind("connect api.test 8443 ok", 0) == 0);
    CHECK(uplinks().size() == 1);
    p.kill(SIGKILL);
    p.wait(10s);
    bool gone = false;
    for (int i = 0; i < 40 && !gone; ++i) {
      gone = uplinks().empty();
      if (!gone) std::this_thread::sleep_for(50ms);
    }
    CHECK(gone);
  });
}

TEST_CASE("allowlist: with addresses only every name is refused") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-ip-only", R"(allow = ["198.18.1.20:8443"]
dns = []
)"));
    auto l = launch(w, m, td, profile, {{"connect", "198.18.1.20", "8443"}, {"resolve", "api.test"},
                                        {"connect", "198.18.1.10", "8443"}});
    INFO(l.raw);
    CHECK(l.status == 0);
    CHECK(l.results["connect 198.18.1.20 8443"] == "ok hello 198.18.1.20:8443");
    CHECK(starts(l.results, "resolve api.test", "fail EAI_"));
    CHECK(starts(l.results, "connect 198.18.1.10 8443", "fail E"));
  });
}

TEST_CASE("allowlist: the uplink's gateways stay closed inside an allowed range (the table is installed before pasta is up)") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    // Both allow entries cover the gateways (198.18.0.1, 2001:db8:18::1),
    // and neither is a denied range: only the gateway sets, filled once
    // pasta has configured the uplink, stand in the way.
    const std::string profile = td.file("net.toml", allowlist_profile("net-gateway", R"(allow = ["198.18.0.0/23:8443", "[2001:db8:18::]/48:8443"]
dns = []
)"));
    auto l = launch(w, m, td, profile,
                    {{"connect", "198.18.1.10", "8443"},
                     {"connect", "2001:db8:18:1::10", "8443"},
                     // blocked from here on
                     {"connect", "198.18.0.1", "8443"},
                     {"connect", "2001:db8:18::1", "8443"}});
    INFO(l.raw);
    REQUIRE(l.status == 0);
    // the positive controls: the same entries reach the test hosts
    REQUIRE(l.results["connect 198.18.1.10 8443"] == "ok hello 198.18.1.10:8443");
    REQUIRE(starts(l.results, "connect 2001:db8:18:1::10 8443", "ok hello "));
    CHECK(starts(l.results, "connect 198.18.0.1 8443", "fail ECONNREFUSED"));  // the table's reset
    CHECK(starts(l.results, "connect 2001:db8:18::1 8443", "fail ECONNREFUSED"));
    check_blocked(l, {{"198.18.0.1", 8443, "tcp"}, {"2001:db8:18::1", 8443, "tcp"}});
  });
}

TEST_CASE("built-in profile fetch: every name on 80 and 443 and nothing else and the probe finds it contained") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    // The built-in profile with the world's resolver instead of the host's.
    const std::string profile =
        td.file("fetch-world.toml", "version = 1\nname = \"fetch-world\"\nextends = \"fetch\"\n[network]\ndns = [\"198.18.1.53\"]\n");
    const std::vector<std::vector<std::string>> ops = {
        {"resolve", "www.test"},
        {"connect", "www.test", "80"},
        {"connect", "www.test", "443"},
        {"connect", "c2.test", "443"},  // any name
        // blocked from here on
        {"connect", "www.test", "8443"},        // an answered address, on a port not opened
        {"connect", "192.0.2.1", "443"},        // an address no name was answered with
        {"connect", "198.18.1.20", "443"},
        {"resolve", "intranet.test"},           // a name that points into a private range
        {"connect", "intranet.test", "443"},
        {"resolve", "rebind.svc.test"},         // ... or at the metadata address
        {"connect", "rebind.svc.test", "80"},
        {"connect", "169.254.169.254", "80"},
        {"connect", "198.18.0.1", "22"},        // the gateway
        {"dns", "127.0.0.1", "www.test", "TXT"},  // only A/AAAA leave the jail
        {"udp", "198.18.1.66", "53"},           // DNS to another resolver
    };
    const auto l = launch(w, m, td, profile, ops);
    INFO("output:\n" << l.raw);
    REQUIRE(l.status == 0);
    const auto& r = l.results;
    REQUIRE(r.at("resolve www.test") == "ok 198.18.1.10");
    REQUIRE(r.at("connect www.test 80") == "ok hello 198.18.1.10:80");
    CHECK(r.at("connect www.test 443") == "ok hello 198.18.1.10:443");
    CHECK(r.at("connect c2.test 443") == "ok hello 198.18.1.66:443");
    for (const char* k : {"connect www.test 8443", "connect 192.0.2.1 443", "connect 198.18.1.20 443",
                          "connect intranet.test 443", "connect rebind.svc.test 80", "connect 169.254.169.254 80",
                          "connect 198.18.0.1 22"})
      CHECK(starts(r, k, "fail E"));
    CHECK(r.at("resolve intranet.test") == "ok 10.18.1.10");
    CHECK(r.at("resolve rebind.svc.test") == "ok 169.254.169.254");
    CHECK(r.at("dns 127.0.0.1 www.test TXT") == "rcode=0 answers=0 tc=0");
    CHECK(starts(r, "udp 198.18.1.66 53", "fail E"));
    for (const auto& line : w.world_log()) {
      INFO(line);
      const bool allowed = line.rfind("tcp 198.18.1.10:80 ", 0) == 0 || line.rfind("tcp 198.18.1.10:443 ", 0) == 0 ||
                           line.rfind("tcp 198.18.1.66:443 ", 0) == 0 || line.rfind("dns ", 0) == 0;
      CHECK(allowed);
      CHECK(line.find(" TXT ") == std::string::npos);
    }
    CHECK(w.host_log().empty());
    check_blocked(l, {{"198.18.1.10", 8443, "tcp"}, {"192.0.2.1", 443, "tcp"}, {"198.18.1.20", 443, "tcp"},
                      {"10.18.1.10", 443, "tcp"}, {"169.254.169.254", 80, "tcp"}, {"198.18.0.1", 22, "tcp"},
                      {"198.18.1.66", 53, "udp"}});
    for (const auto& e : l.audit) CHECK(e.value("event", "") != "dns_refused");

    // `mcp-jail probe fetch` as a user would run it (the host's resolvers; the
    // battery makes no DNS queries): every attempt contained, and none of the
    // addresses it tries (listeners of this world) saw a connection.
    const auto world_before = w.world_log().size();
    const auto probe = start(jail_argv(w, m, {"probe", "fetch"}), Harness::get().launcher_env(m, {}), true).wait(120s);
    const std::string& out = probe.out;
    const int status = probe.status;
    INFO("probe output:\n" << out);
    CHECK(status == 0);
    CHECK_THAT(out, Catch::Contains("profile \"fetch\""));
    CHECK_THAT(out, Catch::Contains("attempts contained."));
    CHECK_THAT(out, !Catch::Contains("NOT CONTAINED"));
    // refused by the jail's table (a reset), not left unanswered somewhere
    std::string not_allowed;
    for (const auto& line : lines(out))
      if (line.find("(192.0.2.1:443)") != std::string::npos) not_allowed = line;
    CHECK_THAT(not_allowed, Catch::Contains("Connection refused"));
    CHECK_THAT(out, Catch::Contains("(169.254.169.254:80)") && Catch::Contains("reach the gateway (198.18.0.1:22)"));
    const auto after = w.world_log();
    for (std::size_t i = world_before; i < after.size(); ++i) {
      INFO(after[i]);
      CHECK(after[i].rfind("tcp ", 0) != 0);
    }
  });
}

// The launcher loads libnftables only for allowlist launches (dlopen): where
// it is missing, the launch stops before anything runs and says why.
TEST_CASE("allowlist: without libnftables nothing starts and the error names the network layer and the fix") {
  REQUIRE_NETWORK_WORLD();
  // The file the dynamic linker opens for libnftables.so.1 here.
  void* h = ::dlopen("libnftables.so.1", RTLD_LAZY | RTLD_LOCAL);
  REQUIRE(h != nullptr);
  link_map* lm = nullptr;
  REQUIRE(::dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0);
  char real[PATH_MAX];
  REQUIRE(::realpath(lm->l_name, real) != nullptr);
  const std::string library = real;
  ::dlclose(h);

  in_each_mode([&library](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-no-nft", R"(allow = ["198.18.1.20:8443"]
dns = []
)"));
    const std::string empty = td.file("empty", "");
    // Runs the launch in a mount namespace of its own where, if `hide`, an
    // empty file lies over the library. Returns the status; stdout and stderr in *out, *err.
    auto attempt = [&](bool hide, std::string* out, std::string* err) {
      support::SpawnOptions o;
      o.in = Io::null();
      o.in_child = [&] {
        if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
          ::_exit(90);
        if (hide && ::mount(empty.c_str(), library.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(91);
      };
      Child c(jail_argv(w, m, {"run", profile, "--audit-log", "none", "--", w.netprobe(), "connect", "198.18.1.20", "8443"}),
              Harness::get().launcher_env(m, {}), std::move(o));
      auto r = c.wait(120s);
      *out = r.out;
      *err = r.err;
      return r.status;
    };
    // Positive control: the same launch with the library in place connects.
    std::string out, err;
    const int ok = attempt(false, &out, &err);
    INFO("control stdout: " << out << "control stderr: " << err);
    REQUIRE(ok == 0);
    REQUIRE(out.find("connect 198.18.1.20 8443 ok hello") != std::string::npos);

    out.clear();
    const int refused = attempt(true, &out, &err);
    INFO("stdout: " << out << "stderr: " << err);
    CHECK(refused == 125);
    CHECK(out.empty());  // the server never ran
    CHECK(err.find("mcp-jail: network: ") != std::string::npos);
    CHECK(err.find("libnftables") != std::string::npos);
    CHECK(err.find("apt-get install libnftables1") != std::string::npos);
  });
}

// ---- the host's own addresses, closed answers, the DNS cache and budget ------------

namespace {

// Reads stdout until a line starting with `prefix` arrived (or EOF, or the
// deadline); true when it did.
bool read_until(Child& pr, std::string* out, const std::string& prefix, std::chrono::seconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (const auto& l : lines(*out))
    if (l.rfind(prefix, 0) == 0) return true;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const auto line = pr.read_line(left);
    if (!line) return false;
    *out += *line + "\n";
    if (line->rfind(prefix, 0) == 0) return true;
  }
}

// The UDP sockets of the world's host namespace (/proc/net/udp and udp6 as read there).
std::string host_udp_sockets(const World& w) {
  return start({"/usr/bin/nsenter", "--net=" + w.host_ns(), "--", "/bin/cat", "/proc/net/udp", "/proc/net/udp6"},
               {"PATH=/usr/bin:/bin"}, true)
      .wait(10s)
      .out;
}

// The netprobe process running inside a jail (its command line starts with
// the world's netprobe, and it is not pid 1 of its namespace's init), or -1.
pid_t jailed_netprobe(const World& w) {
  for (pid_t p : support::processes_matching(w.netprobe())) {
    const std::string cmd = slurp("/proc/" + std::to_string(p) + "/cmdline");
    const std::string status = slurp("/proc/" + std::to_string(p) + "/status");
    const auto ns = status.find("NSpid:");
    if (cmd.rfind(w.netprobe() + '\0', 0) != 0 || ns == std::string::npos) continue;
    std::istringstream ids(status.substr(ns + 6, status.find('\n', ns) - ns - 6));
    int levels = 0;
    for (std::string id; ids >> id;) ++levels;
    if (levels >= 2) return p;
  }
  return -1;
}

// `nft list set inet mcpjail NAME` in the network namespace of `pid`, read
// from outside the jail with libnftables (as root). "" when it failed.
std::string list_set(pid_t pid, const std::string& set) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "";
  const pid_t child = ::fork();
  if (child == 0) {
    const int ns = ::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(2);
    void* lib = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) ::_exit(3);
    auto ctx_new = reinterpret_cast<nft_ctx* (*)(std::uint32_t)>(::dlsym(lib, "nft_ctx_new"));
    auto buffer_output = reinterpret_cast<int (*)(nft_ctx*)>(::dlsym(lib, "nft_ctx_buffer_output"));
    auto get_output = reinterpret_cast<const char* (*)(nft_ctx*)>(::dlsym(lib, "nft_ctx_get_output_buffer"));
    auto run = reinterpret_cast<int (*)(nft_ctx*, const char*)>(::dlsym(lib, "nft_run_cmd_from_buffer"));
    if (!ctx_new || !buffer_output || !get_output || !run) ::_exit(4);
    nft_ctx* ctx = ctx_new(NFT_CTX_DEFAULT);
    buffer_output(ctx);
    if (run(ctx, ("list set inet mcpjail " + set).c_str()) != 0) ::_exit(5);
    const std::string out = get_output(ctx);
    if (::write(p[1], out.data(), out.size()) != static_cast<ssize_t>(out.size())) ::_exit(6);
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out = support::drain(p[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? out : "";
}

}  // namespace

TEST_CASE("allowlist: the host's own addresses are closed, also behind an allowed name, unless allow_private names them") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-self", R"(allow = ["api.test:8444", "self.test:8444", "*.svc.test:8444", "198.18.3.0/24:8444", "[2001:db8:18:3::]/64:8444"]
dns = ["198.18.1.53"]
)"));
    // The host's second addresses are inside ranges allowed by address, and
    // answered for allowed names: only the host deny stands in the way.
    const auto l = launch(w, m, td, profile,
                          {{"connect", "api.test", "8444"},
                           {"connect", "198.18.1.10", "8444"},
                           {"connect", "198.18.3.10", "8444"},
                           // blocked from here on
                           {"resolve", "self.test"},
                           {"connect", "self.test", "8444"},
                           {"connect", "198.18.3.2", "8444"},
                           {"connect", "2001:db8:18:3::2", "8444"},
                           {"resolve", "compat.svc.test"},
                           {"connect", "compat.svc.test", "8444"},
                           {"connect", "::10.0.0.5", "8444"}});
    INFO("output:\n" << l.raw);
    REQUIRE(l.status == 0);
    const auto& r = l.results;
    // the positive control: an allowed test host on the same port
    REQUIRE(starts(r, "connect api.test 8444", "ok hello "));
    REQUIRE(r.at("connect 198.18.1.10 8444") == "ok hello 198.18.1.10:8444");
    REQUIRE(r.at("connect 198.18.3.10 8444") == "ok hello 198.18.3.10:8444");
    // the name resolves (the answer is passed on) but none of its addresses opens
    CHECK(r.at("resolve self.test") == "ok 2001:db8:18:3::2,198.18.3.2");
    for (const char* k : {"connect self.test 8444", "connect 198.18.3.2 8444", "connect 2001:db8:18:3::2 8444",
                          "connect compat.svc.test 8444", "connect ::10.0.0.5 8444"})
      CHECK(starts(r, k, "fail ECONNREFUSED"));  // the table's reset, not a timeout somewhere
    CHECK(r.at("resolve compat.svc.test") == "ok ::10.0.0.5");
    check_blocked(l, {{"198.18.3.2", 8444, "tcp"}, {"2001:db8:18:3::2", 8444, "tcp"}, {"::10.0.0.5", 8444, "tcp"}});
    CHECK(w.host_log().empty());  // the host's listeners on 0.0.0.0 and :: saw nothing

    // allow_private naming the address opens it (and only it: the IPv6 one stays closed).
    TempDir td2(m);
    const std::string opened = td2.file("net.toml", allowlist_profile("net-self-opened", R"(allow = ["self.test:8444"]
allow_private = ["198.18.3.2"]
dns = ["198.18.1.53"]
)"));
    const auto l2 = launch(w, m, td2, opened, {{"connect", "self.test", "8444"}, {"connect", "2001:db8:18:3::2", "8444"}});
    INFO("output:\n" << l2.raw);
    REQUIRE(l2.status == 0);
    CHECK(l2.results.at("connect self.test 8444") == "ok hello 0.0.0.0:8444");
    CHECK(starts(l2.results, "connect 2001:db8:18:3::2 8444", "fail ECONNREFUSED"));
    CHECK(has_block(l2, "2001:db8:18:3::2", 8444, "tcp"));
    const auto host = w.host_log();
    REQUIRE(host.size() == 1);
    CHECK(host[0].rfind("tcp 0.0.0.0:8444 ", 0) == 0);
    w.reset_host_log();
  });
}

TEST_CASE("allowlist: a datagram the jail sent opens no way in for other senders (pasta's port on the host)") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-inbound", R"(allow = ["198.18.1.10:8443", "[2001:db8:18:1::10]:8443"]
dns = []
)"));
    // pasta carries a jail's UDP flow through a host socket bound to the
    // jail's source port on every address: anyone who reaches the host can
    // send there, and pasta passes it in.
    const std::string p4 = m == Mode::Root ? "40000" : "40010", p6 = m == Mode::Root ? "40001" : "40011";
    Child p = start_launch(w, m, td, profile,
                           {{"udpbind", p4, "198.18.1.10", "8443"}, {"udpbind", p6, "2001:db8:18:1::10", "8443"},
                            {"udpheard", "5000"}});
    std::string out;
    const bool bound = read_until(p, &out, "udpbind " + p6 + " ", 60s);
    // The door exists: the host namespace holds pasta's sockets on both ports.
    const std::string udp_table = host_udp_sockets(w);
    auto has_port = [&](const std::string& port) {
      char hex[8];
      std::snprintf(hex, sizeof hex, ":%04X ", std::stoi(port));
      return udp_table.find(hex) != std::string::npos;
    };
    // Not allowed: C2 in the world, and a process of the host itself on its loopback.
    Child c2 = w.probe_in(w.world_ns(), {"udp", "198.18.0.2", p4, "198.18.1.66", ";", "udp", "2001:db8:18::2", p6, "2001:db8:18:1::66"});
    Child local = w.probe_in(w.host_ns(), {"udp", "127.0.0.1", p4, ";", "udp", "::1", p6});
    const auto c2_out = c2.wait(30s).out, local_out = local.wait(30s).out;
    const auto rest = p.wait(60s);
    out += rest.out;
    INFO("jail:\n" << out << "from C2:\n" << c2_out << "from the host:\n" << local_out << "host UDP sockets:\n" << udp_table);
    REQUIRE(bound);
    REQUIRE(rest.status == 0);
    const auto r = results_of({{"udpbind", p4, "198.18.1.10", "8443"}, {"udpbind", p6, "2001:db8:18:1::10", "8443"}, {"udpheard", "5000"}}, out);
    // the positive controls: the allowed peers' replies come back, and pasta holds both ports on the host
    REQUIRE(r.at("udpbind " + p4 + " 198.18.1.10 8443") == "ok from 198.18.1.10");
    REQUIRE(r.at("udpbind " + p6 + " 2001:db8:18:1::10 8443") == "ok from 2001:db8:18:1::10");
    REQUIRE(has_port(p4));
    REQUIRE(has_port(p6));
    // nobody else got in (a late reply of an allowed peer may still come), and nothing came back out
    std::string heard = r.at("udpheard 5000");
    std::replace(heard.begin(), heard.end(), ',', '\n');
    for (const auto& sender : lines(heard)) {
      INFO("heard from " << sender);
      CHECK((sender == "none" || sender == "198.18.1.10" || sender == "2001:db8:18:1::10"));
    }
    CHECK(c2_out == "udp 198.18.0.2 " + p4 + " 198.18.1.66 fail timeout\nudp 2001:db8:18::2 " + p6 + " 2001:db8:18:1::66 fail timeout\n");
    CHECK(local_out == "udp 127.0.0.1 " + p4 + " fail timeout\nudp ::1 " + p6 + " fail timeout\n");
  });
}

TEST_CASE("allowlist: an address the host gains while the jail runs is closed at once") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-late", R"(allow = ["198.18.3.0/24:8444"]
dns = []
)"));
    Child p = start_launch(w, m, td, profile,
                          {{"connect", "198.18.3.10", "8444"}, {"sleep", "1500"}, {"connect", "198.18.3.3", "8444"},
                           {"connect", "198.18.3.10", "8444"}});
    std::string out;
    const bool control = read_until(p, &out, "connect 198.18.3.10 8444 ", 60s);
    // The host gains an address inside the allowed range while the jail sleeps.
    const int added = w.host_address("add", "198.18.3.3/32");
    const auto rest = p.wait(60s);
    out += rest.out;
    const int status = rest.status;
    w.host_address("del", "198.18.3.3/32");
    INFO("output:\n" << out);
    REQUIRE(control);
    REQUIRE(added == 0);
    REQUIRE(status == 0);
    const auto got = lines(out);
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "connect 198.18.3.10 8444 ok hello 198.18.3.10:8444");  // before
    CHECK(got[1] == "connect 198.18.3.3 8444 fail ECONNREFUSED");
    CHECK(got[2] == "connect 198.18.3.10 8444 ok hello 198.18.3.10:8444");  // after: the rest still open
    Launch l;
    l.audit = audit_of(td);
    CHECK(has_block(l, "198.18.3.3", 8444, "tcp"));
    CHECK(w.host_log().empty());
  });
}

TEST_CASE("allowlist: closed answers never enter the sets, repeats come from the cache, a flood meets the budget") {
  in_each_mode([](World& w, Mode m, const TempDir& td) {
    const std::string profile = td.file("net.toml", allowlist_profile("net-cache", R"(allow = ["api.test:8443", "*.svc.test:8443", "self.test:8443"]
dns = ["198.18.1.53"]
)"));
    const auto world_before = w.world_log_size();
    const std::vector<std::vector<std::string>> ops = {
        {"connect", "api.test", "8443"},
        {"resolve", "rebind.svc.test"},
        {"resolve", "intranet.svc.test"},
        {"resolve", "compat.svc.test"},
        {"resolve", "self.test"},
        {"dns", "127.0.0.1", "api.test", "A"},
        {"dns", "127.0.0.1", "api.test", "A", "tcp"},
        {"dnsflood", "127.0.0.1", "svc.test", "300"},
        {"dns", "127.0.0.1", "api.test", "AAAA"},
        {"resolve", "api.test"},
        {"sleep", "5000"},
    };
    Child p = start_launch(w, m, td, profile, ops);
    std::string out;
    const bool ready = read_until(p, &out, "resolve api.test ", 90s);
    std::map<std::string, std::string> sets;
    const pid_t probe = ready ? jailed_netprobe(w) : -1;
    if (probe > 0)
      for (const char* s : {"names4", "names6", "host4", "host6", "ready"}) sets[s] = list_set(probe, s);
    const auto rest = p.wait(60s);
    out += rest.out;
    const int status = rest.status;
    INFO("output:\n" << out);
    REQUIRE(ready);
    REQUIRE(status == 0);
    // (the output is in the order of the operations: the line of "... A"
    // comes before that of "... A tcp")
    std::map<std::string, std::string> r = results_of(ops, out);
    REQUIRE(starts(r, "connect api.test 8443", "ok hello "));
    CHECK(r["resolve rebind.svc.test"] == "ok 169.254.169.254");
    CHECK(r["resolve intranet.svc.test"] == "ok 10.18.1.10");
    CHECK(r["resolve compat.svc.test"] == "ok ::10.0.0.5");
    CHECK(r["resolve self.test"] == "ok 2001:db8:18:3::2,198.18.3.2");
    CHECK(r["dns 127.0.0.1 api.test A"] == "rcode=0 answers=1 tc=0");
    CHECK(r["dns 127.0.0.1 api.test A tcp"] == "rcode=0 answers=1 tc=0");
    // after the flood: the budget is spent, and allowed names in the cache still resolve
    CHECK(r["dns 127.0.0.1 api.test AAAA"] == "rcode=0 answers=1 tc=0");
    CHECK(r["resolve api.test"] == "ok 2001:db8:18:1::10,198.18.1.10");

    // The sets, read from outside the jail while it ran.
    INFO("names4: " << sets["names4"] << "\nnames6: " << sets["names6"] << "\nhost4: " << sets["host4"]
                    << "\nhost6: " << sets["host6"] << "\nready: " << sets["ready"]);
    REQUIRE(probe > 0);
    CHECK_THAT(sets["names4"], Catch::Contains("198.18.1.10 . 8443"));  // the positive control
    CHECK_THAT(sets["names6"], Catch::Contains("2001:db8:18:1::10 . 8443"));
    for (const char* closed : {"169.254.169.254", "10.18.1.10", "198.18.3.2"})
      CHECK_THAT(sets["names4"], !Catch::Contains(closed));
    for (const char* closed : {"::a00:5", "::10.0.0.5", "2001:db8:18:3::2"}) CHECK_THAT(sets["names6"], !Catch::Contains(closed));
    CHECK_THAT(sets["host4"], Catch::Contains("198.18.3.2") && Catch::Contains("198.18.0.2"));
    CHECK_THAT(sets["host6"], Catch::Contains("2001:db8:18:3::2") && Catch::Contains("2001:db8:18::2"));
    CHECK_THAT(sets["ready"], Catch::Contains("elements = { 0x00000000 }"));

    // What the world's resolver was asked: each question about api.test once
    // (the cache answered the repeats), and the flood no further than the budget.
    const auto log = w.world_log();
    std::size_t api_a = 0, api_aaaa = 0, flood = 0;
    for (std::size_t i = world_before; i < log.size(); ++i) {
      api_a += log[i].rfind("dns api.test 1 ", 0) == 0;
      api_aaaa += log[i].rfind("dns api.test 28 ", 0) == 0;
      flood += log[i].rfind("dns f", 0) == 0 && log[i].find(".svc.test 1 ") != std::string::npos;
    }
    CHECK(api_a == 1);
    CHECK(api_aaaa == 1);
    const std::string f = r["dnsflood 127.0.0.1 svc.test 300"];
    INFO("flood: " << f << "; upstream queries of the flood: " << flood);
    long ms = 0;
    int servfail = 0, nxdomain = 0;
    REQUIRE(std::sscanf(f.c_str(), "noerror=%*d nxdomain=%d servfail=%d refused=%*d fail=%*d ms=%ld", &nxdomain,
                        &servfail, &ms) == 3);
    CHECK(nxdomain > 0);
    CHECK(servfail > 0);
    CHECK(static_cast<std::size_t>(nxdomain) == flood);  // what was forwarded, and nothing else
    // the default budget: a burst of 100 (less what the names above took), then 10 a second
    CHECK(flood <= 100 + static_cast<std::size_t>(ms / 100) + 1);
    int budget_events = 0;
    for (const auto& e : audit_of(td))
      if (e.value("event", "") == "limit" && e.value("which", "") == "dns_queries") ++budget_events;
    CHECK(budget_events >= 1);
    CHECK(budget_events <= 1 + ms / 10000 + 1);
  });
}

TEST_CASE("host addresses: read at once, with broadcast and anycast, and followed as they come and go") {
  REQUIRE_NETWORK_WORLD();
  // In a network namespace of its own (nothing of the machine's is touched).
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string report;
    auto done = [&](int code) {
      (void)!::write(p[1], report.data(), report.size());
      ::_exit(code);
    };
    if (::unshare(CLONE_NEWNET) != 0) done(2);
    const char* ip = ::access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip";
    auto run_ip = [&](std::vector<std::string> args) {
      args.insert(args.begin(), ip);
      return start(args, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, false).wait(10s).status;
    };
    auto has = [](const std::vector<mcpjail::netfilter::Cidr>& v, const char* a) {
      return std::find(v.begin(), v.end(), *mcpjail::netfilter::parse_cidr(a)) != v.end();
    };
    auto wait_change = [](mcpjail::netfilter::HostAddresses& h) {
      pollfd pf{h.fd(), POLLIN, 0};
      for (int i = 0; i < 20; ++i) {
        if (::poll(&pf, 1, 100) > 0 && h.update()) return true;
      }
      return false;
    };
    if (run_ip({"link", "set", "lo", "up"}) != 0) done(3);
    mcpjail::netfilter::HostAddresses h;
    report += "start:";
    for (const auto& c : h.addresses()) report += " " + c.str();
    if (!has(h.addresses(), "127.0.0.1") || !has(mcpjail::netfilter::host_addresses(), "127.0.0.1")) done(4);
    if (run_ip({"link", "add", "mjt-dummy", "type", "veth", "peer", "name", "mjt-peer"}) != 0 ||
        run_ip({"link", "set", "mjt-dummy", "up"}) != 0 ||
        run_ip({"addr", "add", "198.18.9.9/24", "brd", "+", "dev", "mjt-dummy"}) != 0 ||
        run_ip({"addr", "add", "2001:db8:18:9::9/64", "dev", "mjt-dummy", "nodad"}) != 0 ||
        run_ip({"addr", "add", "2001:db8:18:8::8/128", "dev", "lo", "nodad"}) != 0)
      done(5);
    // With each address, what it makes local: the IPv4 broadcast address and
    // the IPv6 subnet-router anycast (none for a /128).
    auto all_there = [&] {
      return has(h.addresses(), "198.18.9.9") && has(h.addresses(), "2001:db8:18:9::9") && has(h.addresses(), "2001:db8:18:8::8");
    };
    for (int i = 0; i < 4 && !all_there(); ++i) wait_change(h);
    report += "\nwith the test's addresses:";
    for (const auto& c : h.addresses()) report += " " + c.str();
    if (!all_there()) done(6);
    if (!has(h.addresses(), "198.18.9.255") || !has(h.addresses(), "2001:db8:18:9::") ||
        !has(mcpjail::netfilter::host_addresses(), "198.18.9.255") || !has(mcpjail::netfilter::host_addresses(), "2001:db8:18:9::"))
      done(12);
    if (has(h.addresses(), "2001:db8:18:8::") || has(h.addresses(), "198.18.9.0")) done(13);
    // The same address on a second interface: one entry; gone from one, still there.
    if (run_ip({"addr", "add", "198.18.9.9/32", "dev", "lo"}) != 0) done(7);
    wait_change(h);
    if (run_ip({"addr", "del", "198.18.9.9/24", "dev", "mjt-dummy"}) != 0) done(8);
    wait_change(h);
    if (!has(h.addresses(), "198.18.9.9")) done(9);
    if (run_ip({"addr", "del", "198.18.9.9/32", "dev", "lo"}) != 0) done(10);
    if (!wait_change(h) || has(h.addresses(), "198.18.9.9")) done(11);
    // The broadcast address went with its address (the /24), the anycast goes with its own.
    if (has(h.addresses(), "198.18.9.255")) done(14);
    if (run_ip({"addr", "del", "2001:db8:18:9::9/64", "dev", "mjt-dummy"}) != 0) done(15);
    if (!wait_change(h) || has(h.addresses(), "2001:db8:18:9::") || has(h.addresses(), "2001:db8:18:9::9")) done(16);
    done(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  INFO(out);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}
