// network = "allowlist" end to end: real jails, as root and rootless, in a
// test world of network namespaces this test creates (tests/network/world.sh).
// The launcher itself runs inside the world's "host" namespace, so every
// address a jail can try, allowed or not, is a listener of this test: a hole
// in the jail would hit our own socket and show up in its log, never the
// outside. Needs root (to build the world), pasta and iproute2; skipped
// (exit 77) otherwise.
#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "../integration/harness.hpp"
#include "../support/files.hpp"
#include "../support/process.hpp"
#include "../support/skip.hpp"

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
                    "tcp:192.0.2.1:443", "tcp:198.18.0.1:22", "rr:www.test=198.18.1.10", "rr:intranet.test=10.18.1.10"});
    host_ = serve(name_ + "-h", dir_ + "/host.log", {"tcp:127.0.0.1:8443", "tcp:[::1]:8443", "tcp:198.18.0.2:8443"});
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
  std::vector<std::string> control(const std::vector<std::string>& ops) const {
    std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=" + host_ns(), "--", netprobe_};
    argv.insert(argv.end(), ops.begin(), ops.end());
    return lines(start(argv, {"PATH=/usr/bin:/bin"}, true).wait(30s).out);
  }

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

const char* kProfile = R"(version = 1
name = "net-it"
extends = "base"
[network]
mode = "allowlist"
allow = ["api.test:8443", "*.svc.test:8443", "198.18.1.20/32:8443"]
dns = ["198.18.1.53"]
)";

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

Launch launch(const World& w, Mode m, const TempDir& td, const std::string& profile,
              const std::vector<std::vector<std::string>>& ops) {
  const std::string audit = td.path() + "/audit.jsonl";
  std::vector<std::string> args = {"run", profile, "--audit-log", audit, "--", w.netprobe()};
  for (const auto& op : ops) {
    args.insert(args.end(), op.begin(), op.end());
    args.push_back(";");
  }
  Launch l;
  const auto r = start(jail_argv(w, m, args), Harness::get().launcher_env(m, {}), true).wait(120s);
  l.status = r.status;
  l.raw = r.out;
  // Each output line starts with the operation's words; the rest is the result.
  for (const auto& op : ops) {
    std::string key;
    for (const auto& word : op) key += (key.empty() ? "" : " ") + word;
    for (const auto& line : lines(l.raw))
      if (line.rfind(key + " ", 0) == 0 && !l.results.count(key)) l.results[key] = line.substr(key.size() + 1);
      else if (op.size() == 1 && line.rfind(key, 0) == 0 && !l.results.count(key)) l.results[key] = line.substr(key.size());
  }
  for (const auto& line : lines(slurp(audit))) l.audit.push_back(nlohmann::json::parse(line));
  return l;
}

bool has_block(const Launch& l, const std::string& addr, int port, const std::string& proto) {
  for (const auto& e : l.audit)
    if (e.value("event", "") == "net_block" && e.value("address", "") == addr && e.value("protocol", "") == proto &&
        (port < 0 || e.value("port", -1) == port))
      return true;
  return false;
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
  REQUIRE_NETWORK_WORLD();
  World w;
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
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
    CHECK(has_block(l, "198.18.1.66", 8443, "tcp"));
    CHECK(has_block(l, "2001:db8:18:1::66", 8443, "tcp"));
    CHECK(has_block(l, "198.18.1.66", 8443, "udp"));
    CHECK(has_block(l, "198.18.1.10", 9999, "tcp"));
    CHECK(has_block(l, "198.18.0.1", 8443, "tcp"));
    CHECK(has_block(l, "2001:db8:18::1", 8443, "tcp"));
    CHECK(has_block(l, "169.254.169.254", 80, "tcp"));
    CHECK(has_block(l, "169.254.169.254", 8443, "tcp"));
    CHECK(has_block(l, "fd00:ec2::254", 80, "tcp"));
    CHECK(has_block(l, "198.18.1.66", 53, "udp"));
    CHECK(has_block(l, "198.18.1.53", 53, "udp"));
    CHECK(has_refused(l, "c2.test"));
    CHECK(has_refused(l, "svc.test"));
    bool started = false;
    for (const auto& e : l.audit)
      if (e.value("event", "") == "start") {
        started = true;
        CHECK(e["layers"].dump().find("egress-allowlist") != std::string::npos);
      }
    CHECK(started);
  }
}

TEST_CASE("allowlist: pasta lives exactly as long as the jail") {
  REQUIRE_NETWORK_WORLD();
  World w;
  // The uplinks of this world's jails: pasta runs in the world's host
  // namespace (other test runs on the machine have uplinks of their own).
  auto uplinks = [&w] {
    std::vector<pid_t> out;
    struct stat ns{};
    if (::stat(w.host_ns().c_str(), &ns) != 0) return out;
    for (pid_t p : processes_matching("--ns-ifname uplink0")) {
      struct stat s{};
      if (::stat(("/proc/" + std::to_string(p) + "/ns/net").c_str(), &s) == 0 && s.st_dev == ns.st_dev &&
          s.st_ino == ns.st_ino)
        out.push_back(p);
    }
    return out;
  };
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
    const std::string profile = td.file("net.toml", kProfile);
    REQUIRE(uplinks().empty());
    // A normal end: the launcher returns only once pasta is gone.
    auto l = launch(w, m, td, profile, {{"connect", "api.test", "8443"}});
    CHECK(starts(l.results, "connect api.test 8443", "ok hello "));
    CHECK(uplinks().empty());

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
  }
}

TEST_CASE("allowlist: with addresses only every name is refused") {
  REQUIRE_NETWORK_WORLD();
  World w;
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
    const std::string profile = td.file("net.toml", R"(version = 1
name = "net-ip-only"
extends = "base"
[network]
mode = "allowlist"
allow = ["198.18.1.20:8443"]
dns = []
)");
    auto l = launch(w, m, td, profile, {{"connect", "198.18.1.20", "8443"}, {"resolve", "api.test"},
                                        {"connect", "198.18.1.10", "8443"}});
    INFO(l.raw);
    CHECK(l.status == 0);
    CHECK(l.results["connect 198.18.1.20 8443"] == "ok hello 198.18.1.20:8443");
    CHECK(starts(l.results, "resolve api.test", "fail EAI_"));
    CHECK(starts(l.results, "connect 198.18.1.10 8443", "fail E"));
  }
}

TEST_CASE("built-in profile fetch: every name on 80 and 443 and nothing else and the probe finds it contained") {
  REQUIRE_NETWORK_WORLD();
  World w;
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
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
    CHECK(has_block(l, "198.18.1.10", 8443, "tcp"));
    CHECK(has_block(l, "192.0.2.1", 443, "tcp"));
    CHECK(has_block(l, "198.18.1.20", 443, "tcp"));
    CHECK(has_block(l, "10.18.1.10", 443, "tcp"));
    CHECK(has_block(l, "169.254.169.254", 80, "tcp"));
    CHECK(has_block(l, "198.18.0.1", 22, "tcp"));
    CHECK(has_block(l, "198.18.1.66", 53, "udp"));
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
  }
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

  World w;
  for (Mode m : modes()) {
    INFO("mode: " << mode_name(m));
    TempDir td(m);
    const std::string profile = td.file("net.toml", R"(version = 1
name = "net-no-nft"
extends = "base"
[network]
mode = "allowlist"
allow = ["198.18.1.20:8443"]
dns = []
)");
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
  }
}
